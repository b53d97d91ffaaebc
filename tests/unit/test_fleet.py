"""What upgrades of one Region share: read cycles, wake-ups by RDS events, one describe call
per operation and cycle (rds.SharedDescribe, with a recording fetch in place of AWS)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import ANY, Stubber

from aurora_upgrade import fleet
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import wait
from aurora_upgrade.decisions.pacing import next_look
from aurora_upgrade.phases import Phase
from aurora_upgrade.rds import _EVENT_OVERLAP, FILTER_VALUES_PER_CALL, RdsGateway, SharedDescribe, _chunks
from aurora_upgrade.resources import RdsEvent

from .builders import BG_ID, CLUSTER_ID, GREEN_CLUSTER_ID, NOW, TIMING, make_spec, make_upgrade


class Recording:
    """A describe that lists what it is asked for, and remembers each call's filter values."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, keys: list[str]) -> list[tuple[str, str]]:
        self.calls.append(keys)
        return [(k, f"item of {k}") for k in keys]


def shared(cycle: list[int]) -> tuple[SharedDescribe, Recording]:
    fetch = Recording()
    describe = SharedDescribe(fetch, forget_after=3600)
    describe.cycle_of = lambda _moment: cycle[0]
    return describe, fetch


def test_one_call_answers_every_question_of_a_cycle() -> None:
    cycle = [1]
    describe, fetch = shared(cycle)
    describe.want(["c-1", "c-2", "c-3"])

    assert [describe.get(k) for k in ("c-1", "c-2", "c-3", "c-1")] == [[f"item of c-{i}"] for i in (1, 2, 3, 1)]
    assert fetch.calls == [["c-1", "c-2", "c-3"]]

    cycle[0] = 2  # the next cycle asks AWS again: about what is asked now
    describe.get("c-2")
    assert fetch.calls[1:] == [["c-2"]]


def test_a_cycles_call_asks_about_what_is_due_in_it_not_the_whole_fleet() -> None:
    """Each upgrade says in which cycle it looks next; that cycle's one call covers the upgrades
    looking in it (and any whose cycle passed unasked), not those that look later."""
    cycle = [1]
    describe, fetch = shared(cycle)
    describe.want(["c-1"], cycle=2)
    describe.want(["c-2"])  # e.g. a deployment just created: the next call asks about it
    describe.want(["c-2"], cycle=5)  # ... and its upgrade's next look is in cycle 5: both count
    describe.want(["c-3"], cycle=4)

    cycle[0] = 2
    assert describe.get("c-1") == ["item of c-1"]
    assert fetch.calls == [["c-1", "c-2"]]

    cycle[0] = 3  # c-3's upgrade was woken early (an event): its look asks for it alone
    describe.want(["c-1"], cycle=6)
    describe.get("c-3")
    assert fetch.calls[1:] == [["c-3"]]

    cycle[0] = 5  # c-2's look; c-3 was asked in 3, so its look due in 4 is not asked for again
    describe.get("c-2")
    assert fetch.calls[2:] == [["c-2"]]

    cycle[0] = 7  # c-1 was due in 6 and nobody asked then: the next call carries it
    describe.get("c-9")
    assert fetch.calls[3:] == [["c-1", "c-9"]]


def test_forgetting_a_key_due_later_asks_for_it_in_the_next_call() -> None:
    cycle = [1]
    describe, fetch = shared(cycle)
    describe.want(["c-1"], cycle=1)
    describe.want(["c-2"], cycle=9)
    describe.forget("c-2")  # an event about c-2: its upgrade is woken and looks now
    describe.get("c-1")
    assert fetch.calls == [["c-1", "c-2"]]


def test_what_a_write_made_is_added_to_the_cycles_answer_without_asking_again() -> None:
    """A fleet creating its deployments in one cycle lists the Region's deployments once, not once
    per creation: each creation adds its deployment to the listing this cycle already holds."""
    describe, fetch = shared([1])
    describe.get("*")
    describe.add("*", "created")
    assert describe.get("*") == ["item of *", "created"] and len(fetch.calls) == 1


