"""The Region's RDS event feed (gateway.event_feed), through the gateway against botocore's
Stubber (which checks each request against the RDS model)."""

from __future__ import annotations

import collections
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from aurora_upgrade.gateway.event_feed import CLOCK_SKEW, DEEP_EVERY, OVERLAP, SHALLOW_MARGIN, EventFeed
from aurora_upgrade.gateway.rds import DESCRIBES_AT_ONCE, RdsGateway

from .builders import FakeClock


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
    """A whole read, every DEEP_EVERY, starts the overlap before the last event listed (of any
    source type: the account's snapshots, parameter groups too) or before the last whole read,
    whichever is later. Kept at the last watched event, every read of a quiet spell (green
    provisioning) listed again all that came before it: at N = 10 the simulator's fleet made
    each read two pages. The reads between start SHALLOW_MARGIN before the last event listed
    (AWS's clock) or the last read less CLOCK_SKEW (the operator's), whichever is later."""
    gateway, stubber = stubbed
    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    later = started + DEEP_EVERY
    backup = {
        "SourceIdentifier": "rds:other-db-2026-12-01",
        "SourceType": "db-snapshot",
        "Message": "Automated snapshot created",
        "Date": later + timedelta(seconds=20),  # AWS's clock ahead of ours
    }
    dated: datetime = backup["Date"]  # type: ignore[assignment]

    def expect(start: datetime, events: list[dict[str, object]]) -> None:
        stubber.add_response("describe_events", {"Events": events}, {"StartTime": start, "MaxRecords": 100})

    expect(started - CLOCK_SKEW - SHALLOW_MARGIN, [])  # between whole reads: from the last read
    expect(started - OVERLAP, [backup])  # whole: no upgrade's news, yet it moves the feed on
    expect(dated - SHALLOW_MARGIN, [])  # from the last event listed, AWS's clock being ahead
    expect(dated - OVERLAP, [])  # the next whole read, from that event
    quiet = later + DEEP_EVERY + timedelta(seconds=30)
    expect(dated - SHALLOW_MARGIN, [])
    expect(quiet - CLOCK_SKEW - SHALLOW_MARGIN, [])  # a quiet spell: from the last read
    expect(later + DEEP_EVERY - OVERLAP, [])  # whole, from the last whole read
    assert gateway.read_events(started) == []  # the feed starts now
    assert gateway.read_events(started + timedelta(seconds=5)) == []
    assert gateway.read_events(later) == []
    assert gateway.read_events(later + timedelta(seconds=5)) == []
    assert gateway.read_events(later + DEEP_EVERY) == []
    assert gateway.read_events(quiet) == []
    assert gateway.read_events(quiet + timedelta(seconds=10)) == []
    assert gateway.read_events(later + 2 * DEEP_EVERY) == []
    stubber.assert_no_pending_responses()


def test_restarts_are_read_from_the_feed_while_it_reads_regularly(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """While the feed's last read is recent, "has this instance restarted since?" is answered
    from its events; once it is older than the feed's freshness, DescribeEvents is asked."""
    _, stubber = stubbed
    clock = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp())
    gateway = RdsGateway(stubber.client, clock=clock)
    gateway.share_answers(lambda _moment: 0, forget_after=60, events_fresh_for=15)
    asked = datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC)
    restarted = {
        "SourceIdentifier": "i-1",
        "SourceType": "db-instance",
        "Message": "DB instance restarted",
        "Date": datetime(2026, 12, 1, 10, 0, 3, tzinfo=UTC),
    }
    stubber.add_response("describe_events", {"Events": [restarted]}, {"StartTime": ANY, "MaxRecords": 100})
    assert gateway.read_events() == []  # the feed starts at the clock's now
    clock.advance(5)
    assert [e.source_identifier for e in gateway.read_events()] == ["i-1"]

    clock.advance(15)
    assert gateway.instance_restarts_since("i-1", asked) == [restarted["Date"]]  # no call
    stubber.assert_no_pending_responses()

    clock.advance(1)  # the feed has not read for longer than its freshness
    stubber.add_response("describe_events", {"Events": [restarted]})
    assert gateway.instance_restarts_since("i-1", asked) == [restarted["Date"]]
    stubber.assert_no_pending_responses()


def _aws_listing(events: list[tuple[datetime, datetime]]) -> Any:
    """DescribeEvents as AWS answers it at `aws_now`: the events dated at or after StartTime
    that it lists by then (each `(date, listed from)`)."""

    def list_since(aws_now: datetime) -> Any:
        def answer(start: datetime) -> list[dict[str, object]]:
            return [
                {"SourceIdentifier": "i-1", "SourceType": "db-instance", "Message": f"m{n}", "Date": date}
                for n, (date, listed) in enumerate(events)
                if date >= start and listed <= aws_now
            ]

        return answer

    return list_since


