"""docs/benchmarks.md and its charts, from the runs' data: every figure with the command that made
it and the machine it ran on, every target with whether it is met."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurora_upgrade.config import Timing
from bench import measures
from bench.measures import p50, p99
from bench.runs import HELD_TARGET, FleetRun, Held, Idle, Run


@dataclass
class Results:
    command: str
    machine: dict[str, str]
    b1_factor: float
    b2_factor: float
    runbook: Run | None
    operator: Run | None
    fleet: list[FleetRun]
    fleet_cap_seconds: float
    idle: list[Idle]
    first_reconcile_seconds: float | None
    total_seconds: float
    foreign_modules: list[str]
    operator_sqs: Run | None = None  # B1 with the SQS event source
    seed: int = 1  # B2's --vary-durations
    held: list[Held] = field(default_factory=list)  # B4: each N with each event source


def save(results: Results, path: Path) -> None:
    """The measurements as JSON, so the page can be written again without running (`--report`)."""
    path.write_text(json.dumps(dataclasses.asdict(results), indent=1) + "\n")


def load(path: Path) -> Results:
    data: dict[str, Any] = json.loads(path.read_text())
    data["runbook"] = Run(**data["runbook"]) if data.get("runbook") else None
    data["operator"] = Run(**data["operator"]) if data.get("operator") else None
    data["operator_sqs"] = Run(**data["operator_sqs"]) if data.get("operator_sqs") else None
    data["fleet"] = [FleetRun(**run) for run in data["fleet"]]
    data["idle"] = [Idle(**idle) for idle in data["idle"]]
    data["held"] = [Held(**held) for held in data.get("held", [])]
    return Results(**data)


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _provenance(results: Results, chart: str) -> str:
    machine = ", ".join(f"{key} {value}" for key, value in results.machine.items())
    return f"*Made by `{results.command}` ({chart}); machine: {machine}.*"


# The simulator's changes status_lags() times, as the page names them.
_LAG_CHANGES = {
    "provisioned": "green available (RebootingGreen shows it)",
    "green reboots": "green's reboots done (Snapshotting)",
    "snapshot": "snapshot available (SwitchingOver)",
    "switched over": "switchover completed (RebootingInstances)",
    "reboots": "production's reboots done (Verifying)",
    "deleted": "deployment gone (Completed)",
}


# ------------------------------------------------------------------------------------- charts


def _pyplot() -> Any:
    """matplotlib (the `[bench]` extra) for files only, no display; imported by the charts alone, so
    the tables' logic is tested where only `[dev]` is installed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def chart_b1(results: Results, path: Path) -> None:
    assert results.runbook is not None and results.operator is not None
    runs = {"runbook script": results.runbook, "operator": results.operator}
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = list(runs)
    aws_times = [run.aws_seconds for run in runs.values()]
    added = [run.added_seconds for run in runs.values()]
    left.barh(names, aws_times, label="simulated AWS time")
    left.barh(names, added, left=aws_times, label="time added")
    left.set_xlabel(f"seconds (AWS durations x {results.b1_factor:g})")
    left.set_title("B1: wall time of one upgrade")
    left.legend()
    operations = sorted(set(results.runbook.calls) | set(results.operator.calls))
    y = range(len(operations))
    right.barh([i - 0.2 for i in y], [results.runbook.calls.get(op, 0) for op in operations], 0.4, label=names[0])
    right.barh([i + 0.2 for i in y], [results.operator.calls.get(op, 0) for op in operations], 0.4, label=names[1])
    right.set_yticks(list(y), operations)
    right.set_xlabel("RDS calls")
    right.set_title("B1: RDS calls by operation")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_b2(results: Results, path: Path) -> None:
    runs = results.fleet
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    (calls, rss), (lag, timeline) = axes
    ns = [str(run.n) for run in runs]
    factor = results.b2_factor
    calls.bar(range(len(runs)), [_real_reads(run, factor) for run in runs], 0.5, label="reads, mean")
    calls.axhline(1.0, color="red", linestyle="--", label="target: ≤ 1 call/s")
    calls.set_xticks(range(len(runs)), ns)
    calls.set_yscale("log")
    calls.set_xlabel("concurrent AuroraUpgrades (N)")
    calls.set_ylabel("RDS calls/s, scaled back to real time")
    calls.set_title("B2: RDS reads per second (real time)")
    calls.legend()
    rss.bar(ns, [run.peak_rss_mib for run in runs])
    rss.axhline(200, color="red", linestyle="--", label="target at N=500: 200 MB")
    rss.set_xlabel("N")
    rss.set_ylabel("operator peak RSS (MiB)")
    rss.set_title("B2: operator peak RSS")
    rss.legend()
    lag.bar([i - 0.2 for i in range(len(runs))], [p50(run.lags) for run in runs], 0.4, label="p50")
    lag.bar([i + 0.2 for i in range(len(runs))], [p99(run.lags) for run in runs], 0.4, label="p99")
    lag.set_xticks(range(len(runs)), ns)
    lag.set_xlabel("N")
    lag.set_ylabel(f"seconds (poll interval {30 * factor:g} s)")
    lag.set_title("B2: AWS state change → status shows it")
    lag.legend()
    for run in runs:
        timeline.plot(
            [t for t, _ in run.timeline], [count / 10 * factor for _, count in run.timeline], label=f"N={run.n}"
        )
    timeline.set_yscale("log")
    timeline.set_xlabel("seconds since the operator started")
    timeline.set_ylabel("RDS calls/s (10 s windows, real-time scale)")
    timeline.set_title("B2: RDS calls over the run")
    timeline.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _percent(value: float | None, whole: float) -> str:
    return "n/a" if value is None else f"{100 * value / whole:.0f} %"


