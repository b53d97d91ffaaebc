"""The simulated RDS API behaves as AWS documents, seen through boto3 over HTTP.

Each test starts the runbook's account (or a failure variant) with delays of a fraction of
a second, drives it with the calls the runbook and the operator make, and checks what a
client would see: statuses over time, names, errors, events, and the call record.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aurora_upgrade.sim import SimConfig, SimServer, scenarios
from aurora_upgrade.sim.scenarios import runbook
from support.runbook import CLUSTER, INSTANCES, OLD_CLUSTER, REGION
from support.runbook import CLUSTER_PARAMETER_GROUP as CLUSTER_PG
from support.runbook import DB_PARAMETER_GROUP as DB_PG
from support.sim import OBSERVABLE, SimFactory

ACCOUNT_ARN = f"arn:aws:rds:{REGION}:{scenarios.RUNBOOK_ACCOUNT_ID}"
CLUSTER_ARN = f"{ACCOUNT_ARN}:cluster:{CLUSTER}"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def make_sim(make_sim: SimFactory) -> SimFactory:
    """These tests look at states on the way, so their simulators keep each one for a while."""
    return functools.partial(make_sim, config=OBSERVABLE)


def test_the_tests_runbook_names_are_the_simulated_accounts() -> None:
    """support.runbook (the example manifest, and the instances it cannot name) describes the
    account the simulator's `runbook` scenario builds."""
    assert (REGION, CLUSTER, INSTANCES, CLUSTER_PG, DB_PG) == (
        scenarios.RUNBOOK_REGION,
        scenarios.RUNBOOK_CLUSTER,
        scenarios.RUNBOOK_INSTANCES,
        scenarios.RUNBOOK_CLUSTER_PARAMETER_GROUP,
        scenarios.RUNBOOK_DB_PARAMETER_GROUP,
    )


def wait_until(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def create_deployment(rds: Any, name: str = "aurora-bg-upgrade-15-10", **overrides: Any) -> dict[str, Any]:
    request = {
        "BlueGreenDeploymentName": name,
        "Source": CLUSTER_ARN,
        "TargetEngineVersion": "15.10",
        "TargetDBClusterParameterGroupName": CLUSTER_PG,
        "TargetDBParameterGroupName": DB_PG,
        "Tags": [{"Key": "aurora-upgrade/uid", "Value": "uid-1234"}],
    }
    request.update(overrides)
    deployment: dict[str, Any] = rds.create_blue_green_deployment(**request)["BlueGreenDeployment"]
    return deployment


def describe_deployment(rds: Any, identifier: str) -> dict[str, Any]:
    found: dict[str, Any] = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=identifier)[
        "BlueGreenDeployments"
    ][0]
    return found


def wait_for_status(rds: Any, identifier: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        try:
            deployment = describe_deployment(rds, identifier)
        except ClientError:
            return None
        return deployment if deployment["Status"] == status else None

    found: dict[str, Any] = wait_until(reached, timeout)
    return found


def available_deployment(rds: Any) -> dict[str, Any]:
    return wait_for_status(rds, create_deployment(rds)["BlueGreenDeploymentIdentifier"], "AVAILABLE")


def instance(rds: Any, identifier: str) -> dict[str, Any]:
    found: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    return found


def cluster(rds: Any, identifier: str = CLUSTER) -> dict[str, Any]:
    found: dict[str, Any] = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    return found


def cluster_instances(rds: Any, identifier: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = rds.describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [identifier]}]
    )["DBInstances"]
    return found


def gone(describe: Callable[[], Any], code: str) -> bool:
    try:
        describe()
    except ClientError as error:
        return bool(error.response["Error"]["Code"] == code)
    return False


# ----------------------------------------------------------------- the runbook's account


def test_runbook_account_starts_as_the_runbook_describes(sim_server: SimServer, rds: Any) -> None:
    production = cluster(rds)
    assert (production["EngineVersion"], production["Status"]) == ("15.6", "available")
    assert production["DBClusterParameterGroup"] == CLUSTER_PG
    assert [(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in production["DBClusterMembers"]] == [
        (INSTANCES[0], True),
        (INSTANCES[1], False),
    ]
    assert all(m["DBClusterParameterGroupStatus"] == "in-sync" for m in production["DBClusterMembers"])
    assert "MasterUserSecret" not in production
    instances = cluster_instances(rds, CLUSTER)
    assert [i["DBInstanceIdentifier"] for i in instances] == list(INSTANCES)
    assert {i["DBParameterGroups"][0]["DBParameterGroupName"] for i in instances} == {DB_PG}
    assert {i["DBParameterGroups"][0]["ParameterApplyStatus"] for i in instances} == {"in-sync"}
    assert len({i["DbiResourceId"] for i in instances}) == 2
    parameters = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=CLUSTER_PG)["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters}["rds.logical_replication"] == "1"
    groups = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=CLUSTER_PG)
    assert groups["DBClusterParameterGroups"][0]["DBParameterGroupFamily"] == "aurora-postgresql15"
    # Scenario setup happens inside the simulator: the record holds only this test's calls.
    assert [c["operation"] for c in sim_server.calls()] == [
        "DescribeDBClusters",
        "DescribeDBInstances",
        "DescribeDBClusterParameters",
        "DescribeDBClusterParameterGroups",
    ]
    assert sim_server.mutating_calls() == []


