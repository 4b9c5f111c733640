"""The compiled binding: same values as the CLI, errors as named exceptions, never a panic."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import offexchange
from offexchange import (
    ConfigError,
    Engine,
    FinraDataError,
    FinraHTTPError,
    OffexchangeError,
    StoreError,
    Symbols,
)

from conftest import DEMO_DATE, MIRROR, REPO, FinraServer, cli_env

# Report keys the binding adds for Python callers (the CLI prints the same things as log lines).
ADDED_REPORT_KEYS = {"files_fetched", "files_missing"}
ADDED_QUALITY_KEYS = {"summary", "clean", "details"}


def run_cli(offx: Path, base_url: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(offx), "enrich", "--no-store", "--format", "json", *args],
        env=cli_env(base_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def as_cli_rows(rows: list[offexchange.FeatureDict]) -> list[dict[str, Any]]:
    """The binding's rows as the CLI's JSON has them (ISO dates)."""
    return [{**row, "trade_date": row["trade_date"].isoformat()} for row in rows]


def strip_added(report: Any) -> Any:
    report = {k: v for k, v in report.items() if k not in ADDED_REPORT_KEYS}
    report["quality"] = [
        {k: v for k, v in q.items() if k not in ADDED_QUALITY_KEYS} for q in report["quality"]
    ]
    return report


# --- values equal the CLI's -------------------------------------------------------------------


@pytest.mark.parametrize(
    "symbols",
    [None, ["AAPL", "aapl", "BRK/B", "NOPE"]],
    ids=["all-symbols", "some-symbols"],
)
def test_rows_and_report_equal_the_cli(
    offx: Path, use_finra: FinraServer, symbols: list[str] | None
) -> None:
    args = ["--date", DEMO_DATE] + (["--symbols", ",".join(symbols)] if symbols else [])
    cli = run_cli(offx, use_finra.url, *args)

    features = Engine().compute(date(2024, 4, 1), symbols)

    rows = features.to_dicts()
    assert len(rows) == len(cli["rows"]) > 0
    assert as_cli_rows(rows) == cli["rows"]  # every value, exactly
    assert strip_added(features.report) == cli["report"]


def test_a_day_without_files_gives_nulls_like_the_cli(offx: Path, finra_404: FinraServer) -> None:
    # 2024-04-08 is a session the mirror has no files for: the server answers 404.
    cli = run_cli(offx, finra_404.url, "--date", "2024-04-08", "--symbols", "AAPL,MSFT")
    features = Engine(base_url=finra_404.url).compute("2024-04-08", ["AAPL", "MSFT"])
    rows = features.to_dicts()
    assert as_cli_rows(rows) == cli["rows"]
    assert [r["short_vol_share"] for r in rows] == [None, None]
    assert features.pending_rows == 2
    assert features.report["files_fetched"] == 0
    assert features.report["coverage"]  # each missing file is named


def test_steps_compose_to_compute(use_finra: FinraServer) -> None:
    engine = Engine()
    regsho = engine.load_regsho(DEMO_DATE)
    ats = engine.load_ats(DEMO_DATE)
    assert regsho.published and regsho.complete and regsho.symbol_count > 0
    assert ats.published and ats.week_start == date(2024, 4, 1)
    assert "AAPL" in regsho.symbols()

    stepwise = engine.assemble(regsho, ats)
    assert stepwise.to_dicts() == engine.compute(DEMO_DATE).to_dicts()
    assert stepwise.report["files_fetched"] == 3

    with pytest.raises(ValueError, match="ATS week"):
        engine.assemble(regsho, engine.load_ats("2024-03-28"))


def test_steps_run_in_parallel_threads(use_finra: FinraServer) -> None:
    # The GIL is released while Rust fetches, so Prefect's thread pool can overlap the steps.
    engine = Engine()
    results: dict[str, Any] = {}

    def step(name: str) -> None:
        results[name] = getattr(engine, name)(DEMO_DATE)

    threads = [threading.Thread(target=step, args=(n,)) for n in ("load_regsho", "load_ats")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(results) == {"load_regsho", "load_ats"}


def test_module_level_helpers(use_finra: FinraServer, tmp_path: Path) -> None:
    rows = offexchange.compute_features(DEMO_DATE, ["AAPL"])
    assert [r["symbol"] for r in rows] == ["AAPL"]
    assert offexchange.discover_symbols(DEMO_DATE) == []  # no store configured
    with pytest.raises(StoreError, match="no store configured"):
        offexchange.persist_rows(rows)
    url = f"sqlite:{tmp_path / 'features.sqlite'}"
    summary = offexchange.persist_rows(rows, url)
    assert summary["rows"] == 1
    assert offexchange.discover_symbols(DEMO_DATE, url) == ["AAPL"]


# --- the trading calendar and argument checks -------------------------------------------------


def test_non_session_days_fetch_nothing(use_finra: FinraServer) -> None:
    before = len(use_finra.requests)
    good_friday = Engine().compute(date(2024, 3, 29))
    assert good_friday.closed == "Good Friday"
    assert len(good_friday) == 0 and good_friday.to_dicts() == []
    assert offexchange.closure_reason("2024-03-30") == "Saturday"
    assert offexchange.closure_reason(DEMO_DATE) is None
    assert len(use_finra.requests) == before


def test_argument_types() -> None:
    engine = Engine(base_url=MIRROR.as_uri())
    with pytest.raises(TypeError, match="datetime"):
        engine.compute(datetime(2024, 4, 1, 12))
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        engine.compute("04/01/2024")
    with pytest.raises(TypeError, match="single string"):
        engine.compute(DEMO_DATE, "AAPL")
    with pytest.raises(TypeError):
        engine.compute(DEMO_DATE, [1, 2])  # type: ignore[list-item]
    symbols = Symbols(["AAPL", "MSFT"])
    assert len(symbols) == 2 and symbols[-1] == "MSFT" and list(symbols) == ["AAPL", "MSFT"]
    assert [r["symbol"] for r in engine.compute(DEMO_DATE, symbols).to_dicts()] == ["AAPL", "MSFT"]


# --- settings ---------------------------------------------------------------------------------


def test_keyword_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINRA_SHORT_VOLUME_MARKET", "CNMS")
    monkeypatch.setenv("FINRA_HTTP_TIMEOUT", "7")
    engine = Engine(market="FORF", retries=0)
    assert engine.settings["market"] == "FORF"
    assert engine.settings["timeout"] == 7.0
    assert engine.settings["retries"] == 0
    assert Engine().settings["market"] == "CNMS"


def test_a_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FINRA_SHORT_VOLUME_MARKET=FNSQ\n")
    monkeypatch.delenv("FINRA_SHORT_VOLUME_MARKET", raising=False)
    try:
        assert Engine().settings["market"] == "FNSQ"
    finally:
        # dotenv sets the variable in the process: take it out again for the other tests.
        monkeypatch.setenv("FINRA_SHORT_VOLUME_MARKET", "TOT")


@pytest.mark.parametrize(
    ("variable", "value", "kwargs"),
    [
        ("FINRA_HTTP_TIMEOUT", "-1", {"timeout": -1}),
        ("FINRA_HTTP_RETRIES", "lots", {"retries": "lots"}),
        ("FINRA_SHORT_VOLUME_MARKET", "NYSE", {"market": "NYSE"}),
        ("FINRA_BASE_URL", "ftp://x.test/equity", {"base_url": "ftp://x.test/equity"}),
        ("FINRA_ATS_SOURCE", "API", {"ats_source": "API"}),
        ("FINRA_API_BASE_URL", "file:///tmp/api", {"api_base_url": "file:///tmp/api"}),
    ],
)
def test_bad_settings_raise_config_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as from_kwarg:
        Engine(**kwargs)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as from_env:  # ConfigError is a ValueError
        Engine()
    assert isinstance(from_env.value, OffexchangeError)
    for error in (from_kwarg.value, from_env.value):
        assert isinstance(error, ConfigError)
        assert error.variable == variable
        assert error.value == value
        assert variable in str(error)


def test_ats_source_and_query_api_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = Engine(base_url=MIRROR.as_uri()).settings
    assert (mirror["ats_source"], mirror["effective_ats_source"]) == ("auto", "zip")
    assert mirror["api_base_url"] == "https://api.finra.org/"
    # auto means FINRA's Query API against FINRA's own CDN, where no weekly ZIP exists.
    assert Engine().settings["effective_ats_source"] == "api"

    api = Engine(base_url=MIRROR.as_uri(), ats_source="api", api_base_url="http://127.0.0.1:9/q/")
    assert (api.settings["ats_source"], api.settings["effective_ats_source"]) == ("api", "api")
    assert api.settings["api_base_url"] == "http://127.0.0.1:9/q"

    monkeypatch.setenv("FINRA_ATS_SOURCE", "zip")
    monkeypatch.setenv("FINRA_API_BASE_URL", "https://api.example.test")
    from_env = Engine().settings
    assert (from_env["ats_source"], from_env["effective_ats_source"]) == ("zip", "zip")
    assert from_env["api_base_url"] == "https://api.example.test/"
    assert Engine(ats_source="auto").settings["effective_ats_source"] == "api"  # argument wins


def test_raw_file_cache_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    off = Engine().settings
    assert (off["cache"], off["cache_dir"]) == (None, None)
    read = Engine(cache="read").settings
    assert (read["cache"], read["cache_dir"]) == ("read", os.environ["OFFX_CACHE_DIR"])
    assert Engine(cache="refresh").settings["cache"] == "refresh"
    with pytest.raises(ValueError, match="cache"):
        Engine(cache="sometimes")  # type: ignore[arg-type]
    monkeypatch.setenv("OFFX_CACHE_DIR", "off")
    assert Engine(cache="read").settings["cache"] is None
    monkeypatch.setenv("OFFX_CACHE_MISSING_TTL", "soon")
    with pytest.raises(ConfigError) as caught:
        Engine(cache="read")
    assert caught.value.variable == "OFFX_CACHE_MISSING_TTL"


# --- bulk work: backfill, catch-up ------------------------------------------------------------

SESSIONS = [date(2024, 3, 27), date(2024, 3, 28), date(2024, 4, 1), date(2024, 4, 2)]


def one_by_one(sessions: list[date], base_url: str | None = None) -> list[list[Any]]:
    engine = Engine(base_url=base_url)
    rows = []
    for day in sessions:
        store = offexchange.open_store("memory:")
        assert store is not None
        engine.session(day, store=store)
        rows.append(store.read(day))
    return rows


def test_sessions_and_store_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert offexchange.trading_sessions("2024-03-27", date(2024, 4, 2)) == SESSIONS
    assert offexchange.trading_sessions("2024-03-29", "2024-03-31") == []
    assert offexchange.store_choice() is None
    assert offexchange.store_choice("memory:") == ("memory:", "argument")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@db.test/x")
    assert offexchange.store_choice() == ("postgres://u:pw@db.test/x", "DATABASE_URL")


def test_backfill_in_one_call(use_finra: FinraServer, tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'backfill.sqlite'}"
    seen: list[offexchange.BackfillSession] = []
    before = len(use_finra.requests)
    summary = offexchange.backfill("2024-03-27", "2024-04-02", url, on_session=seen.append)
    assert summary["sessions_in_range"] == summary["sessions_stored"] == 4
    assert (summary["from"], summary["to"]) == ("2024-03-27", "2024-04-02")
    assert summary["rows_written"] == sum(s["rows"] for s in seen) > 0
    assert set(offexchange.BackfillSummary.__annotations__) == set(summary), "the Rust fields"
    lines = dict(offexchange.summary_lines(summary))
    assert lines["sessions stored"] == "4" and lines["range"] == "2024-03-27 .. 2024-04-02"
    assert [s["trade_date"] for s in seen] == [d.isoformat() for d in SESSIONS]
    assert any("CNMSshvol20240327.txt is not published" in c for s in seen for c in s["coverage"])
    store = offexchange.open_store(url)
    assert store is not None
    assert store.dates_with_rows(["2024-03-26", *SESSIONS]) == SESSIONS
    assert [store.read(d) for d in SESSIONS] == one_by_one(SESSIONS)
    fetched = len(use_finra.requests) - before

    again = offexchange.backfill("2024-03-27", "2024-04-02", store)
    assert (again["sessions_already_stored"], again["sessions_stored"]) == (4, 0)
    forced = offexchange.backfill("2024-03-27", "2024-04-02", store, concurrency=2, force=True)
    assert forced["sessions_stored"] == 4 and forced["rows_updated"] == forced["rows_written"]
    assert len(use_finra.requests) - before == fetched  # the second pass read the cache

    with pytest.raises(ValueError, match="after end"):
        offexchange.backfill("2024-04-02", "2024-03-27", store)
    with pytest.raises(ValueError, match="concurrency"):
        offexchange.backfill("2024-03-27", "2024-04-02", store, concurrency=0)
    with pytest.raises(StoreError, match="backfill needs one"):
        offexchange.backfill("2024-03-27", "2024-04-02")


def test_backfill_failures_keep_what_was_committed(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR, mirror)
    (mirror / "regsho" / "daily" / "CNMSshvol20240401.txt").write_text("<html>down</html>\n")
    url = f"sqlite:{tmp_path / 'partial.sqlite'}"
    with pytest.raises(FinraDataError, match="session 2024-04-01 failed") as caught:
        offexchange.backfill("2024-03-27", "2024-04-02", url, base_url=mirror.as_uri())
    assert "2 earlier sessions stay committed" in str(caught.value)
    assert caught.value.location.endswith("CNMSshvol20240401.txt")
    store = offexchange.open_store(url)
    assert store is not None
    assert store.dates_with_rows(SESSIONS) == SESSIONS[:2]

    # An exception from on_session stops the backfill, and arrives as itself.
    def stop(session: offexchange.BackfillSession) -> None:
        raise RuntimeError(f"enough at {session['trade_date']}")

    with pytest.raises(RuntimeError, match="enough at 2024-03-25"):
        offexchange.backfill("2024-03-25", "2024-03-26", url, on_session=stop, base_url=MIRROR.as_uri())


def test_coverage_as_offx_prints_it(tmp_path: Path) -> None:
    early = tmp_path / "early-mirror"
    shutil.copytree(MIRROR, early)
    (early / "ATS" / "ATS_W_Summary_20240401.zip").unlink()
    url = f"sqlite:{tmp_path / 'coverage.sqlite'}"
    offexchange.backfill("2024-04-01", "2024-04-01", url, base_url=early.as_uri())

    report = offexchange.coverage("2024-03-29", "2024-04-02", url, base_url=early.as_uri())
    assert set(offexchange.CoverageReport.__annotations__) == set(report), "the Rust fields"
    days = {d["date"]: d for d in report["days"]}
    assert days["2024-03-29"]["closed"] == "Good Friday"
    (regsho, ats, short_interest) = days["2024-04-01"]["datasets"]
    assert (regsho["dataset"], regsho["state"]) == ("regsho_daily", "stored")
    # The settlement the day sees (2024-03-15, published 2024-03-26), recorded by the backfill.
    assert (short_interest["dataset"], short_interest["state"], short_interest["period"]) == (
        "short_interest",
        "stored",
        "2024-03-15",
    )
    assert "CNMS" in regsho["detail"]
    # The week's ZIP was never stored, and its due date (2024-04-22) is long past.
    assert (ats["dataset"], ats["state"]) == ("otc_weekly", "awaited")
    assert days["2024-04-02"]["datasets"][0]["state"] == "awaited"
    assert report["counts"]["regsho_daily"] == {"stored": 1, "awaited": 1}
    assert report["checked"] is False

    lines = offexchange.coverage_lines(report)
    assert lines[0] == "2024-03-29  not a session (Good Friday)"
    assert lines[3].startswith("2024-04-01  regsho_daily: stored (CNMS")
    summary = dict(offexchange.summary_lines(report))
    assert summary["regsho_daily: stored"] == "1 session(s)"

    # With check, FINRA (the complete mirror) is asked about what the store lacks.
    checked = offexchange.coverage("2024-04-01", "2024-04-02", url, check=True, base_url=MIRROR.as_uri())
    states = [(d["date"], x["dataset"], x["state"]) for d in checked["days"] for x in d["datasets"]]
    assert ("2024-04-02", "regsho_daily", "published_not_stored") in states
    assert ("2024-04-01", "otc_weekly", "published_not_stored") in states
    with pytest.raises(ValueError, match="after"):
        offexchange.coverage("2024-04-02", "2024-04-01", url)


def test_catch_up_in_one_call(tmp_path: Path) -> None:
    early = tmp_path / "early-mirror"
    shutil.copytree(MIRROR, early)
    (early / "ATS" / "ATS_W_Summary_20240401.zip").unlink()
    url = f"sqlite:{tmp_path / 'catch-up.sqlite'}"
    offexchange.backfill("2024-04-01", "2024-04-02", url, base_url=early.as_uri())

    summary = offexchange.catch_up(url, "2024-04-05", 10, base_url=MIRROR.as_uri())
    assert (summary["from"], summary["until"]) == ("2024-03-26", "2024-04-05")
    assert summary["sessions_with_nulls"] == 2 and summary["rows_filled"] > 0
    assert set(offexchange.CatchUpSummary.__annotations__) == set(summary)
    store = offexchange.open_store(url)
    assert store is not None
    filled = store.read("2024-04-02")
    published = {r["symbol"]: r for r in Engine(base_url=MIRROR.as_uri()).compute("2024-04-02").to_dicts()}
    assert filled == [published[r["symbol"]] for r in filled]

    with pytest.raises(ValueError, match="days"):
        offexchange.catch_up(url, days=0, base_url=MIRROR.as_uri())
    with pytest.raises(StoreError, match="catch-up needs one"):
        offexchange.catch_up()


# --- errors -----------------------------------------------------------------------------------


def test_repeated_5xx_raises_finra_http_error(finra_503: FinraServer) -> None:
    engine = Engine(base_url=finra_503.url, retries=2, backoff=0)
    with pytest.raises(FinraHTTPError) as caught:
        engine.compute(DEMO_DATE)
    error = caught.value
    assert isinstance(error, OffexchangeError)
    assert error.status == 503
    assert error.attempts == 3
    assert error.url.startswith(finra_503.url + "/")
    assert error.url in str(error)


def test_connection_refused_is_a_finra_http_error_without_status() -> None:
    with socket_closed_port() as port:
        engine = Engine(base_url=f"http://127.0.0.1:{port}/equity", retries=0, timeout=5)
        with pytest.raises(FinraHTTPError) as caught:
            engine.load_regsho(DEMO_DATE)
    assert caught.value.status is None
    assert caught.value.attempts == 1


def test_unusable_file_raises_finra_data_error(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR, mirror)
    broken = mirror / "regsho" / "daily" / "CNMSshvol20240401.txt"
    broken.write_text("<html>maintenance</html>\n")
    with pytest.raises(FinraDataError) as caught:
        Engine(base_url=mirror.as_uri()).load_regsho(DEMO_DATE)
    assert caught.value.location.endswith("CNMSshvol20240401.txt")
    assert "CNMSshvol20240401.txt" in str(caught.value)


def test_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as unknown:
        offexchange.open_store("nosuchstore:x")
    assert unknown.value.store
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreError):
        offexchange.open_store(f"sqlite:{blocker}/under/a/file.sqlite")


def test_exceptions_pickle_with_their_attributes() -> None:
    error = FinraHTTPError("boom", url="https://x.test/a", status=503, attempts=4)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.url, copy.status, copy.attempts) == (
        FinraHTTPError,
        "boom",
        "https://x.test/a",
        503,
        4,
    )
    config = pickle.loads(pickle.dumps(ConfigError("bad", variable="V", value="x")))
    assert isinstance(config, ValueError)
    assert isinstance(config, ConfigError) and config.variable == "V"


def test_a_rust_panic_becomes_offexchange_error() -> None:
    from offexchange import _core

    with pytest.raises(OffexchangeError, match="internal error") as caught:
        _core._panic_for_tests("deliberate")
    assert type(caught.value) is OffexchangeError
    assert "deliberate" in str(caught.value)


# --- stores -----------------------------------------------------------------------------------


def test_store_round_trip_keeps_pending_cells(use_finra: FinraServer, tmp_path: Path) -> None:
    store = offexchange.open_store(f"sqlite:{tmp_path / 'f.sqlite'}")
    assert store is not None and store.origin == "argument"
    features = Engine().compute(DEMO_DATE)
    summary = store.upsert(features)
    assert summary["rows"] == len(features) and summary["inserted"] == len(features)
    assert store.read(DEMO_DATE) == features.to_dicts()
    assert len(store.discover_symbols(DEMO_DATE)) == len(features)

    # A None from Python never erases a stored value.
    aapl = next(r for r in features.to_dicts() if r["symbol"] == "AAPL")
    store.upsert([{**aapl, "short_vol_share": None}])
    again = next(r for r in store.read(DEMO_DATE) if r["symbol"] == "AAPL")
    assert again["short_vol_share"] == aapl["short_vol_share"]


def test_store_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert offexchange.open_store() is None
    monkeypatch.setenv("OFFX_STORE", f"sqlite:{tmp_path / 'env.sqlite'}")
    store = offexchange.open_store()
    assert store is not None and store.origin == "OFFX_STORE"
    assert "env.sqlite" in store.describe


def test_run_like_the_cli(use_finra: FinraServer) -> None:
    store = offexchange.open_store("memory:")
    assert store is not None
    features = Engine().session(DEMO_DATE, store=store)
    assert features.stored is not None and features.stored["rows"] == len(features)


# --- typing -----------------------------------------------------------------------------------


def test_stubs_match_the_compiled_module() -> None:
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "offexchange", "--ignore-missing-stub"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_is_typed() -> None:
    package = Path(offexchange.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_core.pyi").is_file()


class socket_closed_port:
    """A port on 127.0.0.1 that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        pass