def chart_b3(results: Results, path: Path) -> None:
    plt = _pyplot()
    fig, (rss, cpu) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [idle.title for idle in results.idle]
    rss.bar(labels, [idle.rss_mib for idle in results.idle])
    rss.axhline(100 * 1e6 / 2**20, color="red", linestyle="--", label="target: 100 MB")
    rss.set_ylabel("idle RSS (MiB)")
    rss.set_title("B3: idle RSS")
    rss.legend()
    cpu.bar(labels, [idle.cpu_percent for idle in results.idle])
    cpu.set_ylabel("idle CPU (% of one core)")
    cpu.set_title("B3: idle CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------------- markdown


def _operators(results: Results) -> dict[str, Run]:
    """B1's operator runs by event source."""
    found = {"operator (DescribeEvents)": results.operator, "operator (SQS)": results.operator_sqs}
    return {name: run for name, run in found.items() if run is not None}


def _b1(results: Results, chart: str) -> list[str]:
    rb = results.runbook
    assert rb is not None and results.operator is not None
    ops = _operators(results)
    f = results.b1_factor
    events = Timing.compressed(f).events
    lines = [
        "## B1: the runbook's script and the operator, one upgrade",
        "",
        f"Both upgrade the runbook's cluster (`aurora-upgrade sim --scenario runbook --scale {f:g}`: AWS's typical",
        f"durations x {f:g}, so provisioning {1800 * f:g} s ≫ snapshot {300 * f:g} s > switchover {120 * f:g} s >",
        f"reboots {60 * f:g} s; deletions {600 * f:g} s). The same factor scales the runbook's `sleep 30`",
        f"({30 * f:g} s), the AWS CLI waiters' 30 s delay (a scaled copy of botocore's RDS waiter file on",
        f"`AWS_DATA_PATH`) and the operator's time (`AURORA_UPGRADE_TIME_SCALE` {f:g}: its poll and deadlines;",
        f"its event interval is {events:g} s, config.Timing's 1 s floor).",
        "",
        "The runbook script is the runbook's own commands (tests/support/runbook_steps.py) run with bash and",
        "the AWS CLI, `aws-vault exec mizzy --` dropped and step 6.1's waiter corrected to",
        "`db-cluster-snapshot-available`: steps 1.1-1.3, 3.1-7.4 and 9.1 (step 2 is for pending parameters,",
        "which this cluster has none of; step 8 is Terraform; 9.2 is optional and the example keeps the old",
        "cluster). The operator runs the example manifest, timed from `create` until the watch sees Completed,",
        "with each event source it has. Simulated AWS time is what each has to wait through one after the",
        "other: provisioning, green's reboots, the snapshot, the switchover, production's reboots (the",
        "operator's one instance at a time, so a reader stays up; the script's at once), and, for the",
        "operator only, the deployment's deletion (its CleaningUp waits until it is gone; 9.1 does not).",
        f"The operator's time added per AWS change is its time added over the {measures.EXAMPLE_CHANGES} changes it",
        "waits through; at AWS's real durations the wait for the next look is half the real event interval",
        f"({Timing().events / 2:g} s) instead of this run's ({events / 2:g} s), and the rest (looks, writes, the",
        "API server) does not scale: that is the extrapolation. Status writes: the changes of status a watch",
        "on the API server saw, and the PATCHes of the status subresource it served (its",
        "`apiserver_request_total`, which also counts a PATCH that changed nothing).",
        "",
        "| | runbook script | " + " | ".join(ops) + " |",
        "|---|---:|" + "---:|" * len(ops),
        f"| wall time (s) | {rb.wall_seconds:.1f} | "
        + " | ".join(f"{o.wall_seconds:.1f}" for o in ops.values())
        + " |",
        f"| simulated AWS time (s) | {rb.aws_seconds:.1f} | "
        + " | ".join(f"{o.aws_seconds:.1f}" for o in ops.values())
        + " |",
        f"| time added (s) | {rb.added_seconds:.1f} | "
        + " | ".join(f"{o.added_seconds:.1f}" for o in ops.values())
        + " |",
        "| time added per AWS change (s) | n/a | "
        + " | ".join(f"{measures.added_per_change(o.wall_seconds, o.aws_seconds):.2f}" for o in ops.values())
        + " |",
        "| the same at AWS's real durations (s, extrapolated) | n/a | "
        + " | ".join(
            f"{measures.extrapolated_added_per_change(measures.added_per_change(o.wall_seconds, o.aws_seconds), f):.2f}"
            for o in ops.values()
        )
        + " |",
        "| create to first RDS call (s) | n/a | "
        + " | ".join(_fmt(o.first_call_seconds, 2) for o in ops.values())
        + " |",
        "| status writes (watch / PATCHes) | n/a | "
        + " | ".join(f"{_fmt_int(o.status_writes)} / {_fmt_int(o.status_patches)}" for o in ops.values())
        + " |",
        f"| RDS calls | {sum(rb.calls.values())} | "
        + " | ".join(str(sum(o.calls.values())) for o in ops.values())
        + " |",
    ]
    for operation in sorted(set(rb.calls).union(*(o.calls for o in ops.values()))):
        lines.append(
            f"| &nbsp;&nbsp;{operation} | {rb.calls.get(operation, 0)} | "
            + " | ".join(str(o.calls.get(operation, 0)) for o in ops.values())
            + " |"
        )
    op = results.operator
    lines += [
        "",
        f"![B1]({chart})",
        "",
        _provenance(results, chart),
        "",
        "Where the time goes (seconds from the start; runbook steps, operator phases as the watch saw them,",
        "with the DescribeEvents feed):",
        "",
        "| runbook step | start | end | | operator phase | entered |",
        "|---|---:|---:|---|---|---:|",
    ]
    for i in range(max(len(rb.steps), len(op.steps))):
        left = f"{rb.steps[i][0]} | {rb.steps[i][1]:.1f} | {rb.steps[i][2]:.1f}" if i < len(rb.steps) else " | |"
        right = f"{op.steps[i][0]} | {op.steps[i][1]:.1f}" if i < len(op.steps) else " |"
        lines.append(f"| {left} | | {right} |")
    return lines


def _fmt_int(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def _b2(results: Results, chart: str) -> list[str]:
    f = results.b2_factor
    lines = [
        "## B2: a fleet of upgrades",
        "",
        f"N AuroraUpgrades of the example, one simulated cluster each (`aurora-upgrade sim --fleet N --scale {f:g}",
        f"--vary-durations {results.seed}`: each cluster's provisioning, reboots, snapshot, switchover and",
        "deletion drawn within ±50 % of AWS's typical durations x the scale, so their changes do not land in",
        "one instant), one Region, one operator on the local control plane (kube-apiserver + etcd), all",
        f"created before the operator starts; poll interval {30 * f:g} s (`AURORA_UPGRADE_TIME_SCALE` {f:g}),",
        f"event interval {Timing.compressed(f).events:g} s, read cycle {Timing.compressed(f).read_cycle:g} s. "
        "Times from the operator's start.",
        "RDS calls per second come from the simulator's call log, in 10 s windows. Real time: each",
        "operation's rate times the ratio of the interval it follows at this scale to the same at scale 1:",
        f"the scale ({f:g}) for writes and the prechecks' reads, the event interval's "
        f"({measures.real_time_factor('DescribeEvents', f):g}) for DescribeEvents and the read cycle's",
        f"({measures.real_time_factor('DescribeDBClusters', f):g}) for the shared describes (config.Timing's 1 s "
        "floors compress those less than the scale; scaling them by the scale alone would understate them).",
        "DescribeEvents' continuation pages (the calls with a Marker) are counted apart and scale by the",
        f"event interval's ratio times the scale ({measures.real_time_factor(measures.EVENT_PAGES, f):g}): "
        "the feed's windows are real seconds (a minute's",
        "whole read of its overlap, a few seconds' margin otherwise), which this run fills with 1 / scale",
        "times the events a real fleet's would hold.",
        "Peak RSS is the operator process's VmHWM, CPU its utime + stime (/proc). Status lag: from the",
        "time the simulator made a state change (`GET /_sim/transitions`: green available, green's reboots",
        "done, snapshot available, switchover completed, production's reboots done, deployment gone) to",
        "the watch event showing the phase that follows it.",
        f"Each run is capped at {results.fleet_cap_seconds:.0f} s.",
        "",
        "| N | Completed | time (s) | first status (s) | RDS calls/s mean / peak | reads/s in real time | "
        "errors | peak RSS (MiB) | CPU (s) | lag p50 / p99 (s) |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for run in results.fleet:
        mean, peak = run.total_rate
        errors = ", ".join(f"{code} {count}" for code, count in sorted(run.errors.items())) or "none"
        lines.append(
            f"| {run.n} | {run.completed}/{run.n}{'' if run.finished else ' (capped)'} | {run.seconds:.0f} | "
            f"{_fmt(run.first_status_seconds)} | {mean:.1f} / {peak:.1f} | {_real_reads(run, f):.2f} | "
            f"{errors} | {run.peak_rss_mib:.0f} | {run.cpu_seconds:.0f} | "
            f"{_fmt(p50(run.lags), 2)} / {_fmt(p99(run.lags), 2)} |"
        )
    lines += [
        "",
        "What limited the runs: the looks at an upgrade the operator made (`aurora_upgrade_reconciles_total`),",
        "per second and per upgrade, CPU of the operator, of the simulator (one Python process, one lock,",
        "moto underneath) and of the control plane over the run, how busy the whole machine was (all of",
        "them share its CPUs, with the benchmark's own watch), and where the upgrades stood at the end.",
        "",
        "| N | reconciles/s | reconciles per upgrade | operator CPU (% of a core) | simulator CPU (% of a core) | "
        "kube-apiserver + etcd CPU (% of a core) | machine busy (% of all CPUs) | phases at the end |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in results.fleet:
        phases = ", ".join(f"{phase} {count}" for phase, count in sorted(run.phases.items(), key=lambda i: -i[1]))
        if run.operator_exit is not None:
            phases += f"; the operator exited {run.operator_exit}"
        lines.append(
            f"| {run.n} | {run.reconciles / run.seconds:.1f} | {run.reconciles / run.n:.0f} | "
            f"{100 * run.cpu_seconds / run.seconds:.0f} % | {100 * run.sim_cpu_seconds / run.seconds:.0f} % | "
            f"{_percent(run.control_plane_cpu_seconds, run.seconds)} | {_percent(run.machine_busy_percent, 100)} | "
            f"{phases or 'none yet'} |"
        )
    changes = [what for what in _LAG_CHANGES if any(run.lags_by_change.get(what) for run in results.fleet)]
    if changes:
        lines += [
            "",
            "Status lag by the AWS change it shows (p50 / p99, seconds):",
            "",
            "| change | " + " | ".join(f"N={run.n}" for run in results.fleet) + " |",
            "|---|" + "---:|" * len(results.fleet),
        ]
        for what in changes:
            cells = []
            for run in results.fleet:
                values = run.lags_by_change.get(what) or []
                cells.append(f"{_fmt(p50(values), 2)} / {_fmt(p99(values), 2)}" if values else "n/a")
            lines.append(f"| {_LAG_CHANGES[what]} | " + " | ".join(cells) + " |")
    lines += ["", "RDS calls per second by operation (measured, mean / peak over 10 s windows):", ""]
    operations = sorted({op for run in results.fleet for op in run.rates})
    lines.append("| operation | " + " | ".join(f"N={run.n}" for run in results.fleet) + " |")
    lines.append("|---|" + "---:|" * len(results.fleet))
    for operation in operations:
        cells = []
        for run in results.fleet:
            mean, peak = run.rates.get(operation, (0.0, 0.0))
            cells.append(f"{mean:.2f} / {peak:.1f}")
        lines.append(f"| {operation} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "What each upgrade cost AWS and the API server: RDS writes sent per completed upgrade (the example's",
        f"minimum is {sum(measures.EXAMPLE_WRITES.values())}) and duplicates (a write carried out twice on one "
        "resource); status writes per upgrade as the watch saw them (mean / max) and status PATCHes the API",
        "server served, per upgrade; looks per second the operator served (`aurora_upgrade_reconciles_total`).",
        "",
        "| N | RDS writes per upgrade | duplicates | status writes per upgrade (mean / max) | "
        "status PATCHes per upgrade | looks/s |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for run in results.fleet:
        writes = sum(run.writes.values()) / run.completed if run.completed else float("nan")
        seen = run.status_writes or [0]
        patches = None if run.status_patches is None else run.status_patches / run.n
        lines.append(
            f"| {run.n} | {_fmt(writes, 2)} | {', '.join(run.duplicates) or 'none'} | "
            f"{sum(seen) / len(seen):.1f} / {max(seen)} | {_fmt(patches)} | {run.reconciles / run.seconds:.1f} |"
        )
    kinds = sorted({kind for run in results.fleet for kind in run.per_cycle})
    if kinds:
        lines += [
            "",
            "Shared describes per read cycle: for each question (operation and filter), over the read cycles",
            "it was asked in, calls in the cycle / ⌈resources asked about in it / 100⌉ (AWS pages at 100), mean /",
            "worst and the cycles counted. 1.00 is one call per cycle. The operator's cycles start at a random",
            "phase of its own: the phase that explains the calls with the fewest extra calls is taken.",
            "",
            "| question | " + " | ".join(f"N={run.n}" for run in results.fleet) + " |",
            "|---|" + "---:|" * len(results.fleet),
        ]
        for kind in kinds:
            cells = []
            for run in results.fleet:
                found = run.per_cycle.get(kind)
                cells.append(f"{found[0]:.2f} / {found[1]:.0f} ({found[2]})" if found else "n/a")
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", f"![B2]({chart})", "", _provenance(results, chart)]
    for run in results.fleet:
        if run.profile:
            lines += [
                "",
                f"A py-spy profile of the operator over the N={run.n} run (`py-spy record --nonblocking --rate 50`, "
                f"a flame graph; open it in a browser): [benchmarks/{run.profile}](benchmarks/{run.profile}).",
            ]
        elif run.profile_note:
            lines += ["", f"No py-spy profile of the N={run.n} run: {run.profile_note}."]
    return lines


def _b3(results: Results, chart: str) -> list[str]:
    lines = [
        "## B3: footprint",
        "",
        "The operator at the default poll interval (30 s) watching a namespace with no AuroraUpgrades, then",
        "one with 1,000 already Completed (created, then given a Completed status through the status",
        "subresource), never seen by an operator. A finished upgrade carries no finalizer (deleting it",
        "changes nothing in AWS), so the operator patches none of them; the table counts those that",
        "carry it once it has run. Then a second operator in the same",
        "namespace, started after the first stopped, as an operator restarted beside the upgrades it",
        "finished sees them. Measured over a window once the operator has settled (CPU below 2 % of a",
        "core over 5 s, or after the settle cap). First reconcile: from launching the operator until an",
        "upgrade waiting for it shows a phase.",
        "",
        "| watching | settled after (s) | RSS (MiB) | peak RSS (MiB) | CPU (% of a core) | window (s) | "
        "with the finalizer |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for idle in results.idle:
        lines.append(
            f"| {idle.title} | {idle.settle_seconds:.0f} | {idle.rss_mib:.0f} | {idle.peak_rss_mib:.0f} | "
            f"{idle.cpu_percent:.1f} | {idle.window_seconds:.0f} | {idle.finalized} |"
        )
    lines += [
        "",
        f"First reconcile: {_fmt(results.first_reconcile_seconds)} s after the operator's launch.",
        "",
        f"![B3]({chart})",
        "",
        _provenance(results, chart),
    ]
    return lines


def _b4(results: Results) -> list[str]:
    runs = results.held
    scale = runs[0].scale
    timing = Timing.compressed(scale)
    lines = [
        "## B4: upgrades waiting on a person, nothing changing in AWS",
        "",
        "N AuroraUpgrades of the example with `switchover.mode: Manual`, brought to AwaitingApproval (green",
        "ready and rebooted, the switchover held for a person), then the RDS calls the operator makes while",
        "nothing of theirs changes in AWS, from the simulator's call record. Each event source runs side by",
        "side with the other (`aurora-upgrade sim --fleet N`, with `--event-queue` for SQS; each its own",
        f"simulator, namespace and operator). The operator runs at `AURORA_UPGRADE_TIME_SCALE` {scale:g}, where",
        "every interval of its compresses alike (no 1 s floor bites: event interval "
        f"{timing.events:g} s, read cycle {timing.read_cycle:g} s, safety interval {timing.safety:g} s), so the",
        f"calls per second scale back to real time by {scale:g} alone. The window starts two quick intervals",
        "after the last upgrade was held and is a whole number of safety intervals (the pace of an upgrade",
        "waiting on a person); the simulator's state changes in it are counted (0: still). SQS receives",
        "(ReceiveMessage, the 20 s long poll) are no RDS calls and are shown apart. Continuation pages are",
        "the calls that carry a Marker: once a minute the DescribeEvents feed lists a few minutes of",
        "events (event_feed.DEEP_EVERY and OVERLAP, real time, not compressed), which at a compressed",
        "scale hold more events than they would in real time, so pages overstate the real rate.",
        "",
        "| N | event source | window (s, real time) | RDS calls | by operation | of them continuation pages | "
        "RDS calls/s in real time | SQS receives | AWS changes in the window |",
        "|---:|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        operations = ", ".join(f"{op} {count}" for op, count in run.calls.items()) or "none"
        lines.append(
            f"| {run.n} | {run.source} | {run.real_window_seconds:.0f} | {sum(run.calls.values())} | {operations} | "
            f"{run.pages} | {run.real_rate:.3f} | {run.receives} | {run.changes} |"
        )
    return lines


def _mb(mib: float) -> float:
    """The targets are in MB (10^6 bytes); /proc reports KiB, shown here in MiB."""
    return mib * 2**20 / 1e6


def _real_reads(run: FleetRun, factor: float) -> float:
    """Mean RDS reads per second over the run, scaled back to real time (measures.real_time_factor)."""
    reads = {op: mean for op, (mean, _peak) in run.rates.items() if not measures.is_write(op)}
    return sum(measures.real_time_rates(reads, factor).values())


def _writes_cell(writes: dict[str, int], upgrades: int, duplicates: list[str]) -> tuple[str, bool]:
    total = sum(writes.values())
    minimum = sum(measures.EXAMPLE_WRITES.values())
    ok = upgrades > 0 and total == minimum * upgrades and not duplicates
    per = total / upgrades if upgrades else float("nan")
    extra = {op: count for op, count in writes.items() if count != measures.EXAMPLE_WRITES.get(op, 0) * upgrades}
    detail = f"{per:.2f} per upgrade ({total} for {upgrades})"
    if extra:
        detail += "; off the minimum: " + ", ".join(f"{op} {count}" for op, count in sorted(extra.items()))
    detail += "; duplicates: " + (", ".join(duplicates[:5]) + (" ..." if len(duplicates) > 5 else "") or "none")
    return detail, ok


def _not_run(target: str, why: str) -> str:
    return f"| {target} | not run: {why} | **not measured** |"


def _held_target(held: list[Held]) -> str:
    """Issue 20's still target: the SQS runs judged, the DescribeEvents runs beside them."""
    target = (
        f"With SQS, ≤ {HELD_TARGET:g} RDS calls/s while no AWS resource of an upgrade changes (upgrades waiting "
        "on a person)"
    )
    queued = [run for run in held if run.source == "SQS"]
    if not queued:
        return _not_run(target, "B4 (upgrades held at a Manual gate)")
    cells = []
    for run in held:
        still = "" if run.still else f" (not still: {run.changes} AWS changes, {run.held} held)"
        cells.append(f"N={run.n}, {run.source}: {run.real_rate:.3f} calls/s{still}")
    ok = all(run.real_rate <= HELD_TARGET and run.still for run in queued)
    return f"| {target} | " + "<br>".join(cells) + f" (real time, see B4) | {_met(ok)} |"


def _targets(results: Results) -> list[str]:
    """A row for every target of issue 20's, measured or saying what did not run."""
    lines = ["## Targets (issue 20)", "", "| target | measured | |", "|---|---|---|"]
    op, rb = results.operator, results.runbook
    fleet = {run.n: run for run in results.fleet}
    f = results.b2_factor
    minimum = sum(measures.EXAMPLE_WRITES.values())
    ran = ", ".join(f"N={run.n}" for run in results.fleet)
    # RDS writes.
    target = f"RDS writes per upgrade = the spec's minimum ({minimum} for the example); never a duplicate"
    cells, all_ok = [], True
    for name, b1run in _operators(results).items():
        writes = {k: v for k, v in b1run.calls.items() if measures.is_write(k)}
        cell, ok = _writes_cell(writes, 1, b1run.duplicates)
        cells.append(f"runbook case, {name}: {cell}")
        all_ok &= ok
    for run in results.fleet:
        cell, ok = _writes_cell(run.writes, run.completed, run.duplicates)
        cells.append(f"N={run.n}{'' if run.finished else ' (capped: not all completed)'}: {cell}")
        all_ok &= ok and run.finished
    row = f"| {target} | " + "<br>".join(cells) + f" | {_met(all_ok)} |"
    lines.append(row if cells else _not_run(target, "B1, B2"))
    target = "Reads per Region ≤ 1 call/s in real time, averaged over the run, at every N"
    shared = "Describes shared per read cycle ≤ 1.2 calls per operation per cycle per 100 resources asked about"
    if results.fleet:
        reads = "; ".join(f"N={run.n}: {_real_reads(run, f):.2f}" for run in results.fleet)
        lines.append(
            f"| {target} | {reads} calls/s (scaled back per operation by the interval it follows, see B2) | "
            f"{_met(all(_real_reads(run, f) <= 1 for run in results.fleet))} |"
        )
        worst = {
            run.n: max(((mean, kind) for kind, (mean, _, _) in run.per_cycle.items()), default=(float("nan"), ""))
            for run in results.fleet
        }
        lines.append(
            f"| {shared} | worst question, mean over its cycles: "
            + "; ".join(f"N={n}: {value:.2f} ({kind})" for n, (value, kind) in worst.items())
            + f" | {_met(all(value <= 1.2 for value, _ in worst.values()))} |"
        )
    else:
        lines += [_not_run(target, "B2"), _not_run(shared, "B2")]
    lines.append(_held_target(results.held))
    target = "Status writes ≤ 18 in the runbook case"
    if op is not None and op.status_writes is not None:
        counted = max(op.status_writes, op.status_patches or 0)
        lines.append(
            f"| {target} | {op.status_writes} changes of status seen by a watch, "
            f"{_fmt_int(op.status_patches)} status PATCHes served by the API server | {_met(counted <= 18)} |"
        )
    else:
        lines.append(_not_run(target, "B1"))
    events = Timing.compressed(f).events
    for n, bound, label in ((100, events + 2, f"event interval + 2 s ({events + 2:g} s at this scale)"),
                            (500, 10.0, "10 s")):  # fmt: skip
        target = f"Status lag p99 ≤ {label} at N={n}, varied durations"
        if n in fleet:
            run = fleet[n]
            value = p99(run.lags)
            capped = "" if run.finished else " (capped: not all completed)"
            lines.append(f"| {target} | {_fmt(value, 2)} s{capped} | {_met(run.finished and value <= bound)} |")
        else:
            lines.append(_not_run(target, f"B2 ran {ran or 'no N'}"))
    operators = _operators(results)
    if not operators:
        lines += [_not_run("B1: added time per AWS change ≤ half the event interval + 0.5 s", "B1"),
                  _not_run("B1: start to first call ≤ 2 s", "B1")]  # fmt: skip
    for name, b1run in operators.items():
        added = measures.added_per_change(b1run.wall_seconds, b1run.aws_seconds)
        bound = measures.added_per_change_target(results.b1_factor)
        real = measures.extrapolated_added_per_change(added, results.b1_factor)
        lines.append(
            f"| B1: added time per AWS change ≤ half the event interval + 0.5 s, {name} | {added:.2f} s at scale "
            f"{results.b1_factor:g} (target {bound:.2f} s); extrapolated to real durations {real:.2f} s "
            f"(target {measures.added_per_change_target(1.0):.2f} s) | {_met(added <= bound)} |"
        )
        lines.append(
            f"| B1: start to first call ≤ 2 s, {name} | {_fmt(b1run.first_call_seconds, 2)} s from create | "
            f"{_met(b1run.first_call_seconds is not None and b1run.first_call_seconds <= 2)} |"
        )
    target = "B1: fewer RDS calls than the runbook's script with the SQS source"
    sqs = results.operator_sqs
    if rb is not None and sqs is not None:
        lines.append(
            f"| {target} | operator {sum(sqs.calls.values())}, script {sum(rb.calls.values())} | "
            f"{_met(sum(sqs.calls.values()) < sum(rb.calls.values()))} |"
        )
    else:
        lines.append(_not_run(target, "B1"))
    target = "Peak RSS ≤ 200 MB at N=500"
    if 500 in fleet:
        peak = fleet[500].peak_rss_mib
        lines.append(f"| {target} | {peak:.0f} MiB ({_mb(peak):.0f} MB) | {_met(_mb(peak) <= 200)} |")
    else:
        lines.append(_not_run(target, f"B2 ran {ran or 'no N'}"))
    for idle in results.idle:
        lines.append(f"| Idle RSS ≤ 100 MB ({idle.title}) | {idle.rss_mib:.0f} MiB "
                     f"({_mb(idle.rss_mib):.0f} MB) | {_met(_mb(idle.rss_mib) <= 100)} |")  # fmt: skip
    if not results.idle:
        lines.append(_not_run("Idle RSS ≤ 100 MB", "B3"))
    target = "First reconcile ≤ 5 s after start"
    if results.first_reconcile_seconds is not None:
        lines.append(
            f"| {target} | {results.first_reconcile_seconds:.1f} s | {_met(results.first_reconcile_seconds <= 5)} |"
        )
    else:
        lines.append(_not_run(target, "B3"))
    lines.append(
        "| `make test` keeps count checks, not timings: describes shared per cycle, status writes per upgrade in "
        "the runbook case, an event woken look ahead of queued polls | "
        "tests/integration/test_fleet_shared_reads.py, tests/kopf/test_status_writes.py (≤ 18), "
        "tests/unit/test_fleet.py (`test_a_woken_look_runs_before_queued_safety_polls`); the bench's own "
        "arithmetic: tests/unit/test_bench_*.py | — |"
    )
    return lines


def write(results: Results, doc: Path) -> None:
    charts = doc.parent / "benchmarks"
    charts.mkdir(exist_ok=True)
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/): numbers, not pass/fail, so not part of `make test`. Every",
        "run uses the simulated RDS API (`aurora-upgrade sim`, a process of its own) and, for the",
        "operator, the local control plane; the operator runs as `aurora-upgrade operator` does in a",
        "deployment. Importing the operator's code loads "
        + (
            ", ".join(results.foreign_modules)
            if results.foreign_modules
            else "no module of moto, the simulator, the tools or the kubernetes client"
        )
        + " (checked at the start of the run), so its RSS is the product's own.",
        "",
        f"This page is from one run of `{results.command}` on a machine with "
        + ", ".join(f"{key} {value}" for key, value in results.machine.items())
        + f"; the whole run took {results.total_seconds / 60:.1f} min.",
        "Absolute times depend on that load; the calls counted do not.",
        "",
    ]
    parts += _targets(results)
    if results.runbook is not None and results.operator is not None:
        chart_b1(results, charts / "b1-runbook-vs-operator.png")
        parts += ["", *_b1(results, "benchmarks/b1-runbook-vs-operator.png")]
    if results.fleet:
        chart_b2(results, charts / "b2-fleet.png")
        parts += ["", *_b2(results, "benchmarks/b2-fleet.png")]
    if results.idle:
        chart_b3(results, charts / "b3-footprint.png")
        parts += ["", *_b3(results, "benchmarks/b3-footprint.png")]
    if results.held:
        parts += ["", *_b4(results)]
    doc.write_text("\n".join(parts) + "\n")