def test_engine_versions_list_valid_upgrade_targets(rds: Any) -> None:
    def targets(version: str) -> dict[str, bool]:
        versions = rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion=version)
        entry = versions["DBEngineVersions"][0]
        return {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in entry["ValidUpgradeTarget"]}

    from_15_6 = targets("15.6")
    assert {v for v, major in from_15_6.items() if not major} == {"15.7", "15.8", "15.10"}
    assert {v for v, major in from_15_6.items() if major} and all(
        v.startswith("16.") for v in from_15_6 if from_15_6[v]
    )
    from_15_10 = targets("15.10")
    assert from_15_10 and all(major and v.startswith("16.") for v, major in from_15_10.items())
    entry = rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="15.10")["DBEngineVersions"][0]
    assert (entry["Engine"], entry["EngineVersion"], entry["DBParameterGroupFamily"]) == (
        "aurora-postgresql",
        "15.10",
        "aurora-postgresql15",
    )
    sixteen = rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="16.6")["DBEngineVersions"]
    assert sixteen[0]["DBParameterGroupFamily"] == "aurora-postgresql16"
    assert rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="15.99")["DBEngineVersions"] == []


def test_identifiers_are_stored_lower_case_and_matched_case_insensitively(rds: Any) -> None:
    """AWS's API reference: DBClusterIdentifier (and the instance and snapshot identifiers) "is
    stored as a lowercase string"; any spelling names the same resource."""
    created = rds.create_db_cluster(
        DBClusterIdentifier="Mixed-Case-Cluster",
        Engine="aurora-postgresql",
        EngineVersion="15.6",
        MasterUsername="postgres",
        MasterUserPassword="simulated-password",
    )["DBCluster"]
    assert created["DBClusterIdentifier"] == "mixed-case-cluster"
    found = rds.describe_db_clusters(DBClusterIdentifier="MIXED-CASE-CLUSTER")["DBClusters"]
    assert [c["DBClusterIdentifier"] for c in found] == ["mixed-case-cluster"]
    with pytest.raises(ClientError, match="DBClusterAlreadyExistsFault"):
        rds.create_db_cluster(
            DBClusterIdentifier="mixed-case-CLUSTER",
            Engine="aurora-postgresql",
            EngineVersion="15.6",
            MasterUsername="postgres",
            MasterUserPassword="simulated-password",
        )
    instance = rds.create_db_instance(
        DBInstanceIdentifier="Mixed-Case-Instance",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier="Mixed-Case-Cluster",
    )["DBInstance"]
    assert instance["DBInstanceIdentifier"] == "mixed-case-instance"
    members = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["MIXED-case-cluster"]}])
    assert [i["DBInstanceIdentifier"] for i in members["DBInstances"]] == ["mixed-case-instance"]
    snapshot = rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="Before-Switchover", DBClusterIdentifier="AURORA-BG-AURORA-CLUSTER"
    )["DBClusterSnapshot"]
    assert (snapshot["DBClusterSnapshotIdentifier"], snapshot["DBClusterIdentifier"]) == (
        "before-switchover",
        "aurora-bg-aurora-cluster",
    )
    with pytest.raises(ClientError, match="DBClusterSnapshotAlreadyExistsFault"):
        rds.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier="before-SWITCHOVER", DBClusterIdentifier="aurora-bg-aurora-cluster"
        )


# -------------------------------------------------------------- blue/green: provisioning


def test_create_blue_green_provisions_a_green_copy_at_the_target_version(sim_server: SimServer, rds: Any) -> None:
    created = create_deployment(rds)
    identifier = created["BlueGreenDeploymentIdentifier"]
    assert re.fullmatch(r"bgd-[a-z0-9]{16}", identifier)
    assert created["Status"] == "PROVISIONING"
    assert created["Source"] == CLUSTER_ARN
    green_id = created["Target"].rsplit(":", 1)[1]
    match = re.fullmatch(rf"{CLUSTER}-green-([a-z0-9]{{6}})", green_id)
    assert match, green_id
    suffix = match.group(1)
    assert created["TagList"] == [{"Key": "aurora-upgrade/uid", "Value": "uid-1234"}]
    assert {t["Status"] for t in created["Tasks"]} <= {"PENDING", "IN_PROGRESS"}
    assert [d["Status"] for d in created["SwitchoverDetails"]] == ["PROVISIONING"] * 3

    green = cluster(rds, green_id)
    assert (green["Status"], green["EngineVersion"], green["DBClusterParameterGroup"]) == (
        "creating",
        "15.10",
        CLUSTER_PG,
    )
    assert green["Endpoint"].startswith(f"{green_id}.cluster-")
    green_instances = cluster_instances(rds, green_id)
    assert [i["DBInstanceIdentifier"] for i in green_instances] == [f"{name}-green-{suffix}" for name in INSTANCES]
    assert {(i["DBInstanceStatus"], i["EngineVersion"]) for i in green_instances} == {("creating", "15.10")}
    assert {i["DBParameterGroups"][0]["DBParameterGroupName"] for i in green_instances} == {DB_PG}

    available = wait_for_status(rds, identifier, "AVAILABLE")
    assert "StatusDetails" not in available
    assert all(t["Status"] == "COMPLETED" for t in available["Tasks"])
    assert "DB_ENGINE_VERSION_UPGRADE" in [t["Name"] for t in available["Tasks"]]
    assert [(d["SourceMember"], d["TargetMember"], d["Status"]) for d in available["SwitchoverDetails"]] == [
        (CLUSTER_ARN, created["Target"], "AVAILABLE"),
        *[(f"{ACCOUNT_ARN}:db:{name}", f"{ACCOUNT_ARN}:db:{name}-green-{suffix}", "AVAILABLE") for name in INSTANCES],
    ]
    assert cluster(rds, green_id)["Status"] == "available"
    assert {i["DBInstanceStatus"] for i in cluster_instances(rds, green_id)} == {"available"}
    assert available["TagList"] == created["TagList"]
    arn = f"{ACCOUNT_ARN}:deployment:{identifier}"
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == created["TagList"]
    # Blue is untouched.
    assert (cluster(rds)["Status"], cluster(rds)["EngineVersion"]) == ("available", "15.6")


