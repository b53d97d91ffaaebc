"""`aurora-upgrade operator | run | demo | sim | crd`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from aurora_upgrade.config import poll_seconds
from aurora_upgrade.models import API_VERSION, KIND, InvalidManifest, parse_spec

EXIT_COMPLETED, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


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


def cmd_run(args: argparse.Namespace) -> int:
    from aurora_upgrade.runner import run_manifest
    from aurora_upgrade.store import StateInUse

    try:
        manifest = load_manifest(Path(args.file))
    except InvalidManifest as error:
        print(f"invalid manifest: {error}", file=sys.stderr)
        return EXIT_INVALID
    state = Path(args.state) if args.state else Path(f"{args.file}.state.json")
    try:
        return run_manifest(manifest, state, poll=poll_seconds())
    except InvalidManifest as error:
        print(f"invalid manifest: {error}", file=sys.stderr)
        return EXIT_INVALID
    except StateInUse as error:  # refused before any AWS call, like an invalid manifest
        print(f"aurora-upgrade run: {error}", file=sys.stderr)
        return EXIT_INVALID


def cmd_crd(_: argparse.Namespace) -> int:
    from aurora_upgrade.crd import render

    sys.stdout.write(render())
    return 0


def cmd_operator(rest: list[str]) -> int:
    from kopf.cli import main as kopf_main

    parser = argparse.ArgumentParser(prog="aurora-upgrade operator", add_help=False)
    parser.add_argument("--metrics-port", type=int)
    parser.add_argument("--metrics-address")
    ours, kopf_args = parser.parse_known_args(rest)
    if ours.metrics_port is not None:
        os.environ["AURORA_UPGRADE_METRICS_PORT"] = str(ours.metrics_port)
    if ours.metrics_address:
        os.environ["AURORA_UPGRADE_METRICS_ADDRESS"] = ours.metrics_address
    poll_seconds()  # refuse a bad poll interval before kopf starts
    kopf_main(args=["run", "-m", "aurora_upgrade.controller", *kopf_args], prog_name="aurora-upgrade operator")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "operator":
        return cmd_operator(argv[1:])
    if argv and argv[0] == "sim":
        from aurora_upgrade.sim.cli import main as sim_main

        return sim_main(argv[1:])
    if argv and argv[0] == "demo":
        from aurora_upgrade.demo import main as demo_main

        return demo_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="aurora-upgrade",
        description="Upgrade Aurora PostgreSQL clusters through RDS Blue/Green deployments.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("operator", help="run the Kubernetes operator (kopf run options follow)")
    run = sub.add_parser("run", help="run one AuroraUpgrade manifest without Kubernetes")
    run.add_argument("-f", "--file", required=True, help="the AuroraUpgrade manifest")
    run.add_argument("--state", help="state file (default: <FILE>.state.json)")
    run.set_defaults(func=cmd_run)
    sub.add_parser("demo", help="the runbook's upgrade end to end on a local control plane and simulator")
    sub.add_parser("sim", help="serve a simulated RDS API")
    crd = sub.add_parser("crd", help="print the CustomResourceDefinition")
    crd.set_defaults(func=cmd_crd)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
