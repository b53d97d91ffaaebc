"""B1 (runbook vs operator), B2 (fleet) and B3 (footprint): each runs, measures and returns plain
data; bench.report turns it into docs/benchmarks.md and the charts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes

from aurora_upgrade.config import Timing
from aurora_upgrade.models import FINALIZER, GROUP, PLURAL, VERSION
from aurora_upgrade.phases import TERMINAL
from aurora_upgrade.sim.config import AWS_TYPICAL_SECONDS
from aurora_upgrade.sim.scenarios import RUNBOOK_CLUSTER, fleet_cluster
from bench import measures
from bench.harness import (
    Operator,
    PhaseWatch,
    Profiler,
    Sim,
    apiserver_metrics,
    create_namespace,
    kube,
    machine_cpu,
    proc_sample,
    upgrade_manifest,
)
from bench.measures import epoch as _epoch
from support.runbook import NAME, RUNBOOK_PHASES
from support.runbook_steps import (
    STEP_1_1,
    STEP_1_2,
    STEP_1_3,
    STEP_3_1,
    STEP_3_2,
    STEP_3_3,
    STEP_3_4,
    STEP_4_1,
    STEP_4_2,
    STEP_5,
    STEP_6_1,
    STEP_6_2,
    STEP_6_3,
    STEP_7_1,
    STEP_7_2,
    STEP_7_3,
    STEP_7_4,
    STEP_9_1,
    RunbookShell,
)

Log = Callable[[str], None]
WINDOW_SECONDS = 10.0


def aws(name: str, factor: float) -> float:
    """A simulated AWS duration at `factor`, as `aurora-upgrade sim --scale` sets it."""
    return AWS_TYPICAL_SECONDS[f"{name}_seconds"] * factor


def waited_aws_seconds(factor: float, *, waits_for_deletion: bool) -> float:
    """The simulated AWS time an upgrade of the runbook's cluster has to wait through, one after
    the other: provisioning, green's reboots (both instances at once), the snapshot, the
    switchover, production's reboots; and the deployment's deletion for whoever waits for it
    (the operator's CleaningUp does, the runbook's 9.1 does not)."""
    total = sum(aws(name, factor) for name in ("provisioning", "reboot", "snapshot", "switchover", "reboot"))
    return total + (aws("delete", factor) if waits_for_deletion else 0.0)


def sequential_reboot_seconds(factor: float, instances: int = 2) -> float:
    """What the operator's reboots cost beyond `waited_aws_seconds`: it reboots production's
    instances one at a time (a reader stays up), where the runbook reboots them all at once;
    green's it reboots all at once too."""
    return (instances - 1) * aws("reboot", factor)


# What the simulator answers besides RDS: the event queue's SQS calls and STS are no RDS calls.
_NOT_RDS = frozenset(
    {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueUrl", "GetQueueAttributes", "AssumeRole"}
)


def rds_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for call in calls if call["operation"] not in _NOT_RDS]


def calls_by_operation(calls: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(c["operation"] for c in rds_calls(calls)).items()))


def status_patches(kubeconfig: Path) -> int | None:
    """PATCHes of AuroraUpgrades' status the API server has served so far; None where its
    /metrics cannot be read (the page then says n/a rather than a count it did not make)."""
    try:
        return measures.apiserver_requests(apiserver_metrics(kubeconfig), PLURAL, "PATCH", "status")
    except (kubernetes.client.ApiException, OSError):
        return None


