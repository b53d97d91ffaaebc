"""`aurora-upgrade run` against the runbook account's variants: the prerequisites AWS documents,
the opt-in steps (runbook 2 and 9.2), a major upgrade, and a switchover AWS rolls back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.sim import rds_client
from aurora_upgrade.sim.scenarios import PG16_CLUSTER_PARAMETER_GROUP, PG16_DB_PARAMETER_GROUP
from support.runbook import CLUSTER, EXAMPLE

from .conftest import SimFactory
from .runcli import run_cli, write_manifest


def status_of(state: Path) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(state.read_text())["status"]
    return status


@pytest.mark.parametrize(
    ("scenario", "reason", "words"),
    [
        pytest.param(
            "runbook-logical-replication-off", "LogicalReplicationDisabled", "rds.logical_replication", id="no-lr"
        ),
        pytest.param("runbook-managed-master-password", "MasterUserSecretUnsupported", "Secrets Manager", id="secret"),
        pytest.param("runbook-pending-reboot", "ParametersPendingReboot", "rebootSourceForPendingParameters", id="pr"),
        pytest.param("runbook-already-upgraded", "SourceVersionMismatch", "is at 15.10", id="guard"),
    ],
)
def test_unmet_prerequisite_fails_before_any_change(
    make_sim: SimFactory, tmp_path: Path, scenario: str, reason: str, words: str
) -> None:
    sim = make_sim(scenario=scenario)
    state = tmp_path / "state.json"
    result = run_cli(sim, EXAMPLE, state)
    assert result.returncode == 1, result.stdout + result.stderr
    status = status_of(state)
    assert (status["phase"], status["reason"]) == ("Failed", reason)
    assert words in status["message"]
    assert sim.mutating_calls() == []


def test_cluster_already_at_target_fails_without_changes(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(scenario="runbook-already-upgraded")
    state = tmp_path / "state.json"
    manifest = write_manifest(tmp_path, {}, drop=("expectedSourceEngineVersion",))
    assert run_cli(sim, manifest, state).returncode == 1
    assert status_of(state)["reason"] == "AlreadyAtTargetVersion"
    assert sim.mutating_calls() == []


def test_pending_parameters_are_applied_by_rebooting_blue_when_asked(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(scenario="runbook-pending-reboot")
    state = tmp_path / "state.json"
    result = run_cli(sim, write_manifest(tmp_path, {"rebootSourceForPendingParameters": True}), state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Prechecking -> RebootingSource" in result.stdout
    calls = sim.mutating_calls()
    assert calls[:3] == ["RebootDBInstance", "RebootDBInstance", "CreateBlueGreenDeployment"]
    source_reboots = [c["params"]["DBInstanceIdentifier"] for c in sim.calls() if c["operation"] == "RebootDBInstance"]
    assert sorted(source_reboots[:2]) == ["aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2"]
    assert status_of(state)["phase"] == "Completed"


def test_switchover_rolled_back_by_aws_fails_and_leaves_blue_in_production(
    make_sim: SimFactory, tmp_path: Path
) -> None:
    sim = make_sim(scenario="runbook-switchover-fails")
    state = tmp_path / "state.json"
    result = run_cli(sim, EXAMPLE, state)
    assert result.returncode == 1, result.stdout + result.stderr
    status = status_of(state)
    assert status["phase"] == "Failed"
    assert "SWITCHOVER_FAILED" in status["message"]
    assert status["reason"] == "BlueGreenSwitchoverFailed"
    rds = rds_client(sim.endpoint_url)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert cluster["EngineVersion"] == "15.6", "blue stays production after a failed switchover"
    assert sim.mutating_calls()[-1] == "SwitchoverBlueGreenDeployment", "nothing is touched after the failure"


def test_old_cluster_deleted_on_request_with_a_final_snapshot(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(scenario="runbook-deletion-protection")
    state = tmp_path / "state.json"
    manifest = write_manifest(
        tmp_path,
        {"cleanup": {"deleteBlueGreenDeployment": True, "deleteOldCluster": True, "oldClusterRetention": "0s"}},
    )
    result = run_cli(sim, manifest, state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sim.mutating_calls()[-5:] == [
        "DeleteBlueGreenDeployment",
        "DeleteDBInstance",
        "DeleteDBInstance",
        "ModifyDBCluster",
        "DeleteDBCluster",
    ]
    rds = rds_client(sim.endpoint_url)
    clusters = {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}
    assert clusters == {CLUSTER}
    delete = next(c for c in sim.calls() if c["operation"] == "DeleteDBCluster")
    assert delete["params"]["DBClusterIdentifier"] == f"{CLUSTER}-old1"
    final = delete["params"]["FinalDBSnapshotIdentifier"]
    snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)["DBClusterSnapshots"][0]
    assert snapshot["Status"] == "available"


def test_major_upgrade_needs_permission_and_target_family_groups(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim()
    state = tmp_path / "state.json"
    manifest = write_manifest(
        tmp_path,
        {
            "targetEngineVersion": "16.4",
            "allowMajorVersionUpgrade": True,
            "targetDBClusterParameterGroupName": PG16_CLUSTER_PARAMETER_GROUP,
            "targetDBParameterGroupName": PG16_DB_PARAMETER_GROUP,
        },
    )
    result = run_cli(sim, manifest, state)
    assert result.returncode == 0, result.stdout + result.stderr
    cluster = rds_client(sim.endpoint_url).describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert cluster["EngineVersion"] == "16.4"
    assert "engine_version 15.6 -> 16.4" in status_of(state)["message"]


def test_major_upgrade_with_15_parameter_groups_is_refused(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim()
    state = tmp_path / "state.json"
    manifest = write_manifest(tmp_path, {"targetEngineVersion": "16.4", "allowMajorVersionUpgrade": True})
    assert run_cli(sim, manifest, state).returncode == 1
    status = status_of(state)
    assert status["reason"] == "ParameterGroupFamilyMismatch"
    assert "aurora-postgresql16" in status["message"]
    assert sim.mutating_calls() == []


def test_fixing_the_manifest_after_a_failed_precheck_starts_again(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(scenario="runbook-pending-reboot")
    state = tmp_path / "state.json"
    assert run_cli(sim, EXAMPLE, state).returncode == 1
    assert status_of(state)["reason"] == "ParametersPendingReboot"
    assert sim.mutating_calls() == []
    fixed = run_cli(sim, write_manifest(tmp_path, {"rebootSourceForPendingParameters": True}), state)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Failed -> Pending" in fixed.stdout
    assert status_of(state)["phase"] == "Completed"


def test_a_state_file_refuses_a_changed_immutable_field(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim()
    state = tmp_path / "state.json"
    assert run_cli(sim, write_manifest(tmp_path, {"expectedSourceEngineVersion": "15.4"}), state).returncode == 1
    calls = len(sim.calls())
    refused = run_cli(sim, write_manifest(tmp_path, {}), state)
    assert refused.returncode == 2 and "spec.expectedSourceEngineVersion is immutable" in refused.stderr
    assert len(sim.calls()) == calls, "refused before any AWS call"


def test_dry_run_then_the_real_run_with_the_same_state(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim()
    state = tmp_path / "state.json"
    assert run_cli(sim, write_manifest(tmp_path, {"dryRun": True}), state).returncode == 0
    assert status_of(state)["reason"] == "DryRun" and sim.mutating_calls() == []
    result = run_cli(sim, write_manifest(tmp_path, {"dryRun": False}), state)
    assert result.returncode == 0, result.stdout + result.stderr
    status = status_of(state)
    assert status["phase"] == "Completed" and status["reason"] != "DryRun"
    assert status.get("plan", []) == []
    assert sim.mutating_calls()[0] == "CreateBlueGreenDeployment"


def test_refused_permissions_and_credentials_are_not_aws_unavailable(make_sim: SimFactory, tmp_path: Path) -> None:
    """`aurora-upgrade run` tried as a new user would, with no AWS credentials anywhere: it
    ends Failed at once, saying what to configure, instead of 'will retry' forever."""
    import os
    import subprocess
    import sys

    sim = make_sim()
    state = tmp_path / "state.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_RDS=sim.endpoint_url,
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",  # no instance metadata here: don't wait for it
        AURORA_UPGRADE_POLL_SECONDS="0.1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "aurora_upgrade.cli", "run", "-f", str(EXAMPLE), "--state", str(state)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    status = status_of(state)
    assert (status["phase"], status["reason"]) == ("Failed", "AWSCredentialsInvalid")
    assert "no usable AWS credentials for rds:DescribeDBClusters (NoCredentialsError" in status["message"]
    assert "will retry" not in result.stdout
    assert sim.calls() == [], "nothing reached AWS"


def test_two_writers_never_both_act(make_sim: SimFactory, tmp_path: Path) -> None:
    """`run` holds an exclusive lock on its state file: a second run of the same state is
    refused at once with a clear message, before any AWS call, and the first completes alone."""
    import subprocess
    import sys
    import time

    from support.runbook import RUNBOOK_CALLS

    from .runcli import env_for

    sim = make_sim()
    state = tmp_path / "state.json"
    command = [sys.executable, "-m", "aurora_upgrade.cli", "run", "-f", str(EXAMPLE), "--state", str(state)]
    first = subprocess.Popen(command, env=env_for(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not state.exists() and time.monotonic() < deadline:  # the first run holds the lock by then
            time.sleep(0.05)
        second = run_cli(sim, EXAMPLE, state)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"{state} is in use by another `aurora-upgrade run` (pid {first.pid})" in second.stderr
        assert second.stdout == "", "refused before doing anything"
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert sim.mutating_calls() == RUNBOOK_CALLS
