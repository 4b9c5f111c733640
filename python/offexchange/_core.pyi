"""Type stubs of the compiled module (crates/offexchange-py). Keep in step with its lib.rs."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any, Literal, final

from typing_extensions import Self

from .types import (
    BackfillSession,
    BackfillSummary,
    CatchUpSummary,
    CoverageReport,
    EngineSettings,
    FeatureDict,
    SessionReport,
    UpsertSummary,
)

__version__: str

_DateLike = date | str
_SymbolsLike = Symbols | Sequence[str] | Iterable[str]

@final
class Engine:
    """FINRA settings plus one HTTP client, reused for every file and session.

    Every argument overrides its environment variable (``base_url``: ``FINRA_BASE_URL``,
    ``market``: ``FINRA_SHORT_VOLUME_MARKET``, ``timeout``: ``FINRA_HTTP_TIMEOUT``, ``retries``:
    ``FINRA_HTTP_RETRIES``, ``backoff``: ``FINRA_HTTP_BACKOFF``, ``user_agent``:
    ``FINRA_HTTP_USER_AGENT``, ``api_base_url``: ``FINRA_API_BASE_URL``, ``ats_source``:
    ``FINRA_ATS_SOURCE``); a ``.env`` file in the working directory is read first.

    ``cache``: FINRA's raw files kept under ``OFFX_CACHE_DIR`` (``off`` there disables it):
    ``"read"`` serves them from the cache and fetches only what it lacks (bulk work, like
    ``offx backfill``); ``"refresh"`` always fetches and refreshes the cached copy (like
    ``offx enrich``); None or ``"off"``: no cache.

    Raises ``ConfigError`` (a ``ValueError``) naming the variable of a value that cannot be used.
    """

    def __new__(
        cls,
        *,
        base_url: str | None = None,
        market: str | None = None,
        timeout: float | str | None = None,
        retries: int | str | None = None,
        backoff: float | str | None = None,
        user_agent: str | None = None,
        api_base_url: str | None = None,
        ats_source: str | None = None,
        cache: Literal["read", "refresh", "off"] | None = None,
    ) -> Self: ...
    @property
    def settings(self) -> EngineSettings:
        """The settings in force, with the ATS source ``auto`` resolves to
        (``effective_ats_source``)."""
    def session(
        self,
        trade_date: _DateLike,
        symbols: _SymbolsLike | None = None,
        store: Store | None = None,
    ) -> Features:
        """The session job, like ``offx enrich``: fetch and compute; with ``store``, commit the
        rows and the week's ``ats_weekly`` record in one transaction (``Features.stored``). On a
        non-session day, an empty result with ``closed`` set."""
    def compute(self, trade_date: _DateLike, symbols: _SymbolsLike | None = None) -> Features:
        """The session job without a store."""
    def discover(
        self,
        trade_date: _DateLike,
        symbols: _SymbolsLike | None = None,
        store: Store | None = None,
    ) -> Symbols:
        """Stage 1: the symbols ``store`` holds for the date when ``symbols`` is None; else none."""
    def load_regsho(self, trade_date: _DateLike) -> RegShoDay:
        """Stage 2a: the day's Reg SHO files. Raises ``FinraHTTPError``, ``FinraDataError``."""
    def load_ats(self, trade_date: _DateLike) -> AtsWeek:
        """Stage 2b: the ATS week containing the day. Raises ``FinraHTTPError``,
        ``FinraDataError``."""
    def assemble(
        self,
        regsho: RegShoDay,
        ats: AtsWeek,
        symbols: _SymbolsLike | None = None,
        stored_symbols: _SymbolsLike | None = None,
    ) -> Features:
        """Stage 3: the rows and the week's record. ``symbols``: exactly these; None: every symbol
        in the data plus ``stored_symbols`` (stage 1's answer)."""
    def persist(self, store: Store, features: Features) -> UpsertSummary:
        """Stage 4: commits the session to ``store``: its rows and (when the store has no record
        of the week yet) the week's ``ats_weekly`` rows, in one transaction."""
    def record_short_interest(self, store: Store, trade_date: _DateLike) -> list[str]:
        """Stage 5 of a stored session: FINRA's short interest settlement due by the date (and
        the one before) recorded when the store lacks it; returns the report lines."""

    def catch_up(self, store: Store, until: _DateLike, days: int = 60) -> CatchUpSummary:
        """Like ``offx catch-up``: refreshes the stored sessions of the ``days`` (1-3660)
        calendar days up to ``until`` whose weekly ATS data FINRA has published since."""
    def coverage(
        self, store: Store, start: _DateLike, end: _DateLike, check: bool = False
    ) -> CoverageReport:
        """Like ``offx coverage``: every date of ``start..end`` with each dataset's state, from
        the store and its provenance ledger; FINRA is asked only with ``check``."""
    def backfill(
        self,
        start: _DateLike,
        end: _DateLike,
        store: Store,
        concurrency: int = 4,
        force: bool = False,
        on_session: Callable[[BackfillSession], object] | None = None,
    ) -> BackfillSummary:
        """Like ``offx backfill``: every session of ``start..=end`` into ``store``, streamed and
        resumable (sessions already stored are skipped unless ``force``). Raises the failed
        session's error (``FinraHTTPError``, ``StoreError``, ...); earlier sessions stay
        committed."""

