"""The running simulation: its delays, faults and call record, the one lock, and the clock."""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import DatabaseEndpoint, DatabaseEndpoints, FaultConfig, Happening, SimConfig
from ..recorder import CallRecorder


@dataclass
class Faults:
    """Failures a scenario asks for that no request parameter can cause.

    switchover_fails: the switchover ends in SWITCHOVER_FAILED (AWS rolled it back).
    provisioning_fails: the deployment ends in PROVISIONING_FAILED instead of AVAILABLE.
    invalid_configuration: the deployment ends in INVALID_CONFIGURATION (as with a source AWS
        finds unfit only once it tries to replicate from it).
    reboot_hangs: a rebooted instance stays `rebooting`.
    snapshot_hangs: a manual cluster snapshot stays `creating`.
    """

    switchover_fails: bool = False
    provisioning_fails: bool = False
    invalid_configuration: bool = False
    reboot_hangs: bool = False
    snapshot_hangs: bool = False


@dataclass(frozen=True)
class RoleTrust:
    """What the simulated roles' trust policies allow.

    refused: role ARNs whose trust policy does not trust the caller.
    external_ids: role ARN -> the `sts:ExternalId` its trust policy requires.
    Any other role trusts every caller, as moto does.
    """

    refused: frozenset[str] = frozenset()
    external_ids: Mapping[str, str] = field(default_factory=dict)

    def allows(self, role_arn: str, external_id: str | None) -> bool:
        if role_arn in self.refused:
            return False
        required = self.external_ids.get(role_arn)
        return required is None or external_id == required


class AwsFaults:
    """AWS's own faults in a running simulation (FaultConfig's events, switchover rollbacks,
    happenings and clock offset): what has been decided and what is still to come.

    Each event's fate (dropped, or listed late) is drawn once, in the order AWS recorded the
    events, from a random stream seeded with the fault seed, so a run with the same seed and the
    same story drops the same events.
    """

    def __init__(self, config: FaultConfig, default_cluster: str | None = None) -> None:
        self.config = config
        self.offset = timedelta(seconds=config.clock_offset_seconds)
        self.default_cluster = default_cluster
        self.rollbacks_left = config.switchover_rollbacks
        self._random = random.Random(f"aws-events-{config.seed}")
        self._occurrences = [0] * len(config.happenings)
        # What AWS's own faults did so far: events dropped and listed late, switchovers
        # rolled back, what someone else did (by kind).
        self.met: dict[str, int] = {}

    def count(self, what: str) -> None:
        self.met[what] = self.met.get(what, 0) + 1

    def now(self) -> datetime:
        """AWS's clock."""
        return datetime.now(UTC) + self.offset

    def event_fate(self, source_type: str, categories: list[str]) -> tuple[bool, float]:
        """(dropped, seconds after its Date before DescribeEvents lists it) of a new event."""
        dropped, late = False, 0.0
        if self.config.event_drops:
            rule = _first(self.config.event_drops, source_type, categories)
            dropped = self._random.random() < (rule.rate if rule else 0.0)
        if self.config.late_events:
            rule = _first(self.config.late_events, source_type, categories)
            if self._random.random() < (rule.rate if rule else 0.0):
                late = self.config.late_event_seconds
        if dropped:
            self.count("events dropped")
        elif late:
            self.count("events late")
        return dropped, late

    def take_rollback(self) -> bool:
        """Whether AWS cancels the switchover just started (the first N are)."""
        if self.rollbacks_left <= 0:
            return False
        self.rollbacks_left -= 1
        self.count("switchovers rolled back")
        return True

    def due_at_transition(self, label: str) -> list[Happening]:
        return self._due(lambda h: h.at_transition(label))

    def due_after_call(self, operation: str) -> list[Happening]:
        return self._due(lambda h: h.moment == operation)

    def _due(self, at: Callable[[Happening], bool]) -> list[Happening]:
        due = []
        for n, happening in enumerate(self.config.happenings):
            if at(happening):
                self._occurrences[n] += 1
                if self._occurrences[n] == happening.nth:
                    due.append(happening)
        return due


def _first(rules: Any, source_type: str, categories: list[str]) -> Any:
    return next((rule for rule in rules if rule.matches(source_type, categories)), None)


@dataclass
class Simulation:
    """What the patched backend needs besides moto's state: delays, faults, the record."""

    config: SimConfig
    recorder: CallRecorder
    faults: Faults = field(default_factory=Faults)
    roles: RoleTrust = field(default_factory=RoleTrust)
    aws: AwsFaults = field(default_factory=lambda: AwsFaults(FaultConfig()))
    # The database servers the clusters' endpoints answer (`--database-endpoint`).
    databases: DatabaseEndpoints = field(default_factory=DatabaseEndpoints)
    # The account's quota of DB clusters per Region (AWS's default is 40), None for no limit: a
    # CreateBlueGreenDeployment whose green would pass it is refused.
    cluster_quota: int | None = None
    # Every delayed transition applied, {"label", "time" (when it was due, ISO 8601 UTC)}: how
    # a benchmark tells when AWS changed a state, to compare with when a client saw it.
    transitions: list[dict[str, str]] = field(default_factory=list)
    # One lock for every request: moto's models are not thread-safe, and a request must
    # see the timeline advanced exactly up to its own arrival.
    lock: threading.RLock = field(default_factory=threading.RLock)


_active: Simulation | None = None


def activate(simulation: Simulation) -> None:
    """Make `simulation` the one every simulated backend answers for.

    moto keeps its state in process-wide registries, so one simulation runs per process.
    """
    global _active
    if _active is not None:
        raise RuntimeError("a simulated RDS is already running in this process (moto's state is global)")
    _active = simulation


def deactivate() -> None:
    global _active
    _active = None


def active() -> Simulation:
    if _active is None:
        raise RuntimeError("no simulated RDS is installed")
    return _active


def database_endpoint(side: str) -> DatabaseEndpoint | None:
    """The database server behind the clusters of `side`, if the running simulation names one."""
    return _active.databases.of(side) if _active is not None else None


@dataclass(order=True)
class _Due:
    """A transition due at monotonic time `at`; `label` names it for whoever debugs the heap."""

    at: float
    seq: int
    label: str = field(compare=False)
    action: Callable[[datetime], None] = field(compare=False)


class Timeline:
    """Delayed transitions, applied in due order when a request arrives.

    An action receives the wall-clock time it was due, so events carry the time the change
    happened rather than the time somebody looked.
    """

    def __init__(self, owner: Any = None) -> None:
        self._due: list[_Due] = []
        self._seq = itertools.count()
        # The backend whose transitions these are: what happens at a transition happens there.
        self.owner = owner

    def after(self, seconds: float, label: str, action: Callable[[datetime], None], since: float | None = None) -> None:
        """Apply `action` `seconds` after `since` (a time.monotonic(); default now)."""
        start = time.monotonic() if since is None else since
        heapq.heappush(self._due, _Due(start + seconds, next(self._seq), label, action))

    def advance(self, now: float) -> None:
        wall_now = datetime.now(UTC)
        while self._due and self._due[0].at <= now:
            item = heapq.heappop(self._due)
            due = wall_now - timedelta(seconds=now - item.at)
            item.action(due)
            if _active is not None:
                _active.transitions.append({"label": item.label, "time": due.isoformat()})
                if self.owner is not None:
                    # Timed from the transition itself: with no delay, before anyone looks again.
                    for happening in _active.aws.due_at_transition(item.label):
                        self.owner.schedule_happening(happening, since=item.at)
