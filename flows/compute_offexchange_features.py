"""Prefect flow: one trading session's FINRA off-exchange features, computed by the Rust engine.

    from datetime import date
    from flows.compute_offexchange_features import compute_offexchange_features
    rows = compute_offexchange_features(date(2024, 4, 1), persist=False)

Steps (each a Prefect task; all the work happens in Rust, in ``offexchange._core``):

1. ``discover-symbols``   the requested symbols, or the ones the store already holds for the date
2. ``load-regsho``        fetch + parse the day's Reg SHO files      } run side by side
3. ``load-ats``           fetch + parse the week's ATS summary       }
4. ``compute-features``   map ATS onto the day's symbols, compute the three features
5. ``persist-features``   commit the rows and the week's ``ats_weekly`` record (with a store)
6. ``record-short-interest`` FINRA's short interest settlement due by the day, when not stored

Each task is one stage of the engine's session job (``Engine.discover``, ``load_regsho``,
``load_ats``, ``assemble``, ``persist``, ``record_short_interest``), the output of one the input of the next, so the flow
writes exactly what ``offx enrich`` writes.

Between tasks travel Rust-side handles (``RegShoDay``, ``AtsWeek``, ``Features``, ``Symbols``), not
thousands of Python objects; only the flow's return value is the list of dicts. Those handles
live in memory only, so the tasks that pass them neither persist nor cache results. Caching
across runs would be wrong anyway: FINRA posts files late and republishes, and the whole day takes
well under a second to fetch again.

Settings: the ``FINRA_*`` environment variables (and ``.env``) as for ``offx``. Store: ``OFFX_STORE``,
``DATABASE_URL``, ``SUPABASE_DB_URL``, or ``SUPABASE_URL`` + ``SUPABASE_SERVICE_ROLE_KEY`` (or an
anon key); with none of them, ``persist=True`` computes in memory and logs a warning. Task retries
for FINRA outages: ``OFFX_TASK_RETRIES`` (default 2) every ``OFFX_TASK_RETRY_DELAY_SECONDS``
(default 10), on top of the engine's own per-request retries (``FINRA_HTTP_RETRIES``).
"""

# No `from __future__ import annotations` here: Prefect builds the flow's parameter model from
# these annotations, and must be able to evaluate them wherever it loads the file from.
import os
from datetime import date, datetime
from typing import Any, Optional, Union
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State, TaskRun
from prefect.runtime import flow_run
from prefect.tasks import Task

import offexchange
from offexchange import (
    AtsWeek,
    Engine,
    FeatureDict,
    Features,
    FinraHTTPError,
    RegShoDay,
    Store,
    StoreError,
    Symbols,
)

FLOW_NAME = "compute-offexchange-features"
#: FINRA's calendar: trade dates are New York dates.
NEW_YORK = "America/New_York"

DEFAULT_TASK_RETRIES = 2
DEFAULT_TASK_RETRY_DELAY_SECONDS = 10.0

# Handles are process-local Rust objects: never pickled, never cached.
_IN_MEMORY: dict[str, Any] = {"cache_policy": NONE, "persist_result": False}