def test_new_deployment_is_not_found_for_a_moment(sim_server: SimServer, rds: Any) -> None:
    identifier = create_deployment(rds)["BlueGreenDeploymentIdentifier"]
    with pytest.raises(ClientError) as excinfo:
        describe_deployment(rds, identifier)
    assert error_code(excinfo) == "BlueGreenDeploymentNotFoundFault"
    by_name = rds.describe_blue_green_deployments(
        Filters=[{"Name": "blue-green-deployment-name", "Values": ["aurora-bg-upgrade-15-10"]}]
    )
    assert by_name["BlueGreenDeployments"] == []
    # Eventually consistent: the deployment exists all along, a retry finds it.
    wait_until(lambda: not gone(lambda: describe_deployment(rds, identifier), "BlueGreenDeploymentNotFoundFault"))
    assert [c["outcome"] for c in sim_server.calls() if c["operation"] == "DescribeBlueGreenDeployments"][:2] == [
        "BlueGreenDeploymentNotFoundFault",
        "ok",
    ]


def test_deployments_are_listed_in_pages_as_aws_documents(make_sim: SimFactory, client_for: Any) -> None:
    """DescribeBlueGreenDeployments answers at most MaxRecords (20-100, default 100) and a
    Marker for the rest: the operator lists a fleet's deployments this way."""
    rds = client_for(make_sim(scenario=scenarios.fleet(25)))
    made = {
        create_deployment(rds, name=f"upgrade-{i}", Source=f"{ACCOUNT_ARN}:cluster:{scenarios.fleet_cluster(i)}")[
            "BlueGreenDeploymentIdentifier"
        ]
        for i in range(1, 26)
    }
    wait_until(lambda: len(rds.describe_blue_green_deployments()["BlueGreenDeployments"]) == 25)
    assert "Marker" not in rds.describe_blue_green_deployments()
    first = rds.describe_blue_green_deployments(MaxRecords=20)
    rest = rds.describe_blue_green_deployments(MaxRecords=20, Marker=first["Marker"])
    assert (len(first["BlueGreenDeployments"]), len(rest["BlueGreenDeployments"])) == (20, 5)
    assert "Marker" not in rest
    listed = {d["BlueGreenDeploymentIdentifier"] for d in first["BlueGreenDeployments"] + rest["BlueGreenDeployments"]}
    assert listed == made
    # botocore refuses 19 itself; sent anyway, the simulator refuses it as AWS does.
    unchecked = boto3.client(
        "rds",
        region_name=REGION,
        endpoint_url=rds.meta.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False),
    )
    with pytest.raises(ClientError) as excinfo:
        unchecked.describe_blue_green_deployments(MaxRecords=19)
    assert error_code(excinfo) == "InvalidParameterValue"


def test_clusters_snapshots_and_events_are_listed_in_pages_as_aws_documents(
    make_sim: SimFactory, client_for: Any
) -> None:
    """DescribeDBClusters, DescribeDBClusterSnapshots and DescribeEvents answer at most
    MaxRecords (default 100) and a Marker for the rest, as AWS documents; moto answers them
    whole, which would undercount the calls a fleet's reads take."""
    rds = client_for(make_sim(scenario=scenarios.fleet(25)))
    first = rds.describe_db_clusters(MaxRecords=20)
    rest = rds.describe_db_clusters(MaxRecords=20, Marker=first["Marker"])
    assert (len(first["DBClusters"]), len(rest["DBClusters"])) == (20, 5) and "Marker" not in rest
    listed = {c["DBClusterIdentifier"] for c in first["DBClusters"] + rest["DBClusters"]}
    assert listed == {scenarios.fleet_cluster(i) for i in range(1, 26)}

    before = len(rds.describe_db_cluster_snapshots()["DBClusterSnapshots"])  # the fleet's automated ones
    for i in range(21):
        rds.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=f"paged-{i}", DBClusterIdentifier=scenarios.fleet_cluster(1)
        )
    total = before + 21
    pages = list(rds.get_paginator("describe_db_cluster_snapshots").paginate(PaginationConfig={"PageSize": 20}))
    assert [len(p["DBClusterSnapshots"]) for p in pages] == [min(20, total - n) for n in range(0, total, 20)]
    names = {s["DBClusterSnapshotIdentifier"] for p in pages for s in p["DBClusterSnapshots"]}
    assert len(names) == total and {f"paged-{i}" for i in range(21)} <= names

    # Each snapshot's "created" event comes when it is available: wait for all of them, so that
    # no event is added between the two listings compared below (a busy machine is slower).
    waiter = rds.get_waiter("db_cluster_snapshot_available")
    for i in range(21):
        waiter.wait(DBClusterSnapshotIdentifier=f"paged-{i}", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})

    # The fleet's setup events (instances created, automated snapshots) are a day old: two days
    # of events hold them, more than one default page.
    two_days = 2 * 24 * 60
    assert [e for e in rds.describe_events()["Events"] if not e["SourceIdentifier"].startswith("paged-")] == []
    whole = [e for p in rds.get_paginator("describe_events").paginate(Duration=two_days) for e in p["Events"]]
    assert len(whole) > 100
    assert len(rds.describe_events(Duration=two_days)["Events"]) == 100
    paged = list(rds.get_paginator("describe_events").paginate(Duration=two_days, PaginationConfig={"PageSize": 20}))
    assert all(len(p["Events"]) <= 20 for p in paged)
    key = ("SourceIdentifier", "Message", "Date")
    assert [tuple(e[k] for k in key) for p in paged for e in p["Events"]] == [tuple(e[k] for k in key) for e in whole]


