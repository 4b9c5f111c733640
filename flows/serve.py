"""Serves the deployments of ``prefect.yaml`` from this process: no work pool, no worker.

    python -m flows.serve                              # all of them, with their schedules
    python -m flows.serve --no-schedule                # runs only when asked (prefect deployment run ...)
    python -m flows.serve --deployment trading-session --deployment catch-up

The deployments' names, schedules, tags and descriptions come from ``prefect.yaml``, so the served
deployments and the ones ``prefect deploy --all`` registers are the same: ``trading-session``
(daily features), ``catch-up`` (fills late ATS data) and ``backfill`` (a date range, run on
request). Run it from the repository root with ``PREFECT_API_URL`` pointing at a Prefect server;
stop it with Ctrl-C (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # (Prefect depends on PyYAML)
from prefect import Flow
from prefect.exceptions import TerminationSignal
from prefect.runner import Runner
from prefect.schedules import Cron, Schedule

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
DEPLOYMENT = "trading-session"


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """Every deployment entry of prefect.yaml, in order."""
    config = yaml.safe_load(path.read_text())
    return [dict(spec) for spec in config.get("deployments") or []]


def deployment_spec(path: Path = PREFECT_YAML, name: str = DEPLOYMENT) -> dict[str, Any]:
    """The deployment's entry in prefect.yaml."""
    for spec in deployment_specs(path):
        if spec.get("name") == name:
            return spec
    raise SystemExit(f"{path}: no deployment named {name}")


def flow_of(spec: dict[str, Any]) -> Flow[..., Any]:
    """The flow of an entrypoint ``flows/<module>.py:<function>``, imported from this package."""
    entrypoint = str(spec.get("entrypoint", ""))
    file, _, function = entrypoint.partition(":")
    module = Path(file)
    if module.parent.name != "flows" or module.suffix != ".py" or not function:
        raise SystemExit(f"deployment {spec.get('name')}: unexpected entrypoint {entrypoint!r}")
    found = getattr(importlib.import_module(f"flows.{module.stem}"), function, None)
    if not isinstance(found, Flow):
        raise SystemExit(f"deployment {spec.get('name')}: {entrypoint} is not a Prefect flow")
    return found


def schedules_of(spec: dict[str, Any]) -> list[Schedule]:
    return [
        Cron(
            s["cron"],
            timezone=s.get("timezone"),
            active=s.get("active", True),
            parameters=s.get("parameters") or {},
        )
        for s in spec.get("schedules") or []
        if "cron" in s
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--deployment",
        action="append",
        metavar="NAME",
        help="serve only this deployment of prefect.yaml (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--no-schedule",
        action="store_true",
        help="serve without the schedules: runs start only when requested",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="flow runs at once (default: one per deployment served)",
    )
    args = parser.parse_args(argv)
    specs = deployment_specs()
    if args.deployment:
        specs = [deployment_spec(name=name) for name in dict.fromkeys(args.deployment)]
    # Runner.add_flow, as Flow.serve does: the runner runs its flows in place, and a deployment of
    # the same name registered earlier by `prefect deploy` (with a work pool) becomes a served one.
    runner = Runner(name="offexchange", limit=args.limit or len(specs))
    served = []
    for spec in specs:
        flow = flow_of(spec)
        runner.add_flow(
            flow,
            name=spec["name"],
            schedules=[] if args.no_schedule else schedules_of(spec),
            parameters=spec.get("parameters") or {},
            description=" ".join((spec.get("description") or "").split()) or None,
            tags=spec.get("tags") or [],
        )
        served.append(f"{flow.name}/{spec['name']}")
    print("Your deployments are being served and polling for scheduled runs:", flush=True)
    for name in served:
        print(f"  {name}", flush=True)
    print("Trigger one with: prefect deployment run <name> [--params JSON]", flush=True)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
