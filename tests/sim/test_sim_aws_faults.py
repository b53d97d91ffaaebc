"""What AWS itself may do besides answering, as the simulator models it (FaultConfig's event_drops,
late_events, lost_answers, switchover_rollbacks, happenings, clock_offset_seconds; `aurora-upgrade
sim --drop-events --late-events --lose-answer --switchover-rollbacks --happen --clock-offset`),
seen through boto3 as the operator sees AWS. docs/simulator.md cites the AWS documentation each
follows."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest

from aurora_upgrade.sim import SimConfig, SimServer
from aurora_upgrade.sim.cli import build_parser, faults_from
from aurora_upgrade.sim.config import EventRule, FaultConfig, Happening, LostAnswer
from support.runbook import CLUSTER, INSTANCES
from support.sim import QUICK

from .test_sim_faults import client

# Provisioning quick, a switchover long enough to be seen in progress.
TIMING = SimConfig(
    provisioning_seconds=1.0,
    switchover_seconds=2.0,
    reboot_seconds=0.3,
    snapshot_seconds=0.3,
    delete_seconds=0.5,
    not_found_after_create_seconds=0.2,
)


def started(faults: FaultConfig, config: SimConfig = QUICK) -> SimServer:
    return SimServer(config=config, faults=faults).start()


def until(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def events(rds: Any, **filters: Any) -> list[dict[str, Any]]:
    return list(rds.describe_events(**filters)["Events"])


def deployment_of(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        found = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=identifier)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "BlueGreenDeploymentNotFoundFault":
            return None
        raise
    return dict(found["BlueGreenDeployments"][0])


def available_deployment(rds: Any) -> str:
    arn = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]["DBClusterArn"]
    created = rds.create_blue_green_deployment(BlueGreenDeploymentName="bg", Source=arn, TargetEngineVersion="15.10")
    identifier = str(created["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"])
    until("AVAILABLE", lambda: (deployment_of(rds, identifier) or {}).get("Status") == "AVAILABLE")
    return identifier


def status_of(rds: Any, instance: str) -> str:
    return str(rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["DBInstanceStatus"])


def snapshot_events(rds: Any) -> list[str]:
    return [e["SourceIdentifier"] for e in events(rds, SourceType="db-cluster-snapshot")]


def take_snapshots(rds: Any, n: int) -> None:
    for i in range(n):
        rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=f"s{i:02d}")
        time.sleep(0.35)  # the snapshot is available again before the next one


def test_events_are_dropped_per_source_type_at_the_configured_rate_and_seed() -> None:
    """AWS's Aurora events page: events are emitted "on a best effort basis" and "might be out of
    sequence or missing". Half the snapshot events go, the same ones for the same seed; every
    restart event goes; the other source types are untouched."""

    def listed(seed: int) -> tuple[list[str], list[dict[str, Any]]]:
        drops = (EventRule(0.5, "db-cluster-snapshot"), EventRule(1.0, "db-instance", "availability"))
        server = started(FaultConfig(seed=seed, event_drops=drops))
        try:
            rds = client(server)
            take_snapshots(rds, 12)
            rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
            until("the reboot", lambda: status_of(rds, INSTANCES[0]) == "available")
            time.sleep(0.2)
            listed = snapshot_events(rds)
            # 12 snapshots' two events each, and the restart.
            assert server.aws_faults_met() == {"events dropped": 24 - len(listed) + 1}
            return listed, events(rds, SourceType="db-instance")
        finally:
            server.stop()

    first, instance_events = listed(7)
    # 12 snapshots, two events each (creating, created): about half listed.
    assert 4 <= len(first) <= 20, first
    assert listed(7)[0] == first, "the same seed drops the same events"
    assert listed(8)[0] != first
    assert not [e for e in instance_events if "restarted" in e["Message"]], instance_events
    # Off by default: every event listed.
    server = started(FaultConfig())
    try:
        rds = client(server)
        take_snapshots(rds, 3)
        until("both events of each snapshot", lambda: len(snapshot_events(rds)) == 6)
    finally:
        server.stop()


def test_late_events_are_listed_only_some_seconds_after_their_date() -> None:
    """An event listed late carries its own Date: a reader whose StartTime has moved past that
    Date by the time it is listed never sees it (the reason to read with an overlap)."""
    server = started(FaultConfig(late_events=(EventRule(1.0, "db-cluster-snapshot"),), late_event_seconds=1.5))
    try:
        rds = client(server)
        asked = datetime.now(UTC)
        rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier="late")
        assert snapshot_events(rds) == [], "not listed yet"
        time.sleep(1.0)
        assert snapshot_events(rds) == []
        found = until("the late events", lambda: events(rds, SourceType="db-cluster-snapshot"), timeout=5)
        assert abs(found[0]["Date"] - asked) < timedelta(seconds=1), "dated when it happened, not when listed"
        later = events(rds, SourceType="db-cluster-snapshot", StartTime=asked + timedelta(seconds=1.2))
        assert [e for e in later if e["Message"].startswith("Creating")] == []
    finally:
        server.stop()


def test_an_answer_is_lost_after_the_call_took_effect_on_the_chosen_resource() -> None:
    lost = (
        LostAnswer("RebootDBInstance", "*-instance-2"),
        LostAnswer("CreateDBClusterSnapshot", kind="500"),
        LostAnswer("DeleteDBCluster"),
    )
    server = started(FaultConfig(lost_answers=lost))
    try:
        rds = client(server)
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])  # another resource: answered
        with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
            rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[1])
        assert status_of(rds, INSTANCES[1]) == "rebooting", "the call took effect"
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier="s1")
        assert raised.value.response["Error"]["Code"] == "InternalFailure"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        snapshots = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
        assert [s["DBClusterSnapshotIdentifier"] for s in snapshots] == ["s1"]
        # A call AWS refuses is answered (and no call): the lost answer waits for one that takes effect.
        with pytest.raises(botocore.exceptions.ClientError):
            rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
        until("the reboot", lambda: status_of(rds, INSTANCES[1]) == "available")
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[1])  # once only: answered now
        record = [
            (c["operation"], c["outcome"], c["fault"], c["took_effect"], c["answer"])
            for c in server.calls()
            if not c["operation"].startswith("Describe")
        ]
        assert record == [
            ("RebootDBInstance", "ok", None, True, "ok"),
            ("RebootDBInstance", "ok", "lost", True, "connection closed"),
            ("CreateDBClusterSnapshot", "ok", "lost", True, "InternalFailure"),
            ("DeleteDBCluster", "InvalidDBClusterStateFault", None, False, "InvalidDBClusterStateFault"),
            ("RebootDBInstance", "ok", None, True, "ok"),
        ]
    finally:
        server.stop()


def test_a_switchover_aws_cancels_after_it_started_rolls_back_to_available() -> None:
    """The switchover page: past its timeout "any changes are rolled back and no changes are made
    to either environment". The first switchover shows SWITCHOVER_IN_PROGRESS, then AVAILABLE
    with RDS-EVENT-0249 and 0261, nothing renamed; the next one completes."""
    server = started(FaultConfig(switchover_rollbacks=1, switchover_rollback_seconds=1.0), TIMING)
    try:
        rds = client(server)
        identifier = available_deployment(rds)
        started_at = datetime.now(UTC)
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
        assert (deployment_of(rds, identifier) or {})["Status"] == "SWITCHOVER_IN_PROGRESS"
        until("the rollback", lambda: (deployment_of(rds, identifier) or {}).get("Status") == "AVAILABLE")
        clusters = sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"])
        assert CLUSTER in clusters and f"{CLUSTER}-old1" not in clusters, clusters
        messages = [e["Message"] for e in events(rds, StartTime=started_at - timedelta(seconds=1))]
        assert "Switchover canceled on blue/green deployment." in messages, messages
        assert any(m.startswith(f"Switchover from DB cluster {CLUSTER} to") and "was canceled" in m for m in messages)
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
        until("the switchover", lambda: (deployment_of(rds, identifier) or {}).get("Status") == "SWITCHOVER_COMPLETED")
        assert server.aws_faults_met() == {"switchovers rolled back": 1}
    finally:
        server.stop()


def test_someone_deletes_the_deployment_right_after_the_switchover() -> None:
    """Runbook step 9.1 done by hand: the deployment goes DELETING, then away, with no call of
    the client's; the transitions say who did it."""
    happening = Happening("delete-deployment", "switched-over")
    server = started(FaultConfig(happenings=(happening,)), TIMING)
    try:
        rds = client(server)
        identifier = available_deployment(rds)
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
        seen: list[str] = []

        def gone() -> bool:
            found = deployment_of(rds, identifier)
            seen.append(found["Status"] if found else "gone")
            return found is None

        until("the deletion", gone)
        assert "SWITCHOVER_IN_PROGRESS" in seen and "gone" in seen, seen
        assert "DeleteBlueGreenDeployment" not in server.mutating_calls()
        assert any(t["label"] == "delete-deployment at switched-over#1" for t in server.transitions())
        assert server.aws_faults_met() == {"delete-deployment": 1}
        production = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
        assert production["EngineVersion"] == "15.10", "the switchover itself stands"
    finally:
        server.stop()


