"""`aurora-upgrade operator | run | demo | sim | crd`."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from aurora_upgrade.config import METRICS_ADDRESS_ENV, METRICS_PORT_ENV, timing_from_env
from aurora_upgrade.models import API_VERSION, KIND, InvalidManifest, parse_spec

# `run` exits with the runner's 0 (Completed) or 1 (Failed/Aborted), and 2 for an invalid manifest, like argparse.
EXIT_INVALID = 2


def load_manifest(path: Path) -> dict[str, Any]:
    """Read and check one AuroraUpgrade manifest; raise InvalidManifest naming the problem."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except OSError as error:
        raise InvalidManifest(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InvalidManifest(f"{path} is not valid YAML: {error}") from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise InvalidManifest(f"{path} must hold exactly one AuroraUpgrade object")
    doc = documents[0]
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        raise InvalidManifest(f"apiVersion/kind must be {API_VERSION}/{KIND}")
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise InvalidManifest("metadata.name is required")
    parse_spec(doc.get("spec"))
    return doc


def cmd_run(args: argparse.Namespace, _: list[str]) -> int:
    from aurora_upgrade.runner import run_manifest
    from aurora_upgrade.store import StateInUse

    try:
        manifest = load_manifest(Path(args.file))
    except InvalidManifest as error:
        print(f"invalid manifest: {error}", file=sys.stderr)
        return EXIT_INVALID
    state = Path(args.state) if args.state else Path(f"{args.file}.state.json")
    try:
        # No feed and no queue consumer here: an event queue set for the operator is not ours,
        # and the waits an event would end poll at their own pace.
        return run_manifest(manifest, state, replace(timing_from_env(), event_queue=False))
    except InvalidManifest as error:
        print(f"invalid manifest: {error}", file=sys.stderr)
        return EXIT_INVALID
    except StateInUse as error:  # refused before any AWS call, like an invalid manifest
        print(f"aurora-upgrade run: {error}", file=sys.stderr)
        return EXIT_INVALID


def cmd_crd(args: argparse.Namespace, _: list[str]) -> int:
    if args.markdown:
        from aurora_upgrade.crd_reference import render
    else:
        from aurora_upgrade.crd import render

    sys.stdout.write(render())
    return 0


def cmd_operator(args: argparse.Namespace, kopf_args: list[str]) -> int:
    from kopf.cli import main as kopf_main

    if args.metrics_port is not None:
        os.environ[METRICS_PORT_ENV] = str(args.metrics_port)
    if args.metrics_address:
        os.environ[METRICS_ADDRESS_ENV] = args.metrics_address
    timing_from_env()  # refuse a bad poll interval or time scale before kopf starts
    kopf_main(args=["run", "-m", "aurora_upgrade.controller", *kopf_args], prog_name="aurora-upgrade operator")
    return 0


def cmd_sim(_: argparse.Namespace, sim_args: list[str]) -> int:
    try:
        from aurora_upgrade.sim.cli import main as sim_main
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("aurora_upgrade"):
            raise
        # moto (and its server's dependencies) come with the extra, not with the operator.
        raise SystemExit(
            f"aurora-upgrade sim: the simulator is an extra ({error.name} is not installed): "
            "pip install 'aurora-upgrade-operator[sim]'"
        ) from None
    return sim_main(sim_args)


def cmd_demo(_: argparse.Namespace, demo_args: list[str]) -> int:
    try:
        from aurora_upgrade_dev.demo import main as demo_main
    except ModuleNotFoundError as error:
        if error.name != "aurora_upgrade_dev":
            raise
        raise SystemExit(
            "aurora-upgrade demo: the demo is development tooling, not installed with the operator; "
            "run it from a checkout of the repository with `make demo`"
        ) from None
    return demo_main(demo_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurora-upgrade",
        description="Upgrade Aurora PostgreSQL clusters through RDS Blue/Green deployments.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    # operator, sim and demo hand every argument they do not declare (--help too) to their own
    # parser: kopf's, the simulator's, the demo's.
    operator = sub.add_parser("operator", add_help=False, help="run the Kubernetes operator (kopf run options follow)")
    operator.add_argument("--metrics-port", type=int)
    operator.add_argument("--metrics-address")
    operator.set_defaults(func=cmd_operator, passes_on=True)
    run = sub.add_parser("run", help="run one AuroraUpgrade manifest without Kubernetes")
    run.add_argument("-f", "--file", required=True, help="the AuroraUpgrade manifest")
    run.add_argument("--state", help="state file (default: <FILE>.state.json)")
    run.set_defaults(func=cmd_run, passes_on=False)
    demo = sub.add_parser(
        "demo", add_help=False, help="the runbook's upgrade end to end on a local control plane and simulator"
    )
    demo.set_defaults(func=cmd_demo, passes_on=True)
    sim = sub.add_parser("sim", add_help=False, help="serve a simulated RDS API")
    sim.set_defaults(func=cmd_sim, passes_on=True)
    crd = sub.add_parser("crd", help="print the CustomResourceDefinition")
    crd.add_argument("--markdown", action="store_true", help="print its field reference (docs/crd-reference.md)")
    crd.set_defaults(func=cmd_crd, passes_on=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not args.passes_on:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    result: int = args.func(args, rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
