"""The Region's RDS event feed (gateway.event_feed), through the gateway against botocore's
Stubber (which checks each request against the RDS model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.stub import ANY, Stubber

from aurora_upgrade.gateway.event_feed import OVERLAP
from aurora_upgrade.gateway.rds import RdsGateway

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

    expect(started - OVERLAP, [])  # nothing new: the next read starts from this one
    expect(later - 2 * OVERLAP, [backup])  # no upgrade's news, yet it moves the feed on
    expect(backup["Date"] - OVERLAP, [])  # type: ignore[operator]
    assert gateway.read_events(started) == []  # the feed starts now
    assert gateway.read_events(later) == []
    assert gateway.read_events(later + timedelta(seconds=1)) == []
    assert gateway.read_events(later + timedelta(seconds=2)) == []
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