def test_clusters_are_found_by_resource_id_as_aws_documents(rds: Any) -> None:
    """DescribeDBClusters' `db-cluster-resource-id` filter (moto lacks it): the previous
    production is found by it after the switchover renamed it."""
    resource_id = cluster(rds)["DbClusterResourceId"]
    found = rds.describe_db_clusters(
        Filters=[{"Name": "db-cluster-resource-id", "Values": [resource_id, "cluster-NONE"]}]
    )
    assert [c["DBClusterIdentifier"] for c in found["DBClusters"]] == [CLUSTER]
    none = rds.describe_db_clusters(Filters=[{"Name": "db-cluster-resource-id", "Values": ["cluster-NONE"]}])
    assert none["DBClusters"] == []
    both = rds.describe_db_clusters(
        Filters=[
            {"Name": "db-cluster-resource-id", "Values": [resource_id]},
            {"Name": "db-cluster-id", "Values": ["someone-else"]},
        ]
    )
    assert both["DBClusters"] == []  # filters combine with AND


def test_describe_filters_and_unique_names(rds: Any) -> None:
    deployment = available_deployment(rds)
    identifier = deployment["BlueGreenDeploymentIdentifier"]

    def ids(name: str, value: str) -> list[str]:
        found = rds.describe_blue_green_deployments(Filters=[{"Name": name, "Values": [value]}])
        return [d["BlueGreenDeploymentIdentifier"] for d in found["BlueGreenDeployments"]]

    assert ids("blue-green-deployment-identifier", identifier) == [identifier]
    assert ids("blue-green-deployment-name", "aurora-bg-upgrade-15-10") == [identifier]
    assert ids("source", CLUSTER_ARN) == [identifier]
    assert ids("target", deployment["Target"]) == [identifier]
    assert ids("blue-green-deployment-name", "someone-else") == []
    with pytest.raises(ClientError) as excinfo:
        ids("colour", "blue")
    assert error_code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        describe_deployment(rds, "bgd-doesnotexist0000")
    assert error_code(excinfo) == "BlueGreenDeploymentNotFoundFault"

    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds)
    assert error_code(excinfo) == "BlueGreenDeploymentAlreadyExistsFault"
    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds, name="2-starts-with-a-digit")
    assert error_code(excinfo) == "InvalidParameterValue"


def test_target_version_and_parameter_families_are_checked(rds: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds, name="downgrade", TargetEngineVersion="15.4")
    assert error_code(excinfo) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds, name="major-with-pg15-groups", TargetEngineVersion="16.6")
    assert error_code(excinfo) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds, name="missing-group", TargetDBClusterParameterGroupName="nope")
    assert error_code(excinfo) == "DBClusterParameterGroupNotFound"
    major = create_deployment(
        rds,
        name="major",
        TargetEngineVersion="16.6",
        TargetDBClusterParameterGroupName="aurora-bg-aurora-pg16-cluster-params",
        TargetDBParameterGroupName="aurora-bg-aurora-pg16-params",
    )
    assert cluster(rds, major["Target"].rsplit(":", 1)[1])["EngineVersion"] == "16.6"


