"""Running `aurora-upgrade run` as a real process against a simulator, and checking AWS after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from aurora_upgrade.sim import SimServer, rds_client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "aurora-bg-upgrade-15-10.yaml"
CLUSTER = "aurora-bg-aurora-cluster"
RUNBOOK_MUTATIONS = [
    "CreateBlueGreenDeployment",
    "RebootDBInstance",
    "RebootDBInstance",
    "CreateDBClusterSnapshot",
    "SwitchoverBlueGreenDeployment",
    "RebootDBInstance",
    "RebootDBInstance",
    "DeleteBlueGreenDeployment",
]


def env_for(server: SimServer) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL_RDS=server.endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="ap-northeast-1",
        AURORA_UPGRADE_POLL_SECONDS="0.1",
    )
    return env


def run_cli(server: SimServer, manifest: Path, state: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurora_upgrade.cli", "run", "-f", str(manifest), "--state", str(state)],
        env=env_for(server),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_runbook_end_state(server: SimServer) -> None:
    rds = rds_client(server.endpoint_url)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert (cluster["EngineVersion"], cluster["Status"]) == ("15.10", "available")
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])["DBInstances"]
    assert sorted((i["DBInstanceIdentifier"], i["EngineVersion"], i["DBInstanceStatus"]) for i in instances) == [
        ("aurora-bg-aurora-instance-1", "15.10", "available"),
        ("aurora-bg-aurora-instance-2", "15.10", "available"),
    ]
    old = rds.describe_db_clusters(DBClusterIdentifier=f"{CLUSTER}-old1")["DBClusters"][0]
    assert old["EngineVersion"] == "15.6", "the previous production cluster is kept for rollback"
    snapshots = rds.describe_db_cluster_snapshots(DBClusterIdentifier=CLUSTER, SnapshotType="manual")
    manual = [s for s in snapshots["DBClusterSnapshots"] if "before-switchover" in s["DBClusterSnapshotIdentifier"]]
    assert len(manual) == 1 and manual[0]["Status"] == "available"
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []


def write_manifest(tmp_path: Path, spec_changes: dict[str, object], drop: tuple[str, ...] = ()) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    for key in drop:
        doc["spec"].pop(key)
    for key, value in spec_changes.items():
        doc["spec"][key] = value
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path
