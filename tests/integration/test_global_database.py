"""An upgrade of a global database's primary that an earlier version took up to its switchover
carries on under this one, and cleanup never deletes `-old1` while it belongs to the global
database (docs/operations.md, "Aurora global databases").

The earlier version's steps (create, switchover) are made by hand against the simulator; the
engine then runs in this process from the status such a version recorded at CleaningUp, its status
kept in memory (as in test_fleet_shared_reads). The simulator is real (moto behind HTTP)."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from aurora_upgrade.clock import rfc3339, utcnow
from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.sim.scenarios import GLOBAL_CLUSTER, RUNBOOK_CLUSTER
from aurora_upgrade.status import initial, with_conditions
from aurora_upgrade.upgrade import Upgrade
from support.runbook import RUNBOOK_MANIFEST
from support.sim import Recorded, SimFactory

TIMING = Timing.compressed(0.6 / 30)  # a poll of 0.6 s
OLD = f"{RUNBOOK_CLUSTER}-old1"


def deployment_in(rds: Any, identifier: str, status: str) -> dict[str, Any]:
    """The deployment once it shows `status` (AWS lists a new one only after a moment)."""
    deadline, found = time.monotonic() + 30, None
    while True:
        with contextlib.suppress(ClientError):
            [found] = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=identifier)[
                "BlueGreenDeployments"
            ]
            if found["Status"] == status:
                return dict(found)
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def cluster(rds: Any, identifier: str) -> dict[str, Any]:
    found: dict[str, Any] = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    return found


def switched_over_by_an_earlier_version(rds: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The global primary's deployment created and switched over: (blue as it was, its instances'
    parameter group, the deployment)."""
    spec = RUNBOOK_MANIFEST["spec"]
    blue = cluster(rds, RUNBOOK_CLUSTER)
    writer = rds.describe_db_instances(DBInstanceIdentifier=blue["DBClusterMembers"][0]["DBInstanceIdentifier"])
    db_parameter_group = writer["DBInstances"][0]["DBParameterGroups"][0]["DBParameterGroupName"]
    created = rds.create_blue_green_deployment(
        BlueGreenDeploymentName="aurora-bg-upgrade-15-10",
        Source=blue["DBClusterArn"],
        TargetEngineVersion=spec["targetEngineVersion"],
        TargetDBClusterParameterGroupName=spec["targetDBClusterParameterGroupName"],
        TargetDBParameterGroupName=spec["targetDBParameterGroupName"],
    )["BlueGreenDeployment"]
    identifier = created["BlueGreenDeploymentIdentifier"]
    deployment_in(rds, identifier, "AVAILABLE")
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=300)
    return blue, db_parameter_group, deployment_in(rds, identifier, "SWITCHOVER_COMPLETED")


def cleaning_up(blue: dict[str, Any], db_parameter_group: str, deployment: dict[str, Any]) -> Upgrade:
    """What an earlier version recorded on reaching CleaningUp, deleting `-old1` when asked to."""
    now = utcnow()
    stamp = rfc3339(now)
    status = initial(now).model_copy(
        update={
            "phase": Phase.CLEANING_UP,
            "source_engine_version": blue["EngineVersion"],
            "source_db_cluster_parameter_group_name": blue["DBClusterParameterGroup"],
            "source_db_parameter_group_name": db_parameter_group,
            "source_cluster_resource_id": blue["DbClusterResourceId"],
            "blue_green_deployment_identifier": deployment["BlueGreenDeploymentIdentifier"],
            "old_cluster_identifier": OLD,
            "switchover_requested_at": stamp,
            "switchover_accepted_at": stamp,
            "switchover_completed_at": stamp,
        }
    )
    spec = parse_spec({**RUNBOOK_MANIFEST["spec"], "cleanup": {"deleteOldCluster": True}})
    return Upgrade("global", "default", str(uuid.uuid4()), 1, spec, with_conditions(status, now, 1))


def reconcile_until(engine: Engine, upgrade: Upgrade, store: Recorded, reason: str) -> Upgrade:
    deadline = time.monotonic() + 60
    while upgrade.status.reason != reason:
        assert time.monotonic() < deadline, (upgrade.status.reason, upgrade.status.message)
        upgrade, delay = engine.reconcile(upgrade, store)
        time.sleep(min(delay or 0.0, 1.0))
    return upgrade


def test_an_old1_still_in_its_global_database_is_kept_until_a_person_removes_it(
    make_sim: SimFactory, client_for: Any, monkeypatch: Any
) -> None:
    sim = make_sim(scenario="runbook-global-primary")
    rds = client_for(sim)
    blue, db_parameter_group, deployment = switched_over_by_an_earlier_version(rds)
    assert cluster(rds, OLD)["GlobalClusterIdentifier"] == GLOBAL_CLUSTER
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    gateway = RdsGateway.for_region(RUNBOOK_MANIFEST["spec"]["region"])
    engine, store = Engine(timing=TIMING, gateways=lambda _u: gateway), Recorded()

    # The deployment goes (runbook step 9.1); -old1 stays whole, with a Warning and Stalled.
    upgrade = reconcile_until(
        engine, cleaning_up(blue, db_parameter_group, deployment), store, "OldClusterInGlobalDatabase"
    )
    assert sim.mutating_calls() == [
        "CreateBlueGreenDeployment",
        "SwitchoverBlueGreenDeployment",
        "DeleteBlueGreenDeployment",
    ]
    assert upgrade.status.phase == Phase.CLEANING_UP
    assert {c.type: c.status for c in upgrade.status.conditions}["Stalled"] == "True"
    [warning] = [e for e in store.events if e[1] == "OldClusterInGlobalDatabase"]
    assert warning[0] == "Warning" and f"it is still a member of global database {GLOBAL_CLUSTER}" in warning[2]
    instances = rds.describe_db_instances()["DBInstances"]
    assert [i["DBInstanceStatus"] for i in instances if i["DBClusterIdentifier"] == OLD] == ["available", "available"]

    # Once a person has removed it from the global database, cleanup deletes it (runbook step 9.2).
    rds.remove_from_global_cluster(
        GlobalClusterIdentifier=GLOBAL_CLUSTER, DbClusterIdentifier=cluster(rds, OLD)["DBClusterArn"]
    )
    upgrade = reconcile_until(engine, upgrade, store, "Completed")
    assert upgrade.status.phase == Phase.COMPLETED
    assert "engine_version 15.6 -> 15.10 (runbook step 8)" in upgrade.status.message, upgrade.status.message
    assert sim.mutating_calls()[3:] == [
        "RemoveFromGlobalCluster",  # the person's
        "DeleteDBInstance",
        "DeleteDBInstance",
        "DeleteDBCluster",
    ]
