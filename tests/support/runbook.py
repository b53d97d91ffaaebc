"""The runbook's upgrade as every tier expects it: the example manifest, the phases it passes
through, the mutating RDS calls it makes and the AWS state it leaves behind.

The end state is read through a boto3 RDS client of the simulator, so the in-process simulator
(integration) and `aurora-upgrade sim` as a process (e2e) are checked the same way.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from aurora_upgrade_dev import stack

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / stack.EXAMPLE
RUNBOOK_MANIFEST: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
RUNBOOK_SPEC: dict[str, Any] = RUNBOOK_MANIFEST["spec"]
NAME: str = RUNBOOK_MANIFEST["metadata"]["name"]
REGION: str = RUNBOOK_SPEC["region"]
CLUSTER: str = RUNBOOK_SPEC["clusterIdentifier"]
SOURCE_VERSION: str = RUNBOOK_SPEC["expectedSourceEngineVersion"]
TARGET_VERSION: str = RUNBOOK_SPEC["targetEngineVersion"]
CLUSTER_PARAMETER_GROUP: str = RUNBOOK_SPEC["targetDBClusterParameterGroupName"]
DB_PARAMETER_GROUP: str = RUNBOOK_SPEC["targetDBParameterGroupName"]
# The cluster's instances: the manifest does not name them, and the simulator's
# scenarios.RUNBOOK_INSTANCES cannot be imported here (sim loads moto, which the unit tier never
# does). tests/sim/test_sim_behaviour.py checks that both name the same account.
INSTANCES = ("aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2")
# The name AWS gives the previous production cluster at the switchover; kept for rollback.
OLD_CLUSTER = f"{CLUSTER}-old1"

# Every phase of the example's upgrade, from accepted to done (green rebooted before the
# switchover, a snapshot before it, production rebooted after it).
RUNBOOK_PHASES = [
    "Pending",
    "Prechecking",
    "CreatingBlueGreen",
    "ProvisioningGreen",
    "RebootingGreen",
    "Snapshotting",
    "SwitchingOver",
    "RebootingInstances",
    "Verifying",
    "CleaningUp",
    "Completed",
]

# The example's mutating RDS calls, in order: each exactly once, however often the upgrade is
# interrupted and resumed.
RUNBOOK_CALLS = [
    "CreateBlueGreenDeployment",
    "RebootDBInstance",
    "RebootDBInstance",
    "CreateDBClusterSnapshot",
    "SwitchoverBlueGreenDeployment",
    "RebootDBInstance",
    "RebootDBInstance",
    "DeleteBlueGreenDeployment",
]
# What deleting the old cluster adds after them (cleanup.deleteOldCluster: its two instances,
# then the cluster).
OLD_CLUSTER_DELETION_CALLS = ["DeleteDBInstance", "DeleteDBInstance", "DeleteDBCluster"]


def runbook_manifest(namespace: str | None = None, name: str | None = None, **spec: Any) -> dict[str, Any]:
    """A copy of the example manifest, the caller's to change: in `namespace` and under `name`
    when given, and with these spec fields (camelCase) replaced."""
    document = copy.deepcopy(RUNBOOK_MANIFEST)
    if namespace is not None:
        document["metadata"]["namespace"] = namespace
    if name is not None:
        document["metadata"]["name"] = name
    document["spec"].update(copy.deepcopy(spec))
    return document


def assert_runbook_status(status: dict[str, Any]) -> None:
    """The example's status once its upgrade completed, as the operator and `aurora-upgrade run`
    both write it: every phase of the runbook in its history, the deployment, snapshot and old
    cluster it names, and conditions that say done."""
    assert status["phase"] == "Completed", status
    assert status["sourceEngineVersion"] == "15.6", status
    assert status["blueGreenDeploymentIdentifier"].startswith("bgd-"), status
    assert "engine_version" in status["message"] and "15.10" in status["message"], status
    assert status["oldClusterIdentifier"] == OLD_CLUSTER, status
    assert status["snapshotIdentifier"].startswith(f"{CLUSTER}-before-switchover-"), status
    assert status["greenClusterEndpoint"], status
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Ready": "True", "Reconciling": "False", "Stalled": "False", "Upgraded": "True"}, status
    assert [entry["phase"] for entry in status["history"]] == RUNBOOK_PHASES, status["history"]


def assert_runbook_end_state(rds: Any) -> None:
    """AWS as the example's upgrade leaves it, read through `rds` (a boto3 RDS client of the
    simulator): production on 15.10 under its own names (runbook 7.1/7.2), the old cluster kept
    on 15.6, one manual snapshot from before the switchover, no blue/green deployment left."""
    cluster = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert (cluster["EngineVersion"], cluster["Status"]) == ("15.10", "available"), cluster
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])["DBInstances"]
    assert sorted((i["DBInstanceIdentifier"], i["EngineVersion"], i["DBInstanceStatus"]) for i in instances) == [
        (instance, "15.10", "available") for instance in INSTANCES
    ], instances
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    assert set(clusters) == {CLUSTER, OLD_CLUSTER}, sorted(clusters)
    assert clusters[OLD_CLUSTER]["EngineVersion"] == "15.6", "the previous production cluster is kept for rollback"
    snapshots = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [(s["DBClusterIdentifier"], s["Status"]) for s in snapshots] == [(CLUSTER, "available")], snapshots
    assert snapshots[0]["DBClusterSnapshotIdentifier"].startswith(f"{CLUSTER}-before-switchover-"), snapshots
    # Listed by the cluster's name too, as an SRE looks for it.
    of_cluster = rds.describe_db_cluster_snapshots(DBClusterIdentifier=CLUSTER, SnapshotType="manual")
    assert of_cluster["DBClusterSnapshots"] == snapshots
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []
