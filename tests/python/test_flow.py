"""The Prefect flow under ``prefect_test_harness`` (a temporary local Prefect API)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger

import offexchange
from flows.compute_offexchange_features import (
    compute_offexchange_features,
    load_ats,
    load_regsho,
    resolve_trade_date,
)
from offexchange import Engine, FinraHTTPError

from conftest import DEMO_DATE, FakeSupabase, FinraServer

DEMO = date(2024, 4, 1)

# One temporary Prefect API for the session (conftest): starting one takes seconds.
pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def test_persist_false_returns_the_feature_dicts(
    use_finra: FinraServer, logs: pytest.LogCaptureFixture
) -> None:
    rows = compute_offexchange_features(DEMO, persist=False)
    assert rows == Engine().compute(DEMO).to_dicts()
    assert rows[0].keys() == {
        "symbol",
        "trade_date",
        "short_vol_share",
        "short_exempt_share",
        "ats_share_of_total",
    }
    assert all(r["trade_date"] == DEMO for r in rows)
    text = "\n".join(messages(logs))
    assert "3 files fetched, 0 not published" in text
    assert f"symbols: {len(rows)} found in the data" in text
    # The sample mirror carries one deliberate invariant violation: it must be reported.
    assert any(
        "data quality: CNMSshvol20240401.txt" in m for m in messages(logs, logging.WARNING)
    )


def test_trade_date_as_an_iso_string(use_finra: FinraServer) -> None:
    rows = compute_offexchange_features(DEMO_DATE, persist=False, symbols=["AAPL"])
    assert [(r["symbol"], r["trade_date"]) for r in rows] == [("AAPL", DEMO)]


def test_persist_without_credentials_warns_and_returns_rows(
    use_finra: FinraServer, logs: pytest.LogCaptureFixture
) -> None:
    rows = compute_offexchange_features(DEMO, persist=True)
    assert rows == Engine().compute(DEMO).to_dicts()
    warnings = messages(logs, logging.WARNING)
    assert any("no store credentials: computed in memory only" in m for m in warnings)


def test_persist_with_a_store_writes_through_the_store_layer(
    use_finra: FinraServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    logs: pytest.LogCaptureFixture,
) -> None:
    url = f"sqlite:{tmp_path / 'features.sqlite'}"
    monkeypatch.setenv("OFFX_STORE", url)
    rows = compute_offexchange_features(DEMO, persist=True, symbols=["AAPL", "MSFT"])
    store = offexchange.open_store(url)
    assert store is not None
    assert store.read(DEMO) == rows
    assert any("persisted 2 rows" in m for m in messages(logs))

    # Without symbols, the stored ones are refreshed along with every symbol in the data.
    rows = compute_offexchange_features(DEMO, persist=True)
    assert len(store.read(DEMO)) == len(rows)
    assert any("plus 2 already stored" in m for m in messages(logs))


def test_a_day_of_404s_gives_nulls(
    finra_404: FinraServer, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FINRA_BASE_URL", finra_404.url)
    # 2024-04-08 is a session; the server has none of its files.
    rows = compute_offexchange_features(date(2024, 4, 8), persist=False, symbols=["AAPL", "MSFT"])
    assert [r["symbol"] for r in rows] == ["AAPL", "MSFT"]
    for row in rows:
        assert row["short_vol_share"] is None
        assert row["short_exempt_share"] is None
        assert row["ats_share_of_total"] is None
    text = "\n".join(messages(logs))
    assert "0 files fetched" in text
    assert "not published" in text


def test_repeated_5xx_raises_finra_http_error(
    finra_503: FinraServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINRA_BASE_URL", finra_503.url)
    monkeypatch.setenv("OFFX_TASK_RETRIES", "1")
    monkeypatch.setenv("OFFX_TASK_RETRY_DELAY_SECONDS", "0")
    before = len(finra_503.requests)
    with pytest.raises(FinraHTTPError) as caught:
        compute_offexchange_features(DEMO, persist=False)
    assert caught.value.status == 503
    assert caught.value.url.startswith(finra_503.url)
    # Each fetch task: 2 task tries x 2 HTTP attempts, for at least the ATS file.
    assert len(finra_503.requests) - before >= 4


def test_non_trading_days_return_no_rows(
    use_finra: FinraServer, logs: pytest.LogCaptureFixture
) -> None:
    before = len(use_finra.requests)
    assert compute_offexchange_features(date(2024, 3, 29), persist=True) == []
    assert compute_offexchange_features("2024-03-30", persist=False) == []
    assert len(use_finra.requests) == before
    text = "\n".join(messages(logs))
    assert "2024-03-29 is not an NYSE trading session (Good Friday)" in text
    assert "2024-03-30 is not an NYSE trading session (Saturday)" in text


def test_fetch_tasks_pass_handles_not_rows(use_finra: FinraServer) -> None:
    # What crosses a task boundary is a small Rust-side handle.
    engine = Engine()
    with disable_run_logger():
        day = load_regsho.fn(engine, DEMO)
        week = load_ats.fn(engine, DEMO)
    assert type(day).__name__ == "RegShoDay" and day.symbol_count > 0
    assert type(week).__name__ == "AtsWeek" and week.symbol_count > 0
    for task in (load_regsho, load_ats):
        assert task.persist_result is False
        assert task.retries == 2


def test_scheduled_runs_use_the_new_york_date() -> None:
    assert resolve_trade_date("2024-04-01") == DEMO
    assert resolve_trade_date(DEMO) == DEMO
    assert isinstance(resolve_trade_date(None), date)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        resolve_trade_date("yesterday")


@pytest.mark.parametrize(
    ("url_var", "key_var"),
    [
        ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"),
        ("NEXT_PUBLIC_SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_ANON_KEY"),
    ],
)
def test_persist_with_supabase_credentials(
    use_finra: FinraServer,
    fake_supabase: FakeSupabase,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
    url_var: str,
    key_var: str,
) -> None:
    monkeypatch.setenv(url_var, fake_supabase.url)
    monkeypatch.setenv(key_var, fake_supabase.key)
    rows = compute_offexchange_features(DEMO, persist=True)

    stored = sorted(fake_supabase.rows.values(), key=lambda r: str(r["symbol"]))
    assert [{**r, "trade_date": r["trade_date"].isoformat()} for r in rows] == stored
    assert set(fake_supabase.keys_seen) == {fake_supabase.key}
    # The week's record, the ledger and the feature versions went over REST too.
    assert {r["week_start"] for r in fake_supabase.weeks.values()} == {"2024-04-01"}
    names = {r["name"] for r in fake_supabase.files.values()}
    assert {"CNMSshvol20240401.txt", "ATS_W_Summary_20240401.zip"} <= names
    parts = {(r["symbol"], r["part"]) for r in fake_supabase.versions.values()}
    assert {("AAPL", "short"), ("AAPL", "ats")} <= parts
    text = "\n".join(messages(logs, logging.DEBUG))
    assert f"{url_var} + {key_var}" in text  # the store's origin is logged...
    assert fake_supabase.key not in text  # ...its key never
    assert f"persisted {len(rows)} rows" in text


def test_every_deployment_of_prefect_yaml_resolves_to_its_flow() -> None:
    from flows.serve import deployment_specs, flow_of, schedules_of

    specs = {spec["name"]: spec for spec in deployment_specs()}
    flows = {name: flow_of(spec).name for name, spec in specs.items()}
    assert flows == {
        "trading-session": "compute-offexchange-features",
        "catch-up": "catch-up-offexchange-features",
        "backfill": "backfill-offexchange-features",
    }
    assert [s.cron for s in schedules_of(specs["catch-up"])] == ["0 21 * * *"]
    assert schedules_of(specs["backfill"]) == []
