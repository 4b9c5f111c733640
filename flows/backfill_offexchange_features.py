"""Prefect flow: FINRA off-exchange features for a range of trading sessions, one task per session.

    from flows.backfill_offexchange_features import backfill_offexchange_features
    backfill_offexchange_features("2024-01-02", "2024-03-28")

Steps:

1. plan: the NYSE sessions of ``start..end`` (weekends and holidays skipped), minus those the store
   already holds (a re-run resumes; ``force=True`` redoes them);
2. ``backfill-offexchange-sessions`` (a subflow, so the task runner is chosen per run) maps
   ``backfill-session`` over the sessions: each task computes one session in the Rust engine and
   upserts it (one transaction), independently of the others;
3. the totals, and any failed sessions (the flow fails; the others stay stored: re-run to resume).

Task runner: threads (``concurrency`` sessions at once, default 4) unless a Dask scheduler is
given, by ``dask_address`` or the ``OFFX_DASK_ADDRESS`` variable (``tcp://host:8786``): then the
sessions run on that cluster's workers (``prefect_dask.DaskTaskRunner``; ``pip install
'offexchange[dask]'``). Dask workers need the ``offexchange`` package and Prefect (with
prefect-dask) in their environment, not this repository: the flow's code travels with the tasks.

What crosses a task boundary is small and picklable: the date, the FINRA settings of the flow run
(so every worker uses the same source, whatever its own environment says), and the store URL (as
the one selection rule found it: ``OFFX_STORE``, ``DATABASE_URL``, ...; it may carry a password,
so it is never a flow parameter and never logged; Supabase keys are read from each worker's
environment). Each task opens its own store and engine (Rust handles do not pickle); it returns a
one-line summary, not the rows.

FINRA's raw files are read through the cache (``OFFX_CACHE_DIR``, as ``offx backfill``), so a
re-run on the same machine fetches nothing twice; a weekly ATS file is fetched once per machine.
Task retries: ``OFFX_TASK_RETRIES`` / ``OFFX_TASK_RETRY_DELAY_SECONDS``, as for the daily flow.
For one machine and no Prefect task per session, ``offexchange.backfill`` (``offx backfill``) does
the same in a single call.
"""

# No `from __future__ import annotations`: Prefect builds the flows' parameter models from these
# annotations.
import os
import socket
import sys
from datetime import date, datetime
from typing import Any, Optional, TypedDict, Union

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NONE
from prefect.futures import wait
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

import offexchange
from flows.compute_offexchange_features import _retry_on, _task_retries
from offexchange import Engine, FinraHTTPError, OffexchangeError, StoreError

FLOW_NAME = "backfill-offexchange-features"
SESSIONS_FLOW_NAME = "backfill-offexchange-sessions"
DASK_ADDRESS_VARIABLE = "OFFX_DASK_ADDRESS"
#: Sessions at once on threads (each also fetches its day's files concurrently).
DEFAULT_CONCURRENCY = 4
#: The Engine keyword arguments a task receives: FINRA settings only (no secrets).
ENGINE_KEYWORDS = (
    "base_url",
    "market",
    "timeout",
    "retries",
    "backoff",
    "user_agent",
    "api_base_url",
    "ats_source",
)


class SessionResult(TypedDict):
    """What one ``backfill-session`` task did."""

    trade_date: str
    #: Rows computed (written too when ``stored``).
    rows: int
    stored: bool
    inserted: int
    updated: int
    files_fetched: int
    files_missing: int
    #: Rows with a feature whose FINRA file is not published yet.
    pending_rows: int
    #: Where it ran: ``host:pid``.
    worker: str


class BackfillResult(TypedDict):
    """What the flow did."""

    start: str
    end: str
    #: ``threads (4 at once)`` or ``Dask at tcp://...``.
    task_runner: str
    sessions_in_range: int
    sessions_already_stored: int
    sessions_run: int
    rows: int
    rows_written: int
    rows_inserted: int
    rows_updated: int
    files_fetched: int
    files_missing: int
    sessions: list[SessionResult]


