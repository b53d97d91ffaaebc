"""`aurora-upgrade sim`: serve the simulated RDS API until SIGTERM or SIGINT.

The project's CLI delegates `aurora-upgrade sim ...` to `main(argv)`; it also runs as
`python -m aurora_upgrade.sim`. The first line on stdout names the endpoint, so a script
started with `--port 0` can read which port it got.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType
from typing import Any

from .config import SimConfig
from .scenarios import SCENARIOS, fleet
from .server import SimServer

_DELAY_OPTIONS = (
    "provisioning_seconds",
    "switchover_seconds",
    "reboot_seconds",
    "snapshot_seconds",
    "delete_seconds",
    "not_found_after_create_seconds",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurora-upgrade sim",
        description="Serve a simulated Amazon RDS API (moto-based) for tests and the demo. "
        "Point clients at it with AWS_ENDPOINT_URL_RDS and any credentials.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--scenario",
        default="runbook",
        help=f"starting state: one of {', '.join(SCENARIOS)}, or a .yaml file (default: %(default)s)",
    )
    parser.add_argument(
        "--fleet",
        type=int,
        metavar="N",
        help="instead of --scenario: the runbook's account with N copies of its cluster "
        "(aurora-bg-aurora-cluster-0001 ... -N, each with -instance-1 and -instance-2)",
    )
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument(
        "--demo-timing",
        action="store_true",
        help="seconds in the runbook's proportions (provisioning 15 s, switchover 4 s, reboots 2 s)",
    )
    timing.add_argument(
        "--scale",
        type=float,
        metavar="FACTOR",
        help="AWS's typical durations times FACTOR (e.g. 0.01: 30 min of provisioning become 18 s)",
    )
    for name in _DELAY_OPTIONS:
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=float,
            metavar="N",
            help=f"override {name} (SimConfig default {getattr(SimConfig(), name)})",
        )
    parser.add_argument("--log-calls", action="store_true", help="print each answered API call on stderr")
    return parser


def config_from(args: argparse.Namespace) -> SimConfig:
    if args.demo_timing:
        base = SimConfig.demo_timing()
    elif args.scale is not None:
        base = SimConfig.scaled(args.scale)
    else:
        base = SimConfig()
    return base.with_overrides(**{name: getattr(args, name) for name in _DELAY_OPTIONS})


def _log_call(entry: dict[str, Any]) -> None:
    print(f"sim: {entry['operation']} {entry['outcome']} {json.dumps(entry['params'])}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args)
        server = SimServer(
            config=config,
            scenario=fleet(args.fleet) if args.fleet is not None else args.scenario,
            port=args.port,
            host=args.host,
            on_call=_log_call if args.log_calls else None,
        )
    except ValueError as error:
        print(f"aurora-upgrade sim: {error}", file=sys.stderr)
        return 2

    scenario_name = f"fleet-{args.fleet}" if args.fleet is not None else args.scenario
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    server.start()
    try:
        print(f"aurora-upgrade sim: AWS_ENDPOINT_URL_RDS={server.endpoint_url} scenario={scenario_name}", flush=True)
        print(f"aurora-upgrade sim: delays {config}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