def test_logical_replication_off_ends_in_invalid_configuration(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-logical-replication-off"))
    parameters = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=CLUSTER_PG)["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters}["rds.logical_replication"] == "0"
    identifier = create_deployment(rds)["BlueGreenDeploymentIdentifier"]
    invalid = wait_for_status(rds, identifier, "INVALID_CONFIGURATION")
    assert "rds.logical_replication" in invalid["StatusDetails"]
    assert "FAILED" in {t["Status"] for t in invalid["Tasks"]}
    with pytest.raises(ClientError) as excinfo:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    assert error_code(excinfo) == "InvalidBlueGreenDeploymentStateFault"
    events = rds.describe_events(SourceType="blue-green-deployment", SourceIdentifier=identifier)["Events"]
    assert any("rds.logical_replication" in e["Message"] for e in events)


def test_pending_reboot_blocks_blue_green_until_the_writer_reboots(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-pending-reboot"))
    members = cluster(rds)["DBClusterMembers"]
    assert {m["DBClusterParameterGroupStatus"] for m in members} == {"pending-reboot"}
    assert instance(rds, INSTANCES[0])["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"

    first = create_deployment(rds, name="before-reboot")["BlueGreenDeploymentIdentifier"]
    invalid = wait_for_status(rds, first, "INVALID_CONFIGURATION")
    assert INSTANCES[0] in invalid["StatusDetails"]
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=first, DeleteTarget=True)

    started = datetime.now(UTC) - timedelta(seconds=1)
    for name in INSTANCES:
        assert rds.reboot_db_instance(DBInstanceIdentifier=name)["DBInstance"]["DBInstanceStatus"] == "rebooting"
    with pytest.raises(ClientError) as excinfo:
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
    assert error_code(excinfo) == "InvalidDBInstanceState"
    assert instance(rds, INSTANCES[0])["DBInstanceStatus"] == "rebooting"
    for name in INSTANCES:
        wait_until(lambda name=name: instance(rds, name)["DBInstanceStatus"] == "available")
        assert instance(rds, name)["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"
    assert {m["DBClusterParameterGroupStatus"] for m in cluster(rds)["DBClusterMembers"]} == {"in-sync"}
    events = rds.describe_events(SourceType="db-instance", SourceIdentifier=INSTANCES[1], StartTime=started)
    restarted = [e for e in events["Events"] if e["Message"] == "DB instance restarted"]
    assert len(restarted) == 1
    assert restarted[0]["SourceType"] == "db-instance"
    assert restarted[0]["Date"] >= started

    second = create_deployment(rds, name="after-reboot")["BlueGreenDeploymentIdentifier"]
    wait_for_status(rds, second, "AVAILABLE")


def test_modifying_a_static_parameter_leaves_instances_pending_reboot(rds: Any) -> None:
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=CLUSTER_PG,
        Parameters=[
            {"ParameterName": "max_replication_slots", "ParameterValue": "30", "ApplyMethod": "pending-reboot"}
        ],
    )
    assert {m["DBClusterParameterGroupStatus"] for m in cluster(rds)["DBClusterMembers"]} == {"pending-reboot"}
    rds.modify_db_parameter_group(
        DBParameterGroupName=DB_PG,
        Parameters=[{"ParameterName": "shared_buffers", "ParameterValue": "1024", "ApplyMethod": "pending-reboot"}],
    )
    assert instance(rds, INSTANCES[1])["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"


def test_describe_events_honours_time_window(rds: Any) -> None:
    rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
    wait_until(lambda: instance(rds, INSTANCES[0])["DBInstanceStatus"] == "available")

    def restarted(**window: Any) -> int:
        events = rds.describe_events(SourceType="db-instance", SourceIdentifier=INSTANCES[0], **window)["Events"]
        return sum(e["Message"] == "DB instance restarted" for e in events)

    assert restarted() == 1
    assert restarted(Duration=5) == 1
    assert restarted(StartTime=datetime.now(UTC) + timedelta(minutes=1)) == 0
    assert restarted(StartTime=datetime.now(UTC) - timedelta(hours=3), Duration=60) == 0
    assert rds.describe_events(SourceType="db-cluster", SourceIdentifier=CLUSTER)["Events"] == []


# ----------------------------------------------------------------- blue/green: switchover


def test_switchover_renames_green_into_production(sim_server: SimServer, rds: Any) -> None:
    early = create_deployment(rds)
    identifier = early["BlueGreenDeploymentIdentifier"]
    with pytest.raises(ClientError) as excinfo:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    assert error_code(excinfo) == "InvalidBlueGreenDeploymentStateFault"
    wait_for_status(rds, identifier, "AVAILABLE")
    green_id = early["Target"].rsplit(":", 1)[1]
    before = {
        "endpoint": cluster(rds)["Endpoint"],
        "blue_resource": cluster(rds)["DbClusterResourceId"],
        "green_resource": cluster(rds, green_id)["DbClusterResourceId"],
        "blue_instances": {i["DBInstanceIdentifier"]: i["DbiResourceId"] for i in cluster_instances(rds, CLUSTER)},
        "green_instances": [i["DbiResourceId"] for i in cluster_instances(rds, green_id)],
    }
    with pytest.raises(ClientError) as excinfo:
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=4000)
    assert error_code(excinfo) == "InvalidParameterValue"

    response = rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=300)
    assert response["BlueGreenDeployment"]["Status"] == "SWITCHOVER_IN_PROGRESS"
    assert describe_deployment(rds, identifier)["Status"] == "SWITCHOVER_IN_PROGRESS"
    with pytest.raises(ClientError) as excinfo:
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    assert error_code(excinfo) == "InvalidBlueGreenDeploymentStateFault"

    done = wait_for_status(rds, identifier, "SWITCHOVER_COMPLETED")
    assert done["Source"] == f"{CLUSTER_ARN}-old1"
    assert done["Target"] == CLUSTER_ARN
    assert {d["Status"] for d in done["SwitchoverDetails"]} == {"SWITCHOVER_COMPLETED"}
    production = cluster(rds)
    assert (production["EngineVersion"], production["Status"]) == ("15.10", "available")
    assert production["DbClusterResourceId"] == before["green_resource"]
    assert production["Endpoint"] == before["endpoint"]
    assert [i["DBInstanceIdentifier"] for i in cluster_instances(rds, CLUSTER)] == list(INSTANCES)
    assert [i["EngineVersion"] for i in cluster_instances(rds, CLUSTER)] == ["15.10", "15.10"]
    assert [i["DbiResourceId"] for i in cluster_instances(rds, CLUSTER)] == before["green_instances"]
    old = cluster(rds, OLD_CLUSTER)
    assert (old["EngineVersion"], old["DbClusterResourceId"]) == ("15.6", before["blue_resource"])
    old_instances = cluster_instances(rds, OLD_CLUSTER)
    assert [i["DBInstanceIdentifier"] for i in old_instances] == [f"{name}-old1" for name in INSTANCES]
    assert [i["DbiResourceId"] for i in old_instances] == list(before["blue_instances"].values())
    with pytest.raises(ClientError) as excinfo:
        cluster(rds, green_id)
    assert error_code(excinfo) == "DBClusterNotFoundFault"
    assert sim_server.mutating_calls() == [
        "CreateBlueGreenDeployment",
        "SwitchoverBlueGreenDeployment",
        "SwitchoverBlueGreenDeployment",
        "SwitchoverBlueGreenDeployment",
        "DeleteBlueGreenDeployment",
    ]


def test_switchover_failure_changes_nothing(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-switchover-fails"))
    deployment = available_deployment(rds)
    identifier = deployment["BlueGreenDeploymentIdentifier"]
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    failed = wait_for_status(rds, identifier, "SWITCHOVER_FAILED")
    assert failed["StatusDetails"]
    assert (cluster(rds)["EngineVersion"], failed["Source"]) == ("15.6", CLUSTER_ARN)


# ---------------------------------------------------------------------- blue/green: delete


def test_delete_after_switchover_keeps_old_cluster_and_refuses_delete_target(rds: Any) -> None:
    identifier = available_deployment(rds)["BlueGreenDeploymentIdentifier"]
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    wait_for_status(rds, identifier, "SWITCHOVER_COMPLETED")
    with pytest.raises(ClientError) as excinfo:
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, DeleteTarget=True)
    assert error_code(excinfo) == "InvalidBlueGreenDeploymentStateFault"

    deleting = rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)["BlueGreenDeployment"]
    assert deleting["Status"] == "DELETING"
    assert describe_deployment(rds, identifier)["Status"] == "DELETING"
    wait_until(lambda: gone(lambda: describe_deployment(rds, identifier), "BlueGreenDeploymentNotFoundFault"))
    assert cluster(rds, OLD_CLUSTER)["Status"] == "available"
    assert cluster(rds)["EngineVersion"] == "15.10"