@task(
    name="backfill-session",
    task_run_name="backfill-session-{trade_date}",
    retries=2,
    retry_delay_seconds=10.0,
    retry_condition_fn=_retry_on(FinraHTTPError, StoreError),
    # The summary comes back with the task's state (from a Dask worker too): never written to a
    # result store that might be local to another machine; never cached (FINRA re-posts files).
    cache_policy=NONE,
    persist_result=False,
)
def backfill_session(
    trade_date: date, settings: dict[str, Any], store_url: Optional[str] = None
) -> SessionResult:
    """One session: fetch (through the raw-file cache), compute, and upsert into the store at
    ``store_url`` (with the symbols it already holds for the date); None: compute only."""
    engine = Engine(**settings, cache="read")
    store = offexchange.open_store(store_url) if store_url else None
    features = engine.session(trade_date, store=store)
    report = features.report
    stored = features.stored
    result = SessionResult(
        trade_date=trade_date.isoformat(),
        rows=len(features),
        stored=stored is not None,
        inserted=stored["inserted"] if stored else 0,
        updated=stored["updated"] if stored else 0,
        files_fetched=report["files_fetched"],
        files_missing=report["files_missing"],
        pending_rows=features.pending_rows,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    logger = get_run_logger()
    logger.info(
        "%s: %d rows %s; %d files fetched, %d not published (on %s)",
        result["trade_date"],
        result["rows"],
        "stored" if stored else "computed (not stored)",
        result["files_fetched"],
        result["files_missing"],
        result["worker"],
    )
    for line in report["coverage"]:
        logger.warning("coverage: %s", line)
    for quality in report["quality"]:
        if not quality["clean"]:
            logger.warning("data quality: %s", quality["summary"])
    return result


@flow(
    name=SESSIONS_FLOW_NAME,
    # (Prefect's annotation wants TaskRunner[PrefectFuture[Any]], which no concrete runner is.)
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_CONCURRENCY),  # type: ignore[arg-type]
)
def backfill_sessions(
    sessions: list[date], settings: dict[str, Any], persist: bool = True
) -> list[SessionResult]:
    """Maps ``backfill-session`` over ``sessions`` on this flow's task runner. Raises when a
    session failed (after its retries), once every other session has finished."""
    logger = get_run_logger()
    # Resolved here, not passed in: flow parameters are recorded by the Prefect server.
    store_url = _store_choice()[0] if persist else None
    runs = backfill_session.with_options(**_task_retries()).map(
        sessions, settings=unmapped(settings), store_url=unmapped(store_url)
    )
    wait(list(runs))  # every session finishes, whatever the others do
    results: list[SessionResult] = []
    failures: list[tuple[date, BaseException]] = []
    for day, run in zip(sessions, runs):
        outcome = run.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            failures.append((day, outcome))
        else:
            results.append(outcome)
    if failures:
        for day, error in failures:
            logger.error("session %s failed: %s: %s", day, type(error).__name__, error)
        first_day, first_error = failures[0]
        raise OffexchangeError(
            f"{len(failures)} of {len(sessions)} sessions failed (first: {first_day}: "
            f"{first_error}); the {len(results)} others are done: re-run to resume"
        ) from first_error
    return results


