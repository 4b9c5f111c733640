"""Fixtures: a local FINRA CDN over real HTTP, the CLI binary, a clean environment, and (shared by
the modules that need them) a temporary Prefect API and a local Dask cluster.

The CDN stand-in serves ``sample/mirror`` on 127.0.0.1 exactly as FINRA's CDN answers: a file it
has is 200; anything else is 403 with S3's ``AccessDenied`` XML (that is how the CDN says "not
published"). Variants answer 404 for missing files, or 503 to everything (an outage).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MIRROR = REPO / "sample" / "mirror"
DEMO_DATE = "2024-04-01"

# The flows package is imported from the repository root, as the README's commands do.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>TEST</RequestId><HostId>TEST</HostId></Error>"
)

# Everything that could point the engine or the flow at a real store or another FINRA source.
ISOLATED_VARIABLES = [
    "FINRA_BASE_URL",
    "FINRA_SHORT_VOLUME_MARKET",
    "FINRA_HTTP_TIMEOUT",
    "FINRA_HTTP_RETRIES",
    "FINRA_HTTP_BACKOFF",
    "FINRA_HTTP_USER_AGENT",
    "FINRA_API_BASE_URL",
    "FINRA_ATS_SOURCE",
    "OFFX_STORE",
    "DATABASE_URL",
    "SUPABASE_DB_URL",
    "SUPABASE_URL",
    "NEXT_PUBLIC_SUPABASE_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_ANON_KEY",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY",
    "OFFX_TASK_RETRIES",
    "OFFX_TASK_RETRY_DELAY_SECONDS",
    "OFFX_CACHE_DIR",
    "OFFX_CACHE_MISSING_TTL",
    "OFFX_DASK_ADDRESS",
]


@dataclass
class FinraServer:
    """A local stand-in for ``https://cdn.finra.org/equity``."""

    mode: str  # "cdn" (403 for missing), "404", or "503"
    root: Path = MIRROR
    requests: list[str] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FinraServer:
        finra = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                finra.requests.append(self.path)
                if finra.mode == "503":
                    return self.answer(503, b"Service Unavailable", "text/plain")
                relative = self.path.split("?", 1)[0].removeprefix("/equity/")
                target = (finra.root / relative).resolve()
                if finra.root.resolve() in target.parents and target.is_file():
                    # As FINRA's CDN does: the file's own time as Last-Modified.
                    modified = formatdate(target.stat().st_mtime, usegmt=True)
                    return self.answer(
                        200, target.read_bytes(), "application/octet-stream", modified
                    )
                if finra.mode == "404":
                    return self.answer(404, b"Not Found", "text/plain")
                return self.answer(403, ACCESS_DENIED, "application/xml")

            def answer(
                self, status: int, body: bytes, kind: str, modified: str | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if modified is not None:
                    self.send_header("Last-Modified", modified)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/equity"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _serve(mode: str) -> Iterator[FinraServer]:
    if not (MIRROR / "regsho").is_dir():
        pytest.fail(f"no sample mirror at {MIRROR}: run `make sample` first")
    server = FinraServer(mode).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def finra() -> Iterator[FinraServer]:
    """The sample mirror behind a CDN-like HTTP server (403 AccessDenied when missing)."""
    yield from _serve("cdn")


@pytest.fixture(scope="session")
def finra_404() -> Iterator[FinraServer]:
    yield from _serve("404")


@pytest.fixture(scope="session")
def finra_503() -> Iterator[FinraServer]:
    yield from _serve("503")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting or store credential leaks in from the machine; no .env is found."""
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # FINRA's raw files are cached per test, never in the user's cache directory.
    monkeypatch.setenv("OFFX_CACHE_DIR", str(tmp_path / "finra-cache"))
    # Fast failures: one retry, no backoff (a 503 test then takes milliseconds).
    monkeypatch.setenv("FINRA_HTTP_RETRIES", "1")
    monkeypatch.setenv("FINRA_HTTP_BACKOFF", "0")
    monkeypatch.setenv("FINRA_HTTP_TIMEOUT", "10")


@pytest.fixture
def use_finra(monkeypatch: pytest.MonkeyPatch, finra: FinraServer) -> FinraServer:
    monkeypatch.setenv("FINRA_BASE_URL", finra.url)
    return finra


@pytest.fixture(scope="session")
def offx() -> Path:
    """The CLI binary: `OFFX_BIN` (`make test-python` points it at the debug build `cargo test`
    already made, so CI compiles no second optimized copy of the engine), else a built one."""
    explicit = os.environ.get("OFFX_BIN")
    if explicit:
        if not Path(explicit).is_file():
            pytest.fail(f"OFFX_BIN={explicit}: no such file")
        return Path(explicit)
    for profile in ("release", "debug"):
        binary = REPO / "target" / profile / "offx"
        if binary.is_file():
            return binary
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("no offx binary and no cargo to build it")
    subprocess.run([cargo, "build", "--release", "-q", "-p", "offx"], cwd=REPO, check=True)
    return REPO / "target" / "release" / "offx"


def cli_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    env.update(
        FINRA_BASE_URL=base_url,
        FINRA_HTTP_RETRIES="1",
        FINRA_HTTP_BACKOFF="0",
        OFFX_LOG="error",
        OFFX_CACHE_DIR=os.environ.get("OFFX_CACHE_DIR", "off"),
    )
    return env


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary local Prefect API for the flow tests (one for the session: it takes seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Dask cluster of two worker processes (one thread each) on 127.0.0.1, no dashboard.

    The workers are started from this interpreter (same virtual environment, so the compiled
    engine imports there) with a clean environment: no setting or store credential of the
    machine, and a FINRA raw-file cache of their own.
    """
    distributed = pytest.importorskip("distributed")
    with pytest.MonkeyPatch.context() as env:
        for name in ISOLATED_VARIABLES:
            env.delenv(name, raising=False)
        env.setenv("OFFX_CACHE_DIR", str(tmp_path_factory.mktemp("dask-finra-cache")))
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        yield cluster
    finally:
        cluster.close()


@dataclass
class FakeSupabase:
    """Just enough of Supabase's REST API (PostgREST) for ``daily_features`` and ``ats_weekly``:
    the key check, paged selects filtered by ``trade_date`` / ``week_start`` (``eq.``), ordering
    by the table's first ``order`` column, and upserts that merge the columns sent."""

    key: str
    rows: dict[tuple[str, ...], dict[str, object]] = field(default_factory=dict)
    #: ``ats_weekly`` rows by (symbol, week_start).
    weeks: dict[tuple[str, ...], dict[str, object]] = field(default_factory=dict)
    #: ``finra_files`` and ``feature_versions`` rows by their keys.
    files: dict[tuple[str, ...], dict[str, object]] = field(default_factory=dict)
    versions: dict[tuple[str, ...], dict[str, object]] = field(default_factory=dict)
    keys_seen: list[str] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeSupabase:
        import json
        from urllib.parse import parse_qs, urlsplit

        fake = self
        # path -> (key columns, rows); GETs filter on any `column=eq.value` given.
        tables: dict[str, tuple[tuple[str, ...], dict[tuple[str, ...], dict[str, object]]]] = {
            "/rest/v1/daily_features": (("symbol", "trade_date"), fake.rows),
            "/rest/v1/ats_weekly": (("symbol", "week_start"), fake.weeks),
            "/rest/v1/finra_files": (("dataset", "name", "sha256"), fake.files),
            "/rest/v1/feature_versions": (
                ("trade_date", "symbol", "part", "available_at"),
                fake.versions,
            ),
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def authorized(self) -> bool:
                key = self.headers.get("apikey", "")
                fake.keys_seen.append(key)
                if key != fake.key:
                    self.answer(401, {"code": "PGRST301", "message": "Invalid API key"})
                    return False
                return True

            def table(
                self,
            ) -> tuple[tuple[str, ...], dict[tuple[str, ...], dict[str, object]]] | None:
                found = tables.get(urlsplit(self.path).path)
                if found is None:
                    self.answer(404, {"code": "PGRST205", "message": "no such table"})
                return found

            def do_GET(self) -> None:  # noqa: N802
                if not self.authorized() or (table := self.table()) is None:
                    return
                _, rows = table
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                columns = query.get("select", "*").split(",")
                equal = {
                    k: v.removeprefix("eq.") for k, v in query.items() if v.startswith("eq.")
                }
                order = query.get("order", "symbol.asc").split(",")[0].split(".")
                matching = sorted(
                    (
                        r
                        for r in rows.values()
                        if all(str(r.get(k)) == v for k, v in equal.items())
                    ),
                    key=lambda r: str(r.get(order[0]) or "").encode(),
                    reverse="desc" in order,
                )
                offset = int(query.get("offset", 0))
                limit = int(query.get("limit", len(matching)))
                page = matching[offset : offset + limit]
                self.answer(200, [{c: r.get(c) for c in columns} for r in page])

            def do_POST(self) -> None:  # noqa: N802
                if not self.authorized() or (table := self.table()) is None:
                    return
                keys, rows = table
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                for row in body:
                    stored = rows.setdefault(tuple(str(row[k]) for k in keys), {})
                    stored.update(row)
                self.answer(201, None)

            def answer(self, status: int, doc: object) -> None:
                body = b"" if doc is None else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def fake_supabase() -> Iterator[FakeSupabase]:
    server = FakeSupabase(key="sb_secret_pytest_0123456789abcdef").start()
    try:
        yield server
    finally:
        server.stop()
