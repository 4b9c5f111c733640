"""The backfill flow (threads, and a local Dask cluster of two worker processes) and the catch-up
flow, under a temporary Prefect API."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import offexchange
from flows.backfill_offexchange_features import (
    backfill_offexchange_features,
    backfill_session,
    task_runner_for,
)
from flows.catch_up_offexchange_features import catch_up_offexchange_features
from offexchange import Engine, FeatureDict, FinraDataError, OffexchangeError, StoreError

from conftest import MIRROR, FinraServer

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sessions written at once into one SQLite file can meet "database is locked" (a deferred
    # transaction that reads before it writes); the task retry absorbs it, here without the wait.
    monkeypatch.setenv("OFFX_TASK_RETRY_DELAY_SECONDS", "0")

# 2024-03-27 .. 2024-04-02: four sessions around Good Friday and a weekend. The sample mirror has
# no CNMS file for 2024-03-27 (TOT is summed from the facility files that day).
START, END = "2024-03-27", "2024-04-02"
SESSIONS = [date(2024, 3, 27), date(2024, 3, 28), date(2024, 4, 1), date(2024, 4, 2)]


def sequential(sessions: list[date], base_url: str | None = None) -> dict[date, list[FeatureDict]]:
    """The reference: the sessions one after another, each into a fresh in-memory store."""
    engine = Engine(base_url=base_url)
    rows = {}
    for day in sessions:
        store = offexchange.open_store("memory:")
        assert store is not None
        engine.session(day, store=store)
        rows[day] = store.read(day)
    return rows


def stored(url: str, sessions: list[date]) -> dict[date, list[FeatureDict]]:
    store = offexchange.open_store(url)
    assert store is not None
    return {day: store.read(day) for day in sessions}


def messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_threads_store_every_session_resume_and_read_the_cache(
    use_finra: FinraServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    url = f"sqlite:{tmp_path / 'backfill.sqlite'}"
    monkeypatch.setenv("OFFX_STORE", url)
    before = len(use_finra.requests)

    result = backfill_offexchange_features(START, END)

    assert result["task_runner"] == "threads (4 at once)"
    assert (result["sessions_in_range"], result["sessions_run"]) == (4, 4)
    assert [s["trade_date"] for s in result["sessions"]] == [d.isoformat() for d in SESSIONS]
    assert all(s["stored"] and s["worker"].endswith(f":{os.getpid()}") for s in result["sessions"])
    assert result["rows_written"] == result["rows_inserted"] == result["rows"] > 0
    assert stored(url, SESSIONS) == sequential(SESSIONS)
    text = messages(caplog)
    assert "2024-03-27..2024-04-02: 4 NYSE sessions (3 days that are not sessions skipped)" in text
    assert "(from OFFX_STORE)" in text
    assert "CNMSshvol20240327.txt is not published" in text
    fetched = len(use_finra.requests) - before
    assert fetched > 0

    # A re-run resumes: every session is stored, nothing is fetched.
    again = backfill_offexchange_features(START, END)
    assert (again["sessions_already_stored"], again["sessions_run"]) == (4, 0)
    assert len(use_finra.requests) - before == fetched

    # force redoes them, from the raw-file cache: still nothing fetched, same rows.
    forced = backfill_offexchange_features(date(2024, 3, 27), date(2024, 4, 2), force=True)
    assert forced["sessions_run"] == 4 and forced["rows_updated"] == forced["rows_written"]
    assert len(use_finra.requests) - before == fetched
    assert stored(url, SESSIONS) == sequential(SESSIONS)


def test_persist_false_computes_without_a_store(use_finra: FinraServer) -> None:
    result = backfill_offexchange_features("2024-03-28", "2024-04-01", persist=False, concurrency=2)
    assert result["task_runner"] == "threads (2 at once)"
    assert [s["trade_date"] for s in result["sessions"]] == ["2024-03-28", "2024-04-01"]
    assert result["rows"] > 0 and result["rows_written"] == 0
    assert not any(s["stored"] for s in result["sessions"])


def test_persist_needs_a_store(use_finra: FinraServer) -> None:
    with pytest.raises(StoreError, match="a backfill needs a store"):
        backfill_offexchange_features(START, END)


def test_bad_ranges(use_finra: FinraServer) -> None:
    with pytest.raises(ValueError, match="after end"):
        backfill_offexchange_features("2024-04-02", "2024-03-27", persist=False)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        backfill_offexchange_features("April 1st", END, persist=False)
    # A range without a session runs nothing.
    empty = backfill_offexchange_features("2024-03-29", "2024-03-31", persist=False)
    assert (empty["sessions_in_range"], empty["sessions_run"]) == (0, 0)


def test_a_failed_session_fails_the_flow_and_the_others_stay_stored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR, mirror)
    broken = mirror / "regsho" / "daily" / "CNMSshvol20240401.txt"
    good = broken.read_bytes()
    broken.write_text("<html>maintenance</html>\n")
    url = f"sqlite:{tmp_path / 'partial.sqlite'}"
    monkeypatch.setenv("FINRA_BASE_URL", mirror.as_uri())
    monkeypatch.setenv("OFFX_STORE", url)

    with pytest.raises(OffexchangeError, match="1 of 4 sessions failed") as caught:
        backfill_offexchange_features(START, END)
    assert "2024-04-01" in str(caught.value)
    assert isinstance(caught.value.__cause__, FinraDataError)
    store = offexchange.open_store(url)
    assert store is not None
    assert store.dates_with_rows(SESSIONS) == [d for d in SESSIONS if d != date(2024, 4, 1)]

    # Once FINRA's file is right again, a re-run does only the missing session.
    broken.write_bytes(good)
    resumed = backfill_offexchange_features(START, END)
    assert (resumed["sessions_already_stored"], resumed["sessions_run"]) == (3, 1)
    assert stored(url, SESSIONS) == sequential(SESSIONS, mirror.as_uri())


def test_dask_address_without_prefect_dask_names_the_package(
    use_finra: FinraServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prefect_dask", None)  # an import of it now fails
    monkeypatch.setenv("OFFX_DASK_ADDRESS", "tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match="OFFX_DASK_ADDRESS is set .* prefect-dask"):
        backfill_offexchange_features(START, END, persist=False)
    with pytest.raises(ImportError, match="dask_address is set"):
        task_runner_for("tcp://127.0.0.1:8786", 4)
    monkeypatch.delenv("OFFX_DASK_ADDRESS")
    assert task_runner_for(None, 3)[1] == "threads (3 at once)"


def test_the_session_task_travels_by_value(tmp_path: Path) -> None:
    # A Dask worker needs the packages, not this repository: the task unpickles without `flows`.
    import cloudpickle  # type: ignore[import-untyped]

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pickle, sys; task = pickle.loads(sys.stdin.buffer.read()); "
            "assert 'flows' not in sys.modules; print(task.name)",
        ],
        input=cloudpickle.dumps(backfill_session),
        capture_output=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr.decode()
    assert loaded.stdout.decode().strip() == "backfill-session"


@pytest.mark.dask
def test_dask_cluster_runs_the_sessions_on_its_workers(
    dask_cluster: Any,
    use_finra: FinraServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from distributed import Client

    caplog.set_level(logging.INFO)
    address = dask_cluster.scheduler_address
    url = f"sqlite:{tmp_path / 'dask.sqlite'}"
    monkeypatch.setenv("OFFX_STORE", url)
    monkeypatch.setenv("OFFX_DASK_ADDRESS", address)

    result = backfill_offexchange_features(START, END)

    assert result["task_runner"] == f"Dask at {address}"
    assert result["sessions_run"] == 4
    with Client(address) as client:  # type: ignore[no-untyped-call]
        worker_pids = set(client.run(os.getpid).values())
    ran_on = {int(s["worker"].rsplit(":", 1)[1]) for s in result["sessions"]}
    assert ran_on and ran_on <= worker_pids and os.getpid() not in ran_on
    # Both workers wrote to the one SQLite file; every session is there, as computed in order.
    assert stored(url, SESSIONS) == sequential(SESSIONS)
    assert f"running 4 sessions on Dask at {address}" in messages(caplog)

    # The workers' settings come from the flow run, not from their own environment (which has
    # no FINRA_BASE_URL): a re-run with force fetches from the same stand-in, or its cache.
    forced = backfill_offexchange_features(START, END, force=True, dask_address=address)
    assert forced["sessions_run"] == 4 and forced["rows_updated"] == forced["rows_written"]


# --- catch-up -----------------------------------------------------------------------------------


def test_catch_up_fills_the_ats_share_once_finra_publishes_the_week(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The day was computed while the week's ATS file was not published yet.
    early = tmp_path / "early-mirror"
    shutil.copytree(MIRROR, early)
    (early / "ATS" / "ATS_W_Summary_20240401.zip").unlink()
    url = f"sqlite:{tmp_path / 'catch-up.sqlite'}"
    store = offexchange.open_store(url)
    assert store is not None
    Engine(base_url=early.as_uri()).session("2024-04-01", store=store)
    assert all(r["ats_share_of_total"] is None for r in store.read("2024-04-01"))

    monkeypatch.setenv("FINRA_BASE_URL", MIRROR.as_uri())
    monkeypatch.setenv("OFFX_STORE", url)
    summary = catch_up_offexchange_features(days=10, until="2024-04-05")

    assert (summary["from"], summary["until"]) == ("2024-03-26", "2024-04-05")
    assert summary["sessions_with_nulls"] == 1
    assert summary["rows_filled"] > 0 and summary["weeks_awaited"] == []
    # Now the stored rows are exactly what a run with the week published computes (that run also
    # has the symbols found only in the ATS data: catch-up refreshes the stored ones).
    now = store.read("2024-04-01")
    published = {r["symbol"]: r for r in Engine().compute("2024-04-01").to_dicts()}
    assert now == [published[r["symbol"]] for r in now]
    assert any(r["ats_share_of_total"] is not None for r in now)
    assert f"rows filled (null -> value): {summary['rows_filled']}" in messages(caplog)
    # The flow ends with the window's coverage, as `offx coverage` counts it.
    assert "coverage regsho_daily: stored: 1 session(s)" in messages(caplog)


def test_catch_up_needs_a_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINRA_BASE_URL", MIRROR.as_uri())
    with pytest.raises(StoreError, match="catch-up needs a store"):
        catch_up_offexchange_features()
