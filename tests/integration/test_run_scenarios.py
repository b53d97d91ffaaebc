"""`aurora-upgrade run` against the runbook account's variants: the prerequisites AWS documents,
the opt-in steps (runbook 2 and 9.2), a major upgrade, and a switchover AWS rolls back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.sim import rds_client
from aurora_upgrade.sim.scenarios import PG16_CLUSTER_PARAMETER_GROUP, PG16_DB_PARAMETER_GROUP
from support.runbook import CLUSTER, EXAMPLE, INSTANCES, OLD_CLUSTER, RUNBOOK_CALLS
from support.sim import SimFactory

from .runcli import run_cli, run_command, write_manifest


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
    assert sorted(source_reboots[:2]) == list(INSTANCES)
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
    # Failed after the call only because names and versions prove blue is still production.
    assert "names and versions show blue is still production" in status["message"]
    assert status["switchoverAttempt"] == 1
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
    assert delete["params"]["DBClusterIdentifier"] == OLD_CLUSTER
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

    sim = make_sim()
    state = tmp_path / "state.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_RDS=sim.endpoint_url,
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",  # no instance metadata here: don't wait for it
        AURORA_UPGRADE_TIME_SCALE=str(0.1 / 30),  # a poll of 0.1 s, every deadline alike
    )
    result = subprocess.run(
        run_command(EXAMPLE, state),
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
    import time

    from .runcli import env_for

    sim = make_sim()
    state = tmp_path / "state.json"
    first = subprocess.Popen(
        run_command(EXAMPLE, state), env=env_for(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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


def test_cluster_identifiers_are_case_insensitive(make_sim: SimFactory, tmp_path: Path) -> None:
    """AWS stores cluster, instance and snapshot identifiers lower-case and matches them
    case-insensitively: a manifest naming the cluster in mixed case upgrades it end to end."""
    sim = make_sim()
    state = tmp_path / "state.json"
    result = run_cli(sim, write_manifest(tmp_path, {"clusterIdentifier": "Aurora-BG-Aurora-Cluster"}), state)
    assert result.returncode == 0, result.stdout + result.stderr
    status = status_of(state)
    assert status["phase"] == "Completed", status
    assert sim.mutating_calls() == RUNBOOK_CALLS
    assert status["oldClusterIdentifier"] == OLD_CLUSTER
    clusters = rds_client(sim.endpoint_url).describe_db_clusters()["DBClusters"]
    assert sorted(c["DBClusterIdentifier"] for c in clusters) == [CLUSTER, OLD_CLUSTER]


def test_a_deprecated_source_version_can_be_upgraded(make_sim: SimFactory, tmp_path: Path) -> None:
    """15.4 is deprecated: DescribeDBEngineVersions lists it only with IncludeAll. Upgrading off
    it is the usual reason to upgrade, so it runs through, and the precheck says it is deprecated."""
    sim = make_sim(scenario="runbook-deprecated-source")
    listed = rds_client(sim.endpoint_url).describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="15.4")
    assert listed["DBEngineVersions"] == []
    before = len(sim.calls())
    state = tmp_path / "state.json"
    result = run_cli(sim, write_manifest(tmp_path, {"expectedSourceEngineVersion": "15.4"}), state)
    assert result.returncode == 0, result.stdout + result.stderr
    status = status_of(state)
    assert (status["phase"], status["sourceEngineVersion"]) == ("Completed", "15.4")
    assert "15.4 (deprecated) can be upgraded to 15.10" in result.stdout
    assert sim.mutating_calls() == RUNBOOK_CALLS
    lookups = [c["params"] for c in sim.calls()[before:] if c["operation"] == "DescribeDBEngineVersions"]
    assert lookups and all(str(p.get("IncludeAll")).lower() == "true" for p in lookups)


@pytest.mark.parametrize(
    ("scenario", "source_version", "reason", "words"),
    [
        pytest.param(
            "runbook-serverless-v1", "15.6", "ServerlessV1Unsupported", "Aurora Serverless v1", id="serverless"
        ),
        pytest.param(
            "runbook-cross-region-replica",
            "15.6",
            "CrossRegionReadReplicaUnsupported",
            "arn:aws:rds:us-west-2:123456789012:cluster:aurora-bg-aurora-cluster-replica",
            id="cross-region-replica",
        ),
        pytest.param(
            "runbook-below-blue-green-minimum", "15.3", "SourceVersionBelowBlueGreenMinimum", "below 15.4", id="15.3"
        ),
        pytest.param(
            "runbook-global-secondary",
            "15.6",
            "GlobalDatabaseSecondaryCluster",
            "secondary cluster of global database aurora-bg-global",
            id="global-secondary",
        ),
        pytest.param(
            "runbook-global-primary",
            "15.6",
            "GlobalDatabaseUnsupported",
            "is the primary of global database aurora-bg-global, whose switchover also switches over us-west-2",
            id="global-primary",
        ),
    ],
)
def test_prechecks_cover_aws_documented_limitations(
    make_sim: SimFactory, tmp_path: Path, scenario: str, source_version: str, reason: str, words: str
) -> None:
    """Each limitation on AWS's "Limitations and considerations" and supported-versions pages that a
    describe call can see fails at Prechecking with its own reason, and nothing in AWS changes
    (the simulator itself refuses each such CreateBlueGreenDeployment, see test_sim_behaviour); so
    does a global database's primary, which AWS supports and the operator does not (its steps after
    switchover cover one Region: docs/operations.md, Limitations)."""
    sim = make_sim(scenario=scenario)
    state = tmp_path / "state.json"
    result = run_cli(sim, write_manifest(tmp_path, {"expectedSourceEngineVersion": source_version}), state)
    assert result.returncode == 1, result.stdout + result.stderr
    status = status_of(state)
    assert (status["phase"], status["reason"]) == ("Failed", reason)
    assert [h["phase"] for h in status["history"]][-2:] == ["Prechecking", "Failed"]
    assert words in status["message"]
    assert sim.mutating_calls() == []
