"""``offexchange.export`` and ``offx export``: the same rows as an Arrow table, a Parquet file, CSV
and pandas/polars frames; as-of selection by publication time."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import offexchange
from offexchange import Engine

from conftest import FinraServer, cli_env

DAYS = ["2024-03-28", "2024-04-01", "2024-04-02"]
COLUMNS = [
    "symbol",
    "trade_date",
    "short_vol_share",
    "short_exempt_share",
    "ats_share_of_total",
    "short_available_at",
    "ats_available_at",
]


@pytest.fixture
def stored(finra: FinraServer, tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'export.sqlite'}"
    store = offexchange.open_store(url)
    assert store is not None
    engine = Engine(base_url=finra.url)
    for day in DAYS:
        engine.session(day, store=store)
    return url


def test_parquet_read_back_by_pyarrow_equals_the_csv(
    stored: str, finra: FinraServer, offx: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export.parquet"
    args = ["export", "--from", "2024-03-25", "--to", "2024-04-05", "--store", stored]
    env = cli_env(finra.url)
    done = subprocess.run(
        [str(offx), *args, "--format", "parquet", "--out", str(out)], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    as_csv = subprocess.run([str(offx), *args], env=env, capture_output=True, text=True)
    assert as_csv.returncode == 0, as_csv.stderr

    table = pq.read_table(out)
    assert table.column_names == COLUMNS
    assert table.schema.field("trade_date").type == pa.date32()
    assert table.schema.field("short_available_at").type == pa.timestamp("us", tz="UTC")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == table.num_rows > 600
    for record, row in zip(table.to_pylist(), rows):
        assert record["symbol"] == row["symbol"]
        assert record["trade_date"].isoformat() == row["trade_date"]
        for name in ("short_vol_share", "short_exempt_share", "ats_share_of_total"):
            assert record[name] == (float(row[name]) if row[name] else None), (name, row)
        for name in ("short_available_at", "ats_available_at"):
            expected = row[name].replace("Z", "+00:00") if row[name] else None
            got = record[name].isoformat(timespec="microseconds") if record[name] else None
            assert got == expected, (name, row)
    order = [(r["trade_date"], r["symbol"].encode()) for r in rows]
    assert order == sorted(order), "ordered by (trade_date, symbol)"


def test_python_export_is_an_arrow_table_for_pandas_and_polars(stored: str) -> None:
    table = offexchange.export("2024-03-28", "2024-04-02", symbols=["AAPL", "MSFT"], store=stored)
    assert isinstance(table, pa.Table)
    assert table.column_names == COLUMNS
    assert table.num_rows == 6
    frame = table.to_pandas()
    assert list(frame["symbol"]) == ["AAPL", "MSFT"] * 3
    polars = pytest.importorskip("polars")
    assert polars.from_arrow(table).shape == (6, 7)

    # Before anything was published (these files were written today): nothing.
    early = offexchange.export(
        "2024-03-28", "2024-04-02", as_of=datetime(2024, 1, 1, tzinfo=timezone.utc), store=stored
    )
    assert early.num_rows == 0
    now = offexchange.export("2024-03-28", "2024-04-02", as_of=datetime.now(timezone.utc), store=stored)
    assert now.num_rows == offexchange.export("2024-03-28", "2024-04-02", store=stored).num_rows
    with pytest.raises(ValueError, match="time zone"):
        offexchange.export("2024-03-28", "2024-04-02", as_of=datetime(2024, 4, 1), store=stored)
