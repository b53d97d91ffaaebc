"""The running simulation: its delays, faults and call record, the one lock, and the clock."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..config import SimConfig
from ..recorder import CallRecorder


@dataclass
class Faults:
    """Failures a scenario asks for that no request parameter can cause."""

    switchover_fails: bool = False


@dataclass
class Simulation:
    """What the patched backend needs besides moto's state: delays, faults, the record."""

    config: SimConfig
    recorder: CallRecorder
    faults: Faults = field(default_factory=Faults)
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