def test_a_written_resource_is_asked_again_in_the_same_cycle_and_the_others_are_not() -> None:
    describe, fetch = shared([1])
    describe.want(["c-1", "c-2"])
    describe.get("c-1")
    describe.forget("c-2")  # e.g. a reboot of c-2's instance, or an event about it

    describe.get("c-1")
    assert len(fetch.calls) == 1
    describe.get("c-2")
    assert fetch.calls[1:] == [["c-2"]]  # only what the cycle's answer no longer covers
    describe.get("c-1")
    assert len(fetch.calls) == 2
    assert (describe.last("c-1"), describe.last("c-2")) == (["item of c-1"], ["item of c-2"])


def test_a_write_forgets_without_waiting_for_a_call_under_way_and_that_call_does_not_cover_it() -> None:
    """A reboot (or the event feed) forgets what it changed while another thread's shared call is
    under way: it must not wait for that call (at N=100 every write queued behind the Region's
    describes), and the call's answer, asked before the write, must not count for it."""
    under_way, release = threading.Event(), threading.Event()

    class Blocking(Recording):
        def __call__(self, keys: list[str]) -> list[tuple[str, str]]:
            if not self.calls:
                under_way.set()
                release.wait(10)
            return super().__call__(keys)

    fetch = Blocking()
    describe = SharedDescribe(fetch, forget_after=3600)
    describe.cycle_of = lambda _moment: 1
    describe.want(["c-1", "c-2"])
    asker = threading.Thread(target=describe.get, args=("c-1",))
    asker.start()
    assert under_way.wait(10)

    writer = threading.Thread(target=lambda: (describe.forget("c-2"), describe.last("c-2")))
    writer.start()
    writer.join(10)
    finished_during_the_call = not writer.is_alive()
    release.set()
    asker.join(10)

    assert finished_during_the_call
    assert describe.get("c-1") == ["item of c-1"] and len(fetch.calls) == 1  # the others keep the answer
    assert describe.get("c-2") == ["item of c-2"] and len(fetch.calls) == 2  # the written one is asked again


def test_questions_waiting_past_forget_after_are_still_asked_and_shared() -> None:
    """Under throttling a question can wait for the lock longer than `forget_after` (another
    thread's retries hold it). Its key must stay in flight, or an existing cluster reads as gone:
    the ten-upgrades reliability run failed ClusterNotFound and InstanceNotFound this way."""
    release = threading.Event()

    class Blocking(Recording):
        def __call__(self, keys: list[str]) -> list[tuple[str, str]]:
            if not self.calls:
                release.wait(10)  # the first call is under way while the others ask
            return super().__call__(keys)

    fetch = Blocking()
    describe = SharedDescribe(fetch, forget_after=0.0)  # every registration is already too old
    describe.cycle_of = lambda _moment: 1
    answers: dict[str, list[str]] = {}

    def ask(key: str) -> None:
        answers[key] = describe.get(key)

    first = threading.Thread(target=ask, args=("c-1",))
    first.start()
    while not fetch.calls and first.is_alive() and not describe._lock.locked():
        time.sleep(0.01)
    waiting = [threading.Thread(target=ask, args=(key,)) for key in ("c-2", "c-3")]
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 10
    while len(describe._waiting) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in (first, *waiting):
        thread.join(10)

    assert answers == {key: [f"item of {key}"] for key in ("c-1", "c-2", "c-3")}
    assert fetch.calls == [["c-1"], ["c-2", "c-3"]]  # the two waiting questions share one call


def test_questions_that_waited_into_the_next_cycle_are_answered_by_the_call_they_waited_for() -> None:
    """Questions asked while a call is under way wait for the lock; when the cycle turns meanwhile,
    the first of them to get it calls for all of them, and that call, begun after they were
    asked, answers the others: they must not call in turn. At N=100 they did, one call per
    waiting thread (the same keys every 50 ms), and the Region's describes queued behind them."""
    release = threading.Event()

    class Blocking(Recording):
        def __call__(self, keys: list[str]) -> list[tuple[str, str]]:
            if not self.calls:
                release.wait(10)
            return super().__call__(keys)

    fetch = Blocking()
    describe = SharedDescribe(fetch, forget_after=3600)
    turn = [float("inf")]  # the moment cycle 1 ends
    describe.cycle_of = lambda moment: 1 if moment < turn[0] else 2
    answers: dict[str, list[str]] = {}

    def ask(key: str) -> None:
        answers[key] = describe.get(key)

    first = threading.Thread(target=ask, args=("c-1",))
    first.start()
    while not describe._lock.locked():
        time.sleep(0.01)
    waiting = [threading.Thread(target=ask, args=(f"c-{i}",)) for i in range(2, 6)]
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 10
    while len(describe._waiting) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    turn[0] = time.time()  # the cycle turns while they wait
    release.set()
    for thread in (first, *waiting):
        thread.join(10)

    assert answers == {f"c-{i}": [f"item of c-{i}"] for i in range(1, 6)}
    assert fetch.calls == [["c-1"], ["c-2", "c-3", "c-4", "c-5"]]