def _reported(feed: EventFeed, events: list[tuple[datetime, datetime]], skew: timedelta) -> list[str]:
    """What a feed reading every 5 s for ten minutes reports, its clock `skew` ahead of AWS's."""
    listing, reported = _aws_listing(events), []
    aws_now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    for _ in range(120):
        new = feed.read(listing(aws_now), lambda _e: None, aws_now + skew)
        reported += [e.message for e in new]
        aws_now += timedelta(seconds=5)
    return reported


def test_the_feed_reports_an_event_aws_lists_two_minutes_after_its_date() -> None:
    """AWS may list an event after its Date: the feed's StartTime overlaps by minutes, and an
    event listed again within the overlap is reported once."""
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    dated = start + timedelta(seconds=62)
    events = [(dated, dated + timedelta(minutes=2)), (dated + timedelta(seconds=1), dated + timedelta(seconds=1))]
    assert sorted(_reported(EventFeed(), events, timedelta(0))) == ["m0", "m1"]


@pytest.mark.parametrize("skew", [timedelta(seconds=60), timedelta(seconds=-60)], ids=["ahead", "behind"])
def test_the_feed_tolerates_a_minute_of_clock_skew(skew: timedelta) -> None:
    """The operator's clock a minute ahead of AWS's (or behind it): every event is reported,
    once, also one AWS lists a minute late."""
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    events = [(start + timedelta(seconds=s), start + timedelta(seconds=s + late)) for s, late in ((33, 0), (91, 60))]
    assert sorted(_reported(EventFeed(), events, skew)) == ["m0", "m1"]


def test_each_event_is_listed_a_few_times_not_at_every_read_of_the_overlap() -> None:
    """A busy Region (an event every 5 s, a read every 5 s, ten minutes): every event reported
    once, and listed 8 times or fewer on average (shallow reads and the whole reads its date
    falls in), where listing the whole overlap at every read listed it 36 times (3 minutes /
    5 s), so pages a read grew with the fleet. The last events before a quiet spell are listed
    for CLOCK_SKEW + SHALLOW_MARGIN (AWS's clock may be a minute behind the operator's): 14
    reads at most."""
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    events = [(start + timedelta(seconds=5 * n + 2), start + timedelta(seconds=5 * n + 2)) for n in range(110)]
    listed: collections.Counter[str] = collections.Counter()
    listing = _aws_listing(events)

    def counted(aws_now: datetime) -> Any:
        def answer(since: datetime) -> list[dict[str, object]]:
            found: list[dict[str, object]] = listing(aws_now)(since)
            listed.update(str(e["Message"]) for e in found)
            return found

        return answer

    feed, reported, aws_now = EventFeed(), [], start
    for _ in range(120):
        reported += [e.message for e in feed.read(counted(aws_now), lambda _e: None, aws_now)]
        aws_now += timedelta(seconds=5)
    assert sorted(reported) == sorted(f"m{n}" for n in range(110))
    assert sum(listed.values()) <= 8 * len(events), sum(listed.values())
    assert max(listed.values()) <= (CLOCK_SKEW + SHALLOW_MARGIN) / timedelta(seconds=5), listed.most_common(3)


def test_a_clock_stepped_back_does_not_hold_off_the_whole_reads() -> None:
    """The operator's clock stepped back ten minutes (NTP): the next read lists the whole overlap
    at once, rather than only once the clock has caught up with the last whole read."""
    starts: list[datetime] = []

    def listing(start: datetime) -> list[dict[str, object]]:
        starts.append(start)
        return []

    feed, at = EventFeed(), datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    feed.read(listing, lambda _e: None, at)
    feed.read(listing, lambda _e: None, at + DEEP_EVERY)  # whole
    stepped = at + DEEP_EVERY - timedelta(minutes=10)
    feed.read(listing, lambda _e: None, stepped)
    assert starts[-1] == at + DEEP_EVERY - OVERLAP  # whole, from where the last whole read left it


