"""Serves the ``trading-session`` deployment from this process: no work pool, no worker.

    python -m flows.serve                 # with the schedule from prefect.yaml
    python -m flows.serve --no-schedule   # runs only when asked (prefect deployment run ...)

The deployment's name, schedule, tags and description come from ``prefect.yaml``, so the served
deployment and the one ``prefect deploy --all`` registers are the same. Run it from the repository
root with ``PREFECT_API_URL`` pointing at a Prefect server; stop it with Ctrl-C (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # (Prefect depends on PyYAML)
from prefect.schedules import Cron, Schedule

from flows.compute_offexchange_features import FLOW_NAME, compute_offexchange_features

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
DEPLOYMENT = "trading-session"


def deployment_spec(path: Path = PREFECT_YAML, name: str = DEPLOYMENT) -> dict[str, Any]:
    """The deployment's entry in prefect.yaml."""
    config = yaml.safe_load(path.read_text())
    for spec in config.get("deployments") or []:
        if spec.get("name") == name:
            entrypoint = spec.get("entrypoint", "")
            if not entrypoint.endswith(":compute_offexchange_features"):
                raise SystemExit(f"{path}: deployment {name} is not for {FLOW_NAME} ({entrypoint})")
            return dict(spec)
    raise SystemExit(f"{path}: no deployment named {name}")


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
        "--no-schedule",
        action="store_true",
        help="serve without the schedule: runs start only when requested",
    )
    parser.add_argument(
        "--limit", type=int, default=1, help="flow runs at once (default 1: one session at a time)"
    )
    args = parser.parse_args(argv)
    spec = deployment_spec()
    compute_offexchange_features.serve(
        name=spec["name"],
        schedules=[] if args.no_schedule else schedules_of(spec),
        parameters=spec.get("parameters") or {},
        description=" ".join((spec.get("description") or "").split()) or None,
        tags=spec.get("tags") or [],
        limit=args.limit,
    )


if __name__ == "__main__":
    main()
