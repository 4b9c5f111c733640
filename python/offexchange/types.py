"""Typed shapes of the plain values the engine returns."""

from __future__ import annotations

from datetime import date
from typing import Optional, TypedDict

__all__ = [
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
