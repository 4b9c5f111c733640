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
``FINRA_HTTP_BACKOFF``, ``FINRA_HTTP_USER_AGENT``, and a ``.env`` file); keyword arguments of
:class:`Engine` override them. The store follows the CLI's rule too (an explicit URL, then
``OFFX_STORE``, ``DATABASE_URL``, ``SUPABASE_DB_URL``, Supabase REST credentials), except that with
nothing configured :func:`open_store` returns None: Python callers compute in memory.

For a pipeline, the steps are separate (``Engine.load_regsho``, ``Engine.load_ats``,
``Engine.assemble``, ``Store.upsert``) and pass Rust-side handles, so a day's rows cross into
Python objects only when ``Features.to_dicts()`` is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from ._core import (
    AtsWeek,
    Engine,
    Features,
    RegShoDay,
    Store,
    Symbols,
    __version__,
    closure_reason,
    open_store,
)
from .errors import (
    ConfigError,
    FinraDataError,
    FinraHTTPError,
    OffexchangeError,
    StoreError,
)
from .types import FeatureDict, SessionReport, UpsertSummary

__all__ = [
    "AtsWeek",
    "ConfigError",
    "Engine",
    "FeatureDict",
    "Features",
    "FinraDataError",
    "FinraHTTPError",
    "OffexchangeError",
    "RegShoDay",
    "SessionReport",
    "Store",
    "StoreError",
    "Symbols",
    "UpsertSummary",
    "__version__",
    "closure_reason",
    "compute_features",
    "discover_symbols",
    "open_store",
    "persist_rows",
]


def compute_features(
    trade_date: date | str,
    symbols: Sequence[str] | None = None,
    **settings: Any,
) -> list[FeatureDict]:
    """One session's features as dicts (``[]`` on a day that is not an NYSE session).

    ``symbols``: exactly these (case-sensitive FINRA spelling); None: every symbol in the day's
    data. ``settings``: keyword overrides of the ``FINRA_*`` variables (``base_url``, ``market``,
    ``timeout``, ``retries``, ``backoff``, ``user_agent``).
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
    opened = store if isinstance(store, Store) else open_store(store)
    if opened is None:
        raise StoreError(
            "no store configured: pass a store URL or set OFFX_STORE, DATABASE_URL, "
            "SUPABASE_DB_URL, or SUPABASE_URL with a key",
            store="",
        )
    return opened.upsert(rows)
