"""RDS events into Amazon EventBridge and, through a rule, into an SQS queue
(`aurora-upgrade sim --event-queue NAME`), as docs/events.md ("EventBridge and SQS") sets them up.

moto's RDS publishes nothing to EventBridge. Here each event the simulated Region records is put
on moto's default event bus (`PutEvents`, source `aws.rds`, the detail-type of its source type);
a rule with the operator's event pattern targets the queue, and moto's EventBridge writes the
envelope (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`,
`detail`) into it as AWS's does. Events stay best effort: an event `--drop-events` drops is
missing from the queue too, and one `--late-events` delays reaches it as late as DescribeEvents
lists it (one fate per event, drawn as DescribeEvents draws it).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from moto.events.models import events_backends
from moto.rds.models import Event
from moto.sqs.models import sqs_backends

from .base import SimBackendBase, _as_utc
from .simulation import active

RULE = "aurora-upgrade-rds-events"
# EventBridge's detail-type and detail.SourceType of each source type DescribeEvents names
# (EventBridge's events reference for Amazon RDS).
DETAIL_TYPES = {
    "db-cluster": ("RDS DB Cluster Event", "CLUSTER"),
    "db-instance": ("RDS DB Instance Event", "DB_INSTANCE"),
    "blue-green-deployment": ("RDS Blue Green Deployment Event", "BLUE_GREEN_DEPLOYMENT"),
    "db-cluster-snapshot": ("RDS DB Cluster Snapshot Event", "CLUSTER_SNAPSHOT"),
}
# The rule's event pattern, docs/events.md's.
PATTERN = {"source": ["aws.rds"], "detail-type": [detail_type for detail_type, _ in DETAIL_TYPES.values()]}


class EventBridgeDelivery:
    """The RDS events of `backend`'s Region put on its default event bus, and a rule sending
    them to the SQS queue `queue_name` in the same account and Region."""

    def __init__(self, backend: SimBackendBase, queue_name: str) -> None:
        self._backend = backend
        account, region = backend.account_id, backend.region_name
        queue = sqs_backends[account][region].create_queue(queue_name)
        self.queue_arn: str = queue.queue_arn
        self._events = events_backends[account][region]
        self._events.put_rule(RULE, event_pattern=json.dumps(PATTERN), state="ENABLED")
        self._events.put_targets(RULE, "default", [{"Id": queue_name, "Arn": self.queue_arn}])
        self._seen = len(backend.events)  # the scenario's past is no news
        self._late: list[tuple[datetime, Event]] = []  # (when it is delivered, the event)

    def deliver(self) -> None:
        """Put the events recorded since the last call, and the late ones now due, on the bus.
        Called under the simulation lock, with the timeline advanced."""
        backend = self._backend
        backend.fate_new_events()
        for event in backend.events[self._seen :]:
            dropped, late = backend.fate_of(event)
            if dropped or event.source_type not in DETAIL_TYPES:
                continue
            if late:
                self._late.append((_as_utc(event.date) + timedelta(seconds=late), event))
            else:
                self._put(event)
        self._seen = len(backend.events)
        now = active().aws.now()
        for due in [entry for entry in self._late if entry[0] <= now]:
            self._late.remove(due)
            self._put(due[1])

    def _put(self, event: Event) -> None:
        detail_type, source_type = DETAIL_TYPES[event.source_type]
        detail: dict[str, Any] = {
            "EventCategories": list(event.event_categories),
            "SourceType": source_type,
            "SourceArn": event.source_arn,
            "Date": _as_utc(event.date).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "Message": event.message,
            "SourceIdentifier": event.source_identifier,
        }
        self._events.put_events(
            [
                {
                    "Source": "aws.rds",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "Resources": [event.source_arn],
                    "Time": _as_utc(event.date).timestamp(),
                }
            ]
        )