def test_unshared_every_question_is_a_call() -> None:
    fetch = Recording()
    describe = SharedDescribe(fetch, forget_after=3600)  # `aurora-upgrade run`: no cycles
    describe.get("c-1")
    describe.get("c-1")
    assert fetch.calls == [["c-1"], ["c-1"]]


def test_filter_values_go_in_chunks_aws_accepts() -> None:
    values = [f"c-{i}" for i in range(2 * FILTER_VALUES_PER_CALL + 1)]
    chunks = list(_chunks(values))
    assert [len(c) for c in chunks] == [FILTER_VALUES_PER_CALL, FILTER_VALUES_PER_CALL, 1]
    assert [v for chunk in chunks for v in chunk] == values


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
        pytest.param("SwitchoverInProgress", TIMING.quick, id="switchover-quick"),
        pytest.param("WaitingForReboot", TIMING.quick, id="reboot-quick"),
        pytest.param("ProvisioningGreen", TIMING.provisioning, id="provisioning-long"),
        pytest.param("AwaitingApproval", TIMING.safety, id="person-safety"),
        pytest.param("WaitingForSnapshot", TIMING.poll, id="other-poll"),
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


def test_the_feed_is_one_describe_events_call_for_every_source_type(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """The gateway against botocore's Stubber (which checks each request against the RDS model):
    no SourceType (one call, not four), from shortly before the last event seen; events of
    other source types are dropped, and one seen twice is reported once."""
    gateway, stubber = stubbed
    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    restarted = {
        "SourceIdentifier": "i-1",
        "SourceType": "db-instance",
        "Message": "DB instance restarted",
        "Date": datetime(2026, 12, 1, 10, 0, 3, tzinfo=UTC),
    }
    group = {**restarted, "SourceIdentifier": "g", "SourceType": "db-parameter-group", "Message": "Updated"}
    stubber.add_response("describe_events", {"Events": [restarted, group]}, {"StartTime": ANY, "MaxRecords": 100})
    stubber.add_response("describe_events", {"Events": [restarted]}, {"StartTime": ANY, "MaxRecords": 100})
    assert gateway.read_events(started) == []  # the feed starts now
    assert [e.source_identifier for e in gateway.read_events(started)] == ["i-1"]
    assert gateway.read_events(started) == []
    stubber.assert_no_pending_responses()


def test_the_feed_moves_on_with_time_and_with_events_of_any_source_type(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """The next read starts the overlap before the last event listed (of any source type: the
    account's snapshots, parameter groups too) or before the read itself, whichever is later.
    Kept at the last watched event, every read of a quiet spell (green provisioning) listed
    again all that came before it: at N = 10 the simulator's fleet made each read two pages."""
    gateway, stubber = stubbed
    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    later = started + timedelta(seconds=60)
    backup = {
        "SourceIdentifier": "rds:other-db-2026-12-01",
        "SourceType": "db-snapshot",
        "Message": "Automated snapshot created",
        "Date": later + timedelta(seconds=20),  # AWS's clock ahead of ours
    }

    def expect(start: datetime, events: list[dict[str, object]]) -> None:
        stubber.add_response("describe_events", {"Events": events}, {"StartTime": start, "MaxRecords": 100})

    expect(started - _EVENT_OVERLAP, [])  # nothing new: the next read starts from this one
    expect(later - 2 * _EVENT_OVERLAP, [backup])  # no upgrade's news, yet it moves the feed on
    expect(backup["Date"] - _EVENT_OVERLAP, [])  # type: ignore[operator]
    assert gateway.read_events(started) == []  # the feed starts now
    assert gateway.read_events(later) == []
    assert gateway.read_events(later + timedelta(seconds=1)) == []
    assert gateway.read_events(later + timedelta(seconds=2)) == []
    stubber.assert_no_pending_responses()