def _since(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


EVENT_QUEUE = "aurora-upgrade-bench-events"


def _queue_env(sim: Sim) -> dict[str, str]:
    """The operator's environment for the SQS event source, as docs/events.md sets it: the queue
    the simulator's EventBridge rule fills (its URL as the simulator printed it) and SQS reached
    at the simulator."""
    if sim.event_queue_url is None:
        raise RuntimeError(f"the simulator named no event queue: {sim.log_path.read_text(errors='replace')[-2000:]}")
    return {"AURORA_UPGRADE_EVENT_QUEUE_URL": sim.event_queue_url, "AWS_ENDPOINT_URL_SQS": sim.endpoint_url}


# ---------------------------------------------------------------------------------------- B1

# The runbook's path for the example's upgrade: step 2 only when parameters wait for a reboot
# (the runbook says "if needed"; the runbook's cluster has none pending), step 8 is Terraform,
# step 9.2 is optional (the example keeps the old cluster, cleanup.deleteOldCluster: false).
RUNBOOK_PATH = [
    ("1.1", STEP_1_1),
    ("1.2", STEP_1_2),
    ("1.3", STEP_1_3),
    ("3.1", STEP_3_1),
    ("3.2", STEP_3_2),
    ("3.3", STEP_3_3),
    ("3.4", STEP_3_4),
    ("4.1", STEP_4_1),
    ("4.2", STEP_4_2),
    ("5", STEP_5),
    ("6.1", STEP_6_1),
    ("6.2", STEP_6_2),
    ("6.3", STEP_6_3),
    ("7.1", STEP_7_1),
    ("7.2", STEP_7_2),
    ("7.3", STEP_7_3),
    ("7.4", STEP_7_4),
    ("9.1", STEP_9_1),
]
# What a step prints that the next ones need, as the runbook's reader carries it over.
RUNBOOK_VARIABLES = {"3.1": "CLUSTER_ARN", "3.2": "BG_DEPLOYMENT_ID", "4.1": "GREEN_CLUSTER_ID"}


@dataclass
class Run:
    """One upgrade of the runbook's cluster: how long it took and what it asked RDS."""

    wall_seconds: float
    aws_seconds: float
    calls: dict[str, int]
    steps: list[tuple[str, float, float]] = field(default_factory=list)  # (name, start, end) from t0
    # The operator's only: what the watch and the API server saw, and the RDS writes.
    source: str = ""  # the event source: DescribeEvents (the feed) or SQS
    status_writes: int | None = None  # changes of status the watch saw
    status_patches: int | None = None  # PATCHes of the status subresource the API server served
    first_call_seconds: float | None = None  # from create to the operator's first RDS call for it
    duplicates: list[str] = field(default_factory=list)

    @property
    def added_seconds(self) -> float:
        return self.wall_seconds - self.aws_seconds


def run_runbook(workdir: Path, factor: float, log: Log) -> Run:
    sim = Sim(workdir / "b1-runbook-sim.log", ["--scenario", "runbook", "--scale", str(factor)])
    try:
        shell = RunbookShell(sim.endpoint_url, workdir / "b1-runbook-home", factor)
        steps = []
        t0 = time.time()
        for name, script in RUNBOOK_PATH:
            start = time.time()
            lines = shell.run(script)
            steps.append((name, start - t0, time.time() - t0))
            if name in RUNBOOK_VARIABLES:
                shell.variables[RUNBOOK_VARIABLES[name]] = lines[-1]
        wall = time.time() - t0
        calls = sim.calls()
    finally:
        sim.stop()
    log(f"B1 runbook: {wall:.1f} s, {len(calls)} RDS calls")
    return Run(wall, waited_aws_seconds(factor, waits_for_deletion=False), calls_by_operation(calls), steps)


def wait_until_started(operator: Operator, log_path: Path, timeout: float = 60) -> float:
    """Seconds from launch until kopf has run the operator's startup handler."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Activity 'configure' succeeded" in log_path.read_text(errors="replace"):
            return time.time() - operator.started
        if not operator.alive():
            break
        time.sleep(0.1)
    raise RuntimeError(f"the operator did not start: {log_path.read_text(errors='replace')[-3000:]}")


def run_operator(workdir: Path, kubeconfig: Path, factor: float, log: Log, *, event_queue: bool = False) -> Run:
    """The example manifest through the operator, with the DescribeEvents feed or, `event_queue`,
    the SQS source (the simulator delivering its events to a queue)."""
    source = "SQS" if event_queue else "DescribeEvents"
    namespace = f"bench-b1-{source.lower()}"
    create_namespace(kubeconfig, namespace)
    queue = ["--event-queue", EVENT_QUEUE] if event_queue else []
    sim = Sim(workdir / f"b1-operator-{source}-sim.log", ["--scenario", "runbook", "--scale", str(factor), *queue])
    operator_log = workdir / f"b1-operator-{source}.log"
    operator = Operator(
        kubeconfig, sim.endpoint_url, operator_log, 30 * factor, namespace, env=_queue_env(sim) if event_queue else {}
    )
    watch = PhaseWatch(kubeconfig, namespace)
    try:
        wait_until_started(operator, operator_log)
        patches_before = status_patches(kubeconfig)
        t0 = time.time()
        kube(kubeconfig).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, upgrade_manifest(NAME, namespace, RUNBOOK_CLUSTER)
        )
        deadline = time.monotonic() + 3600 * factor + 120
        while not watch.count("Completed"):
            if time.monotonic() > deadline or any(watch.count(p) for p in TERMINAL - {"Completed"}):
                raise RuntimeError(f"the operator's upgrade did not complete: {watch.seen}")
            time.sleep(0.05)
        phases = watch.seen[NAME]
        wall = phases[-1][1] - t0
        steps = [(phase, at - t0, (phases[i + 1][1] if i + 1 < len(phases) else at) - t0) for i, (phase, at) in
                 enumerate(phases)]  # fmt: skip
        time.sleep(2 * 30 * factor)  # what the operator still writes after Completed counts too
        patches = _since(status_patches(kubeconfig), patches_before)
        calls = sim.calls()
    finally:
        watch.stop()
        operator.stop()
        sim.stop()
    rds = rds_calls(calls)
    # The first call for the upgrade: the event feed's may come before, for no upgrade in particular.
    asked = [_epoch(c["time"]) for c in rds if c["operation"] != "DescribeEvents" and _epoch(c["time"]) >= t0]
    _, duplicates = measures.rds_writes(rds)
    log(f"B1 operator ({source}): {wall:.1f} s, {len(rds)} RDS calls, {patches} status PATCHes")
    return Run(
        wall,
        waited_aws_seconds(factor, waits_for_deletion=True) + sequential_reboot_seconds(factor),
        calls_by_operation(calls),
        steps,
        source=source,
        status_writes=measures.status_writes(watch.statuses.get(NAME, [])),
        status_patches=patches,
        first_call_seconds=min(asked) - t0 if asked else None,
        duplicates=duplicates,
    )


# ---------------------------------------------------------------------------------------- B2


@dataclass
class FleetRun:
    n: int
    completed: int
    seconds: float  # from the operator's start until all completed (or the cap)
    finished: bool
    first_status_seconds: float | None
    rates: dict[str, tuple[float, float]]  # operation -> (mean, peak over 10 s windows), calls/s
    total_rate: tuple[float, float]
    throttled: int
    errors: dict[str, int]
    peak_rss_mib: float
    cpu_seconds: float
    lags: list[float]
    timeline: list[tuple[float, int]]  # (seconds since start, calls in that 10 s window)
    rss: list[tuple[float, float]]
    phases: dict[str, int]  # how many upgrades ended (or were at the cap) in each phase
    reconciles: int  # looks at an upgrade (aurora_upgrade_reconciles_total)
    sim_cpu_seconds: float  # the simulator's, to tell whose CPU the run was short of
    operator_exit: int | None  # the operator's exit status if it stopped by itself during the run
    lags_by_change: dict[str, list[float]] = field(default_factory=dict)  # the lags, by AWS change
    control_plane_cpu_seconds: float | None = None  # kube-apiserver's and etcd's over the run
    machine_busy_percent: float | None = None  # of all the machine's CPUs, over the run
    writes: dict[str, int] = field(default_factory=dict)  # RDS writes sent, by operation
    duplicates: list[str] = field(default_factory=list)  # writes carried out twice on one resource
    # Shared describes per question kind: (mean, worst) calls per read cycle per 100 resources, cycles.
    per_cycle: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    status_writes: list[int] = field(default_factory=list)  # per upgrade, as the watch saw them
    status_patches: int | None = None  # PATCHes of the status subresource the API server served
    read_cycle_seconds: float = 0.0
    profile: str = ""  # the py-spy flame graph's file name, beside the page
    profile_note: str = ""  # why there is none


def _window_rates(calls: list[dict[str, Any]], t0: float, t1: float) -> tuple[dict[str, tuple[float, float]], Any]:
    span = max(t1 - t0, 1e-9)
    windows = max(1, int(span // WINDOW_SECONDS) + 1)
    per_op: dict[str, list[int]] = {}
    total = [0] * windows
    for call in calls:
        at = _epoch(call["time"])
        if not t0 <= at <= t1:
            continue
        index = int((at - t0) // WINDOW_SECONDS)
        operation = call["operation"]
        if operation == "DescribeEvents" and "Marker" in call["params"]:
            operation = measures.EVENT_PAGES
        per_op.setdefault(operation, [0] * windows)[index] += 1
        total[index] += 1
    rates = {op: (sum(counts) / span, max(counts) / WINDOW_SECONDS) for op, counts in sorted(per_op.items())}
    return rates, (sum(total) / span, max(total) / WINDOW_SECONDS, total)


# A simulated state change and the phase whose appearance shows it in status.
_SHOWN_BY = {
    "provisioned": "RebootingGreen",
    "green reboots": "Snapshotting",
    "snapshot": "SwitchingOver",
    "switched over": "RebootingInstances",
    "reboots": "Verifying",
    "deleted": "Completed",
}


def status_lags(
    transitions: list[dict[str, str]], watch: PhaseWatch, cluster_of_upgrade: dict[str, str]
) -> dict[str, list[float]]:
    """For each upgrade and each AWS state change it waited on: seconds from when the simulator
    made the change to when the watch saw the status move to the phase that follows it, by the
    kind of change (_SHOWN_BY's keys)."""
    upgrade_of_cluster = {cluster: name for name, cluster in cluster_of_upgrade.items()}
    upgrade_of_bgd = {
        (obj.get("status") or {}).get("blueGreenDeploymentIdentifier"): name for name, obj in watch.objects.items()
    }
    changed: dict[tuple[str, str], float] = {}

    def note(upgrade: str | None, what: str, at: float) -> None:
        if upgrade is not None:
            # Both reboots of a cluster must be done: the later one is the change.
            changed[(upgrade, what)] = max(at, changed.get((upgrade, what), 0.0))

    for transition in transitions:
        label, at = transition["label"], _epoch(transition["time"])
        if label.startswith("reboot "):
            instance = label.removeprefix("reboot ")
            cluster = instance.split("-instance-")[0]
            note(upgrade_of_cluster.get(cluster), "green reboots" if "-green-" in instance else "reboots", at)
        elif label.startswith("snapshot "):
            note(
                upgrade_of_cluster.get(label.removeprefix("snapshot ").split("-before-switchover-")[0]), "snapshot", at
            )
        else:
            bgd, _, what = label.partition(" ")
            if what in _SHOWN_BY:
                note(upgrade_of_bgd.get(bgd), what, at)
    lags: dict[str, list[float]] = {what: [] for what in _SHOWN_BY}
    for (upgrade, what), at in changed.items():
        wanted = RUNBOOK_PHASES.index(_SHOWN_BY[what])
        shown = [
            seen
            for phase, seen in watch.seen.get(upgrade, [])
            if phase in RUNBOOK_PHASES and RUNBOOK_PHASES.index(phase) >= wanted
        ]
        if shown:
            lags[what].append(shown[0] - at)
    return lags


def run_fleet(
    workdir: Path,
    kubeconfig: Path,
    n: int,
    factor: float,
    cap_seconds: float,
    log: Log,
    control_plane: Sequence[int] = (),
    *,
    seed: int = 1,
    profile: Path | None = None,
) -> FleetRun:
    """N upgrades at once, each cluster with its own durations (`--vary-durations seed`);
    `control_plane` holds the pids of kube-apiserver and etcd, whose CPU over the run is reported
    beside the operator's and the simulator's; `profile`: where py-spy's flame graph of the
    operator over the run goes."""
    namespace = f"bench-b2-{n}"
    create_namespace(kubeconfig, namespace)
    sim = Sim(workdir / f"b2-{n}-sim.log", ["--fleet", str(n), "--scale", str(factor), "--vary-durations", str(seed)])
    api = kube(kubeconfig)
    cluster_of_upgrade = {f"upgrade-{i:04d}": fleet_cluster(i) for i in range(1, n + 1)}
    for name, cluster in cluster_of_upgrade.items():
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, upgrade_manifest(name, namespace, cluster)
        )
    watch = PhaseWatch(kubeconfig, namespace)
    plane_before = sum(proc_sample(pid).cpu_seconds for pid in control_plane)
    busy_before, all_before = machine_cpu()
    patches_before = status_patches(kubeconfig)
    operator = Operator(kubeconfig, sim.endpoint_url, workdir / f"b2-{n}-operator.log", 30 * factor, namespace)
    profiler = Profiler(operator.process.pid, profile, workdir / "py-spy.log") if profile else None
    t0 = operator.started
    try:
        deadline = t0 + cap_seconds
        while time.time() < deadline and sum(watch.count(p) for p in TERMINAL) < n and operator.alive():
            time.sleep(0.5)
        t1 = time.time()
        exited = operator.process.poll()
        completed = watch.count("Completed")
        done_times = [phases[-1][1] for phases in watch.seen.values() if phases and phases[-1][0] == "Completed"]
        if completed == n:
            t1 = max(done_times)
        first = watch.first_seen()
        peak = operator.peak_rss_mib()
        cpu = operator.now().cpu_seconds
        rss = [(s.at - t0, s.rss_mib) for s in operator.samples]
        phases = watch.phases()
        reconciles = operator.reconciles()
        sim_cpu = sim.cpu_seconds()
        plane_cpu = sum(proc_sample(pid).cpu_seconds for pid in control_plane) - plane_before
        busy_after, all_after = machine_cpu()
        if profiler is not None:
            profiler.stop()
        patches = _since(status_patches(kubeconfig), patches_before)
        calls = rds_calls(sim.calls())
        transitions = sim.transitions()
    finally:
        watch.stop()
        if profiler is not None:
            profiler.stop()
        operator.stop()
        sim.stop()
    rates, (mean_total, peak_total, windows) = _window_rates(calls, t0, t1)
    writes, duplicates = measures.rds_writes(calls)
    cycle = Timing.compressed(factor).read_cycle
    lags = status_lags(transitions, watch, cluster_of_upgrade)
    outcomes = Counter(c["outcome"] for c in calls if c["outcome"] != "ok")
    run = FleetRun(
        n=n,
        completed=completed,
        seconds=t1 - t0,
        finished=completed == n,
        first_status_seconds=None if first is None else first - t0,
        rates=rates,
        total_rate=(mean_total, peak_total),
        throttled=sum(count for code, count in outcomes.items() if "Throttl" in code),
        errors=dict(outcomes),
        peak_rss_mib=peak,
        cpu_seconds=cpu,
        lags=[lag for by_change in lags.values() for lag in by_change],
        lags_by_change=lags,
        timeline=[(i * WINDOW_SECONDS, count) for i, count in enumerate(windows)],
        rss=rss,
        phases=phases,
        reconciles=reconciles,
        sim_cpu_seconds=sim_cpu,
        operator_exit=exited,
        control_plane_cpu_seconds=plane_cpu if control_plane else None,
        machine_busy_percent=100 * (busy_after - busy_before) / (all_after - all_before),
        writes=writes,
        duplicates=duplicates,
        per_cycle=measures.calls_per_cycle([c for c in calls if t0 <= _epoch(c["time"]) <= t1], cycle),
        status_writes=[measures.status_writes(watch.statuses.get(name, [])) for name in cluster_of_upgrade],
        status_patches=patches,
        read_cycle_seconds=cycle,
        profile=profile.name if profile and profile.exists() else "",
        profile_note=profiler.note if profiler else "",
    )
    log(
        f"B2 N={n}: {completed}/{n} Completed in {run.seconds:.0f} s, {mean_total:.1f} calls/s "
        f"(peak {peak_total:.1f}), peak RSS {peak:.0f} MiB, CPU {cpu:.0f} s, {reconciles} reconciles, "
        f"simulator CPU {sim_cpu:.0f} s, phases {phases}, operator exit {exited}"
    )
    return run


# ---------------------------------------------------------------------------------------- B3


@dataclass
class Idle:
    upgrades: int
    settle_seconds: float  # from start until the measured window began
    rss_mib: float
    peak_rss_mib: float
    cpu_percent: float  # of one core, over the window
    window_seconds: float
    # A second operator, started after the first stopped (see run_idle).
    restarted: bool = False
    finalized: int = 0  # of the upgrades, those carrying the operator's finalizer at the end

    @property
    def title(self) -> str:
        return f"{self.upgrades} finished" + (", operator restarted" if self.restarted else "")


def _completed_status() -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "status": {
            "phase": "Completed",
            "reason": "Completed",
            "message": "Upgraded before the benchmark",
            "observedGeneration": 1,
            "startedAt": now,
            "phaseStartedAt": now,
        }
    }


