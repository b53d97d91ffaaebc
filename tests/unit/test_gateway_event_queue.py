"""The EventBridge -> SQS event source (gateway.event_queue): EventBridge's RDS envelopes parsed
into the events the DescribeEvents feed yields, and the queue read as SQS documents it, through
a real botocore SQS client whose answers come from botocore's Stubber (which checks each request
against the SQS model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from aurora_upgrade import config, metrics
from aurora_upgrade.decisions.pacing import interval
from aurora_upgrade.gateway.event_queue import MAX_MESSAGES, WAIT_SECONDS, EventQueue, rds_event
from aurora_upgrade.reasons import TABLE, Reason
from aurora_upgrade.resources import ErrorKind, RdsError, RdsEvent

URL = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/aurora-upgrade-events"


def envelope(detail_type: str, arn: str, identifier: str, message: str, event_id: str) -> str:
    """An RDS event as EventBridge delivers it (AWS's Aurora user guide, "Overview of events for
    Aurora", and EventBridge's event structure reference)."""
    return json.dumps(
        {
            "version": "0",
            "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
            "detail-type": detail_type,
            "source": "aws.rds",
            "account": "123456789012",
            "time": "2026-12-01T10:00:03Z",
            "region": "ap-northeast-1",
            "resources": [arn],
            "detail": {
                "EventCategories": ["notification"],
                "SourceType": "CLUSTER",
                "SourceArn": arn,
                "Date": "2026-12-01T10:00:03.292Z",
                "Message": message,
                "SourceIdentifier": identifier,
                "EventID": event_id,
                "Tags": {},
            },
        }
    )


AT = datetime(2026, 12, 1, 10, 0, 3, 292000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("detail_type", "arn", "identifier", "expected"),
    [
        (
            "RDS DB Instance Event",
            "arn:aws:rds:ap-northeast-1:123456789012:db:aurora-bg-aurora-instance-1",
            "rds:aurora-bg-aurora-instance-1",
            RdsEvent("aurora-bg-aurora-instance-1", "db-instance", "DB instance restarted", AT),
        ),
        (
            "RDS DB Cluster Event",
            "arn:aws:rds:ap-northeast-1:123456789012:cluster:aurora-bg-aurora-cluster",
            "aurora-bg-aurora-cluster",
            RdsEvent("aurora-bg-aurora-cluster", "db-cluster", "DB instance restarted", AT),
        ),
        (
            "RDS Blue Green Deployment Event",
            "arn:aws:rds:ap-northeast-1:123456789012:deployment:bgd-abc123",
            "bgd-abc123",
            RdsEvent("bgd-abc123", "blue-green-deployment", "DB instance restarted", AT),
        ),
        (
            "RDS DB Cluster Snapshot Event",
            "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:aurora-upgrade-1",
            "aurora-upgrade-1",
            RdsEvent("aurora-upgrade-1", "db-cluster-snapshot", "DB instance restarted", AT),
        ),
    ],
)
def test_an_eventbridge_rds_event_is_the_event_describe_events_lists(
    detail_type: str, arn: str, identifier: str, expected: RdsEvent
) -> None:
    """Source type as DescribeEvents names it (from detail-type), the resource named by its ARN
    (an instance's SourceIdentifier may carry an `rds:` prefix), the message and date."""
    assert rds_event(envelope(detail_type, arn, identifier, "DB instance restarted", "RDS-EVENT-0006")) == expected


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"detail-type": "RDS DB Cluster Event", "source": "aws.rds"}),  # no detail
        json.dumps({"detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2", "detail": {}}),
        envelope("RDS DB Parameter Group Event", "arn:aws:rds:r:1:pg:x", "x", "Updated", "RDS-EVENT-0037"),
        json.dumps({"detail-type": "RDS DB Cluster Event", "source": "aws.rds", "detail": {"Message": "m"}}),
    ],
    ids=["not-json", "no-detail", "not-rds", "unwatched-type", "unnamed"],
)
def test_what_is_no_rds_event_of_ours_is_none(body: str) -> None:
    assert rds_event(body) is None


def _queue() -> tuple[EventQueue, Stubber]:
    client = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="ap-northeast-1"
    ).client("sqs")
    stubber = Stubber(client)
    stubber.activate()
    return EventQueue(client, URL), stubber


