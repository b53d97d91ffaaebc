"""How long the simulated RDS operations take.

AWS takes tens of minutes to provision a green environment and minutes to switch over or
delete. The defaults keep the runbook's proportions at a scale its own AWS CLI loops (which
poll every 30 s) run as written against a plain `aurora-upgrade sim`: provisioning far the
longest, then switchover, snapshot, reboots; deletions take minutes, so step 9.2's wait loop
finds the instances still `deleting`. Tests and the demo pass their own short delays (a
preset for the demo, `demo_timing()`), and `scaled()` gives AWS's typical durations
multiplied by a factor.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import random
import re
from dataclasses import dataclass
from typing import Any

# Typical AWS durations in seconds, from the runbook (green provisioning "30 min to over an
# hour", switchover "a few minutes", sample output ~2 min) and AWS's user guide. They only
# serve as the base of `SimConfig.scaled`.
AWS_TYPICAL_SECONDS: dict[str, float] = {
    "provisioning_seconds": 1800.0,
    "switchover_seconds": 120.0,
    "reboot_seconds": 60.0,
    "snapshot_seconds": 300.0,
    "delete_seconds": 600.0,
    "not_found_after_create_seconds": 5.0,
}


@dataclass(frozen=True)
class SimConfig:
    """Delays of the simulated RDS API, in seconds (fractions allowed).

    provisioning_seconds: CreateBlueGreenDeployment stays PROVISIONING (green resources
        `creating`) this long, then AVAILABLE. An invalid configuration is reported after a
        quarter of it.
    switchover_seconds: SWITCHOVER_IN_PROGRESS lasts this long, then the renames happen.
    reboot_seconds: RebootDBInstance keeps the instance `rebooting` this long.
    snapshot_seconds: CreateDBClusterSnapshot keeps the snapshot `creating` this long.
    delete_seconds: instances, clusters and blue/green deployments stay `deleting` /
        DELETING this long before they disappear (a cluster deleted with its deployment's
        DeleteTarget waits for its instances first).
    not_found_after_create_seconds: right after CreateBlueGreenDeployment, describing the
        new deployment answers BlueGreenDeploymentNotFoundFault this long (eventual
        consistency, as seen on AWS).
    vary_seed: None (the default): every resource takes the durations above. A seed: each
        resource's provisioning, switchover, reboot, snapshot and deletion take the duration
        above times a factor drawn uniformly from [1 - vary_spread, 1 + vary_spread], seeded
        with the seed, the operation and the resource's name (`seconds()`), as real clusters of
        one fleet differ; the same seed gives the same durations.
    """

    # The runbook's 3.4 and 6.3 loops print a status every 30 s: provisioning shows a column of
    # PROVISIONING (its sample: 15 min; here 10), the switchover a few SWITCHOVER_IN_PROGRESS
    # (its sample: about 2 min), and the -old1 instances outlast a `wait db-instance-deleted` poll.
    provisioning_seconds: float = 600.0
    switchover_seconds: float = 120.0
    reboot_seconds: float = 30.0
    snapshot_seconds: float = 60.0
    delete_seconds: float = 180.0
    not_found_after_create_seconds: float = 1.0
    vary_seed: int | None = None
    vary_spread: float = 0.5

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_seconds") and value < 0:
                raise ValueError(f"{field.name} must be >= 0, got {value}")
        if not 0.0 <= self.vary_spread < 1.0:
            raise ValueError(f"vary_spread must be at least 0 and below 1, got {self.vary_spread}")

    def seconds(self, operation: str, resource: str) -> float:
        """How long `operation` (`provisioning`, `switchover`, `reboot`, `snapshot`, `delete`)
        takes for `resource`: `<operation>_seconds`, varied per resource when vary_seed is set.
        The name is taken without green's `-green-<suffix>` (random) and blue's `-old1`, so a
        resource keeps its durations across a run's renames and from one run to the next."""
        base: float = getattr(self, f"{operation}_seconds")
        if self.vary_seed is None:
            return base
        stable = _RENAMED.sub("", resource.lower())
        # A str seed is hashed with SHA-512: the same in every process, whatever PYTHONHASHSEED.
        draw = random.Random(f"{self.vary_seed}/{operation}/{stable}")
        return base * draw.uniform(1.0 - self.vary_spread, 1.0 + self.vary_spread)

    @classmethod
    def scaled(cls, factor: float) -> SimConfig:
        """AWS's typical durations multiplied by `factor` (e.g. 0.01: 30 min become 18 s)."""
        if factor <= 0:
            raise ValueError(f"scale factor must be > 0, got {factor}")
        durations: dict[str, Any] = {name: seconds * factor for name, seconds in AWS_TYPICAL_SECONDS.items()}
        return cls(**durations)

    @classmethod
    def demo_timing(cls) -> SimConfig:
        """Seconds in the runbook's proportions, short enough to watch a whole upgrade."""
        return cls(
            provisioning_seconds=15.0,
            switchover_seconds=4.0,
            reboot_seconds=2.0,
            snapshot_seconds=3.0,
            delete_seconds=3.0,
            not_found_after_create_seconds=1.0,
        )

    def with_overrides(self, **seconds: float | None) -> SimConfig:
        """This config with the given fields replaced; None values are ignored."""
        given: dict[str, Any] = {k: v for k, v in seconds.items() if v is not None}
        return dataclasses.replace(self, **given)


