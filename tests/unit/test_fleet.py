"""What upgrades of one Region share: read cycles, wake-ups by RDS events, and how soon each
looks again (the shared describes and the event feed themselves: test_gateway_shared_reads.py,
test_gateway_event_feed.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from aurora_upgrade import fleet
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import wait
from aurora_upgrade.decisions.pacing import next_look
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import RdsEvent

from .builders import BG_ID, CLUSTER_ID, GREEN_CLUSTER_ID, NOW, TIMING, make_spec, make_upgrade


@pytest.mark.parametrize("delay", [0.0, 0.3, 4.9, 5.0, 17.2])
def test_looks_start_at_a_cycle_boundary_no_earlier_than_asked(delay: float) -> None:
    now = 1_000_000.123
    waited = fleet.aligned(delay, now, TIMING, jitter=lambda: 0.0)
    assert waited >= delay - 1e-6
    assert waited < delay + fleet.tick(TIMING) + 1e-6
    start = now + waited
    assert fleet.cycle_of(start + 1e-6, TIMING) != fleet.cycle_of(start - 1e-6, TIMING)  # a boundary
    jittered = fleet.aligned(delay, now, TIMING, jitter=lambda: 0.999)
    assert fleet.cycle_of(now + jittered, TIMING) == fleet.cycle_of(start + 1e-6, TIMING)  # same cycle


@pytest.mark.parametrize("now", [1_000_000.0, 1_000_000.123, 1_000_003.9])
def test_the_feed_reads_its_lead_before_a_tick_and_its_woken_looks_join_that_tick(now: float) -> None:
    """The feed's next read is about its interval away and ends, if it takes no longer than
    its lead, before a tick: the looks it wakes look at that tick, in the cycle whose first
    shared call also serves the looks due there. A read that ended after a tick wakes at once."""
    period, lead = fleet.tick(TIMING), 0.1
    delay = fleet.feed_delay(now, TIMING, lead, jitter=lambda: 0.5)
    read_at = now + delay
    assert 0.9 * TIMING.feed_interval - period / 2 <= delay <= 1.1 * TIMING.feed_interval + period / 2
    tick_at = read_at + lead
    assert fleet.cycle_of(tick_at + 1e-6, TIMING) != fleet.cycle_of(tick_at - 1e-6, TIMING)  # a tick
    ended = read_at + lead / 2  # the read took half its lead
    woken = fleet.woken_at(ended, TIMING, jitter=lambda: 0.0)
    assert woken == pytest.approx(tick_at)
    assert fleet.cycle_of(woken + 1e-6, TIMING) == fleet.cycle_of(tick_at + 1e-6, TIMING)
    assert fleet.woken_at(tick_at + period / 10, TIMING) is None  # ended after the tick: at once
    assert fleet.woken_at(ended, TIMING, jitter=lambda: 0.999) < tick_at + period / 10


@pytest.mark.parametrize("timing", [Timing(), Timing.compressed(0.05), Timing.compressed(0.02)], ids=str)
def test_a_read_ending_in_its_lead_is_not_followed_by_another_at_once(timing: Timing) -> None:
    """Where the feed's interval is one read cycle (5 s at the default poll), a read that ended
    just before its tick waits about an interval for the next, whatever the jitter: before, a
    read ending in its lead was aimed at the same tick and read again at once."""
    period = fleet.tick(timing)
    lead = period / 4
    for ended_before_tick in (0.0, lead / 2, lead):
        for jitter in (0.0, 0.5, 0.999):
            tick_at = fleet.next_boundary(1_000_000.0, timing)
            now = tick_at - ended_before_tick
            delay = fleet.feed_delay(now, timing, lead, jitter=lambda j=jitter: j)
            assert delay >= 0.9 * timing.feed_interval - period / 2 > 0, (ended_before_tick, jitter, delay)
            read_ends = now + delay + lead
            assert fleet.next_boundary(read_ends - 1e-6, timing) == pytest.approx(read_ends, abs=1e-6)  # a tick


def test_events_wake_the_upgrades_they_are_about() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    interest = {"ns/a": frozenset({CLUSTER_ID, BG_ID.lower()}), "ns/b": frozenset({"other-cluster"})}
    events = [
        RdsEvent(BG_ID, "blue-green-deployment", "Switchover completed on blue/green deployment.", at),
        RdsEvent("other-instance-1", "db-instance", "DB instance restarted", at),
    ]

    woken = fleet.woken_by(events, interest, {"other-instance-1": "other-cluster"}.get)

    assert woken == {"ns/a", "ns/b"}
    assert fleet.woken_by([], interest, lambda _i: None) == set()


def test_an_upgrade_waits_on_its_clusters_deployment_and_snapshot() -> None:
    """Events about any of them wake it; its next look in SwitchingOver reads both sides."""
    upgrade = make_upgrade(
        Phase.SWITCHING_OVER,
        make_spec(),
        blue_green_deployment_identifier=BG_ID,
        green_cluster_identifier=GREEN_CLUSTER_ID,
    )
    resources = fleet.resources_of(upgrade)
    assert resources.names == {n.lower() for n in (CLUSTER_ID, GREEN_CLUSTER_ID, BG_ID, upgrade.snapshot_identifier)}
    assert resources.reads.clusters == resources.reads.instances_of == (CLUSTER_ID, GREEN_CLUSTER_ID)
    assert resources.reads.deployments == (BG_ID,)
    assert resources.reads.snapshots == (upgrade.snapshot_identifier,)


@pytest.mark.parametrize(
    ("reason", "seconds"),
    [
        # The evidence rules' quick looks: a switchover call's answer unknown, a reboot unconfirmed.
        pytest.param("SwitchoverRequested", TIMING.quick, id="switchover-answer-unknown-quick"),
        pytest.param("WaitingForReboot", TIMING.quick, id="reboot-quick"),
        pytest.param("CheckingEarlierReboot", TIMING.quick, id="reboot-unconfirmed-quick"),
        pytest.param("WaitingForRename", TIMING.quick, id="rename-quick"),
        # Where an RDS event usually ends the wait, the poll is only for a lost one.
        pytest.param("SwitchoverInProgress", TIMING.poll, id="switchover-completed-event-poll"),
        pytest.param("WaitingForSnapshot", TIMING.provisioning, id="snapshot-created-event-long"),
        pytest.param("DeletingBlueGreen", TIMING.provisioning, id="deployment-deleted-event-long"),
        pytest.param("ProvisioningGreen", TIMING.provisioning, id="provisioning-long"),
        pytest.param("AwaitingApproval", TIMING.safety, id="person-safety"),
        pytest.param("WaitingForGreen", TIMING.poll, id="other-poll"),
    ],
)
def test_waits_follow_the_phase(reason: str, seconds: float) -> None:
    upgrade = make_upgrade(Phase.SWITCHING_OVER, make_spec())
    assert next_look(upgrade, wait(reason, "waiting"), NOW, TIMING) == seconds


def test_aws_trouble_keeps_the_decisions_own_wait() -> None:
    """A wait that says something is wrong (a Warning) looks at the base poll, not at the pace
    of what it waited for: provisioning past its deadline is not looked at every 4 polls."""
    upgrade = make_upgrade(Phase.PROVISIONING_GREEN, make_spec())
    outcome = wait("ProvisioningGreenTimedOut", "AWS is provisioning the green environment (waited 6 h)")
    assert outcome.warning
    assert next_look(upgrade, outcome, NOW, TIMING) == TIMING.poll
    assert next_look(upgrade, wait("ProvisioningGreen", "provisioning"), NOW, TIMING) == TIMING.provisioning


def test_a_closed_window_looks_again_when_it_opens() -> None:
    window = {"days": ["Sat"], "start": "03:00", "end": "04:00", "timeZone": "UTC"}
    upgrade = make_upgrade(Phase.AWAITING_SWITCHOVER, make_spec(switchover={"window": window}))
    opening = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # a Saturday
    two_minutes_before = datetime(2026, 12, 5, 2, 58, tzinfo=UTC)
    outcome = wait("OutsideMaintenanceWindow", "the window is closed")

    assert next_look(upgrade, outcome, two_minutes_before, TIMING) == (opening - two_minutes_before).total_seconds()
    assert next_look(upgrade, outcome, datetime(2026, 12, 1, tzinfo=UTC), TIMING) == TIMING.safety


def test_intervals_derive_from_the_poll_interval() -> None:
    default = Timing()
    assert (default.events, default.quick, default.provisioning, default.safety) == (5.0, 10.0, 120.0, 300.0)
    assert default.read_cycle == 5.0
    fast = Timing.compressed(0.3 / 30)
    assert fast.events == 1.0  # at least a second between DescribeEvents calls
    assert fast.read_cycle == pytest.approx(0.1)


async def _serve(looks: fleet.Looks, label: str, urgency: fleet.Urgency, order: list[str], go: asyncio.Event) -> None:
    async with looks.turn(urgency):
        order.append(label)
        await go.wait()  # a look on its thread until the test lets it end


def test_a_woken_look_runs_before_queued_safety_polls() -> None:
    """With every turn taken and many polls queued, a look an RDS event woke is served next,
    whatever the number of polls ahead of it: its wait is the woken looks before it, not N."""

    async def scenario() -> tuple[list[str], int]:
        looks = fleet.Looks(slots=2, reserved=1)
        order: list[str] = []
        go = asyncio.Event()
        tasks = [asyncio.create_task(_serve(looks, f"poll-{i}", fleet.Urgency.POLL, order, go)) for i in range(50)]
        await asyncio.sleep(0)
        polls_at_once = len(order)  # polls never take the turn kept for woken looks
        tasks.append(asyncio.create_task(_serve(looks, "woken", fleet.Urgency.WOKEN, order, go)))
        await asyncio.sleep(0)
        go.set()
        await asyncio.gather(*tasks)
        return order, polls_at_once

    order, polls_at_once = asyncio.run(scenario())

    assert polls_at_once == 1
    assert order[:2] == ["poll-0", "woken"], order[:5]
    assert sorted(order[2:]) == sorted(f"poll-{i}" for i in range(1, 50))


def test_woken_looks_are_served_in_turn_and_polls_keep_their_order() -> None:
    async def scenario() -> list[str]:
        looks = fleet.Looks(slots=1, reserved=0)
        order: list[str] = []
        go = asyncio.Event()
        first = asyncio.create_task(_serve(looks, "running", fleet.Urgency.POLL, order, go))
        await asyncio.sleep(0)
        queued = [("poll-a", fleet.Urgency.POLL), ("woken-a", fleet.Urgency.WOKEN), ("poll-b", fleet.Urgency.POLL)]
        queued += [("woken-b", fleet.Urgency.WOKEN)]
        tasks = [asyncio.create_task(_serve(looks, label, urgency, order, go)) for label, urgency in queued]
        await asyncio.sleep(0)
        assert looks.queued() == 4
        go.set()
        await asyncio.gather(first, *tasks)
        return order

    assert asyncio.run(scenario()) == ["running", "woken-a", "woken-b", "poll-a", "poll-b"]


def test_a_look_cancelled_in_the_queue_gives_no_turn_away() -> None:
    """A daemon stopped while its look waits for a turn (its upgrade deleted) leaves the queue."""

    async def scenario() -> tuple[list[str], dict[fleet.Urgency, int]]:
        looks = fleet.Looks(slots=1, reserved=0)
        order: list[str] = []
        go = asyncio.Event()
        first = asyncio.create_task(_serve(looks, "running", fleet.Urgency.POLL, order, go))
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(_serve(looks, "stopped", fleet.Urgency.WOKEN, order, go))
        later = asyncio.create_task(_serve(looks, "later", fleet.Urgency.POLL, order, go))
        await asyncio.sleep(0)
        cancelled.cancel()
        go.set()
        await asyncio.gather(first, later)
        return order, looks.running

    order, running = asyncio.run(scenario())
    assert order == ["running", "later"]
    assert running == {fleet.Urgency.WOKEN: 0, fleet.Urgency.POLL: 0}
