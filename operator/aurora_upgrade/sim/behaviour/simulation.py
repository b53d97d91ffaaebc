"""The running simulation: its delays, faults and call record, the one lock, and the clock."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..config import SimConfig
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


@dataclass
class Simulation:
    """What the patched backend needs besides moto's state: delays, faults, the record."""

    config: SimConfig
    recorder: CallRecorder
    faults: Faults = field(default_factory=Faults)
    roles: RoleTrust = field(default_factory=RoleTrust)
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

    def __init__(self) -> None:
        self._due: list[_Due] = []
        self._seq = itertools.count()

    def after(self, seconds: float, label: str, action: Callable[[datetime], None]) -> None:
        heapq.heappush(self._due, _Due(time.monotonic() + seconds, next(self._seq), label, action))

    def advance(self, now: float) -> None:
        wall_now = datetime.now(UTC)
        while self._due and self._due[0].at <= now:
            item = heapq.heappop(self._due)
            due = wall_now - timedelta(seconds=now - item.at)
            item.action(due)
            if _active is not None:
                _active.transitions.append({"label": item.label, "time": due.isoformat()})
