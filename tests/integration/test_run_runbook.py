"""`aurora-upgrade run` end to end against the simulated RDS (moto underneath).

The CLI runs as a real process, reaching the simulator only through boto3's standard
AWS_ENDPOINT_URL_RDS, exactly as it would reach AWS. Assertions are what an SRE would check:
the exit code, what was printed, the AWS state left behind, and the ordered mutating calls.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from aurora_upgrade.sim import SimServer, rds_client
from aurora_upgrade_dev.processes import stop_process
from support.runbook import (
    EXAMPLE,
    NAME,
    OLD_CLUSTER_DELETION_CALLS,
    RUNBOOK_CALLS,
    RUNBOOK_PHASES,
    assert_runbook_end_state,
    assert_runbook_status,
)
from support.sim import FAST

from .runcli import env_for, run_cli, run_command, write_manifest


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = SimServer(config=FAST, scenario="runbook", port=0)
    server.start()
    yield server
    server.stop()


def test_runbook_upgrade_from_pending_to_completed(sim: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    result = run_cli(sim, EXAMPLE, state)
    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout
    for before, after in itertools.pairwise(RUNBOOK_PHASES):
        assert f"{before} -> {after}" in printed, f"{before} -> {after} not printed:\n{printed}"
    assert "engine_version 15.6 -> 15.10" in printed
    assert_runbook_end_state(rds_client(sim.endpoint_url))
    assert sim.mutating_calls() == RUNBOOK_CALLS
    assert_runbook_status(json.loads(state.read_text())["status"])


def test_green_reboots_all_at_once_and_production_one_at_a_time(tmp_path: Path) -> None:
    """Green's second reboot is asked for while its first instance is still rebooting (as the
    runbook reboots them); production's second only once the first instance is back, from the
    simulator's record of when each reboot ended. Reboots last 3 s here, so the order does not
    hang on how quickly the process runs."""
    server = SimServer(config=replace(FAST, reboot_seconds=3.0), scenario="runbook", port=0)
    server.start()
    try:
        result = run_cli(server, EXAMPLE, tmp_path / "state.json")
        assert result.returncode == 0, result.stdout + result.stderr
        calls, transitions = server.calls(), server.transitions()
    finally:
        server.stop()
    sent = {
        c["params"]["DBInstanceIdentifier"]: datetime.fromisoformat(c["time"])
        for c in calls
        if c["operation"] == "RebootDBInstance"
    }
    back = {
        t["label"].removeprefix("reboot "): datetime.fromisoformat(t["time"])
        for t in transitions
        if t["label"].startswith("reboot ")
    }
    g1, g2 = sorted(i for i in sent if "-green-" in i)
    p1, p2 = sorted(i for i in sent if "-green-" not in i)
    assert sent[g2] < back[g1], (sent, back)
    assert sent[p2] > back[p1], (sent, back)


def test_rerun_after_completion_makes_no_call(sim: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert run_cli(sim, EXAMPLE, state).returncode == 0
    before = len(sim.calls())
    again = run_cli(sim, EXAMPLE, state)
    assert again.returncode == 0
    assert len(sim.calls()) == before, "a completed upgrade must not touch AWS again"


def kill_right_after(sim: SimServer, manifest: Path, state: Path, operation: str, nth: int) -> None:
    """Run the CLI and SIGKILL it after AWS carried out the nth `operation` but before the
    process saw the answer (the simulator holds the response)."""
    # Armed before the process starts: the nth call may follow the one before it within a poll.
    sim.hold(operation, after=nth - 1)
    process = subprocess.Popen(
        run_command(manifest, state),
        env=env_for(sim),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert sim.wait_until_held(operation, timeout=120), f"{operation} #{nth} was never called"
        assert sim.mutating_calls().count(operation) == nth
    finally:
        # Killed before the held answer is released, so the process never sees it.
        stop_process(process, signal.SIGKILL, timeout=30)
        sim.release()


@pytest.mark.parametrize(
    ("operation", "nth"),
    [
        ("CreateBlueGreenDeployment", 1),
        ("RebootDBInstance", 1),  # first green reboot
        ("RebootDBInstance", 2),  # second green reboot, asked for while the first is under way
        ("CreateDBClusterSnapshot", 1),
        ("SwitchoverBlueGreenDeployment", 1),
        ("RebootDBInstance", 3),  # first reboot after switchover
        ("DeleteBlueGreenDeployment", 1),
    ],
)
def test_killed_right_after_a_mutating_call_resumes_without_repeating_it(
    sim: SimServer, tmp_path: Path, operation: str, nth: int
) -> None:
    """Killed right after the call, then run again with the same state file."""
    state = tmp_path / "state.json"
    kill_right_after(sim, EXAMPLE, state, operation, nth)
    result = run_cli(sim, EXAMPLE, state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sim.mutating_calls() == RUNBOOK_CALLS, f"killed after {operation} #{nth}"
    assert_runbook_end_state(rds_client(sim.endpoint_url))


@pytest.mark.parametrize(
    ("operation", "nth"), [("DeleteDBInstance", 1), ("DeleteDBInstance", 2), ("DeleteDBCluster", 1)]
)
def test_killed_while_deleting_the_old_cluster_resumes_without_repeating(
    sim: SimServer, tmp_path: Path, operation: str, nth: int
) -> None:
    state = tmp_path / "state.json"
    manifest = write_manifest(tmp_path, {"cleanup": {"deleteOldCluster": True}})
    kill_right_after(sim, manifest, state, operation, nth)
    result = run_cli(sim, manifest, state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sim.mutating_calls() == [*RUNBOOK_CALLS, *OLD_CLUSTER_DELETION_CALLS]


INVALID = [
    pytest.param({"switchover": {"timeoutSeconds": 29}}, (), "timeoutSeconds", id="timeout-too-small"),
    pytest.param({"switchover": {"timeoutSeconds": 3601}}, (), "timeoutSeconds", id="timeout-too-large"),
    pytest.param({"blueGreenDeploymentName": "1-upgrade"}, (), "blueGreenDeploymentName", id="name-leading-digit"),
    pytest.param({"blueGreenDeploymentName": "a--b"}, (), "blueGreenDeploymentName", id="name-double-hyphen"),
    pytest.param({"blueGreenDeploymentName": "a" * 61}, (), "blueGreenDeploymentName", id="name-too-long"),
    pytest.param({"region": "Tokyo"}, (), "region", id="bad-region"),
    pytest.param({"targetEngineVersion": "latest"}, (), "targetEngineVersion", id="bad-version"),
    pytest.param({}, ("region",), "region", id="missing-region"),
    pytest.param({}, ("clusterIdentifier",), "clusterIdentifier", id="missing-cluster"),
    pytest.param({}, ("targetEngineVersion",), "targetEngineVersion", id="missing-target"),
    pytest.param({"switchover": {"mode": "Sometimes"}}, (), "mode", id="unknown-mode"),
    pytest.param({"deletionPolicy": "Delete"}, (), "deletionPolicy", id="unknown-deletion-policy"),
    pytest.param({"switchover": {"window": {"start": "25:00", "end": "03:00"}}}, (), "start", id="window-bad-clock"),
    pytest.param(
        {"switchover": {"window": {"start": "01:00", "end": "03:00", "timeZone": "Mars/Olympus"}}},
        (),
        "timeZone",
        id="window-unknown-zone",
    ),
    pytest.param({"cleanup": {"oldClusterRetention": "1w"}}, (), "oldClusterRetention", id="bad-duration"),
    pytest.param({"aws": {"roleArn": "not-an-arn"}}, (), "roleArn", id="bad-role-arn"),
    pytest.param({"clusterIdentifier": "bad_cluster!"}, (), "clusterIdentifier", id="bad-cluster-id"),
    pytest.param({"surprise": True}, (), "surprise", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "drop", "field"), INVALID)
def test_invalid_manifest_exits_2_before_any_aws_call(
    sim: SimServer, tmp_path: Path, changes: dict[str, object], drop: tuple[str, ...], field: str
) -> None:
    manifest = write_manifest(tmp_path, changes, drop)
    result = run_cli(sim, manifest, tmp_path / "state.json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert field in result.stderr, result.stderr
    assert sim.calls() == []
    assert not (tmp_path / "state.json").exists()


def test_not_an_auroraupgrade_exits_2(sim: SimServer, tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = run_cli(sim, path, tmp_path / "state.json")
    assert result.returncode == 2 and "dbupgrade.dev/v1alpha1/AuroraUpgrade" in result.stderr
    assert sim.calls() == []


SEMANTIC = [
    pytest.param({"clusterIdentifier": "no-such-cluster"}, "ClusterNotFound", id="cluster-not-found"),
    pytest.param({"expectedSourceEngineVersion": "15.4"}, "SourceVersionMismatch", id="source-mismatch"),
    pytest.param({"targetEngineVersion": "15.99"}, "TargetVersionNotFound", id="target-not-offered"),
    pytest.param({"targetEngineVersion": "16.4"}, "MajorVersionUpgradeNotAllowed", id="major-not-allowed"),
    pytest.param({"targetDBClusterParameterGroupName": "missing-params"}, "ParameterGroupNotFound", id="group-missing"),
    pytest.param({"targetEngineVersion": "15.6"}, "AlreadyAtTargetVersion", id="already-at-target"),
]


@pytest.mark.parametrize(("changes", "reason"), SEMANTIC)
def test_failed_precheck_changes_nothing_in_aws(
    sim: SimServer, tmp_path: Path, changes: dict[str, object], reason: str
) -> None:
    state = tmp_path / "state.json"
    result = run_cli(sim, write_manifest(tmp_path, changes), state)
    assert result.returncode == 1, result.stdout + result.stderr
    status = json.loads(state.read_text())["status"]
    assert (status["phase"], status["reason"]) == ("Failed", reason), status["message"]
    assert sim.mutating_calls() == []
    assert {c["type"]: c["status"] for c in status["conditions"]}["Stalled"] == "True"


def test_dry_run_writes_a_plan_and_changes_nothing(sim: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    result = run_cli(sim, write_manifest(tmp_path, {"dryRun": True}), state)
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(state.read_text())["status"]
    assert status["reason"] == "DryRun"
    assert any(f"CreateBlueGreenDeployment {NAME}" in step for step in status["plan"])
    assert any(step.startswith("SwitchingOver") for step in status["plan"])
    assert sim.mutating_calls() == []