# What a blue/green deployment adds to a name: green's random suffix, blue's after switchover.
_RENAMED = re.compile(r"-green-[a-z0-9]{6}|-old1$")


# The RDS event source types the simulator emits (DescribeEvents' SourceType).
EVENT_SOURCE_TYPES = ("blue-green-deployment", "db-cluster", "db-instance", "db-cluster-snapshot")


@dataclass(frozen=True)
class EventRule:
    """The share of RDS events of one kind that AWS drops, or lists late (see FaultConfig).

    source_type: DescribeEvents' SourceType (`db-instance`, `blue-green-deployment`, ...) or `*`.
    category: one of the event's EventCategories (`availability`, `notification`, `failure`,
        `deletion`, `creation`, `backup`) or `*`.
    rate: the chance (0 to 1) that one such event meets the fault.

    Written `RATE`, `RATE:SOURCE_TYPE` or `RATE:SOURCE_TYPE/CATEGORY` on the command line.
    """

    rate: float
    source_type: str = "*"
    category: str = "*"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"an event rate must be between 0 and 1, got {self.rate}")
        if self.source_type not in ("*", *EVENT_SOURCE_TYPES):
            raise ValueError(f"unknown event source type {self.source_type!r}; known: {', '.join(EVENT_SOURCE_TYPES)}")

    def matches(self, source_type: str, categories: list[str]) -> bool:
        return self.source_type in ("*", source_type) and (self.category == "*" or self.category in categories)

    @classmethod
    def parse(cls, text: str) -> EventRule:
        rate, _, kind = text.partition(":")
        source_type, _, category = kind.partition("/")
        try:
            return cls(float(rate), source_type or "*", category or "*")
        except ValueError as error:
            raise ValueError(f"event rule {text!r}: {error} (RATE[:SOURCE_TYPE[/CATEGORY]])") from None


# How a lost answer reaches the client: the connection closed, or an HTTP 500 after the fact.
LOST_ANSWER_KINDS = ("reset", "500")


@dataclass(frozen=True)
class LostAnswer:
    """The answer to a chosen call is lost after AWS carried the call out.

    operation: the API operation (`RebootDBInstance`, `SwitchoverBlueGreenDeployment`, ...).
    resource: an fnmatch pattern on the call's resource identifier (DBInstanceIdentifier,
        DBClusterIdentifier, BlueGreenDeploymentIdentifier, DBClusterSnapshotIdentifier, or the
        Source of CreateBlueGreenDeployment), `*` for any.
    kind: `reset` (the connection closed before the answer) or `500` (HTTP 500 InternalFailure
        although the call took effect).
    times: how many matching calls lose their answer; after: how many matching calls that took
        effect are answered first. Only calls AWS carried out count: a refused call is answered.

    Written `OPERATION[=RESOURCE][,kind=500][,times=N][,after=N]` on the command line.
    """

    operation: str
    resource: str = "*"
    kind: str = "reset"
    times: int = 1
    after: int = 0

    def __post_init__(self) -> None:
        if self.kind not in LOST_ANSWER_KINDS:
            raise ValueError(f"a lost answer's kind is one of {', '.join(LOST_ANSWER_KINDS)}, got {self.kind!r}")
        if self.times < 1 or self.after < 0:
            raise ValueError(f"a lost answer needs times >= 1 and after >= 0, got {self.times} and {self.after}")

    def matches(self, operation: str, resource: str | None) -> bool:
        return operation == self.operation and fnmatch.fnmatchcase((resource or "").lower(), self.resource.lower())

    @classmethod
    def parse(cls, text: str) -> LostAnswer:
        head, *options = text.split(",")
        operation, _, resource = head.partition("=")
        fields: dict[str, str] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or key not in ("kind", "times", "after"):
                raise ValueError(f"lost answer {text!r}: unknown option {option!r} (kind=, times=, after=)")
            fields[key] = value
        try:
            return cls(
                operation=operation,
                resource=resource or "*",
                kind=fields.get("kind", "reset"),
                times=int(fields.get("times", 1)),
                after=int(fields.get("after", 0)),
            )
        except ValueError as error:
            raise ValueError(f"lost answer {text!r}: {error}") from None


