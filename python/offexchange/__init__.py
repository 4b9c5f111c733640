"""FINRA off-exchange features per symbol and trading day, computed by a Rust engine.

The engine (``offexchange._core``, compiled from ``crates/offexchange-py``) does all the work; this
package is its typed surface::

    >>> from datetime import date
    >>> import offexchange
    >>> rows = offexchange.compute_features(date(2024, 4, 1), symbols=["AAPL"])
    >>> rows[0]["short_vol_share"]  # doctest: +SKIP
    0.4821...

Settings come from the same environment variables as the ``offx`` CLI (``FINRA_BASE_URL``,
``FINRA_SHORT_VOLUME_MARKET``, ``FINRA_HTTP_TIMEOUT``, ``FINRA_HTTP_RETRIES``,
``FINRA_HTTP_BACKOFF``, ``FINRA_HTTP_USER_AGENT``, ``FINRA_API_BASE_URL``, ``FINRA_ATS_SOURCE``,
and a ``.env`` file); keyword arguments of :class:`Engine` override them. The store follows the CLI's rule too (an explicit URL, then
``OFFX_STORE``, ``DATABASE_URL``, ``SUPABASE_DB_URL``, Supabase REST credentials), except that with
nothing configured :func:`open_store` returns None: Python callers compute in memory.

The engine owns whole jobs: ``Engine.session`` (one trading date, stored with its week's
``ats_weekly`` record in one transaction), ``Engine.backfill`` and ``Engine.catch_up``. For a
pipeline, the session job's stages are separate (``Engine.discover``, ``Engine.load_regsho``,
``Engine.load_ats``, ``Engine.assemble``, ``Engine.persist``) and pass Rust-side handles, so a
day's rows cross into Python objects only when ``Features.to_dicts()`` is called.
:func:`summary_lines` gives a job summary as the lines ``offx`` prints.

Bulk work runs in Rust too, as the CLI's commands do: :func:`backfill` (``offx backfill``) and
:func:`catch_up` (``offx catch-up``) read FINRA's raw files through the cache
(``OFFX_CACHE_DIR``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ._core import (
    AtsWeek,
    Engine,
    Features,
    RegShoDay,
    Store,
    Symbols,
    __version__,
    closure_reason,
    coverage_lines,
    datasets,
    export_parquet,
    ranking as _ranking,
    series as _series,
    open_store,
    store_choice,
    summary_lines,
    trading_sessions,
)
from .errors import (
    ConfigError,
    FinraDataError,
    FinraHTTPError,
    OffexchangeError,
    StoreError,
)
from .types import (
    BackfillSession,
    BackfillSummary,
    CatchUpSummary,
    CoverageReport,
    FeatureDict,
    SessionReport,
    SettlementCounts,
    UpsertSummary,
)

__all__ = [
    "AtsWeek",
    "BackfillSession",
    "BackfillSummary",
    "CatchUpSummary",
    "ConfigError",
    "CoverageReport",
    "Engine",
    "FeatureDict",
    "Features",
    "FinraDataError",
    "FinraHTTPError",
    "OffexchangeError",
    "RegShoDay",
    "SessionReport",
    "SettlementCounts",
    "Store",
    "StoreError",
    "Symbols",
    "UpsertSummary",
    "__version__",
    "backfill",
    "catch_up",
    "closure_reason",
    "compute_features",
    "coverage",
    "coverage_lines",
    "datasets",
    "discover_symbols",
    "export",
    "series",
    "top",
    "open_store",
    "persist_rows",
    "store_choice",
    "summary_lines",
    "trading_sessions",
]

#: FINRA's calendar: trade dates are New York dates.
NEW_YORK = ZoneInfo("America/New_York")


def compute_features(
    trade_date: date | str,
    symbols: Sequence[str] | None = None,
    **settings: Any,
) -> list[FeatureDict]:
    """One session's features as dicts (``[]`` on a day that is not an NYSE session).

    ``symbols``: exactly these (case-sensitive FINRA spelling); None: every symbol in the day's
    data. ``settings``: keyword overrides of the ``FINRA_*`` variables (``base_url``, ``market``,
    ``timeout``, ``retries``, ``backoff``, ``user_agent``, ``api_base_url``, ``ats_source``), and
    ``cache`` (see :class:`Engine`).
    """
    return Engine(**settings).compute(trade_date, symbols).to_dicts()


def discover_symbols(trade_date: date | str, store: str | Store | None = None) -> list[str]:
    """The symbols a store already holds for ``trade_date`` (``[]`` when no store is configured).

    ``store``: an open :class:`Store`, a store URL, or None for the configured one.
    """
    opened = store if isinstance(store, Store) else open_store(store)
    if opened is None:
        return []
    return opened.discover_symbols(trade_date).to_list()


def persist_rows(
    rows: Features | Iterable[FeatureDict], store: str | Store | None = None
) -> UpsertSummary:
    """Upserts feature rows into a store; raises :class:`StoreError` when none is configured.

    A None feature in a dict never overwrites a stored value (it may only mean "not published
    yet"); persist the :class:`Features` result itself to write the engine's nulls exactly.
    """
    return _required_store(store, "persisting rows").upsert(rows)


def catch_up(
    store: str | Store | None = None,
    until: date | str | None = None,
    days: int = 60,
    **settings: Any,
) -> CatchUpSummary:
    """Like ``offx catch-up``: refreshes the stored sessions of the last ``days`` calendar days
    (up to ``until``; None: today in New York) whose weekly ATS data FINRA has published since.

    ``store``: an open :class:`Store`, a store URL, or None for the configured one (required).
    ``settings``: :class:`Engine` keyword arguments; the raw-file cache is read (``cache="read"``)
    unless given. Returns the engine's summary (dates as ISO strings).
    """
    opened = _required_store(store, "catch-up")
    settings.setdefault("cache", "read")
    day = datetime.now(NEW_YORK).date() if until is None else until
    return Engine(**settings).catch_up(opened, day, days)


def coverage(
    start: date | str,
    end: date | str,
    store: str | Store | None = None,
    check: bool = False,
    **settings: Any,
) -> CoverageReport:
    """Like ``offx coverage``: every calendar date of ``start..end`` with each dataset's state
    (``stored``, ``published_not_stored``, ``not_yet_due``, ``awaited``, ``historic``,
    ``before_dataset``, ``failed``). Reads the store and its provenance ledger; asks FINRA only
    with ``check``. :func:`coverage_lines` and :func:`summary_lines` give it as ``offx`` prints it.
    """
    opened = _required_store(store, "coverage")
    settings.setdefault("cache", "read")
    return Engine(**settings).coverage(opened, start, end, check)


def backfill(
    start: date | str,
    end: date | str,
    store: str | Store | None = None,
    concurrency: int = 4,
    force: bool = False,
    on_session: Callable[[BackfillSession], object] | None = None,
    **settings: Any,
) -> BackfillSummary:
    """Like ``offx backfill``, in one call: every NYSE session of ``start..end`` (inclusive) into
    the store, ``concurrency`` sessions and downloads at once, each weekly ATS file fetched once,
    one transaction per session; sessions already stored are skipped unless ``force``.

    ``store`` as for :func:`catch_up`; ``on_session`` is called after each session is committed.
    Ctrl-C stops after the session being committed (re-run to resume). ``settings``:
    :class:`Engine` keyword arguments; the raw-file cache is read unless ``cache`` is given.
    For a backfill spread over Prefect workers or a Dask cluster, see
    ``flows/backfill_offexchange_features.py``.
    """
    opened = _required_store(store, "backfill")
    settings.setdefault("cache", "read")
    return Engine(**settings).backfill(start, end, opened, concurrency, force, on_session)


def export(
    start: date | str,
    end: date | str,
    as_of: datetime | str | None = None,
    symbols: Sequence[str] | None = None,
    store: str | Store | None = None,
    with_short_interest: bool = False,
) -> Any:
    """The stored features of ``start..end`` (inclusive) as a ``pyarrow.Table``, like ``offx export``.

    Columns: ``symbol``, ``trade_date`` (date32), ``short_vol_share``, ``short_exempt_share``,
    ``ats_share_of_total``, ``short_available_at`` and ``ats_available_at`` (UTC timestamps: when
    FINRA had published what each value was computed from). ``as_of`` (a time-zone-aware
    ``datetime`` or an RFC 3339 string): each value as knowable then, the latest version
    published at or before it, None when none was; rows with neither part are left out. Without
    it, the latest values. ``with_short_interest=True`` adds ``short_interest`` (int64),
    ``days_to_cover`` and ``short_interest_settlement_date`` (date32): the latest settlement
    FINRA had published by each trade date's close (by ``as_of`` when earlier), like
    ``offx export --with short-interest``. Rows are ordered by (trade_date, symbol). ``.to_pandas()`` and
    ``polars.from_arrow(table)`` work from the result. Needs ``pyarrow`` (the ``arrow`` extra).
    """
    try:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError as missing:
        raise ImportError(
            "offexchange.export returns a pyarrow Table: pip install 'offexchange[arrow]'"
        ) from missing
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            raise ValueError("as_of: a datetime needs a time zone (e.g. datetime.timezone.utc)")
        when: str | None = as_of.isoformat()
    else:
        when = as_of
    opened = _required_store(store, "export")
    data = export_parquet(opened, start, end, when, symbols, with_short_interest)
    return pq.read_table(pa.BufferReader(data))


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    except ImportError as missing:
        raise ImportError("this returns a pyarrow Table: pip install 'offexchange[arrow]'") from missing
    return pa


#: The columns of a ranking row, in order (``offx top --format csv``).
_RANKING_COLUMNS = [
    "symbol",
    "trade_date",
    "short_vol_share",
    "short_vol_mean20",
    "short_vol_z",
    "ats_share_of_total",
    "ats_mean_12w",
    "ats_vs_mean",
    "total_volume",
]


def top(
    trade_date: date | str,
    by: str = "short_vol_share",
    min_total_volume: float | None = None,
    limit: int = 25,
    bottom: bool = False,
    store: str | Store | None = None,
) -> Any:
    """A day's symbols ranked like ``offx top``, as a ``pyarrow.Table`` (best first).

    ``by``: ``short_vol_share``, ``short_vol_z`` (against the symbol's 20 sessions) or
    ``ats_share_of_total``; ``min_total_volume``: only symbols with at least that Reg SHO total
    volume that day. Signals with fewer than 10 observations are null. ``.to_pandas()`` gives a
    DataFrame. The table's metadata holds the counts (``ranked``, ``left_out``, ...).
    """
    pa = _pyarrow()
    opened = _required_store(store, "top")
    found = _ranking(opened, trade_date, by, min_total_volume, limit, bottom)
    rows = [{column: row.get(column) for column in _RANKING_COLUMNS} for row in found["rows"]]
    for row in rows:
        row["trade_date"] = date.fromisoformat(row["trade_date"])
    schema = pa.schema(
        [("symbol", pa.string()), ("trade_date", pa.date32())]
        + [(column, pa.float64()) for column in _RANKING_COLUMNS[2:]]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    counts = {k: str(found[k]) for k in ("ranked", "left_out", "without_value", "below_floor")}
    return table.replace_schema_metadata(counts)


def series(
    symbol: str,
    start: date | str,
    end: date | str,
    store: str | Store | None = None,
) -> Any:
    """``symbol``'s features over ``start..end``, one row per session, like ``offx chart``:
    ``date``, ``stored`` (a row exists), ``short_vol_share``, ``short_vol_mean20`` (20-session
    mean, null below 10 values) and ``ats_share_of_total``, as a ``pyarrow.Table``."""
    pa = _pyarrow()
    opened = _required_store(store, "series")
    points = _series(opened, symbol, start, end)
    for point in points:
        point["date"] = date.fromisoformat(point["date"])
    schema = pa.schema(
        [
            ("date", pa.date32()),
            ("stored", pa.bool_()),
            ("short_vol_share", pa.float64()),
            ("short_vol_mean20", pa.float64()),
            ("ats_share_of_total", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(points, schema=schema)


def _required_store(store: str | Store | None, purpose: str) -> Store:
    opened = store if isinstance(store, Store) else open_store(store)
    if opened is None:
        raise StoreError(
            f"no store configured ({purpose} needs one): pass a store URL or set OFFX_STORE, "
            "DATABASE_URL, SUPABASE_DB_URL, or SUPABASE_URL with a key",
            store="",
        )
    return opened