@flow(name=FLOW_NAME)
def backfill_offexchange_features(
    start: Union[date, str],
    end: Union[date, str],
    persist: bool = True,
    force: bool = False,
    dask_address: Optional[str] = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BackfillResult:
    """Computes every NYSE session of ``start..end`` (inclusive; dates or ``"YYYY-MM-DD"``), one
    task per session, and with ``persist`` upserts each into the configured store (required).

    Sessions the store already holds are skipped unless ``force``. ``persist=False`` computes
    without writing (a dry run: what FINRA has, what is missing). ``dask_address`` (else
    ``OFFX_DASK_ADDRESS``): run the sessions on that Dask cluster; otherwise on ``concurrency``
    threads. Returns the totals and one summary per session run.
    """
    logger = get_run_logger()
    first, last = _parse_date("start", start), _parse_date("end", end)
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    sessions = offexchange.trading_sessions(first, last)
    logger.info(
        "%s..%s: %d NYSE sessions (%d days that are not sessions skipped)",
        first,
        last,
        len(sessions),
        (last - first).days + 1 - len(sessions),
    )
    # Settings are resolved (and checked) once, here, and handed to every task.
    engine = Engine()
    settings = {k: v for k, v in engine.settings.items() if k in ENGINE_KEYWORDS}
    logger.info(
        "market %s, source %s, ATS from %s",
        settings["market"],
        settings["base_url"],
        engine.settings["effective_ats_source"],
    )

    already: set[date] = set()
    if persist:
        url, origin = _store_choice()
        store = offexchange.open_store(url)
        assert store is not None
        # describe is redacted by the store layer: never a password or key.
        logger.info("store: %s (from %s)", store.describe, origin)
        if not force:
            already = set(store.dates_with_rows(sessions))
    else:
        logger.info("persist=False: computing only, nothing is written")
    to_run = [day for day in sessions if day not in already]
    if already:
        logger.info(
            "resuming: %d sessions already stored are skipped (force=True redoes them)",
            len(already),
        )

    results: list[SessionResult] = []
    runner, described = task_runner_for(dask_address, concurrency)
    if to_run:
        logger.info("running %d sessions on %s", len(to_run), described)
        results = backfill_sessions.with_options(task_runner=runner)(to_run, settings, persist)

    summary = BackfillResult(
        start=first.isoformat(),
        end=last.isoformat(),
        task_runner=described,
        sessions_in_range=len(sessions),
        sessions_already_stored=len(already),
        sessions_run=len(results),
        rows=sum(r["rows"] for r in results),
        rows_written=sum(r["rows"] for r in results if r["stored"]),
        rows_inserted=sum(r["inserted"] for r in results),
        rows_updated=sum(r["updated"] for r in results),
        files_fetched=sum(r["files_fetched"] for r in results),
        files_missing=sum(r["files_missing"] for r in results),
        sessions=sorted(results, key=lambda r: r["trade_date"]),
    )
    logger.info(
        "backfill %s..%s: %d sessions run, %d already stored; %d rows written "
        "(%d inserted, %d updated); %d files fetched, %d not published",
        first,
        last,
        summary["sessions_run"],
        summary["sessions_already_stored"],
        summary["rows_written"],
        summary["rows_inserted"],
        summary["rows_updated"],
        summary["files_fetched"],
        summary["files_missing"],
    )
    return summary


def task_runner_for(dask_address: Optional[str], concurrency: int) -> tuple[TaskRunner[Any], str]:
    """Threads, or a ``DaskTaskRunner`` on the scheduler at ``dask_address`` (else
    ``OFFX_DASK_ADDRESS``), with a description for the log."""
    address = (dask_address or os.environ.get(DASK_ADDRESS_VARIABLE, "")).strip()
    if not address:
        if not 1 <= concurrency <= 64:
            raise ValueError(f"concurrency: expected 1 to 64, got {concurrency}")
        return ThreadPoolTaskRunner(max_workers=concurrency), f"threads ({concurrency} at once)"
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as missing:
        origin = "dask_address" if dask_address else DASK_ADDRESS_VARIABLE
        raise ImportError(
            f"{origin} is set ({address}) but the prefect-dask package is not installed: "
            "pip install 'prefect-dask>=0.3,<0.4' (or 'offexchange[dask]'), or unset it to run "
            "on threads",
            name="prefect_dask",
        ) from missing
    return DaskTaskRunner(address=address), f"Dask at {address}"


def _store_choice() -> tuple[str, str]:
    """(URL, origin) of the store the selection rule finds; a backfill that persists needs one."""
    choice = offexchange.store_choice()
    if choice is None:
        raise StoreError(
            "a backfill needs a store: set OFFX_STORE, DATABASE_URL, SUPABASE_DB_URL, or "
            "SUPABASE_URL with a key (or run with persist=False)",
            store="",
        )
    return choice


def _parse_date(name: str, value: Union[date, str]) -> date:
    if isinstance(value, datetime):
        raise TypeError(f"{name}: expected a date, not a datetime")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{name}: expected YYYY-MM-DD, got {value!r}") from None


def _ship_by_value() -> None:
    """Dask workers need not have this repository: the flow modules are pickled with the tasks
    (by value), so a worker only needs the packages (offexchange, prefect, prefect-dask)."""
    import cloudpickle  # type: ignore[import-untyped]  # (a Prefect dependency)

    import flows

    cloudpickle.register_pickle_by_value(flows)
    if __name__ != "__main__" and not __name__.startswith("flows."):
        # Loaded from its path by `prefect deploy` / a worker, under the file's name.
        cloudpickle.register_pickle_by_value(sys.modules[__name__])


_ship_by_value()


if __name__ == "__main__":
    print(backfill_offexchange_features(sys.argv[1], sys.argv[2]))
