"""docs/benchmarks.md and its charts, from the runs' data: every figure with the command that made
it and the machine it ran on, every target with whether it is met."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from aurora_upgrade.config import Timing
from bench.runs import FleetRun, Idle, Run, p50, p99, sequential_reboot_seconds


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


def save(results: Results, path: Path) -> None:
    """The measurements as JSON, so the page can be written again without running (`--report`)."""
    path.write_text(json.dumps(dataclasses.asdict(results), indent=1) + "\n")


def load(path: Path) -> Results:
    data: dict[str, Any] = json.loads(path.read_text())
    data["runbook"] = Run(**data["runbook"]) if data.get("runbook") else None
    data["operator"] = Run(**data["operator"]) if data.get("operator") else None
    data["fleet"] = [FleetRun(**run) for run in data["fleet"]]
    data["idle"] = [Idle(**idle) for idle in data["idle"]]
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


def chart_b1(results: Results, path: Path) -> None:
    assert results.runbook is not None and results.operator is not None
    runs = {"runbook script": results.runbook, "operator": results.operator}
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
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    (calls, rss), (lag, timeline) = axes
    ns = [str(run.n) for run in runs]
    factor = results.b2_factor
    calls.bar([i - 0.2 for i in range(len(runs))], [run.total_rate[0] * factor for run in runs], 0.4, label="mean")
    calls.bar([i + 0.2 for i in range(len(runs))], [run.total_rate[1] * factor for run in runs], 0.4, label="peak 10 s")
    calls.axhline(1.0, color="red", linestyle="--", label="target: < 1 call/s")
    calls.set_xticks(range(len(runs)), ns)
    calls.set_yscale("log")
    calls.set_xlabel("concurrent AuroraUpgrades (N)")
    calls.set_ylabel("RDS calls/s, scaled back to real time")
    calls.set_title("B2: RDS calls per second")
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


def _b1(results: Results, chart: str) -> list[str]:
    rb, op = results.runbook, results.operator
    assert rb is not None and op is not None
    f = results.b1_factor
    lines = [
        "## B1: the runbook's script and the operator, one upgrade",
        "",
        f"Both upgrade the runbook's cluster (`aurora-upgrade sim --scenario runbook --scale {f:g}`: AWS's typical",
        f"durations x {f:g}, so provisioning {1800 * f:g} s ≫ switchover {120 * f:g} s > snapshot {300 * f:g} s >",
        f"reboots {60 * f:g} s; deletions {600 * f:g} s). The same factor scales the runbook's `sleep 30`",
        f"({30 * f:g} s), the AWS CLI waiters' 30 s delay (a scaled copy of botocore's RDS waiter file on",
        f"`AWS_DATA_PATH`) and the operator's time (`AURORA_UPGRADE_TIME_SCALE` {f:g}: its poll and deadlines).",
        "",
        "The runbook script is the runbook's own commands (tests/support/runbook_steps.py) run with bash and",
        "the AWS CLI, `aws-vault exec mizzy --` dropped and step 6.1's waiter corrected to",
        "`db-cluster-snapshot-available`: steps 1.1-1.3, 3.1-7.4 and 9.1 (step 2 is for pending parameters,",
        "which this cluster has none of; step 8 is Terraform; 9.2 is optional and the example keeps the old",
        "cluster). The operator runs the example manifest, timed from `create` until the watch sees Completed.",
        "Simulated AWS time is what each has to wait through one after the other: provisioning, green's",
        "reboots, the snapshot, the switchover, production's reboots; and, for the operator only, the",
        "deployment's deletion (its CleaningUp waits until the deployment is gone; the runbook's 9.1 does not).",
        "",
        "| | runbook script | operator |",
        "|---|---:|---:|",
        f"| wall time (s) | {rb.wall_seconds:.1f} | {op.wall_seconds:.1f} |",
        f"| simulated AWS time (s) | {rb.aws_seconds:.1f} | {op.aws_seconds:.1f} |",
        f"| time added (s) | {rb.added_seconds:.1f} | {op.added_seconds:.1f} |",
        f"| time added (% of AWS time) | {100 * rb.added_seconds / rb.aws_seconds:.1f} % | "
        f"{100 * op.added_seconds / op.aws_seconds:.1f} % |",
        "| of which production's reboots one instance at a time (s) | 0 | "
        f"{sequential_reboot_seconds(results.b1_factor):.1f} |",
        f"| time added beyond that (% of AWS time) | {100 * rb.added_seconds / rb.aws_seconds:.1f} % | "
        f"{_added_beyond_reboots(results, op):.1f} % |",
        f"| RDS calls | {sum(rb.calls.values())} | {sum(op.calls.values())} |",
    ]
    for operation in sorted(set(rb.calls) | set(op.calls)):
        lines.append(f"| &nbsp;&nbsp;{operation} | {rb.calls.get(operation, 0)} | {op.calls.get(operation, 0)} |")
    lines += [
        "",
        f"![B1]({chart})",
        "",
        _provenance(results, chart),
        "",
        "Where the time goes (seconds from the start; runbook steps, operator phases as the watch saw them):",
        "",
        "| runbook step | start | end | | operator phase | entered |",
        "|---|---:|---:|---|---|---:|",
    ]
    for i in range(max(len(rb.steps), len(op.steps))):
        left = f"{rb.steps[i][0]} | {rb.steps[i][1]:.1f} | {rb.steps[i][2]:.1f}" if i < len(rb.steps) else " | |"
        right = f"{op.steps[i][0]} | {op.steps[i][1]:.1f}" if i < len(op.steps) else " |"
        lines.append(f"| {left} | | {right} |")
    return lines


def _b2(results: Results, chart: str) -> list[str]:
    f = results.b2_factor
    lines = [
        "## B2: a fleet of upgrades",
        "",
        f"N AuroraUpgrades of the example, one simulated cluster each (`aurora-upgrade sim --fleet N --scale {f:g}`),",
        "one Region, one operator on the local control plane (kube-apiserver + etcd), all created before the",
        f"operator starts; poll interval {30 * f:g} s (`AURORA_UPGRADE_TIME_SCALE` {f:g}). Times from the",
        "operator's start. RDS calls per second come from the simulator's call log, in 10 s windows, and",
        f'are shown as measured and "real time" (x {f:g}: the run polls 1/{f:g} times as often as the default).',
        "Peak RSS is the operator process's VmHWM, CPU its utime + stime (/proc). Status lag: from the",
        "time the simulator made a state change (`GET /_sim/transitions`: green available, green's reboots",
        "done, snapshot available, switchover completed, production's reboots done, deployment gone) to",
        "the watch event showing the phase that follows it.",
        f"Each run is capped at {results.fleet_cap_seconds:.0f} s.",
        "",
        "| N | Completed | time (s) | first status (s) | RDS calls/s mean / peak | real time mean / peak | "
        "errors | peak RSS (MiB) | CPU (s) | lag p50 / p99 (s) |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for run in results.fleet:
        mean, peak = run.total_rate
        errors = ", ".join(f"{code} {count}" for code, count in sorted(run.errors.items())) or "none"
        lines.append(
            f"| {run.n} | {run.completed}/{run.n}{'' if run.finished else ' (capped)'} | {run.seconds:.0f} | "
            f"{_fmt(run.first_status_seconds)} | {mean:.1f} / {peak:.1f} | {mean * f:.2f} / {peak * f:.2f} | "
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
    lines += ["", f"![B2]({chart})", "", _provenance(results, chart)]
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


def _mb(mib: float) -> float:
    """The targets are in MB (10^6 bytes); /proc reports KiB, shown here in MiB."""
    return mib * 2**20 / 1e6


def _added_beyond_reboots(results: Results, op: Run) -> float:
    """The operator's time added, in % of AWS time, beyond what rebooting production's instances one
    at a time costs."""
    return 100 * (op.added_seconds - sequential_reboot_seconds(results.b1_factor)) / op.aws_seconds


def _describe_rate(run: FleetRun) -> float:
    """Mean describe calls per second over the run (every Describe* operation, the feed too)."""
    return sum(mean for operation, (mean, _peak) in run.rates.items() if operation.startswith("Describe"))


def _targets(results: Results) -> list[str]:
    lines = ["## Targets (issue 8)", "", "| target | measured | |", "|---|---|---|"]
    rb, op = results.runbook, results.operator
    if rb is not None and op is not None:
        added = 100 * op.added_seconds / op.aws_seconds
        beyond = _added_beyond_reboots(results, op)
        lines.append(
            f"| B1: time added ≤ 1 % of simulated AWS time, and less than the runbook script adds | "
            f"operator {added:.1f} % ({op.added_seconds:.1f} s; {beyond:.1f} % beyond rebooting production's "
            f"instances one at a time), script {rb.added_seconds:.1f} s | "
            f"{_met(added <= 1 and op.added_seconds < rb.added_seconds)} |"
        )
        lines.append(
            f"| B1: fewer RDS calls than the runbook script | operator {sum(op.calls.values())} "
            f"({sum(op.calls.values()) - op.calls.get('DescribeEvents', 0)} without DescribeEvents, the Region's "
            f"event feed, which all its upgrades share), script {sum(rb.calls.values())} | "
            f"{_met(sum(op.calls.values()) < sum(rb.calls.values()))} |"
        )
    fleet = {run.n: run for run in results.fleet}
    f = results.b2_factor
    if fleet:
        small, large = fleet[min(fleet)], fleet[max(fleet)]
        capped = [str(run.n) for run in results.fleet if not run.finished]
        # A run that did not finish was held back by throughput: its rate says nothing about design.
        unfinished = f"**not shown**: N={', '.join(capped)} did not finish, its rate is bounded by throughput"
        ratio = large.total_rate[0] / small.total_rate[0] if small.total_rate[0] else float("nan")
        verdict = _met(ratio <= 1.5) if large.n == 500 else "**not measured at N=500**"
        reads = {run.n: _describe_rate(run) for run in results.fleet}
        read_ratio = reads[large.n] / reads[small.n] if reads[small.n] else float("nan")
        lines.append(
            f"| B2: RDS calls/s at N=500 ≤ 1.5x those at N=10 | N={large.n}: {ratio:.1f}x N={small.n} "
            f"({large.total_rate[0]:.1f} vs {small.total_rate[0]:.1f} calls/s measured); describes alone "
            f"{read_ratio:.1f}x ({reads[large.n]:.1f} vs {reads[small.n]:.1f}/s). Writes are one call each "
            "(CreateBlueGreenDeployment, reboots, snapshot, switchover, deletion: about 9 an upgrade), so "
            f"they grow with N | {unfinished if large.n in map(int, capped) else verdict} |"
        )
        done = [run for run in results.fleet if run.finished]
        worst = max((run.total_rate[0] * f for run in done), default=float("nan"))
        lines.append(
            f"| B2: below 1 call/s averaged over the run at every N (real time) | "
            f"{'; '.join(f'N={run.n}: {run.total_rate[0] * f:.2f}' for run in results.fleet)} calls/s | "
            f"{unfinished if capped else _met(worst < 1)} |"
        )
        throttled = sum(run.throttled for run in results.fleet)
        peak = max(run.total_rate[1] * f for run in results.fleet)
        lines.append(
            f"| B2: never throttled | {throttled} throttled answers; peak {peak:.2f} calls/s in real time against "
            "RDS's ~12/s sustained per account and Region. The simulator runs no token bucket, so AWS's own "
            "throttling is not reproduced here | **not measurable here** |"
        )
        # The event feed's interval at the run's poll (config.Timing: poll / 6, at least 1 s).
        events = Timing(poll=30 * f).events
        lags = "; ".join(f"N={run.n}: {_fmt(p99(run.lags))} s" for run in results.fleet)
        lag_ok = all(run.lags and p99(run.lags) <= events + 2 for run in results.fleet)
        lines.append(
            f"| B2: status lags AWS ≤ event interval + 2 s at p99 | p99 {lags}; the event interval at a "
            f"{30 * f:g} s poll is {events:g} s, so at most {events + 2:g} s | {_met(lag_ok)} |"
        )
        if 500 in fleet:
            lines.append(
                f"| Peak RSS ≤ 200 MB at N=500 | {fleet[500].peak_rss_mib:.0f} MiB "
                f"({_mb(fleet[500].peak_rss_mib):.0f} MB) | {_met(_mb(fleet[500].peak_rss_mib) <= 200)} |"
            )
    for idle in results.idle:
        lines.append(f"| Idle RSS ≤ 100 MB ({idle.title}) | {idle.rss_mib:.0f} MiB "
                     f"({_mb(idle.rss_mib):.0f} MB) | {_met(_mb(idle.rss_mib) <= 100)} |")  # fmt: skip
    if results.first_reconcile_seconds is not None:
        lines.append(
            f"| First reconcile ≤ 5 s after start | {results.first_reconcile_seconds:.1f} s | "
            f"{_met(results.first_reconcile_seconds <= 5)} |"
        )
    lines.append(
        "| `make test` checks that N upgrades of one Region share their describe calls | "
        "tests/integration/test_fleet_shared_reads.py counts them in the simulator's call log | — |"
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
    doc.write_text("\n".join(parts) + "\n")
