"""What the runs' records mean, as pure functions over them (tests/unit/test_bench_measures.py):
percentiles, RDS writes per upgrade and their duplicates, rates scaled back to real time, describe
calls per read cycle per 100 resources asked about, status writes, and B1's added time per AWS
change with its extrapolation to AWS's real durations."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aurora_upgrade.config import Timing

# The example's RDS writes (examples/aurora-bg-upgrade-15-10.yaml, two instances): the spec's
# minimum, what issue 20 holds the operator to. Green's two reboots and production's two.
EXAMPLE_WRITES: dict[str, int] = {
    "CreateBlueGreenDeployment": 1,
    "RebootDBInstance": 4,
    "CreateDBClusterSnapshot": 1,
    "SwitchoverBlueGreenDeployment": 1,
    "DeleteBlueGreenDeployment": 1,
}
# The AWS changes an upgrade of the example waits through one after the other: provisioning,
# green's reboots (at once), the snapshot, the switchover, production's reboots (one at a time, so
# two), the deployment's deletion.
EXAMPLE_CHANGES = 7
# The describes the Region's upgrades share, one call per read cycle (gateway/rds.py); the others
# (the prechecks' and the event feed's) follow clocks of their own.
SHARED_DESCRIBES = frozenset(
    {"DescribeDBClusters", "DescribeDBInstances", "DescribeBlueGreenDeployments", "DescribeDBClusterSnapshots"}
)
# DescribeEvents' continuation pages (calls with a Marker), counted apart: how many there are
# follows how many events fall in the feed's windows, which are real seconds (event_feed's
# overlap and margin), so a compressed run crowds 1 / scale times more events into each.
EVENT_PAGES = "DescribeEvents (continuation pages)"
# A page of a describe: AWS's MaxRecords default.
PAGE = 100
_IDENTIFIERS = (
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "BlueGreenDeploymentIdentifier",
    "DBClusterSnapshotIdentifier",
)
_FILTER_NAME = re.compile(r"Filters\.Filter\.(\d+)\.Name$")
_FILTER_VALUE = re.compile(r"Filters\.Filter\.(\d+)\.Values\.Value\.\d+$")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).astimezone(UTC).timestamp()


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: Sequence[float]) -> float:
    return percentile(values, 99)


def is_write(operation: str) -> bool:
    return not operation.startswith(("Describe", "List"))


def _resource(call: Mapping[str, Any]) -> str:
    """What a write acts on, as AWS names it (identifiers are case-insensitive)."""
    params = call["params"]
    for name in (*_IDENTIFIERS, "BlueGreenDeploymentName", "Source"):
        if name in params:
            return str(params[name]).lower()
    return ""


def rds_writes(calls: Iterable[Mapping[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """The write calls by operation (every one sent, refused or not), and the duplicates: a
    write AWS carried out on a resource it had already carried out the same operation on."""
    sent: Counter[str] = Counter()
    done: Counter[tuple[str, str]] = Counter()
    for call in calls:
        if not is_write(call["operation"]):
            continue
        sent[call["operation"]] += 1
        if call.get("took_effect", call["outcome"] == "ok"):
            done[(call["operation"], _resource(call))] += 1
    duplicates = [f"{operation} {resource} x{count}" for (operation, resource), count in done.items() if count > 1]
    return dict(sorted(sent.items())), sorted(duplicates)


def real_time_factor(operation: str, scale: float) -> float:
    """By what a rate measured at time scale `scale` is multiplied to be what the same fleet
    would ask of AWS in real time: the ratio of the interval the operation follows, compressed to
    real. The event feed's interval and the read cycle have a 1 s floor (config.Timing), so at a
    small scale they compress less than the scale: scaling their calls by the scale alone would
    understate them. DescribeEvents' continuation pages (EVENT_PAGES) also scale by the scale:
    the feed's windows are real seconds, which a compressed run fills with more events."""
    run, real = Timing.compressed(scale), Timing()
    if operation == "DescribeEvents":
        return run.events / real.events
    if operation == EVENT_PAGES:  # fewer reads, and 1 / scale fewer events in each read's window
        return run.events / real.events * scale
    if operation in SHARED_DESCRIBES:
        return run.read_cycle / real.read_cycle
    return scale


def real_time_rates(rates: Mapping[str, float], scale: float) -> dict[str, float]:
    """Calls/s by operation, scaled back to real time (real_time_factor)."""
    return {operation: rate * real_time_factor(operation, scale) for operation, rate in rates.items()}


def compresses_uniformly(scale: float) -> bool:
    """Whether every interval of the operator's (config.Timing) is the real one times `scale`: no
    1 s floor bites, so a look's pace at the run's scale is the real pace, compressed. The held
    upgrades' reads follow the safety interval and the read cycle at once (looks of many upgrades
    due in one cycle share it), so their rate scales back by one factor only where both compress
    alike."""
    run, real = Timing.compressed(scale), Timing()
    pairs = ((run.events, real.events), (run.read_cycle, real.read_cycle), (run.quick, real.quick),
             (run.safety, real.safety), (run.provisioning, real.provisioning))  # fmt: skip
    return all(math.isclose(fast, slow * scale) for fast, slow in pairs)