@final
class RegShoDay:
    """A day's Reg SHO volumes, kept in Rust (an opaque handle between pipeline steps)."""

    @property
    def trade_date(self) -> date: ...
    @property
    def market(self) -> str: ...
    @property
    def published(self) -> bool: ...
    @property
    def complete(self) -> bool: ...
    @property
    def symbol_count(self) -> int: ...
    def symbols(self) -> Symbols: ...
    @property
    def report(self) -> SessionReport: ...

@final
class AtsWeek:
    """The ATS week of a day, kept in Rust (an opaque handle between pipeline steps)."""

    @property
    def trade_date(self) -> date: ...
    @property
    def week_start(self) -> date: ...
    @property
    def published(self) -> bool: ...
    @property
    def complete(self) -> bool: ...
    @property
    def symbol_count(self) -> int: ...
    @property
    def report(self) -> SessionReport: ...

@final
class Features:
    """One session's feature rows, kept in Rust until ``to_dicts()``."""

    @property
    def trade_date(self) -> date: ...
    @property
    def closed(self) -> str | None:
        """Why the day is not an NYSE session ("Saturday", "Good Friday", ...), else None."""
    @property
    def report(self) -> SessionReport: ...
    @property
    def stored(self) -> UpsertSummary | None: ...
    @property
    def week_symbols(self) -> int:
        """Symbols in the week's ``ats_weekly`` record (0: the week is not published)."""
    def report_lines(self) -> list[tuple[Literal["debug", "info", "warn"], str]]:
        """The report as the lines ``offx enrich`` logs: (level, text)."""
    @property
    def null_rows(self) -> int: ...
    @property
    def pending_rows(self) -> int: ...
    def to_dicts(self) -> list[FeatureDict]: ...
    def __len__(self) -> int: ...

@final
class Symbols:
    """A list of symbols kept in Rust; iterate it or call ``to_list()``."""

    def __new__(cls, symbols: Iterable[str]) -> Self: ...
    def to_list(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> str: ...
    def __contains__(self, symbol: str, /) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...

@final
class Store:
    """An open ``daily_features`` store (memory, SQLite, PostgreSQL, Supabase)."""

    @property
    def describe(self) -> str:
        """The store, without credentials (safe to log)."""
    @property
    def origin(self) -> str:
        """What chose it: "argument" (the ``url`` given), "OFFX_STORE", "DATABASE_URL", ..."""
    def discover_symbols(self, trade_date: _DateLike, missing_only: bool = False) -> Symbols: ...
    def upsert(self, rows: Features | Iterable[FeatureDict]) -> UpsertSummary:
        """One transaction per date. Raises ``StoreError``."""
    def read(self, trade_date: _DateLike) -> list[FeatureDict]: ...
    def dates_with_rows(self, dates: Iterable[_DateLike]) -> list[date]:
        """Which of ``dates`` the store already holds rows for, sorted."""

def open_store(url: str | None = None) -> Store | None:
    """The store ``url`` names, else the configured one (``OFFX_STORE``, ``DATABASE_URL``,
    ``SUPABASE_DB_URL``, ``SUPABASE_URL`` + key); None when nothing is configured.
    Raises ``StoreError``."""

def store_choice(url: str | None = None) -> tuple[str, str] | None:
    """``(url, origin)`` of the store ``open_store(url)`` would open; None when nothing is
    configured. The URL may carry a password: pass it on, never log it."""

def trading_sessions(start: _DateLike, end: _DateLike) -> list[date]:
    """The NYSE sessions from ``start`` to ``end``, both included."""

def closure_reason(trade_date: _DateLike) -> str | None:
    """Why ``trade_date`` is not an NYSE session, or None when it is one."""

def summary_lines(
    summary: BackfillSummary | CatchUpSummary | CoverageReport,
) -> list[tuple[str, str]]:
    """A job summary as the ``(label, value)`` lines ``offx`` prints, computed by the engine."""

def coverage_lines(report: CoverageReport) -> list[str]:
    """A coverage report as the one line per date ``offx coverage`` prints."""

def datasets() -> list[dict[str, object]]:
    """The FINRA datasets the engine reads (name, carriers, publication, columns, tables)."""

def export_parquet(
    store: Store,
    start: _DateLike,
    end: _DateLike,
    as_of: str | None = None,
    symbols: _SymbolsLike | None = None,
    with_short_interest: bool = False,
) -> bytes:
    """The stored features of ``start..=end`` (as of an RFC 3339 time) as a Parquet file's bytes."""

def ranking(
    store: Store,
    trade_date: _DateLike,
    by: str = "short_vol_share",
    min_total_volume: float | None = None,
    limit: int = 25,
    bottom: bool = False,
) -> dict[str, Any]:
    """A day's ranking as ``offx top`` computes it: ``rows`` best first, and counts."""

def series(store: Store, symbol: str, start: _DateLike, end: _DateLike) -> list[dict[str, Any]]:
    """A symbol's points over ``start..end``, one per session, as ``offx chart`` draws them."""

def _panic_for_tests(message: str) -> None:
    """Panics in Rust on purpose (tests check it arrives as ``OffexchangeError``)."""
