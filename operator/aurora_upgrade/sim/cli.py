"""`aurora-upgrade sim`: serve the simulated RDS API until SIGTERM or SIGINT.

The project's CLI delegates `aurora-upgrade sim ...` to `main(argv)`; it also runs as
`python -m aurora_upgrade.sim`. The first line on stdout names the endpoint, so a script
started with `--port 0` can read which port it got.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from types import FrameType
from typing import Any

from . import scenarios
from .behaviour import Faults, RoleTrust
from .config import DatabaseEndpoints, EventRule, FaultConfig, Happening, LostAnswer, SimConfig
from .scenarios import SCENARIOS
from .server import SimServer

_FAULT_STATES = tuple(field.name for field in dataclasses.fields(Faults))
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
        "Point clients at it with AWS_ENDPOINT_URL_RDS (and AWS_ENDPOINT_URL_STS for an assumed role) "
        "and any credentials.",
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
    parser.add_argument(
        "--vary-durations",
        type=int,
        metavar="SEED",
        help="each resource's provisioning, switchover, reboot, snapshot and deletion takes its own duration, "
        "drawn around the delays above with this seed, as real clusters differ (off by default: every "
        "resource takes the same)",
    )
    parser.add_argument(
        "--duration-spread",
        type=float,
        default=SimConfig.vary_spread,
        metavar="FRACTION",
        help="with --vary-durations: durations are drawn uniformly within +/- FRACTION of the delay "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--refuse-assume-role",
        action="append",
        default=[],
        metavar="ROLE_ARN",
        help="AssumeRole of this role is refused (AccessDenied), as if its trust policy did not trust the caller; "
        "repeatable",
    )
    parser.add_argument(
        "--require-external-id",
        action="append",
        default=[],
        metavar="ROLE_ARN=EXTERNAL_ID",
        help="AssumeRole of this role is refused unless it carries this ExternalId (the trust policy's "
        "sts:ExternalId condition); repeatable",
    )
    parser.add_argument(
        "--database-endpoint",
        action="append",
        default=[],
        metavar="SIDE=HOST:PORT",
        help="the database server behind the clusters of SIDE (blue: the scenario's clusters; green: the green "
        "clusters blue/green deployments create): their Endpoint and Port, and their instances', answer it, "
        "so a client connects to a real PostgreSQL as it would to Aurora; repeatable",
    )
    parser.add_argument(
        "--event-queue",
        metavar="NAME",
        help="an SQS queue NAME on this port (AWS_ENDPOINT_URL_SQS) that an EventBridge rule fills with the "
        "scenario Region's RDS events, as docs/events.md sets one up; its URL is printed on the first line",
    )
    parser.add_argument(
        "--cluster-quota",
        type=int,
        metavar="N",
        help="the account's quota of DB clusters per Region (AWS's default: 40): a CreateBlueGreenDeployment "
        "whose green would pass it is refused with DBClusterQuotaExceededFault (off by default)",
    )
    parser.add_argument("--log-calls", action="store_true", help="print each answered API call on stderr")
    faults = parser.add_argument_group(
        "injected faults",
        "seeded: the same --seed and the same calls meet the same faults (the call record marks them)",
    )
    faults.add_argument("--seed", type=int, default=0, help="seed of the fault stream (default: %(default)s)")
    faults.add_argument(
        "--throttle-rate", type=float, default=0.0, metavar="P",
        help="chance a call is refused with Throttling/ThrottlingException, not carried out",
    )  # fmt: skip
    faults.add_argument(
        "--error-rate", type=float, default=0.0, metavar="P", help="chance a call is refused with HTTP 500"
    )
    faults.add_argument(
        "--lost-rate", type=float, default=0.0, metavar="P",
        help="chance a call is carried out and its answer lost (the connection closed before it)",
    )  # fmt: skip
    faults.add_argument(
        "--slow-rate", type=float, default=0.0, metavar="P", help="chance a call is answered after --slow-seconds"
    )
    faults.add_argument("--slow-seconds", type=float, default=2.0, metavar="N", help="delay of a slow answer")
    faults.add_argument(
        "--deny", action="append", default=[], metavar="OPERATION",
        help="refuse this operation with AccessDenied every time (repeatable), e.g. SwitchoverBlueGreenDeployment",
    )  # fmt: skip
    aws = parser.add_argument_group(
        "AWS's own faults",
        "what AWS documents it may do besides answering (docs/simulator.md); seeded with --seed too",
    )
    aws.add_argument(
        "--drop-events", action="append", default=[], metavar="RATE[:SOURCE_TYPE[/CATEGORY]]",
        help="this share of RDS events (of that source type and category) is never listed by DescribeEvents; "
        "repeatable, the first rule matching an event decides",
    )  # fmt: skip
    aws.add_argument(
        "--late-events", action="append", default=[], metavar="RATE[:SOURCE_TYPE[/CATEGORY]]",
        help="this share of RDS events is listed only --late-event-seconds after its Date; repeatable",
    )  # fmt: skip
    aws.add_argument(
        "--late-event-seconds", type=float, default=30.0, metavar="N", help="how late a late event is listed"
    )
    aws.add_argument(
        "--lose-answer", action="append", default=[], metavar="OPERATION[=RESOURCE][,kind=500][,times=N][,after=N]",
        help="the answer to this call (its resource matched as a glob) is lost after the call took effect: "
        "the connection closed (kind=reset, default) or HTTP 500; once unless times=N; repeatable",
    )  # fmt: skip
    aws.add_argument(
        "--switchover-rollbacks", type=int, default=0, metavar="N",
        help="AWS cancels the first N switchovers after they started (back to AVAILABLE, nothing renamed)",
    )  # fmt: skip
    aws.add_argument(
        "--switchover-rollback-seconds", type=float, default=1.0, metavar="N",
        help="how long a canceled switchover shows SWITCHOVER_IN_PROGRESS (default: %(default)s)",
    )  # fmt: skip
    aws.add_argument(
        "--happen", action="append", default=[], metavar="KIND@MOMENT[#N][+SECONDS][,cluster=NAME]",
        help="someone else acts: delete-deployment, add-reader, remove-reader; at start, provisioned, "
        "switched-over, rebooted, snapshot-available or after an operation took effect (e.g. "
        "delete-deployment@switched-over, add-reader@RebootDBInstance#3+1); repeatable",
    )  # fmt: skip
    aws.add_argument(
        "--clock-offset", type=float, default=0.0, metavar="SECONDS",
        help="AWS's clock minus the client's (event Dates, DescribeEvents' window, create times); may be negative",
    )  # fmt: skip
    faults.add_argument(
        "--fault", action="append", default=[], choices=[f.replace("_", "-") for f in _FAULT_STATES],
        help="a failure state AWS can reach (repeatable), besides the scenario's own faults; "
        "a state held for a while rather than forever is a delay option (e.g. --reboot-seconds 60)",
    )  # fmt: skip
    return parser


def faults_from(args: argparse.Namespace) -> FaultConfig:
    return FaultConfig(
        seed=args.seed,
        throttle_rate=args.throttle_rate,
        error_rate=args.error_rate,
        lost_rate=args.lost_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        denied=frozenset(args.deny),
        event_drops=tuple(EventRule.parse(rule) for rule in args.drop_events),
        late_events=tuple(EventRule.parse(rule) for rule in args.late_events),
        late_event_seconds=args.late_event_seconds,
        lost_answers=tuple(LostAnswer.parse(spec) for spec in args.lose_answer),
        switchover_rollbacks=args.switchover_rollbacks,
        switchover_rollback_seconds=args.switchover_rollback_seconds,
        happenings=tuple(Happening.parse(spec) for spec in args.happen),
        clock_offset_seconds=args.clock_offset,
    )


def scenario_from(args: argparse.Namespace) -> dict[str, Any]:
    data = scenarios.fleet(args.fleet) if args.fleet is not None else scenarios.resolve(args.scenario)
    if args.fault:
        data["faults"] = {**(data.get("faults") or {}), **{f.replace("-", "_"): True for f in args.fault}}
    return data


def config_from(args: argparse.Namespace) -> SimConfig:
    if args.demo_timing:
        base = SimConfig.demo_timing()
    elif args.scale is not None:
        base = SimConfig.scaled(args.scale)
    else:
        base = SimConfig()
    return dataclasses.replace(
        base.with_overrides(**{name: getattr(args, name) for name in _DELAY_OPTIONS}),
        vary_seed=args.vary_durations,
        vary_spread=args.duration_spread,
    )


def roles_from(args: argparse.Namespace) -> RoleTrust:
    external_ids = {}
    for item in args.require_external_id:
        role_arn, sep, external_id = item.partition("=")
        if not (sep and role_arn and external_id):
            raise ValueError(f"--require-external-id wants ROLE_ARN=EXTERNAL_ID, got {item!r}")
        external_ids[role_arn] = external_id
    return RoleTrust(refused=frozenset(args.refuse_assume_role), external_ids=external_ids)


def _log_call(entry: dict[str, Any]) -> None:
    fault = f" [fault: {entry['fault']}]" if entry.get("fault") else ""
    print(
        f"sim: {entry['operation']} {entry['outcome']}{fault} {json.dumps(entry['params'])}",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args)
        faults = faults_from(args)
        server = SimServer(
            config=config,
            scenario=scenario_from(args),
            faults=faults,
            port=args.port,
            host=args.host,
            on_call=_log_call if args.log_calls else None,
            roles=roles_from(args),
            databases=DatabaseEndpoints.parse(args.database_endpoint),
            event_queue=args.event_queue,
            cluster_quota=args.cluster_quota,
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
        queue = f" AURORA_UPGRADE_EVENT_QUEUE_URL={server.event_queue_url}" if server.event_queue else ""
        endpoint = f"AWS_ENDPOINT_URL_RDS={server.endpoint_url}"
        print(f"aurora-upgrade sim: {endpoint} scenario={scenario_name}{queue}", flush=True)
        print(f"aurora-upgrade sim: delays {config}", file=sys.stderr, flush=True)
        if faults.any:
            print(f"aurora-upgrade sim: faults {faults}", file=sys.stderr, flush=True)
        if server.databases.any:
            print(f"aurora-upgrade sim: databases {server.databases}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