def run_idle(
    workdir: Path,
    kubeconfig: Path,
    endpoint_url: str,
    finished: int,
    window: float,
    settle_cap: float,
    log: Log,
    restarted: bool = False,
) -> Idle:
    """The operator at the default poll interval, watching `finished` Completed upgrades: RSS and
    CPU over `window` seconds once it has settled (its CPU over 5 s below 2 % of a core). The
    upgrades are created with a status only, never seen by an operator; a finished upgrade carries
    no finalizer (deleting it changes nothing in AWS), and `finalized` counts those that do at the
    end. `restarted` measures a second operator started after that one, in the same namespace: an
    operator restarted beside the upgrades it finished."""
    namespace = f"bench-b3-{finished}"
    if not restarted:
        create_namespace(kubeconfig, namespace)
        api = kube(kubeconfig)
        for i in range(1, finished + 1):
            name = f"finished-{i:04d}"
            api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, upgrade_manifest(name, namespace, f"finished-cluster-{i:04d}")
            )
            api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, _completed_status())
    operator_log = workdir / f"b3-{finished}{'-restarted' if restarted else ''}-operator.log"
    operator = Operator(kubeconfig, endpoint_url, operator_log, 30.0, namespace)
    try:
        wait_until_started(operator, operator_log)
        previous = operator.now()
        while time.time() - operator.started < settle_cap:
            time.sleep(5)
            sample = operator.now()
            if (sample.cpu_seconds - previous.cpu_seconds) / (sample.at - previous.at) < 0.02:
                break
            previous = sample
        settle = time.time() - operator.started
        start = operator.now()
        time.sleep(window)
        end = operator.now()
        peak = operator.peak_rss_mib()
    finally:
        operator.stop()
    listed = kube(kubeconfig).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    finalized = sum(FINALIZER in (u["metadata"].get("finalizers") or []) for u in listed)
    idle = Idle(
        upgrades=finished,
        settle_seconds=settle,
        rss_mib=end.rss_mib,
        peak_rss_mib=peak,
        cpu_percent=100 * (end.cpu_seconds - start.cpu_seconds) / (end.at - start.at),
        window_seconds=end.at - start.at,
        restarted=restarted,
        finalized=finalized,
    )
    log(f"B3 idle with {idle.title}: RSS {idle.rss_mib:.0f} MiB, CPU {idle.cpu_percent:.1f} %")
    return idle