def _retry_on(*kinds: type[BaseException]) -> Any:
    """A ``retry_condition_fn``: retry only the failures worth retrying: an outage of FINRA, or a
    store failure the engine classed as transient (a lost connection, a timeout, HTTP 5xx, a
    serialization conflict), never bad data, bad settings or a permanent store error (a missing
    table, refused credentials)."""

    def should_retry(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
        try:
            state.result()
        except StoreError as error:
            return StoreError in kinds and bool(getattr(error, "transient", False))
        except kinds:
            return True
        except BaseException:
            return False
        return False

    return should_retry


@task(name="discover-symbols", **_IN_MEMORY)
def discover_symbols(
    engine: Engine, trade_date: date, symbols: Optional[list[str]], store: Optional[Store]
) -> tuple[Optional[Symbols], Symbols]:
    """(requested, already stored): exactly ``symbols`` when given; otherwise every symbol in the
    day's data plus those the store already holds for the date (the engine's discover stage)."""
    requested = Symbols(symbols) if symbols is not None else None
    stored = engine.discover(trade_date, requested, store)
    if requested is not None:
        get_run_logger().info("symbols: %d requested", len(requested))
    else:
        get_run_logger().info(
            "symbols: every symbol in the day's data, plus %d already stored", len(stored)
        )
    return requested, stored


@task(
    name="load-regsho",
    retries=DEFAULT_TASK_RETRIES,
    retry_delay_seconds=DEFAULT_TASK_RETRY_DELAY_SECONDS,
    retry_condition_fn=_retry_on(FinraHTTPError),
    **_IN_MEMORY,
)
def load_regsho(engine: Engine, trade_date: date) -> RegShoDay:
    """Fetches and parses the day's Reg SHO files (a handle: the volumes stay in Rust)."""
    day = engine.load_regsho(trade_date)
    get_run_logger().info(
        "Reg SHO %s: %d of %d files fetched, %d symbols",
        day.market,
        day.report["files_fetched"],
        len(day.report["files"]),
        day.symbol_count,
    )
    return day


@task(
    name="load-ats",
    retries=DEFAULT_TASK_RETRIES,
    retry_delay_seconds=DEFAULT_TASK_RETRY_DELAY_SECONDS,
    retry_condition_fn=_retry_on(FinraHTTPError),
    **_IN_MEMORY,
)
def load_ats(engine: Engine, trade_date: date) -> AtsWeek:
    """Fetches and parses the ATS summary of the week containing the day."""
    week = engine.load_ats(trade_date)
    logger = get_run_logger()
    if week.published:
        logger.info("ATS week of %s: %d symbols", week.week_start, week.symbol_count)
    else:
        logger.info("ATS week of %s: not published yet", week.week_start)
    return week


@task(name="compute-features", **_IN_MEMORY)
def compute_features(
    engine: Engine,
    regsho: RegShoDay,
    ats: AtsWeek,
    requested: Optional[Symbols],
    stored: Optional[Symbols],
) -> Features:
    """The three features per symbol and the week's record (a handle: the rows stay in Rust)."""
    features = engine.assemble(regsho, ats, requested, stored)
    log_report(get_run_logger(), features)
    return features


@task(
    name="persist-features",
    retries=1,
    retry_delay_seconds=DEFAULT_TASK_RETRY_DELAY_SECONDS,
    retry_condition_fn=_retry_on(StoreError),
    **_IN_MEMORY,
)
def persist_features(engine: Engine, store: Store, features: Features) -> dict[str, Any]:
    """Commits the session as ``offx enrich`` does: its rows into ``daily_features`` and its week's
    ``ats_weekly`` record, one transaction (pending cells never overwrite)."""
    summary = engine.persist(store, features)
    # REST stores cannot tell inserts from updates (both stay 0): say so only when known.
    counted = summary["inserted"] + summary["updated"] == summary["rows"]
    get_run_logger().info(
        "persisted %d rows to %s%s in %.0f ms",
        summary["rows"],
        store.describe,
        f" ({summary['inserted']} inserted, {summary['updated']} updated)" if counted else "",
        summary["elapsed_ms"],
    )
    return dict(summary)


@task(name="record-short-interest", **_IN_MEMORY)
def record_short_interest(engine: Engine, store: Store, trade_date: date) -> list[str]:
    """Records FINRA's short interest settlement due by the day (and the one before) when the
    store lacks it, as ``offx enrich`` does after committing; logs what happened. A failure is
    logged, not raised (the engine's stage says so): the session is already committed, and the
    next session or a catch-up tries again."""
    lines = engine.record_short_interest(store, trade_date)
    logger = get_run_logger()
    for line in lines:
        logger.info("%s", line)
    return lines


@flow(name=FLOW_NAME)
def compute_offexchange_features(
    trade_date: Union[date, str, None] = None,
    persist: bool = True,
    symbols: Optional[list[str]] = None,
) -> list[FeatureDict]:
    """Computes one trading session's ``short_vol_share``, ``short_exempt_share`` and
    ``ats_share_of_total`` per symbol; with ``persist``, upserts them into the configured store.

    ``trade_date``: a date or ``"YYYY-MM-DD"``; None (scheduled runs) means the New York date of
    the run's scheduled start. A day that is not an NYSE session returns ``[]``.
    ``symbols``: exactly these (case-sensitive FINRA spelling, e.g. ``BRK/B``); None: all.
    Returns one dict per symbol: ``symbol``, ``trade_date``, and the three features (None when
    null or not yet published).
    """
    logger = get_run_logger()
    day = resolve_trade_date(trade_date)
    reason = offexchange.closure_reason(day)
    if reason is not None:
        logger.info(
            "%s is not an NYSE trading session (%s): FINRA publishes no data for it; no rows",
            day,
            reason,
        )
        return []

    engine = Engine()
    logger.info(
        "session %s, market %s, source %s, ATS from %s",
        day,
        engine.settings["market"],
        engine.settings["base_url"],
        engine.settings["effective_ats_source"],
    )
    store = open_store(logger) if persist else None

    retries = _task_retries()
    requested, stored = discover_symbols(engine, day, symbols, store)
    regsho_run = load_regsho.with_options(**retries).submit(engine, day)
    ats_run = load_ats.with_options(**retries).submit(engine, day)
    features = compute_features(engine, regsho_run.result(), ats_run.result(), requested, stored)
    if store is not None:
        persist_features(engine, store, features)
        record_short_interest(engine, store, day)
    return features.to_dicts()


def resolve_trade_date(value: Union[date, str, None]) -> date:
    """A date, an ISO string, or None: the New York date of the run's scheduled start."""
    if value is None:
        scheduled = flow_run.get_scheduled_start_time()
        return datetime.fromtimestamp(scheduled.timestamp(), ZoneInfo(NEW_YORK)).date()
    if isinstance(value, datetime):
        raise TypeError("trade_date: expected a date, not a datetime")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"trade_date: expected YYYY-MM-DD, got {value!r}") from None