def test_a_reader_appears_and_disappears_mid_phase() -> None:
    """Aurora Auto Scaling adds a reader after the first reboot took effect (named
    `application-autoscaling-<uuid>`, promotion tier 15) and removes it after the second; a
    person removing a reader goes through the control endpoint."""
    happenings = (Happening("add-reader", "RebootDBInstance"), Happening("remove-reader", "RebootDBInstance", nth=2))
    server = started(FaultConfig(happenings=happenings))
    try:
        rds = client(server)

        def members() -> dict[str, dict[str, Any]]:
            found = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])
            return {i["DBInstanceIdentifier"]: i for i in found["DBInstances"]}

        assert sorted(members()) == list(INSTANCES)
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
        added = until("the new reader", lambda: [i for i in members() if i.startswith("application-autoscaling-")])
        reader = members()[added[0]]
        assert reader["PromotionTier"] == 15 and reader["DBClusterIdentifier"] == CLUSTER
        until("the new reader available", lambda: members()[added[0]]["DBInstanceStatus"] == "available")
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[1])
        until("the reader gone", lambda: added[0] not in members())
        # Someone removes a reader now, through the control endpoint (as an e2e test would).
        request = urllib.request.Request(
            f"{server.endpoint_url}/_sim/happen",
            data=json.dumps({"kind": "remove-reader"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.load(answer) == {"happened": "remove-reader"}
        until("instance-2 deleting", lambda: members().get(INSTANCES[1], {}).get("DBInstanceStatus") != "available")
        assert server.effective_mutating_calls() == ["RebootDBInstance", "RebootDBInstance"]
        with urllib.request.urlopen(f"{server.endpoint_url}/_sim/aws-faults", timeout=5) as answer:
            assert json.load(answer) == {"add-reader": 1, "remove-reader": 2}
    finally:
        server.stop()


def test_a_clock_offset_puts_event_dates_and_create_times_on_awss_clock() -> None:
    """AWS 90 s behind the client: a snapshot's events and SnapshotCreateTime are 90 s earlier
    than the client's clock says; a reader asking from its own "now" misses them."""
    server = started(FaultConfig(clock_offset_seconds=-90))
    try:
        rds = client(server)
        asked = datetime.now(UTC)
        rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier="skewed")
        found = until("the snapshot events", lambda: events(rds, SourceType="db-cluster-snapshot"))
        assert abs(found[0]["Date"] - (asked - timedelta(seconds=90))) < timedelta(seconds=2), found
        snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="skewed")["DBClusterSnapshots"][0]
        assert abs(snapshot["SnapshotCreateTime"] - (asked - timedelta(seconds=90))) < timedelta(seconds=2)
        assert events(rds, SourceType="db-cluster-snapshot", StartTime=asked - timedelta(seconds=5)) == []
    finally:
        server.stop()


def test_the_command_line_options_and_their_defaults() -> None:
    args = build_parser().parse_args(
        [
            "--seed", "3",
            "--drop-events", "1.0:db-instance/availability", "--drop-events", "0.5",
            "--late-events", "0.5:blue-green-deployment", "--late-event-seconds", "45",
            "--lose-answer", "RebootDBInstance=aurora-bg-aurora-instance-1,kind=500,after=1",
            "--switchover-rollbacks", "1", "--switchover-rollback-seconds", "5",
            "--happen", "delete-deployment@switched-over", "--happen", "add-reader@RebootDBInstance#3+1.5,cluster=c",
            "--clock-offset", "-60",
        ]
    )  # fmt: skip
    faults = faults_from(args)
    assert faults.event_drops == (EventRule(1.0, "db-instance", "availability"), EventRule(0.5))
    assert faults.late_events == (EventRule(0.5, "blue-green-deployment"),) and faults.late_event_seconds == 45
    assert faults.lost_answers == (LostAnswer("RebootDBInstance", "aurora-bg-aurora-instance-1", "500", 1, 1),)
    assert (faults.switchover_rollbacks, faults.switchover_rollback_seconds) == (1, 5)
    assert faults.happenings == (
        Happening("delete-deployment", "switched-over"),
        Happening("add-reader", "RebootDBInstance", nth=3, delay=1.5, cluster="c"),
    )
    assert faults.clock_offset_seconds == -60 and faults.of_aws
    # Off unless asked: the defaults are the simulator as it was.
    default = faults_from(build_parser().parse_args([]))
    assert default == FaultConfig() and not default.of_aws
    for wrong in ("--drop-events=2", "--drop-events=0.5:db-volume", "--lose-answer=X,kind=timeout",
                  "--happen=explode@start", "--happen=add-reader@whenever"):  # fmt: skip
        with pytest.raises(ValueError):
            faults_from(build_parser().parse_args([wrong]))
