"""`aurora-upgrade sim --event-queue NAME`: the simulated Region's RDS events reach an SQS queue on
the simulator's own port through an EventBridge rule (moto's EventBridge and SQS), in EventBridge's
envelope, and the operator's own parser (gateway/event_queue.py) reads what arrived. Events stay
best effort: --drop-events and --late-events hold for the queue as for DescribeEvents."""

from __future__ import annotations

import time
from typing import Any

import boto3

from aurora_upgrade.gateway.event_queue import EventQueue, rds_event
from aurora_upgrade.sim import SimServer
from aurora_upgrade.sim.cli import build_parser
from aurora_upgrade.sim.config import EventRule, FaultConfig
from aurora_upgrade.sim.recorder import is_mutating
from support.runbook import CLUSTER, INSTANCES, REGION
from support.sim import QUICK

from .test_sim_faults import client

QUEUE = "rds-events"


def started(faults: FaultConfig | None = None) -> SimServer:
    return SimServer(config=QUICK, faults=faults, event_queue=QUEUE).start()


def sqs_client(server: SimServer) -> Any:
    """An SQS client as the operator makes one: the queue's URL names AWS, the endpoint the simulator."""
    return boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def bodies(server: SimServer, wait: int = 1) -> list[str]:
    """What one ReceiveMessage of the queue gets (the messages deleted)."""
    sqs = sqs_client(server)
    answer = sqs.receive_message(QueueUrl=server.event_queue_url, WaitTimeSeconds=wait, MaxNumberOfMessages=10)
    messages = answer.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=server.event_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [message["Body"] for message in messages]


def snapshot(rds: Any, name: str) -> None:
    rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=name)


def test_the_regions_rds_events_reach_the_queue_in_eventbridges_envelope() -> None:
    server = started()
    try:
        assert server.event_queue_url == f"https://sqs.{REGION}.amazonaws.com/123456789012/{QUEUE}"
        assert bodies(server, wait=0) == [], "the scenario's past is no news"
        rds = client(server)
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])

        # Delivered with no further RDS request: the simulator advances its timeline by itself.
        received = bodies(server, wait=5)

        assert len(received) == 1, received
        event = rds_event(received[0])
        assert event is not None, received[0]
        assert (event.source_identifier, event.source_type) == (INSTANCES[0], "db-instance")
        assert event.message == "DB instance restarted"
        listed = rds.describe_events(SourceType="db-instance", SourceIdentifier=INSTANCES[0])["Events"]
        assert [e["Message"] for e in listed] == ["DB instance restarted"]
        assert abs((listed[0]["Date"] - event.date).total_seconds()) < 0.01, "the Date DescribeEvents lists"
        # What the operator's consumer gets of a cluster snapshot's two events, through its own client.
        snapshot(rds, "queued")
        time.sleep(QUICK.snapshot_seconds + 0.5)
        queue = EventQueue(sqs_client(server), str(server.event_queue_url))
        events = queue.receive()
        assert [(e.source_identifier, e.source_type) for e in events] == [("queued", "db-cluster-snapshot")] * 2
        assert queue.receive() == [], "each message deleted once handled"
        # The call record shows each receive and the events it carried.
        receives = [c for c in server.calls() if c["operation"] == "ReceiveMessage"]
        assert [len(c["received"]) for c in receives] == [0, 1, 2, 0], receives
        assert receives[1]["received"] == [
            {"detail-type": "RDS DB Instance Event", "source": INSTANCES[0], "message": "DB instance restarted"}
        ]
        # Deleting handled messages is in the record, and is no mutation of RDS.
        operations = [c["operation"] for c in server.calls()]
        assert "DeleteMessageBatch" in operations
        assert [o for o in operations if is_mutating(o)] == ["RebootDBInstance", "CreateDBClusterSnapshot"]
    finally:
        server.stop()


def test_dropped_events_are_missing_from_the_queue_and_late_ones_come_late() -> None:
    faults = FaultConfig(
        event_drops=(EventRule(1.0, "db-instance"),),
        late_events=(EventRule(1.0, "db-cluster-snapshot"),),
        late_event_seconds=2.0,
    )
    server = started(faults)
    try:
        rds = client(server)
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
        snapshot(rds, "late")

        arrived: list[tuple[float, Any]] = []  # (when received, the event)
        deadline = time.monotonic() + 10
        while len(arrived) < 2 and time.monotonic() < deadline:
            arrived += [(time.time(), rds_event(body)) for body in bodies(server, wait=1)]

        assert sorted(event.message for _, event in arrived) == [
            "Creating manual cluster snapshot.",
            "Manual cluster snapshot created.",
        ], arrived
        for received_at, event in arrived:
            assert received_at - event.date.timestamp() >= 2.0, ("delivered as late as listed", arrived)
        assert bodies(server, wait=1) == [], "the restart dropped"
        met = server.aws_faults_met()  # the scenario's own instance events are fated (and dropped) too
        assert met["events late"] == 2 and met["events dropped"] >= 1, met
    finally:
        server.stop()


def test_no_queue_unless_asked() -> None:
    assert build_parser().parse_args([]).event_queue is None
    assert build_parser().parse_args(["--event-queue", QUEUE]).event_queue == QUEUE
    server = SimServer(config=QUICK).start()
    try:
        assert server.event_queue_url is None
    finally:
        server.stop()