def first_reconcile(workdir: Path, kubeconfig: Path, endpoint_url: str) -> float:
    """Seconds from launching the operator until the status of an upgrade waiting for it shows a
    phase (its first reconcile), at the default poll interval."""
    namespace = "bench-b3-first"
    create_namespace(kubeconfig, namespace)
    kube(kubeconfig).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, upgrade_manifest(NAME, namespace, RUNBOOK_CLUSTER)
    )
    watch = PhaseWatch(kubeconfig, namespace)
    time.sleep(1)  # the watch has listed the upgrade, before the operator's first status, before it starts
    operator = Operator(kubeconfig, endpoint_url, workdir / "b3-first-operator.log", 30.0, namespace)
    try:
        deadline = time.monotonic() + 120
        while (first := watch.first_seen()) is None:
            if time.monotonic() > deadline or not operator.alive():
                raise RuntimeError("the operator never reconciled the upgrade")
            time.sleep(0.02)
    finally:
        operator.stop()
        watch.stop()
    return first - operator.started


# ---------------------------------------------------------------------------------------- B4

# Issue 20 holds the operator to what still upgrades cost: with the SQS source, at most this many
# RDS calls/s (real time) while no AWS resource of an upgrade changes.
HELD_TARGET = 0.1
# The time scale of the held runs: every interval of the operator's compresses by it alike
# (measures.compresses_uniformly), so one factor scales their rate back to real time.
HELD_SCALE = 0.2
# How fast the simulated AWS brings the held upgrades to their gate: AWS's own time there is not
# measured, only the still window after it.
HELD_AWS_SCALE = 0.01
MANUAL_SWITCHOVER = {"mode": "Manual", "timeoutSeconds": 300, "snapshotBeforeSwitchover": True}


