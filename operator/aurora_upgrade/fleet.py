"""What the upgrades of one account and Region share in the operator: the read cycle their
looks are aligned to, and the RDS event feed that wakes them (docs/events.md). No kopf here.

Looks are aligned to the Region's read cycles (`tick`, `cycle_of`), with a random phase per
process and a small jitter per look, so the upgrades due in one cycle ask their questions in it
and share one describe call per operation (gateway.shared_reads.SharedDescribe).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from aurora_upgrade.config import Timing
from aurora_upgrade.engine import reads_of
from aurora_upgrade.resources import RdsEvent, Reads, named
from aurora_upgrade.upgrade import Upgrade

if TYPE_CHECKING:
    from aurora_upgrade.gateway.rds import RdsGateway

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
    gateway.share_answers(
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


def next_boundary(now: float, timing: Timing) -> float:
    """The first tick of the Region's grid after `now` (time.time())."""
    period = tick(timing)
    return (math.floor(now / period - _PHASE) + 1 + _PHASE) * period


def feed_delay(now: float, timing: Timing, lead: float, jitter: Callable[[], float] = random.random) -> float:
    """Seconds until the event feed's next read: about `timing.feed_interval` from `now`, and
    `lead` seconds before a tick of the grid, so the looks its events wake can join that tick's
    read cycle with the looks due in it (`woken_at`): one shared call per operation for both,
    where a read at a moment of its own woke looks that called again in a cycle already read."""
    due = now + timing.feed_interval * (0.9 + 0.2 * jitter())
    # The tick nearest `due + lead`: never one a read that just ended before it would read for
    # again at once (the feed's interval is often one read cycle).
    boundary = next_boundary(due + lead - tick(timing) / 2, timing)
    return max(0.0, boundary - lead - now)


def woken_at(now: float, timing: Timing, jitter: Callable[[], float] = random.random) -> float | None:
    """When the looks a feed read that ended at `now` wakes should look: at the next tick (plus
    the small jitter of a look due there) if the read ended before it, in the read's lead;
    None (at once) if it ended after a tick, whose looks have read already."""
    period = tick(timing)
    boundary = next_boundary(now, timing)
    if boundary - now > period / 2:
        return None
    return boundary + jitter() * period / 10


@dataclass(frozen=True)
class Resources:
    """What an upgrade waits on in AWS: what its next look reads (its stage's `Reads`), and the
    resources whose events wake it, all it knows of (a deployment may fail, or a person switch
    it over, while its next look would read only the deployment)."""

    reads: Reads
    names: frozenset[str]  # its clusters, deployment and snapshot, as RDS events name them (lower case)


def resources_of(upgrade: Upgrade) -> Resources:
    status = upgrade.status
    watched = named(
        upgrade.cluster,
        status.green_cluster_identifier,
        status.old_cluster_identifier,
        status.blue_green_deployment_identifier,
        upgrade.snapshot_identifier,
    )
    return Resources(reads=reads_of(upgrade), names=frozenset(n.lower() for n in watched))


def expect(gateway: RdsGateway, resources: Resources, cycle: int | None = None) -> None:
    """Have the Region's shared call of read cycle `cycle` (None: the next call, for an upgrade an
    event woke) ask about what an upgrade looking in it reads."""
    gateway.expect(resources.reads, cycle)


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


class Urgency(IntEnum):
    """Which looks go first: one AWS or a person asked for, before a safety poll."""

    WOKEN = 0  # an RDS event, a spec change, a new upgrade: something changed
    POLL = 1  # the phase's safety poll: probably nothing changed


@dataclass
class Looks:
    """The operator's looks, served by urgency rather than first in, first out (docs/design.md,
    "Looks by urgency"): a look takes one of `slots` turns (the reconcile threads) before it runs;
    woken looks go ahead of every queued safety poll, and polls together take at most
    `slots - reserved` turns, so a woken look waits for at most the woken looks before it and a
    running look to end, however many upgrades poll. In the event loop only."""

    slots: int
    reserved: int
    running: dict[Urgency, int] = field(default_factory=lambda: dict.fromkeys(Urgency, 0))
    _queued: list[tuple[Urgency, int, asyncio.Future[None]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    @contextlib.asynccontextmanager
    async def turn(self, urgency: Urgency) -> AsyncIterator[None]:
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queued, (urgency, next(self._order), granted))
        self._grant()
        try:
            await granted
        except asyncio.CancelledError:
            if not granted.cancelled():  # granted as it was cancelled: give the turn back
                self._release(urgency)
            raise
        try:
            yield
        finally:
            self._release(urgency)

    def queued(self) -> int:
        return sum(1 for *_, granted in self._queued if not granted.done())

    def _release(self, urgency: Urgency) -> None:
        self.running[urgency] -= 1
        self._grant()

    def _grant(self) -> None:
        while self._queued and sum(self.running.values()) < self.slots:
            urgency, _, granted = self._queued[0]
            if granted.done():  # cancelled while queued
                heapq.heappop(self._queued)
                continue
            if urgency == Urgency.POLL and self.running[Urgency.POLL] >= self.slots - self.reserved:
                return  # the polls' share is taken; only woken looks may have the rest
            heapq.heappop(self._queued)
            self.running[urgency] += 1
            granted.set_result(None)