def open_store(logger: Any) -> Optional[Store]:
    """The configured store, or None (with the warning) when no credentials are set."""
    store = offexchange.open_store()
    if store is None:
        logger.warning(
            "no store credentials: computed in memory only (set SUPABASE_URL and "
            "SUPABASE_SERVICE_ROLE_KEY, DATABASE_URL, or OFFX_STORE to persist)"
        )
        return None
    # describe is redacted by the store layer: never a password or key.
    logger.info("store: %s (from %s)", store.describe, store.origin)
    return store


def log_report(logger: Any, features: Features) -> None:
    """The engine's session report, line by line (the lines ``offx enrich`` logs), then counts."""
    levels = {"warn": logger.warning, "info": logger.info, "debug": logger.debug}
    for level, text in features.report_lines():
        levels[level]("%s", text)
    logger.info(
        "%d rows: %d all-null, %d with a feature pending (file not published yet)",
        len(features),
        features.null_rows,
        features.pending_rows,
    )


def _task_retries() -> dict[str, Any]:
    """Retry settings of the fetch tasks, from the environment (tests and impatient operators)."""

    def read(variable: str, default: float, parse: Any) -> Any:
        raw = os.environ.get(variable, "").strip()
        if not raw:
            return default
        try:
            value = parse(raw)
        except ValueError:
            value = -1
        if not 0 <= value <= 3600:
            raise offexchange.ConfigError(
                f"invalid {variable}={raw!r}: expected a number from 0 to 3600",
                variable=variable,
                value=raw,
                reason="expected a number from 0 to 3600",
            )
        return value

    return {
        "retries": read("OFFX_TASK_RETRIES", DEFAULT_TASK_RETRIES, int),
        "retry_delay_seconds": read(
            "OFFX_TASK_RETRY_DELAY_SECONDS", DEFAULT_TASK_RETRY_DELAY_SECONDS, float
        ),
    }


if __name__ == "__main__":
    import sys

    print(compute_offexchange_features(sys.argv[1] if len(sys.argv) > 1 else None, persist=False))