def test_a_restart_dated_before_the_call_is_no_proof_of_a_lost_reboot(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """Evidence is asked of AWS for the instance (SourceType db-instance, SourceIdentifier,
    StartTime the call's time), never the feed's memory; a restart dated before the call, even
    a second before (clock skew), proves nothing."""
    gateway, stubber = stubbed
    called = datetime(2026, 12, 1, 10, 0, 10, tzinfo=UTC)
    event = {"SourceIdentifier": "i-1", "SourceType": "db-instance", "Message": "DB instance restarted"}
    before, after = called - timedelta(seconds=1), called + timedelta(seconds=20)
    expected = {"SourceType": "db-instance", "SourceIdentifier": "i-1", "StartTime": called}
    stubber.add_response("describe_events", {"Events": [{**event, "Date": before}, {**event, "Date": after}]}, expected)

    assert gateway.instance_restarts_asked("i-1", called) == [after]
    stubber.assert_no_pending_responses()


def _restart(instance: str, date: datetime) -> dict[str, object]:
    return {"SourceIdentifier": instance, "SourceType": "db-instance", "Message": "DB instance restarted", "Date": date}


class _SlowListing:
    """DescribeEvents that answers only when the test lets it, counting its calls."""

    def __init__(self, events: list[dict[str, object]]) -> None:
        self.events = events
        self.calls = 0
        self.called = threading.Event()
        self.answer = threading.Event()

    def __call__(self, _start: datetime) -> list[dict[str, object]]:
        self.calls += 1
        self.called.set()
        assert self.answer.wait(10), "the test never let DescribeEvents answer"
        return self.events


def test_a_look_asking_the_feed_does_not_wait_for_a_slow_describe_events() -> None:
    """The feed's DescribeEvents is made outside the lock its log is read under: a reboot look
    asking "has this instance restarted since?" is answered while the feed's call hangs."""
    clock = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp())
    feed = EventFeed(clock)
    feed.fresh_for = 30
    start = datetime.fromtimestamp(clock(), UTC)
    restarted = _restart("i-1", start + timedelta(seconds=3))
    feed.read(lambda _s: [], lambda _e: None)  # the feed starts now
    clock.advance(5)
    feed.read(lambda _s: [restarted], lambda _e: None)
    slow = _SlowListing([])
    clock.advance(5)
    reader = threading.Thread(target=feed.read, args=(slow, lambda _e: None))
    reader.start()
    try:
        assert slow.called.wait(10)
        logged = feed.logged_since(start)  # would wait for `slow` if the call held the lock
        assert logged is not None and [e.source_identifier for e in logged] == ["i-1"]
        assert reader.is_alive()  # the call was still under way when the look was answered
    finally:
        slow.answer.set()
        reader.join(10)
    assert slow.calls == 1


def test_two_readers_of_the_feed_share_one_call() -> None:
    """A read asked while another is under way is answered by it: one DescribeEvents, and both
    readers get its new events; the events are still reported once to `on_new`."""
    clock = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp())
    feed = EventFeed(clock)
    feed.read(lambda _s: [], lambda _e: None)  # the feed starts now
    clock.advance(5)
    slow = _SlowListing([_restart("i-1", datetime.fromtimestamp(clock(), UTC))])
    told: list[str] = []
    results: dict[str, list[str]] = {}

    def read(name: str) -> None:
        results[name] = [e.source_identifier for e in feed.read(slow, lambda e: told.append(e.source_identifier))]

    first = threading.Thread(target=read, args=("first",))
    first.start()
    assert slow.called.wait(10)
    second = threading.Thread(target=read, args=("second",))
    second.start()
    slow.answer.set()
    first.join(10)
    second.join(10)
    assert slow.calls == 1
    assert results == {"first": ["i-1"], "second": ["i-1"]}
    assert told == ["i-1"]
    # A read asked after that one ended calls again, and the overlap does not report i-1 twice.
    assert feed.read(slow, lambda e: told.append(e.source_identifier)) == []
    assert slow.calls == 2


def test_describe_events_is_not_counted_against_the_describes_at_once(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """With every describe slot taken (looks waiting on large answers), the feed's
    DescribeEvents still goes out: it is not one of DESCRIBES_AT_ONCE."""
    gateway, stubber = stubbed
    stubber.add_response("describe_events", {"Events": []}, {"StartTime": ANY, "MaxRecords": 100})
    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    gateway.read_events(started)  # the feed starts now: no call
    held = [gateway._describing.acquire(blocking=False) for _ in range(DESCRIBES_AT_ONCE)]
    assert all(held)
    try:
        done = threading.Thread(target=gateway.read_events, args=(started + timedelta(seconds=5),))
        done.start()
        done.join(10)
        assert not done.is_alive()
    finally:
        for _ in held:
            gateway._describing.release()
    stubber.assert_no_pending_responses()