def calls_in(calls: Iterable[Mapping[str, Any]], start: float, end: float) -> dict[str, int]:
    """The calls made from `start` to `end` (epoch seconds), by operation."""
    found = Counter(call["operation"] for call in calls if start <= epoch(call["time"]) <= end)
    return dict(sorted(found.items()))


def real_time_rate(calls: Mapping[str, int], seconds: float, scale: float) -> float:
    """`calls` (by operation) made over `seconds` at time scale `scale`, as calls/s in real time."""
    return sum(real_time_rates({op: count / seconds for op, count in calls.items()}, scale).values())


def asked_about(call: Mapping[str, Any]) -> tuple[str, frozenset[str]]:
    """The question a describe asks, as (operation and filter, the resources named): a call by
    identifier asks about one resource, a filtered call about its filter's values, an unfiltered
    one about every resource (empty set)."""
    params = call["params"]
    operation = call["operation"]
    for name in _IDENTIFIERS:
        if name in params:
            return f"{operation} ({name})", frozenset({str(params[name]).lower()})
    names = {match.group(1): value for key, value in params.items() if (match := _FILTER_NAME.match(key))}
    values = [(match.group(1), value) for key, value in params.items() if (match := _FILTER_VALUE.match(key))]
    if names:
        kind = ",".join(sorted(set(names.values())))
        return f"{operation} ({kind})", frozenset(str(value).lower() for _, value in values)
    return operation, frozenset()


def calls_per_cycle(
    calls: Iterable[Mapping[str, Any]], cycle_seconds: float, phases: int = 20
) -> dict[str, tuple[float, float, int]]:
    """Shared describe calls per question per read cycle per 100 resources asked about: for each
    question kind (asked_about), over the read cycles it was asked in, the mean and the worst of
    calls in the cycle / ceil(distinct resources asked in it / 100), and how many cycles. A
    perfectly shared describe makes 1.0. The operator places its cycles at a random phase of its
    own; of `phases` candidate phases, the one that explains the calls with the fewest cycles
    holding more than one call is taken (its own, give or take a look's small jitter)."""
    by_kind: dict[str, list[tuple[float, frozenset[str]]]] = defaultdict(list)
    for call in calls:
        if call["operation"] in SHARED_DESCRIBES:
            kind, resources = asked_about(call)
            by_kind[kind].append((epoch(call["time"]), resources))
    result: dict[str, tuple[float, float, int]] = {}
    for kind, asked in sorted(by_kind.items()):
        best: list[float] | None = None
        for step in range(phases):
            offset = step * cycle_seconds / phases
            cycles: dict[int, list[frozenset[str]]] = defaultdict(list)
            for at, resources in asked:
                cycles[math.floor((at - offset) / cycle_seconds)].append(resources)
            ratios = [len(held) / max(1, math.ceil(len(frozenset().union(*held)) / PAGE)) for held in cycles.values()]
            if best is None or sum(ratios) < sum(best):
                best = ratios
        assert best is not None
        result[kind] = (sum(best) / len(best), max(best), len(best))
    return result


def status_writes(statuses: Sequence[Mapping[str, Any] | None]) -> int:
    """How many writes of status a watch's successive views of one object show: each view whose
    status differs from the one before (a metadata-only change, the finalizer, is not one). Until
    the operator's first write the API server shows the CRD's default (observedGeneration 0)."""
    writes, before = 0, None
    for status in statuses:
        if status and status.get("observedGeneration") and status != before:
            writes += 1
        before = status
    return writes


def apiserver_requests(metrics_text: str, resource: str, verb: str, subresource: str = "") -> int:
    """Requests the API server served (apiserver_request_total in its /metrics) for `resource`
    and `subresource` with `verb`, every code and scope summed."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if (labels.get("resource"), labels.get("subresource", ""), labels.get("verb")) == (
            resource,
            subresource,
            verb,
        ):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def added_per_change(wall_seconds: float, aws_seconds: float, changes: int = EXAMPLE_CHANGES) -> float:
    """The operator's time beyond AWS's own durations, per AWS change it waited on."""
    return (wall_seconds - aws_seconds) / changes


def added_per_change_target(scale: float) -> float:
    """Issue 20's B1 target: half the event interval + 0.5 s (at the run's time scale)."""
    return Timing.compressed(scale).events / 2 + 0.5


def extrapolated_added_per_change(measured: float, scale: float) -> float:
    """`measured` at time scale `scale`, at AWS's real durations: what a change waits for the next
    look (on average half the event interval, which the scale compresses) taken out and put back
    at the real interval; the rest (the looks' and writes' own costs) does not scale."""
    return measured - Timing.compressed(scale).events / 2 + Timing().events / 2