# What someone else (a person in the console, Aurora Auto Scaling) does to the account.
HAPPENING_KINDS = ("delete-deployment", "add-reader", "remove-reader")
# A moment: a delayed transition of the simulator (`provisioned`, `switched-over`, `rebooted`,
# `snapshot-available`), or the Nth call of an operation that took effect (`RebootDBInstance#3`).
_MOMENT = re.compile(r"(?P<what>[A-Za-z-]+)(#(?P<nth>\d+))?(\+(?P<delay>\d+(\.\d*)?))?")
TRANSITION_MOMENTS = {
    "provisioned": " provisioned",
    "switched-over": " switched over",
    "rebooted": "reboot ",
    "snapshot-available": "snapshot ",
}


@dataclass(frozen=True)
class Happening:
    """Something AWS or someone else does to the account at a chosen moment.

    kind: `delete-deployment` (someone deletes the blue/green deployment, without DeleteTarget,
        as runbook step 9.1 done by hand in the console), `add-reader` (Aurora Auto Scaling adds
        a reader `application-autoscaling-<id>` to `cluster`), `remove-reader` (it removes the
        cluster's last-named reader).
    moment: `start` (the simulator's), a transition (`provisioned`, `switched-over`, `rebooted`,
        `snapshot-available`) or an operation whose call took effect (`RebootDBInstance`), each
        with `#N` for its Nth occurrence (default the first).
    delay: seconds after the moment.
    cluster: the cluster a reader is added to or removed from (by its name at that time); None:
        the scenario's first cluster.

    Written `KIND@MOMENT[#N][+SECONDS][,cluster=NAME]` on the command line.
    """

    kind: str
    moment: str
    nth: int = 1
    delay: float = 0.0
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in HAPPENING_KINDS:
            raise ValueError(f"a happening is one of {', '.join(HAPPENING_KINDS)}, got {self.kind!r}")
        if self.nth < 1 or self.delay < 0:
            raise ValueError(f"a happening needs #N >= 1 and a delay >= 0, got {self.nth} and {self.delay}")
        if not (self.moment == "start" or self.moment in TRANSITION_MOMENTS or self.moment[:1].isupper()):
            raise ValueError(
                f"a happening's moment is `start`, one of {', '.join(TRANSITION_MOMENTS)} or an API operation, "
                f"got {self.moment!r}"
            )

    def at_transition(self, label: str) -> bool:
        marker = TRANSITION_MOMENTS.get(self.moment)
        if marker is None:
            return False
        return label.startswith(marker) if marker.endswith(" ") else label.endswith(marker)

    @classmethod
    def parse(cls, text: str) -> Happening:
        head, *options = text.split(",")
        kind, sep, moment = head.partition("@")
        match = _MOMENT.fullmatch(moment)
        cluster = None
        for option in options:
            key, eq, value = option.partition("=")
            if key != "cluster" or not eq:
                raise ValueError(f"happening {text!r}: unknown option {option!r} (cluster=)")
            cluster = value
        if not sep or match is None:
            raise ValueError(f"happening {text!r}: expected KIND@MOMENT[#N][+SECONDS][,cluster=NAME]")
        try:
            return cls(
                kind=kind,
                moment=match["what"],
                nth=int(match["nth"] or 1),
                delay=float(match["delay"] or 0),
                cluster=cluster,
            )
        except ValueError as error:
            raise ValueError(f"happening {text!r}: {error}") from None


