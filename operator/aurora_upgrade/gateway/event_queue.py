"""RDS events from an Amazon SQS queue that an Amazon EventBridge rule fills (docs/events.md,
"EventBridge and SQS"), the way Karpenter receives EC2 interruption events: one long poll at a
time (ReceiveMessage, WaitTimeSeconds 20, up to 10 messages), each message handled deleted in
one DeleteMessageBatch, a message that is no RDS event of ours deleted too (and counted).

An event is parsed into the same `RdsEvent` the DescribeEvents feed yields, so it wakes the
upgrades it is about the same way. Events are best effort (EventBridge delivers RDS events at
least once, possibly out of order, and may miss some): they only wake looks, and a message
deleted before its wake-up was acted on costs a safety poll, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aurora_upgrade import metrics
from aurora_upgrade.gateway.errors import classify
from aurora_upgrade.resources import RdsEvent

WAIT_SECONDS = 20  # SQS's longest long poll: one request per 20 s while nothing happens
MAX_MESSAGES = 10  # SQS's most per ReceiveMessage
# EventBridge's detail-type of each RDS source type an upgrade waits on, as DescribeEvents names
# it (EventBridge's own detail.SourceType says e.g. CLUSTER or DB_INSTANCE instead).
SOURCE_TYPES = {
    "RDS DB Cluster Event": "db-cluster",
    "RDS DB Instance Event": "db-instance",
    "RDS Blue Green Deployment Event": "blue-green-deployment",
    "RDS DB Cluster Snapshot Event": "db-cluster-snapshot",
}

# (queue URL) -> an SQS client for the queue's Region.
QueueClientFactory = Callable[[str], Any]


def rds_event(body: str) -> RdsEvent | None:
    """The RDS event an EventBridge event (an SQS message's body) carries, or None for one that
    is none of the RDS events upgrades wait on. The resource is named from `detail.SourceArn`
    (arn:aws:rds:REGION:ACCOUNT:cluster:NAME; an instance's SourceIdentifier may say rds:NAME), else from
    `detail.SourceIdentifier`; the date from `detail.Date`, else the envelope's `time`."""
    try:
        envelope = json.loads(body)
        source_type = SOURCE_TYPES.get(envelope.get("detail-type", ""))
        detail = envelope["detail"]
        if envelope.get("source") != "aws.rds" or source_type is None or not isinstance(detail, dict):
            return None
        arn = str(detail.get("SourceArn") or "").split(":", 6)  # the name may hold colons (rds:...)
        name = arn[6] if len(arn) == 7 else str(detail["SourceIdentifier"])
        date = datetime.fromisoformat(str(detail.get("Date") or envelope["time"]).replace("Z", "+00:00"))
        return RdsEvent(
            source_identifier=name,
            source_type=source_type,
            message=str(detail.get("Message", "")),
            date=date if date.tzinfo else date.replace(tzinfo=UTC),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class EventQueue:
    """The queue at `url`, read through `client` (boto3's SQS client)."""

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url

    @classmethod
    def for_url(cls, url: str, region: str | None = None) -> EventQueue:
        """The queue at `url` with the default credential chain (AWS_ENDPOINT_URL_SQS is honoured
        by boto3); `region` defaults to the one in the queue's URL (sqs.REGION.amazonaws.com)."""
        import boto3  # on first use, as the RDS clients do
        import botocore.config

        host = url.split("//", 1)[-1].split("/", 1)[0]
        region = region or (host.split(".")[1] if host.startswith("sqs.") else None)
        # The long poll must outlast WaitTimeSeconds; retries as the RDS reads have them.
        config = botocore.config.Config(read_timeout=WAIT_SECONDS + 10, retries={"mode": "adaptive", "max_attempts": 8})
        return cls(boto3.session.Session(region_name=region).client("sqs", config=config), url)

    def receive(self) -> list[RdsEvent]:
        """One long poll: the RDS events of the messages received, each message deleted."""
        try:
            answer = self._client.receive_message(
                QueueUrl=self.url, WaitTimeSeconds=WAIT_SECONDS, MaxNumberOfMessages=MAX_MESSAGES
            )
            messages = answer.get("Messages", [])
            events = []
            for message in messages:
                event = rds_event(message.get("Body", ""))
                if event is None:
                    metrics.EVENT_QUEUE_MESSAGES.labels(outcome="ignored").inc()
                else:
                    metrics.EVENT_QUEUE_MESSAGES.labels(outcome="event").inc()
                    events.append(event)
            if messages:
                entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
                self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)
        except Exception as error:
            raise classify("ReceiveMessage", error) from error
        return events
