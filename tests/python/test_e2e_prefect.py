"""End to end: a real Prefect server, the deployment from prefect.yaml, runs from the CLI.

One server (SQLite, 127.0.0.1, a free port, a temporary PREFECT_HOME) for the module. Every
process started here runs in its own process group and is killed, group and all, on the way out.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import offexchange
from offexchange import Engine

from conftest import DEMO_DATE, ISOLATED_VARIABLES, REPO, FinraServer

pytestmark = pytest.mark.e2e

DEPLOYMENT = "compute-offexchange-features/trading-session"
CATCH_UP = "catch-up-offexchange-features/catch-up"
BACKFILL = "backfill-offexchange-features/backfill"
PARAMS = json.dumps({"trade_date": DEMO_DATE})
BIN = Path(sys.executable).parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(process: subprocess.Popen[Any], grace: float = 20) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left of it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@dataclass
class PrefectServer:
    home: Path
    api_url: str
    env: dict[str, str]
    log: Path

    def cli(self, *args: str, timeout: float = 180, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Runs the `prefect` CLI against this server (in its own process group)."""
        with subprocess.Popen(
            [str(BIN / "prefect"), *args],
            cwd=REPO,
            env={**self.env, **extra_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                out, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop(process, grace=5)
                raise
            finally:
                # Anything it left behind in its group (a flow-run subprocess) goes too.
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return subprocess.CompletedProcess(process.args, process.returncode, out, "")

    def python(self, code: str, *args: str, **extra_env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=REPO,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") and k not in ISOLATED_VARIABLES
    }
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
        # Served deployments pick up a new run within a second, not the default 10.
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        # Fast failures if something is wrong with the stand-in CDN.
        FINRA_HTTP_RETRIES="1",
        FINRA_HTTP_BACKOFF="0",
        # FINRA's raw files cached here, never in the user's cache directory.
        OFFX_CACHE_DIR=str(home / "finra-cache"),
    )
    log = home / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"prefect server exited ({server.returncode}):\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server did not answer in 180 s:\n{log.read_text()}")
            time.sleep(0.5)
        yield PrefectServer(home=home, api_url=api_url, env=env, log=log)
    finally:
        stop(server)


@pytest.fixture(scope="module")
def expected_rows(finra: FinraServer) -> list[dict[str, Any]]:
    rows = Engine(base_url=finra.url).compute(DEMO_DATE).to_dicts()
    return [{**r, "trade_date": r["trade_date"].isoformat()} for r in rows]


READ_RESULT = """
import json, sys
from prefect import get_client
with get_client(sync_client=True) as client:
    run = client.read_flow_run(sys.argv[1])
    result = run.state.result()
print(json.dumps({"state": run.state.type.value, "result": result}, default=str))
"""


def flow_run_id(output: str) -> str:
    found = UUID.search(output)
    assert found, output
    return found.group(0)