def test_delete_with_target_before_switchover_removes_green(rds: Any) -> None:
    deployment = available_deployment(rds)
    identifier = deployment["BlueGreenDeploymentIdentifier"]
    green_id = deployment["Target"].rsplit(":", 1)[1]
    green_instances = [i["DBInstanceIdentifier"] for i in cluster_instances(rds, green_id)]

    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, DeleteTarget=True)
    assert describe_deployment(rds, identifier)["Status"] == "DELETING"
    assert {instance(rds, name)["DBInstanceStatus"] for name in green_instances} == {"deleting"}
    assert cluster(rds, green_id)["Status"] == "deleting"
    for name in green_instances:
        wait_until(lambda name=name: gone(lambda: instance(rds, name), "DBInstanceNotFound"))
    wait_until(lambda: gone(lambda: cluster(rds, green_id), "DBClusterNotFoundFault"))
    wait_until(lambda: gone(lambda: describe_deployment(rds, identifier), "BlueGreenDeploymentNotFoundFault"))
    # Blue is never touched.
    assert (cluster(rds)["Status"], [i["DBInstanceStatus"] for i in cluster_instances(rds, CLUSTER)]) == (
        "available",
        ["available", "available"],
    )


# ------------------------------------------------------------ snapshots and deletions


def test_cluster_snapshot_takes_time(rds: Any) -> None:
    snapshot_id = "aurora-bg-aurora-cluster-before-switchover-20250115-110000"
    created = rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=snapshot_id,
        DBClusterIdentifier=CLUSTER,
        Tags=[{"Key": "aurora-upgrade/uid", "Value": "uid-1234"}],
    )["DBClusterSnapshot"]
    assert created["Status"] == "creating"

    def snapshot() -> dict[str, Any]:
        found: dict[str, Any] = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)[
            "DBClusterSnapshots"
        ][0]
        return found

    assert snapshot()["Status"] == "creating"
    wait_until(lambda: snapshot()["Status"] == "available")
    assert (snapshot()["EngineVersion"], snapshot()["SnapshotType"]) == ("15.6", "manual")
    assert snapshot()["TagList"] == [{"Key": "aurora-upgrade/uid", "Value": "uid-1234"}]
    with pytest.raises(ClientError) as excinfo:
        rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="no-such-snapshot")
    assert error_code(excinfo) == "DBClusterSnapshotNotFoundFault"


def test_cluster_deletion_waits_for_instances_and_takes_a_final_snapshot(rds: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
    assert error_code(excinfo) == "InvalidDBClusterStateFault"

    for name in INSTANCES:
        deleting = rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)["DBInstance"]
        assert deleting["DBInstanceStatus"] == "deleting"
    assert {i["DBInstanceStatus"] for i in cluster_instances(rds, CLUSTER)} == {"deleting"}
    for name in INSTANCES:
        wait_until(lambda name=name: gone(lambda: instance(rds, name), "DBInstanceNotFound"))

    with pytest.raises(ClientError) as excinfo:
        rds.delete_db_cluster(DBClusterIdentifier=CLUSTER)
    assert error_code(excinfo) == "InvalidParameterCombination"
    final = "aurora-bg-aurora-cluster-final"
    assert rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, FinalDBSnapshotIdentifier=final)["DBCluster"][
        "Status"
    ] == ("deleting")
    assert cluster(rds)["Status"] == "deleting"
    snapshots = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)["DBClusterSnapshots"]
    assert snapshots[0]["DBClusterIdentifier"] == CLUSTER
    wait_until(lambda: gone(lambda: cluster(rds), "DBClusterNotFoundFault"))
    assert rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])["DBClusters"] == []