def _count(outcome: str) -> float:
    return metrics.EVENT_QUEUE_MESSAGES.labels(outcome=outcome)._value.get()


def test_one_long_poll_receives_parses_and_deletes_every_message_it_got() -> None:
    """ReceiveMessage with WaitTimeSeconds 20 and MaxNumberOfMessages 10; one DeleteMessageBatch
    for every message, the malformed one included (counted, so it is not received forever)."""
    queue, stubber = _queue()
    restarted = envelope(
        "RDS DB Instance Event", "arn:aws:rds:ap-northeast-1:1:db:i-1", "rds:i-1", "DB instance restarted", "0006"
    )
    messages = [
        {"MessageId": "1", "ReceiptHandle": "h1", "Body": restarted},
        {"MessageId": "2", "ReceiptHandle": "h2", "Body": "{broken"},
    ]
    stubber.add_response(
        "receive_message",
        {"Messages": messages},
        {"QueueUrl": URL, "WaitTimeSeconds": WAIT_SECONDS, "MaxNumberOfMessages": MAX_MESSAGES},
    )
    stubber.add_response(
        "delete_message_batch",
        {"Successful": [{"Id": "0"}, {"Id": "1"}], "Failed": []},
        {"QueueUrl": URL, "Entries": [{"Id": "0", "ReceiptHandle": "h1"}, {"Id": "1", "ReceiptHandle": "h2"}]},
    )
    ignored = _count("ignored")
    events = queue.receive()
    assert [(e.source_type, e.source_identifier) for e in events] == [("db-instance", "i-1")]
    assert _count("ignored") == ignored + 1
    stubber.assert_no_pending_responses()


def test_an_empty_poll_deletes_nothing_and_a_refused_one_is_an_aws_error() -> None:
    queue, stubber = _queue()
    stubber.add_response("receive_message", {})
    stubber.add_client_error("receive_message", "AccessDenied", "no", http_status_code=403)
    assert queue.receive() == []
    with pytest.raises(RdsError) as refused:
        queue.receive()
    assert refused.value.kind == ErrorKind.PERMISSION and refused.value.operation == "ReceiveMessage"
    stubber.assert_no_pending_responses()


def test_with_a_queue_the_describe_events_feed_reads_at_the_safety_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """AURORA_UPGRADE_EVENT_QUEUE_URL set: the feed reads every 5 min (at a 30 s poll) instead of
    every 5 s, sixty times fewer DescribeEvents; without it the feed stays as it was. Both scale."""
    monkeypatch.delenv(config.EVENT_QUEUE_URL_ENV, raising=False)
    monkeypatch.setenv(config.SCALE_ENV, "0.1")
    without = config.timing_from_env()
    monkeypatch.setenv(config.EVENT_QUEUE_URL_ENV, URL)
    with_queue = config.timing_from_env()
    assert without.feed_interval == without.events == pytest.approx(1.0)  # 5 s scaled, at least 1 s
    assert with_queue.feed_interval == with_queue.safety == pytest.approx(30.0)  # 300 s scaled
    assert with_queue.read_cycle == without.read_cycle  # the looks' own pace does not change
    assert with_queue.quick == without.quick  # nor where the evidence rules need quick looks


def test_with_a_queue_waits_ended_by_an_rds_event_poll_at_the_feed_s_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Green provisioning, a snapshot, a deployment's deletion end with an RDS event the queue
    brings within seconds: their poll (for a lost event) is the feed's interval with a queue,
    the provisioning interval without; a reboot's and a switchover's stay quick."""
    monkeypatch.setenv(config.SCALE_ENV, "1")
    monkeypatch.delenv(config.EVENT_QUEUE_URL_ENV, raising=False)
    without = config.timing_from_env()
    monkeypatch.setenv(config.EVENT_QUEUE_URL_ENV, URL)
    with_queue = config.timing_from_env()
    for reason in (Reason.PROVISIONING_GREEN, Reason.WAITING_FOR_SNAPSHOT, Reason.DELETING_BLUE_GREEN):
        pace = TABLE[reason].pace
        assert interval(pace, without) == without.provisioning == 120.0
        assert interval(pace, with_queue) == with_queue.feed_interval == 300.0
    for reason in (Reason.REBOOTING_INSTANCE, Reason.SWITCHOVER_STARTED):
        pace = TABLE[reason].pace
        assert interval(pace, with_queue) == interval(pace, without) == 10.0