def test_prefect_deploy_registers_the_deployments(prefect_server: PrefectServer) -> None:
    created = prefect_server.cli("work-pool", "create", "offexchange", "--type", "process")
    assert created.returncode == 0, created.stdout
    deployed = prefect_server.cli("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout
    for name in (DEPLOYMENT, CATCH_UP, BACKFILL):
        assert name in deployed.stdout

    inspected = prefect_server.cli("deployment", "inspect", DEPLOYMENT)
    assert inspected.returncode == 0, inspected.stdout
    text = inspected.stdout
    assert "30 19 * * 1-5" in text and "America/New_York" in text
    assert "flows/compute_offexchange_features.py:compute_offexchange_features" in text
    assert "'active': True" in text

    inspected = prefect_server.cli("deployment", "inspect", CATCH_UP)
    assert inspected.returncode == 0, inspected.stdout
    text = inspected.stdout
    assert "0 21 * * *" in text and "America/New_York" in text and "'active': True" in text
    assert "flows/catch_up_offexchange_features.py:catch_up_offexchange_features" in text

    inspected = prefect_server.cli("deployment", "inspect", BACKFILL)
    assert inspected.returncode == 0, inspected.stdout
    text = inspected.stdout
    assert "flows/backfill_offexchange_features.py:backfill_offexchange_features" in text
    assert "'schedules': []" in text
    # start and end are required at run time.
    assert re.search(r"'required': \[\s*'start',\s*'end'\s*\]", text), text
    refused = prefect_server.cli("deployment", "run", BACKFILL)
    assert refused.returncode != 0


def test_a_process_worker_runs_the_deployed_flow(
    prefect_server: PrefectServer, finra: FinraServer, tmp_path: Path
) -> None:
    store_url = f"sqlite:{tmp_path / 'worker.sqlite'}"
    run = prefect_server.cli("deployment", "run", DEPLOYMENT, "--params", PARAMS)
    assert run.returncode == 0, run.stdout
    run_id = flow_run_id(run.stdout)

    worker = prefect_server.cli(
        "worker", "start", "--pool", "offexchange", "--type", "process",
        "--run-once", "--limit", "1",
        timeout=300,
        FINRA_BASE_URL=finra.url,
        OFFX_STORE=store_url,
    )
    assert worker.returncode == 0, worker.stdout
    state = prefect_server.cli("flow-run", "inspect", run_id)
    assert "COMPLETED" in state.stdout, worker.stdout + state.stdout

    store = offexchange.open_store(store_url)
    assert store is not None
    assert len(store.read(DEMO_DATE)) > 0


def test_served_deployment_runs_from_the_cli(
    prefect_server: PrefectServer,
    finra: FinraServer,
    expected_rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:{tmp_path / 'served.sqlite'}"
    serve_log = tmp_path / "serve.log"
    with serve_log.open("w") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--no-schedule"],
            cwd=REPO,
            env={
                **prefect_server.env,
                "FINRA_BASE_URL": finra.url,
                "OFFX_STORE": store_url,
                # So that the test can read the flow's return value back from the API.
                "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        # "Your deployments are being served ...", once all three are registered.
        while "being served" not in serve_log.read_text():
            assert serve.poll() is None, serve_log.read_text()
            assert time.monotonic() < deadline, serve_log.read_text()
            time.sleep(0.5)

        started = time.monotonic()
        run = prefect_server.cli(
            "deployment", "run", DEPLOYMENT, "--params", PARAMS,
            "--watch", "--watch-interval", "1", "--watch-timeout", "240",
            timeout=300,
        )
        elapsed = time.monotonic() - started
        assert run.returncode == 0, run.stdout + serve_log.read_text()
        assert "Completed" in run.stdout or "COMPLETED" in run.stdout, run.stdout
        print(f"served flow run: {elapsed:.1f} s from `prefect deployment run` to completion")

        result = json.loads(prefect_server.python(READ_RESULT, flow_run_id(run.stdout)))
        assert result["state"] == "COMPLETED"
        assert result["result"] == expected_rows

        store = offexchange.open_store(store_url)
        assert store is not None
        stored = store.read(date(2024, 4, 1))
        assert [{**r, "trade_date": r["trade_date"].isoformat()} for r in stored] == expected_rows
        assert "persisted" in serve_log.read_text()

        # The other two deployments, served by the same process: a two-session backfill, then
        # the catch-up over the store.
        backfill = run_and_watch(prefect_server, BACKFILL, {"start": "2024-04-02", "end": "2024-04-03"})
        assert backfill["sessions_run"] == 2 and backfill["rows_written"] > 0
        assert store.dates_with_rows(["2024-04-01", "2024-04-02", "2024-04-03"]) == [
            date(2024, 4, 1),
            date(2024, 4, 2),
            date(2024, 4, 3),
        ]
        caught_up = run_and_watch(prefect_server, CATCH_UP, {"until": "2024-04-05", "days": 10})
        assert (caught_up["from"], caught_up["until"]) == ("2024-03-26", "2024-04-05")
        assert caught_up["weeks_awaited"] == []
    finally:
        stop(serve)


def run_and_watch(server: PrefectServer, deployment: str, params: dict[str, Any]) -> Any:
    """Runs a deployment from the CLI, waits for it, and returns the flow's result."""
    run = server.cli(
        "deployment", "run", deployment, "--params", json.dumps(params),
        "--watch", "--watch-interval", "1", "--watch-timeout", "240",
        timeout=300,
    )
    assert run.returncode == 0, run.stdout
    outcome = json.loads(server.python(READ_RESULT, flow_run_id(run.stdout)))
    assert outcome["state"] == "COMPLETED", outcome
    return outcome["result"]