@dataclass
class Held:
    """N upgrades held at a Manual gate (AwaitingApproval), nothing of theirs changing in AWS: the
    RDS calls the operator made over a window, with one event source."""

    n: int
    source: str  # DescribeEvents (the feed) or SQS
    scale: float  # the operator's time scale
    window_seconds: float  # measured, at that scale
    calls: dict[str, int]  # RDS calls in the window, by operation
    receives: int  # SQS ReceiveMessage calls in the window (no RDS calls)
    changes: int  # simulated AWS state changes in the window: 0, or the window was not still
    held: int  # upgrades still at AwaitingApproval at the window's end
    reach_seconds: float  # from the operator's start until all were held
    # Of the RDS calls, the continuation pages (a Marker): once a minute the feed re-reads a few
    # minutes of events (event_feed.OVERLAP, not compressed), which at a compressed scale hold more.
    pages: int = 0

    @property
    def real_rate(self) -> float:
        """RDS calls/s over the window, in real time."""
        return measures.real_time_rate(self.calls, self.window_seconds, self.scale)

    @property
    def still(self) -> bool:
        """Nothing changed in AWS over the window and every upgrade stayed held."""
        return self.changes == 0 and self.held == self.n

    @property
    def real_window_seconds(self) -> float:
        return self.window_seconds / self.scale