def test_deletion_protection_must_be_turned_off_first(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-deletion-protection"))
    assert cluster(rds)["DeletionProtection"] is True
    for name in INSTANCES:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    with pytest.raises(ClientError) as excinfo:
        rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
    assert error_code(excinfo) == "InvalidParameterCombination"
    rds.modify_db_cluster(DBClusterIdentifier=CLUSTER, DeletionProtection=False, ApplyImmediately=True)
    modified = cluster(rds)
    assert (modified["DeletionProtection"], modified["Status"]) == (False, "available")
    for name in INSTANCES:
        wait_until(lambda name=name: gone(lambda: instance(rds, name), "DBInstanceNotFound"))
    rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
    wait_until(lambda: gone(lambda: cluster(rds), "DBClusterNotFoundFault"))


def test_secrets_manager_password_is_not_supported_by_blue_green(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-managed-master-password"))
    assert "SecretArn" in cluster(rds)["MasterUserSecret"]
    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds)
    assert error_code(excinfo) == "SourceClusterNotSupportedFault"


@pytest.mark.parametrize(
    ("scenario", "shows", "code"),
    [
        pytest.param("runbook-serverless-v1", {"EngineMode": "serverless"}, "SourceClusterNotSupportedFault", id="sv1"),
        pytest.param(
            "runbook-cross-region-replica",
            {"ReadReplicaIdentifiers": ["arn:aws:rds:us-west-2:123456789012:cluster:aurora-bg-aurora-cluster-replica"]},
            "SourceClusterNotSupportedFault",
            id="cross-region-replica",
        ),
        pytest.param(
            "runbook-below-blue-green-minimum", {"EngineVersion": "15.3"}, "SourceClusterNotSupportedFault", id="15.3"
        ),
        pytest.param(
            "runbook-global-secondary",
            {"GlobalClusterIdentifier": "aurora-bg-global"},
            "SourceClusterNotSupportedFault",
            id="global-secondary",
        ),
        pytest.param(
            "runbook-global-missing-parameter-groups",
            {"GlobalClusterIdentifier": "aurora-bg-global"},
            "DBClusterParameterGroupNotFound",
            id="global-groups-missing",
        ),
    ],
)
def test_aws_documented_limitations_are_refused_by_create_blue_green(
    make_sim: Any, client_for: Any, scenario: str, shows: dict[str, Any], code: str
) -> None:
    rds = client_for(make_sim(scenario=scenario))
    described = cluster(rds)
    assert {key: described.get(key) for key in shows} == shows
    with pytest.raises(ClientError) as excinfo:
        create_deployment(rds)
    assert error_code(excinfo) == code
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []


def test_a_global_database_lists_its_members_by_identifier(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-global-primary"))
    found = rds.describe_global_clusters(GlobalClusterIdentifier="aurora-bg-global")["GlobalClusters"]
    members = {m["DBClusterArn"]: m["IsWriter"] for m in found[0]["GlobalClusterMembers"]}
    assert members == {
        CLUSTER_ARN: True,
        "arn:aws:rds:us-west-2:123456789012:cluster:aurora-bg-aurora-cluster-usw2": False,
    }
    with pytest.raises(ClientError) as excinfo:
        rds.describe_global_clusters(GlobalClusterIdentifier="no-such-global")
    assert error_code(excinfo) == "GlobalClusterNotFoundFault"
    create_deployment(rds)  # its parameter groups exist in us-west-2 too


def test_a_cluster_removed_from_its_global_database_stands_alone(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario="runbook-global-primary"))
    assert cluster(rds)["GlobalClusterIdentifier"] == "aurora-bg-global"
    rds.remove_from_global_cluster(GlobalClusterIdentifier="aurora-bg-global", DbClusterIdentifier=CLUSTER_ARN)
    assert "GlobalClusterIdentifier" not in cluster(rds)
    [found] = rds.describe_global_clusters(GlobalClusterIdentifier="aurora-bg-global")["GlobalClusters"]
    assert CLUSTER_ARN not in {m["DBClusterArn"] for m in found["GlobalClusterMembers"]}
    with pytest.raises(ClientError) as excinfo:
        rds.remove_from_global_cluster(GlobalClusterIdentifier="no-such-global", DbClusterIdentifier=CLUSTER_ARN)
    assert error_code(excinfo) == "GlobalClusterNotFoundFault"


def test_scenario_data_is_parameterised(make_sim: Any, client_for: Any) -> None:
    rds = client_for(make_sim(scenario=runbook(engine_version="15.10", pg16_parameter_groups=False)))
    assert cluster(rds)["EngineVersion"] == "15.10"
    with pytest.raises(ClientError) as excinfo:
        rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName="aurora-bg-aurora-pg16-cluster-params")
    assert error_code(excinfo) == "DBClusterParameterGroupNotFound"  # the code AWS sends


# ------------------------------------------------------------- record, hold, CLI, config


def test_call_record_lists_operations_params_and_outcomes(sim_server: SimServer, rds: Any) -> None:
    rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)
    rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
    with pytest.raises(ClientError):
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
    with pytest.raises(ClientError):
        rds.describe_db_clusters(DBClusterIdentifier="missing")
    calls = sim_server.calls()
    assert [(c["operation"], c["outcome"]) for c in calls] == [
        ("DescribeDBClusters", "ok"),
        ("RebootDBInstance", "ok"),
        ("RebootDBInstance", "InvalidDBInstanceState"),
        ("DescribeDBClusters", "DBClusterNotFoundFault"),
    ]
    assert calls[1]["params"] == {"DBInstanceIdentifier": INSTANCES[0]}
    times = [datetime.fromisoformat(c["time"]) for c in calls]
    assert times == sorted(times)
    assert sim_server.mutating_calls() == ["RebootDBInstance", "RebootDBInstance"]


