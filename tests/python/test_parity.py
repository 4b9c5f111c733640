"""One pipeline, three fronts: the same two sessions of the sample mirror through ``offx enrich``,
the Python ``Engine`` and the Prefect flow (``persist=True``), each into its own SQLite file, leave
identical stores: every table, every row, every value, ``ats_weekly``, the ``finra_files`` ledger,
``feature_versions`` and ``short_interest`` (the settlements each session records) included. Only the ledger's ``first_seen_at`` / ``last_seen_at`` differ:
they are the wall-clock moments each front fetched the files."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

import offexchange
from flows.compute_offexchange_features import compute_offexchange_features
from offexchange import Engine

from conftest import FinraServer, cli_env

#: A session of each sample week (2024-03-25 and 2024-04-01), so two weeks get their records.
SESSIONS = ["2024-03-28", "2024-04-01"]

Tables = dict[str, list[tuple[object, ...]]]

#: Columns that record when this front ran, not what FINRA published.
WALL_CLOCK = {"first_seen_at", "last_seen_at"}


def dump(db: Path) -> Tables:
    """Every table of the file, rows sorted (the names come from the file's own schema)."""
    with sqlite3.connect(db) as con:
        names = [
            name
            for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        tables: Tables = {}
        for name in names:
            columns = [
                f'"{column}"'
                for (_, column, *_rest) in con.execute(f'PRAGMA table_info("{name}")')
                if column not in WALL_CLOCK
            ]
            rows = con.execute(f'SELECT {", ".join(columns)} FROM "{name}"').fetchall()
            tables[name] = sorted(rows, key=repr)
        return tables


@pytest.mark.usefixtures("prefect_api")
def test_offx_python_and_prefect_write_identical_stores(
    finra: FinraServer, offx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_cli, by_python, by_flow = (tmp_path / f"{front}.sqlite" for front in ("cli", "py", "flow"))

    for day in SESSIONS:
        done = subprocess.run(
            [str(offx), "enrich", "--date", day, "--store", f"sqlite:{by_cli}", "--format", "csv"],
            env=cli_env(finra.url),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    store = offexchange.open_store(f"sqlite:{by_python}")
    assert store is not None
    engine = Engine(base_url=finra.url)
    for day in SESSIONS:
        assert engine.session(day, store=store).stored is not None

    monkeypatch.setenv("FINRA_BASE_URL", finra.url)
    monkeypatch.setenv("OFFX_STORE", f"sqlite:{by_flow}")
    for day in SESSIONS:
        assert compute_offexchange_features(day, persist=True)

    cli, python, flow = dump(by_cli), dump(by_python), dump(by_flow)
    tables = {"daily_features", "ats_weekly", "finra_files", "feature_versions", "short_interest"}
    assert tables <= set(cli)
    assert len(cli["feature_versions"]) > len(cli["daily_features"]), "short and ATS versions"
    days = {row[1] for row in cli["daily_features"]}
    assert days == set(SESSIONS), "both sessions stored"
    weeks = {row[1] for row in cli["ats_weekly"]}
    assert weeks == {"2024-03-25", "2024-04-01"}, "each session's week recorded"
    # The settlements due by 2024-03-28 (published 2024-03-11 and 2024-03-26), class shares
    # under Reg SHO spelling (the sample's shrt files write FINRA's BRKB-style symbols).
    settlements = {row[0] for row in cli["short_interest"]}
    assert settlements == {"2024-02-29", "2024-03-15"}, "each due settlement recorded"
    assert any("/" in str(row[1]) for row in cli["short_interest"]), "class shares mapped"
    for name in cli:
        assert python[name] == cli[name], f"{name}: the Python Engine differs from offx"
        assert flow[name] == cli[name], f"{name}: the Prefect flow differs from offx"
    assert set(python) == set(flow) == set(cli)