@dataclass
class _HeldSide:
    source: str
    namespace: str
    sim: Sim
    operator: Operator
    watch: PhaseWatch


def _reasons(watch: PhaseWatch) -> Counter[str]:
    return Counter(
        str((obj.get("status") or {}).get("reason"))
        for obj in list(watch.objects.values())
        if (obj.get("status") or {}).get("observedGeneration")
    )


def run_held(workdir: Path, kubeconfig: Path, n: int, safety_intervals: float, log: Log) -> list[Held]:
    """N upgrades of the example with `switchover.mode: Manual` brought to AwaitingApproval, once
    with the DescribeEvents feed and once with the SQS source, side by side (each its own simulator,
    namespace and operator, so each call record is its source's alone); then the RDS calls of
    `safety_intervals` of the operator's safety interval, the pace of an upgrade waiting on a person."""
    timing = Timing.compressed(HELD_SCALE)
    if not measures.compresses_uniformly(HELD_SCALE):
        raise ValueError(f"at {HELD_SCALE} the operator's intervals do not all compress alike")
    sides: list[_HeldSide] = []
    try:
        for source in ("DescribeEvents", "SQS"):
            namespace = f"bench-b4-{n}-{source.lower()}"
            create_namespace(kubeconfig, namespace)
            queue = ["--event-queue", EVENT_QUEUE] if source == "SQS" else []
            sim = Sim(workdir / f"b4-{n}-{source}-sim.log", ["--fleet", str(n), "--scale", str(HELD_AWS_SCALE), *queue])
            api = kube(kubeconfig)
            for i in range(1, n + 1):
                manifest = upgrade_manifest(f"held-{i:04d}", namespace, fleet_cluster(i))
                manifest["spec"]["switchover"] = dict(MANUAL_SWITCHOVER)
                api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
            watch = PhaseWatch(kubeconfig, namespace)
            env = _queue_env(sim) if source == "SQS" else {}
            operator = Operator(
                kubeconfig, sim.endpoint_url, workdir / f"b4-{n}-{source}.log", timing.poll, namespace, env=env
            )
            sides.append(_HeldSide(source, namespace, sim, operator, watch))
        deadline = time.monotonic() + 300
        while not all(_reasons(side.watch)["AwaitingApproval"] == n for side in sides):
            if time.monotonic() > deadline or not all(side.operator.alive() for side in sides):
                raise RuntimeError(f"the upgrades were not all held: {[_reasons(s.watch) for s in sides]}")
            time.sleep(0.5)
        reached = time.time()
        # The last arrival's own follow-up looks are over within a few quick intervals; from then
        # on every look is a safety poll.
        time.sleep(2 * timing.quick)
        start = time.time()
        time.sleep(safety_intervals * timing.safety)
        end = time.time()
        held = []
        for side in sides:
            calls = side.sim.calls()
            window = measures.calls_in(calls, start, end)
            rds = [c for c in rds_calls(calls) if start <= _epoch(c["time"]) <= end]
            changes = [t for t in side.sim.transitions() if start <= _epoch(t["time"]) <= end]
            held.append(
                Held(
                    n=n,
                    source=side.source,
                    scale=HELD_SCALE,
                    window_seconds=end - start,
                    calls=calls_by_operation(rds),
                    receives=window.get("ReceiveMessage", 0),
                    changes=len(changes),
                    held=_reasons(side.watch)["AwaitingApproval"],
                    reach_seconds=reached - side.operator.started,
                    pages=sum(1 for c in rds if "Marker" in c["params"]),
                )
            )
    finally:
        for side in sides:
            side.watch.stop()
            side.operator.stop()
            side.sim.stop()
    for result in held:
        log(
            f"B4 {n} held ({result.source}): {sum(result.calls.values())} RDS calls in {result.window_seconds:.0f} s, "
            f"{result.real_rate:.3f} calls/s in real time, {result.receives} receives, {result.changes} AWS changes"
        )
    return held
