"""Exceptions raised by offexchange.

Every error from the Rust engine arrives as one of these, with the attributes named below; a Rust
panic arrives as ``OffexchangeError`` (it is a bug: please report it).

``OffexchangeError``
    ``FinraHTTPError``  FINRA's CDN kept failing (after the configured retries): ``url``,
                        ``status`` (last HTTP status, None if no response arrived), ``attempts``.
    ``FinraDataError``  a FINRA file that cannot be used (wrong format, truncated, unreadable
                        mirror file): ``location``, ``attempts``.
    ``ConfigError``     a setting that cannot be used (also a ``ValueError``): ``variable``,
                        ``value``, ``reason``.
    ``StoreError``      the feature store failed: ``store`` (its description, without secrets).

The attributes are keyword arguments with defaults, so the exceptions pickle (Prefect stores a
failed task's exception) and can be raised by hand in tests.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OffexchangeError",
    "FinraHTTPError",
    "FinraDataError",
    "ConfigError",
    "StoreError",
]


class OffexchangeError(Exception):
    """Base class of every offexchange error."""

    def __init__(self, message: str = "", **attrs: Any) -> None:
        super().__init__(message)
        self.message = message
        for name, value in attrs.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__)


class FinraHTTPError(OffexchangeError):
    """FINRA's CDN failed repeatedly (network error, 5xx, 429, or an unexpected status)."""

    url: str
    status: int | None
    attempts: int
    method: str

    def __init__(
        self,
        message: str = "",
        *,
        url: str = "",
        status: int | None = None,
        attempts: int = 0,
        method: str = "GET",
    ) -> None:
        super().__init__(message, url=url, status=status, attempts=attempts, method=method)


class FinraDataError(OffexchangeError):
    """A FINRA file was fetched but cannot be used (format, truncation, unreadable mirror)."""

    location: str
    attempts: int

    def __init__(self, message: str = "", *, location: str = "", attempts: int = 1) -> None:
        super().__init__(message, location=location, attempts=attempts)


class ConfigError(OffexchangeError, ValueError):
    """A setting (environment variable or keyword argument) that cannot be used."""

    variable: str
    value: str
    reason: str

    def __init__(
        self, message: str = "", *, variable: str = "", value: str = "", reason: str = ""
    ) -> None:
        super().__init__(message, variable=variable, value=value, reason=reason)


class StoreError(OffexchangeError):
    """The feature store (SQLite, PostgreSQL, Supabase) failed; nothing of the date was written.

    ``kind`` is ``"transient"`` (a lost connection, a timeout, HTTP 5xx/429, a lock or
    serialization conflict: retrying may help) or ``"permanent"`` (a missing table, refused
    credentials, a constraint, a bad request: retrying will not); ``transient`` says the same as a
    bool. Prefect tasks retry only transient ones."""

    store: str
    kind: str
    transient: bool

    def __init__(
        self, message: str = "", *, store: str = "", kind: str = "permanent", transient: bool = False
    ) -> None:
        super().__init__(message, store=store, kind=kind, transient=transient)
