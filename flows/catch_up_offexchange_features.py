"""Prefect flow: the daily catch-up, like ``offx catch-up``.

    from flows.catch_up_offexchange_features import catch_up_offexchange_features
    catch_up_offexchange_features(days=60)

FINRA publishes the weekly ATS data two to four weeks after the week (and revises weeks now and
then), so the daily run leaves ``ats_share_of_total`` pending for recent sessions. This flow asks
the Rust engine's catch-up to look back ``days`` calendar days from ``until`` (None: the New York
date of the run's scheduled start) and to refresh the stored sessions whose weeks FINRA has
published since; it writes only what the week changes. It needs a store (``OFFX_STORE``,
``DATABASE_URL``, ``SUPABASE_DB_URL``, or Supabase REST credentials).

FINRA's raw files are read through the cache (``OFFX_CACHE_DIR``, as ``offx catch-up``); the cache
remembers a week "not published" only for ``OFFX_CACHE_MISSING_TTL`` (an hour by default), so a
week published since is fetched. Task retries: ``OFFX_TASK_RETRIES`` /
``OFFX_TASK_RETRY_DELAY_SECONDS``.
"""

# No `from __future__ import annotations`: Prefect builds the flow's parameter model from these
# annotations.
from datetime import date, timedelta
from typing import Any, Optional, Union

from prefect import flow, get_run_logger, task

import offexchange
from flows.compute_offexchange_features import (
    _IN_MEMORY,
    _retry_on,
    _task_retries,
    resolve_trade_date,
)
from offexchange import CatchUpSummary, Engine, FinraHTTPError, Store, StoreError

FLOW_NAME = "catch-up-offexchange-features"
DEFAULT_DAYS = 60

@task(
    name="catch-up",
    retries=2,
    retry_delay_seconds=10.0,
    retry_condition_fn=_retry_on(FinraHTTPError, StoreError),
    **_IN_MEMORY,
)
def run_catch_up(engine: Engine, store: Store, until: date, days: int) -> CatchUpSummary:
    """The engine's catch-up over the store (fetches the weeks it needs, upserts what changed)."""
    summary = engine.catch_up(store, until, days)
    logger = get_run_logger()
    log_summary(logger, summary)
    # What the window holds now, per dataset and state (the counts `offx coverage` ends with).
    report = engine.coverage(store, until - timedelta(days=days - 1), until)
    for label, value in offexchange.summary_lines(report):
        logger.info("coverage %s: %s", label.strip(), value)
    return summary


@flow(name=FLOW_NAME)
def catch_up_offexchange_features(
    days: int = DEFAULT_DAYS, until: Union[date, str, None] = None
) -> dict[str, Any]:
    """Refreshes the stored sessions of the last ``days`` calendar days (1-3660) up to ``until``
    (a date or ``"YYYY-MM-DD"``; None: the New York date of the run's scheduled start) whose
    weekly ATS data FINRA has published since. Returns the engine's summary (ISO dates)."""
    logger = get_run_logger()
    day = resolve_trade_date(until)
    choice = offexchange.store_choice()
    if choice is None:
        raise StoreError(
            "catch-up needs a store: set OFFX_STORE, DATABASE_URL, SUPABASE_DB_URL, or "
            "SUPABASE_URL with a key",
            store="",
        )
    url, origin = choice
    store = offexchange.open_store(url)
    assert store is not None
    engine = Engine(cache="read")
    # describe is redacted by the store layer: never a password or key.
    logger.info(
        "catch-up of the %d days up to %s in %s (from %s); source %s, ATS from %s",
        days,
        day,
        store.describe,
        origin,
        engine.settings["base_url"],
        engine.settings["effective_ats_source"],
    )
    summary = run_catch_up.with_options(**_task_retries())(engine, store, day, days)
    return dict(summary)


def log_summary(logger: Any, summary: CatchUpSummary) -> None:
    """The engine's own summary lines (the table ``offx catch-up`` prints), one log line each."""
    for label, value in offexchange.summary_lines(summary):
        logger.info("%s: %s", label.strip(), value)


if __name__ == "__main__":
    import sys

    print(catch_up_offexchange_features(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DAYS))