def test_hold_delays_the_answer_after_the_change_took_effect(sim_server: SimServer, rds: Any, client_for: Any) -> None:
    identifier = available_deployment(rds)["BlueGreenDeploymentIdentifier"]
    sim_server.hold("SwitchoverBlueGreenDeployment")
    answers: list[str] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            client_for(sim_server).switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)[
                "BlueGreenDeployment"
            ]["Status"]
        )
    )
    caller.start()
    assert sim_server.wait_until_held("SwitchoverBlueGreenDeployment", timeout=10)
    # The switchover has happened (other clients see it) but its caller has no answer yet.
    assert describe_deployment(rds, identifier)["Status"] in ("SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED")
    assert [c["operation"] for c in sim_server.calls()].count("SwitchoverBlueGreenDeployment") == 1
    time.sleep(0.2)
    assert caller.is_alive() and answers == []
    sim_server.release()
    caller.join(timeout=10)
    assert answers == ["SWITCHOVER_IN_PROGRESS"]


def test_hold_after_n_lets_the_first_n_answers_through(sim_server: SimServer, rds: Any, client_for: Any) -> None:
    sim_server.hold("RebootDBInstance", after=1)
    assert rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])["DBInstance"]["DBInstanceStatus"] == "rebooting"
    assert sim_server.held() == []
    answers: list[str] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            client_for(sim_server).reboot_db_instance(DBInstanceIdentifier=INSTANCES[1])["DBInstance"][
                "DBInstanceIdentifier"
            ]
        )
    )
    caller.start()
    assert sim_server.wait_until_held("RebootDBInstance", timeout=10)
    assert instance(rds, INSTANCES[1])["DBInstanceStatus"] == "rebooting"  # carried out, answer held
    assert caller.is_alive() and answers == []
    sim_server.release()
    caller.join(timeout=10)
    assert answers == [INSTANCES[1]]


def _http(endpoint: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None or path == "/_sim/release" else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_cli_serves_until_sigterm_and_a_killed_client_still_changed_state(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aurora_upgrade.sim",
            "--port",
            "0",
            "--provisioning-seconds",
            "30",
            "--not-found-after-create-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"AWS_ENDPOINT_URL_RDS=(\S+)", server.stdout.readline())
        assert match
        endpoint = match.group(1)
        env = dict(
            os.environ,
            AWS_ENDPOINT_URL_RDS=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_CONFIG_FILE=str(tmp_path / "none"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        )
        _http(endpoint, "/_sim/hold", {"operation": "CreateBlueGreenDeployment"})
        client = subprocess.Popen(
            [
                str(VENV_BIN / "aws"),
                "rds",
                "create-blue-green-deployment",
                "--blue-green-deployment-name",
                "aurora-bg-upgrade-15-10",
                "--source",
                CLUSTER_ARN,
                "--target-engine-version",
                "15.10",
                "--region",
                "ap-northeast-1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _http(endpoint, "/_sim/held")["held"] == ["CreateBlueGreenDeployment"], timeout=20)
        client.kill()
        client.wait(timeout=10)
        _http(endpoint, "/_sim/release")
        calls = _http(endpoint, "/_sim/calls")
        assert [(c["operation"], c["outcome"]) for c in calls] == [("CreateBlueGreenDeployment", "ok")]
        assert calls[0]["params"]["BlueGreenDeploymentName"] == "aurora-bg-upgrade-15-10"
        # The client never learnt the id, but the deployment exists: a retry must find it by name.
        listed = subprocess.run(
            [
                str(VENV_BIN / "aws"),
                "rds",
                "describe-blue-green-deployments",
                "--filters",
                "Name=blue-green-deployment-name,Values=aurora-bg-upgrade-15-10",
                "--region",
                "ap-northeast-1",
                "--query",
                "BlueGreenDeployments[0].Status",
                "--output",
                "text",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert listed.stdout.strip() == "PROVISIONING"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0


def test_config_presets_keep_the_runbooks_proportions() -> None:
    demo = SimConfig.demo_timing()
    assert demo.provisioning_seconds > demo.switchover_seconds > demo.reboot_seconds > 0
    scaled = SimConfig.scaled(0.01)
    assert scaled.provisioning_seconds == pytest.approx(18.0)
    assert scaled.provisioning_seconds > scaled.switchover_seconds > 0
    assert SimConfig().with_overrides(reboot_seconds=2.0, delete_seconds=None).reboot_seconds == 2.0
    with pytest.raises(ValueError):
        SimConfig(reboot_seconds=-1)
    with SimServer(scenario="runbook") as first, pytest.raises(RuntimeError):
        assert first.endpoint_url.startswith("http://127.0.0.1:")
        SimServer(scenario="runbook").start()


def test_the_simulator_sends_the_error_codes_aws_sends(rds: Any) -> None:
    """Where moto's code differs from the wire code of botocore's RDS model (each error shape's
    `error.code`), the simulator answers with AWS's: a cluster parameter group not found, and an
    instance refusing a request in its state (moto's own InvalidDBInstanceStateFault)."""
    rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0])
    refused = []
    for call in (
        lambda: rds.describe_db_cluster_parameters(DBClusterParameterGroupName="missing"),
        lambda: rds.add_role_to_db_instance(
            DBInstanceIdentifier=INSTANCES[0], RoleArn="arn:aws:iam::123456789012:role/r", FeatureName="s3Import"
        ),
        lambda: rds.reboot_db_instance(DBInstanceIdentifier=INSTANCES[0]),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        refused.append(caught.value.response["Error"]["Code"])
    assert refused == ["DBClusterParameterGroupNotFound", "InvalidDBInstanceState", "InvalidDBInstanceState"]
    model = botocore.session.get_session().get_service_model("rds")
    wire = {shape.metadata.get("error", {}).get("code", shape.name) for shape in model.error_shapes}
    assert set(refused) <= wire