@dataclass(frozen=True)
class FaultConfig:
    """Faults the simulator injects into its answers, drawn from one seeded random stream.

    Each rate is the chance (0 to 1) that one API call meets that fault; at most one fault
    per call, tried in this order:

    throttle_rate: refused with `Throttling` or `ThrottlingException` (HTTP 400), not carried out.
    error_rate: refused with HTTP 500 `InternalFailure`, not carried out.
    lost_rate: carried out, then the connection is closed before the answer (the client
        sees a dropped connection; AWS's state has changed).
    slow_rate: answered after `slow_seconds` (carried out first, as AWS does with a slow answer).
    denied: operations always refused with `AccessDenied` (HTTP 403), not carried out.
    seed: the random stream's seed, so a run can be repeated call for call.

    What AWS itself does besides answering (each off by default; docs/simulator.md cites AWS):

    event_drops: RDS events never listed by DescribeEvents, per kind and rate (EventRule).
    late_events: RDS events listed only `late_event_seconds` after their Date.
    lost_answers: chosen calls whose answer is lost after they took effect (LostAnswer).
    switchover_rollbacks: the first N switchovers AWS cancels after they started:
        SWITCHOVER_IN_PROGRESS for `switchover_rollback_seconds`, then AVAILABLE again, nothing
        renamed, with the cancel events.
    happenings: what someone else does at a chosen moment (Happening).
    clock_offset_seconds: AWS's clock minus the client's: event Dates, DescribeEvents' window and
        the deployments' and snapshots' create times are on AWS's clock.
    The event decisions come from a random stream of their own, seeded with `seed` too.
    """

    seed: int = 0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    lost_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    denied: frozenset[str] = frozenset()
    event_drops: tuple[EventRule, ...] = ()
    late_events: tuple[EventRule, ...] = ()
    late_event_seconds: float = 30.0
    lost_answers: tuple[LostAnswer, ...] = ()
    switchover_rollbacks: int = 0
    switchover_rollback_seconds: float = 1.0
    happenings: tuple[Happening, ...] = ()
    clock_offset_seconds: float = 0.0

    def __post_init__(self) -> None:
        rates = ("throttle_rate", "error_rate", "lost_rate", "slow_rate")
        for name in rates:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if sum(getattr(self, name) for name in rates) > 1.0:
            raise ValueError("the fault rates add up to more than 1")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {self.slow_seconds}")
        for name in ("late_event_seconds", "switchover_rollback_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.switchover_rollbacks < 0:
            raise ValueError(f"switchover_rollbacks must be >= 0, got {self.switchover_rollbacks}")

    @property
    def any(self) -> bool:
        return bool(
            self.throttle_rate or self.error_rate or self.lost_rate or self.slow_rate or self.denied or self.of_aws
        )

    @property
    def of_aws(self) -> bool:
        """Whether any of AWS's own faults (events, lost answers, rollbacks, happenings, clock) is on."""
        return bool(
            self.event_drops
            or self.late_events
            or self.lost_answers
            or self.switchover_rollbacks
            or self.happenings
            or self.clock_offset_seconds
        )


# The two sides of a blue/green deployment whose database server the simulator can name.
DATABASE_SIDES = ("blue", "green")


@dataclass(frozen=True)
class DatabaseEndpoint:
    """A database server a simulated cluster's endpoint answers: its host and port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("a database endpoint needs a host")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"a database port must be between 1 and 65535, got {self.port}")


@dataclass(frozen=True)
class DatabaseEndpoints:
    """The database servers behind the simulated clusters, so a client connects to real ones
    (tests: local PostgreSQL servers) exactly as it would to Aurora, by the Endpoint and Port
    that DescribeDBClusters and DescribeDBInstances answer.

    blue: every cluster the scenario made (and its instances) answers this server.
    green: every green cluster a blue/green deployment creates (and its instances).
    A side left None keeps moto's made-up DNS names and the engine's default port.

    The server stays with the cluster it belongs to, as the data does: at switchover the
    names (and AWS's endpoint names with them) move, so production's name then answers the
    green server and the `-old1` cluster the blue one. Written `SIDE=HOST:PORT` on the
    command line.
    """

    blue: DatabaseEndpoint | None = None
    green: DatabaseEndpoint | None = None

    def of(self, side: str) -> DatabaseEndpoint | None:
        return self.blue if side == "blue" else self.green if side == "green" else None

    @property
    def any(self) -> bool:
        return self.blue is not None or self.green is not None

    def with_parsed(self, text: str) -> DatabaseEndpoints:
        """These endpoints with one more `SIDE=HOST:PORT` (an IPv6 host in brackets)."""
        side, sep, address = text.partition("=")
        host, colon, port = address.rpartition(":")
        if not (sep and colon and side in DATABASE_SIDES):
            sides = ", ".join(DATABASE_SIDES)
            raise ValueError(f"database endpoint {text!r}: wants SIDE=HOST:PORT, SIDE one of {sides}")
        try:
            endpoint = DatabaseEndpoint(host.strip("[]"), int(port))
        except ValueError as error:
            raise ValueError(f"database endpoint {text!r}: {error}") from None
        return dataclasses.replace(self, **{side: endpoint})

    @classmethod
    def parse(cls, texts: list[str]) -> DatabaseEndpoints:
        endpoints = cls()
        for text in texts:
            endpoints = endpoints.with_parsed(text)
        return endpoints
