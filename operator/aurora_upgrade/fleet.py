"""What the upgrades of one account and Region share in the operator: the read cycle their
looks are aligned to, and the RDS event feed that wakes them (docs/events.md). No kopf here.

Looks are aligned to the Region's read cycles (`tick`, `cycle_of`), with a random phase per
process and a small jitter per look, so the upgrades due in one cycle ask their questions in it
and share one describe call per operation (rds.SharedDescribe).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aurora_upgrade.config import Timing
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import RdsEvent
from aurora_upgrade.upgrade import Upgrade

if TYPE_CHECKING:
    from aurora_upgrade.rds import RdsGateway

_PHASE = random.random()  # where this process's ticks fall, so two operators do not call in step


def tick(timing: Timing) -> float:
    return timing.read_cycle


def cycle_of(moment: float, timing: Timing) -> int:
    """The Region's read cycle `moment` (time.time()) falls in."""
    return math.floor(moment / tick(timing) - _PHASE)


def share_reads(gateway: RdsGateway, timing: Timing, cycles: Callable[[float], int] | None = None) -> None:
    """Let the Region's gateway answer its upgrades from shared reads: the four describes once
    per read cycle (`cycles`, the Region's by default), events from the feed while it is
    recent, and the prechecks' questions about engine versions once per safety interval and
    about parameter groups once per event interval (a person may be fixing one)."""
    gateway.share_reads(
        cycles or (lambda moment: cycle_of(moment, timing)),
        forget_after=3 * timing.safety,
        events_fresh_for=3 * timing.events,
        catalog_fresh_for=timing.safety,
        parameters_fresh_for=timing.events,
    )


def aligned(delay: float, now: float, timing: Timing, jitter: Callable[[], float] = random.random) -> float:
    """`delay` stretched to the next tick of the Region's grid, plus up to a tenth of a tick."""
    period = tick(timing)
    due = now + delay
    boundary = (math.ceil(due / period - _PHASE) + _PHASE) * period
    return max(0.0, boundary - now) + jitter() * period / 10


# The phases whose looks find the previous production by its resource id (after the switchover).
_PREVIOUS_PRODUCTION_READ = frozenset({Phase.SWITCHING_OVER, Phase.CLEANING_UP})


@dataclass(frozen=True)
class Resources:
    """The AWS resources an upgrade waits on."""

    clusters: tuple[str, ...]
    deployments: tuple[str, ...]
    snapshots: tuple[str, ...]
    deployment_names: tuple[str, ...] = ()  # asked about by name until AWS gave an identifier
    cluster_resource_ids: tuple[str, ...] = ()  # the previous production, found by its resource id

    def names(self) -> frozenset[str]:
        """As RDS events name them (lower-case identifiers)."""
        return frozenset(n.lower() for n in (*self.clusters, *self.deployments, *self.snapshots))


def resources_of(upgrade: Upgrade) -> Resources:
    status = upgrade.status
    clusters = (upgrade.cluster, status.green_cluster_identifier, status.old_cluster_identifier)
    return Resources(
        clusters=tuple(c for c in clusters if c),
        deployments=tuple(d for d in (status.blue_green_deployment_identifier,) if d),
        snapshots=(upgrade.snapshot_identifier,),
        deployment_names=() if status.blue_green_deployment_identifier else (upgrade.deployment_name,),
        cluster_resource_ids=tuple(
            r for r in (status.source_cluster_resource_id,) if r and status.phase in _PREVIOUS_PRODUCTION_READ
        ),
    )


def expect(gateway: RdsGateway, resources: Resources, cycle: int | None = None) -> None:
    """Have the Region's shared call of read cycle `cycle` (None: the next call, for an upgrade an
    event woke) ask about what an upgrade looking in it reads: `resources`."""
    gateway.expect(
        resources.clusters,
        resources.deployments,
        resources.snapshots,
        cycle,
        named=resources.deployment_names,
        resource_ids=resources.cluster_resource_ids,
    )


def woken_by(
    events: Iterable[RdsEvent],
    interest: Mapping[str, frozenset[str]],
    cluster_of_instance: Callable[[str], str | None],
) -> set[str]:
    """The upgrades (by reference) one of whose resources an event is about. An instance event
    wakes the upgrade of the instance's cluster."""
    events = list(events)
    if not events:
        return set()
    refs_of: dict[str, set[str]] = {}  # a resource's name -> the upgrades waiting on it
    for ref, names in interest.items():
        for name in names:
            refs_of.setdefault(name, set()).add(ref)
    woken: set[str] = set()
    for event in events:
        source = event.source_identifier.lower()
        if event.source_type == "db-instance":
            source = (cluster_of_instance(event.source_identifier) or source).lower()
        woken.update(refs_of.get(source, ()))
    return woken