def test_rankings_and_series_as_arrow_tables(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite:{tmp_path / 'view.sqlite'}"
    offexchange.backfill("2024-03-25", "2024-04-02", url, base_url=MIRROR.as_uri())
    with sqlite3.connect(tmp_path / "view.sqlite") as con:
        stored = dict(
            con.execute(
                "SELECT symbol, short_vol_share FROM daily_features WHERE trade_date = '2024-04-02'"
                " AND short_vol_share IS NOT NULL"
            ).fetchall()
        )
        volumes = dict(
            con.execute(
                "SELECT symbol, CAST(total_volume AS REAL) FROM regsho_daily WHERE trade_date = '2024-04-02'"
            ).fetchall()
        )

    table = offexchange.top("2024-04-02", limit=5, store=url)
    assert table.num_rows == 5
    rows = table.to_pylist()
    assert [r["short_vol_share"] for r in rows] == sorted(stored.values(), reverse=True)[:5]
    assert all(stored[r["symbol"]] == r["short_vol_share"] for r in rows)
    assert rows[0]["trade_date"] == date(2024, 4, 2)
    # Six sessions of history: every rolling signal is null, never a made-up number.
    assert all(r["short_vol_z"] is None and r["short_vol_mean20"] is None for r in rows)
    assert table.schema.metadata[b"left_out"] == str(len(stored) - 5).encode()

    floor = 1_000_000.0
    liquid = offexchange.top("2024-04-02", min_total_volume=floor, limit=10_000, store=url)
    assert liquid.num_rows == sum(1 for s, v in volumes.items() if v >= floor and s in stored)
    with pytest.raises(ValueError, match="by"):
        offexchange.top("2024-04-02", by="nope", store=url)

    points = offexchange.series("BRK/B", "2024-03-25", "2024-04-02", store=url)
    assert points.column_names == [
        "date",
        "stored",
        "short_vol_share",
        "short_vol_mean20",
        "ats_share_of_total",
    ]
    assert points.num_rows == 6  # 2024-03-29 is Good Friday
    last = points.to_pylist()[-1]
    assert last["date"] == date(2024, 4, 2) and last["stored"] is True
    assert last["short_vol_share"] == stored["BRK/B"]
