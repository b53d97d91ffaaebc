"""What the upgrades of one account and Region share in the operator: the read cycle their
looks are aligned to, and the RDS event feed that wakes them (docs/events.md). No kopf here.

Looks are aligned to the Region's tick (`Timing.read_cycle` twice over), with a random phase
per process and a small jitter per look, so the upgrades due in one tick ask their questions
within one read cycle and share one describe call per operation (rds.SharedDescribe).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping

from aurora_upgrade.config import Timing
from aurora_upgrade.resources import RdsEvent
from aurora_upgrade.upgrade import Upgrade

_PHASE = random.random()  # where this process's ticks fall, so two operators do not call in step


def tick(timing: Timing) -> float:
    return 2 * timing.read_cycle


def aligned(delay: float, now: float, timing: Timing, jitter: Callable[[], float] = random.random) -> float:
    """`delay` stretched to the next tick of the Region's grid, plus up to a tenth of a tick."""
    period = tick(timing)
    due = now + delay
    boundary = (math.ceil(due / period - _PHASE) + _PHASE) * period
    return max(0.0, boundary - now) + jitter() * period / 10


def resources_of(upgrade: Upgrade) -> frozenset[str]:
    """The AWS resources an upgrade waits on, as RDS events name them (lower-case identifiers)."""
    status = upgrade.status
    names = {
        upgrade.cluster,
        status.green_cluster_identifier,
        status.old_cluster_identifier,
        status.snapshot_identifier,
        status.blue_green_deployment_identifier,
    }
    return frozenset(n.lower() for n in names if n)


def woken_by(
    events: Iterable[RdsEvent],
    interest: Mapping[str, frozenset[str]],
    cluster_of_instance: Callable[[str], str | None],
) -> set[str]:
    """The upgrades (by reference) one of whose resources an event is about. An instance event
    wakes the upgrade of the instance's cluster."""
    woken: set[str] = set()
    for event in events:
        source = event.source_identifier.lower()
        if event.source_type == "db-instance":
            source = (cluster_of_instance(event.source_identifier) or source).lower()
        woken.update(ref for ref, names in interest.items() if source in names)
    return woken
