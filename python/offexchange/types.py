"""Typed shapes of the plain values the engine returns."""

from __future__ import annotations

from datetime import date
from typing import Literal, Optional, TypedDict

__all__ = [
    "BackfillSession",
    "BackfillSummary",
    "CatchUpSummary",
    "EngineSettings",
    "FeatureDict",
    "FileQuality",
    "FileStatus",
    "SessionReport",
    "SkippedLine",
    "SymbolIssue",
    "UpsertSummary",
]


class FeatureDict(TypedDict):
    """One symbol's features for one trading date; None is a null (or not yet published) value."""

    symbol: str
    trade_date: date
    short_vol_share: Optional[float]
    short_exempt_share: Optional[float]
    ats_share_of_total: Optional[float]


class UpsertSummary(TypedDict):
    """What a store upsert did."""

    rows: int
    inserted: int
    updated: int
    batches: int
    elapsed_ms: float


class FileStatus(TypedDict):
    """One FINRA file of the session: published or not, and rows used."""

    file: str
    location: str
    published: bool
    rows: Optional[int]


class SkippedLine(TypedDict):
    line: int
    reason: str


class SymbolIssue(TypedDict):
    symbol: str
    issue: str


class FileQuality(TypedDict):
    """Data-quality findings of one file (or of the feature computation)."""

    file: str
    rows_read: int
    lines_skipped: int
    invariant_violations: int
    skipped: list[SkippedLine]
    violations: list[SymbolIssue]
    notes: list[str]
    #: One line for people: ``CNMSshvol20240401.txt: 8172 rows, 1 line skipped``.
    summary: str
    #: Nothing skipped, violated or remarked.
    clean: bool
    #: Every finding, one per line (at most 200 of each kind; the counts stay exact).
    details: list[str]


class SessionReport(TypedDict):
    """What happened in a session (or one step of it)."""

    trade_date: Optional[str]
    market: str
    files: list[FileStatus]
    #: Which components of the day or week are missing.
    coverage: list[str]
    quality: list[FileQuality]
    symbols_requested: Optional[int]
    symbols_found: int
    symbol_notes: list[str]
    ats_unmatched: list[str]
    files_fetched: int
    files_missing: int


class EngineSettings(TypedDict):
    base_url: str
    market: str
    timeout: float
    retries: int
    backoff: float
    user_agent: str
    #: FINRA's Query API root (``FINRA_API_BASE_URL``).
    api_base_url: str
    #: As configured (``FINRA_ATS_SOURCE``): ``"auto"``, ``"api"`` or ``"zip"``.
    ats_source: str
    #: What ``auto`` resolves to: ``"api"`` against FINRA's own CDN, ``"zip"`` for a mirror.
    effective_ats_source: str
    #: The raw-file cache: ``"read"``, ``"refresh"``, or None (no cache).
    cache: Optional[str]
    #: Its directory (``OFFX_CACHE_DIR``), or None.
    cache_dir: Optional[str]


class SettlementCounts(TypedDict):
    """The short interest settlements a backfill or catch-up covered."""

    #: Settlements (or revisions of them) stored by this run.
    stored: int
    #: Settlements the store already held.
    already_stored: int
    #: Settlements due that FINRA has not published (ISO dates).
    not_published: list[str]
    #: Why short interest could not be covered (the sessions are committed regardless).
    error: Optional[str]


# "from" is a keyword, hence the functional form of the summaries below. Dates are ISO strings.

#: What ``Engine.catch_up`` did: the engine's ``CatchUpSummary``, field for field (a test checks
#: that these keys are exactly the Rust struct's serialized fields).
CatchUpSummary = TypedDict(
    "CatchUpSummary",
    {
        #: First day looked at for nulls.
        "from": Optional[str],
        "until": Optional[str],
        #: Stored sessions in the window with at least one null ``ats_share_of_total``.
        "sessions_with_nulls": int,
        "rows_with_nulls": int,
        #: Weeks whose ATS data was read.
        "weeks_checked": int,
        #: Weeks FINRA has still not published (they stay null).
        "weeks_awaited": list[str],
        #: Weeks before FINRA's ATS or non-ATS data: their nulls are final, never fetched.
        "weeks_never": list[str],
        #: Weeks FINRA revised since they were recorded: recomputed whole.
        "weeks_revised": int,
        "revised_weeks": list[str],
        #: Published weeks with stored rows but no ``ats_weekly`` record yet: recomputed, recorded.
        "weeks_recorded": int,
        #: Rows whose null ``ats_share_of_total`` got a value.
        "rows_filled": int,
        #: Rows whose stored ``ats_share_of_total`` a revision changed.
        "rows_revised": int,
        #: Rows recomputed and written (filled + revised + rewritten unchanged).
        "rows_written": int,
        #: Short interest settlements the window sees (recent ones re-read for revisions).
        "short_interest": SettlementCounts,
    },
)

class DatasetCoverage(TypedDict):
    """One dataset's state on one date (``Engine.coverage``)."""

    #: ``regsho_daily``, ``otc_weekly`` or ``short_interest``.
    dataset: str
    #: The period FINRA publishes: the date, the week's Monday, or the settlement date (ISO).
    period: str
    #: What the store holds of it, or why not.
    state: Literal[
        "stored",
        "published_not_stored",
        "not_yet_due",
        "awaited",
        "historic",
        "before_dataset",
        "failed",
    ]
    #: Which files or partitions, due when, or the error.
    detail: str


class CoverageDay(TypedDict):
    """One calendar date of a coverage report."""

    date: str
    #: Why the NYSE is closed, or None on a session.
    closed: Optional[str]
    datasets: list[DatasetCoverage]


#: What ``Engine.coverage`` found: the engine's ``CoverageReport``, field for field.
CoverageReport = TypedDict(
    "CoverageReport",
    {
        "from": str,
        "to": str,
        #: FINRA was asked about what the store lacks.
        "checked": bool,
        "days": list[CoverageDay],
        #: Per dataset, sessions per state.
        "counts": dict[str, dict[str, int]],
        "closed_days": int,
    },
)

#: What ``Engine.backfill`` did: the engine's ``BackfillSummary``, field for field.
BackfillSummary = TypedDict(
    "BackfillSummary",
    {
        "from": Optional[str],
        "to": Optional[str],
        "sessions_in_range": int,
        "sessions_stored": int,
        "sessions_already_stored": int,
        "rows_written": int,
        "rows_inserted": int,
        "rows_updated": int,
        "files_fetched": int,
        "files_missing": int,
        #: Stopped early (Ctrl-C): re-run to resume.
        "interrupted": bool,
        #: Short interest settlements the range sees.
        "short_interest": SettlementCounts,
        "elapsed_seconds": float,
    },
)


class BackfillSession(TypedDict):
    """One session committed by ``offexchange.backfill`` (what ``on_session`` receives)."""

    trade_date: str
    rows: int
    inserted: int
    updated: int
    files_fetched: int
    files_missing: int
    #: Which files of the day or week are missing.
    coverage: list[str]
