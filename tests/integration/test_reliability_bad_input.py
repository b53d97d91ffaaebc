"""Reliability, bad input the schema cannot see: each case ends `aurora-upgrade run` in Failed
(exit 1) with its own reason, before any mutating call took effect. The cases the API server
refuses are tests/e2e/test_reliability_schema.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.sim import SimServer
from aurora_upgrade.sim.config import FaultConfig
from aurora_upgrade.sim.recorder import is_mutating, took_effect
from support.reliability import Row, record
from support.sim import QUICK

from .runcli import env_for, run_command, write_manifest

pytestmark = pytest.mark.reliability

PG16 = {
    "targetEngineVersion": "16.4",
    "targetDBClusterParameterGroupName": "aurora-bg-aurora-pg16-cluster-params",
    "targetDBParameterGroupName": "aurora-bg-aurora-pg16-params",
}
WINDOW = {"days": ["Sat"], "start": "01:00", "end": "03:00"}

# (id, scenario, spec changes, spec fields dropped, sim faults, reason, words in the message)
CASES: list[tuple[str, str, dict[str, Any], tuple[str, ...], FaultConfig | None, str, str]] = [
    ("cluster-not-found", "runbook", {"clusterIdentifier": "no-such-cluster"}, (), None, "ClusterNotFound",
     "no-such-cluster"),
    ("cluster-in-another-region", "runbook", {"region": "us-east-1"}, (), None, "ClusterNotFound", "us-east-1"),
    ("source-version-mismatch", "runbook", {"expectedSourceEngineVersion": "15.4"}, (), None,
     "SourceVersionMismatch", "15.4"),
    ("already-at-target", "runbook-already-upgraded", {}, ("expectedSourceEngineVersion",), None,
     "AlreadyAtTargetVersion", "15.10"),
    ("target-version-unknown", "runbook", {"targetEngineVersion": "15.99"}, (), None, "TargetVersionNotFound",
     "15.99"),
    ("downgrade", "runbook", {"targetEngineVersion": "15.4"}, (), None, "TargetVersionNotValid", "15.4"),
    ("major-not-allowed", "runbook", PG16, (), None, "MajorVersionUpgradeNotAllowed", "allowMajorVersionUpgrade"),
    ("major-without-parameter-groups", "runbook", {"targetEngineVersion": "16.4", "allowMajorVersionUpgrade": True},
     ("targetDBClusterParameterGroupName", "targetDBParameterGroupName"), None, "ParameterGroupRequired",
     "aurora-postgresql16"),
    ("major-with-old-family-groups", "runbook", {"targetEngineVersion": "16.4", "allowMajorVersionUpgrade": True},
     (), None, "ParameterGroupFamilyMismatch", "aurora-postgresql16"),
    ("cluster-parameter-group-missing", "runbook", {"targetDBClusterParameterGroupName": "no-such-group"}, (), None,
     "ParameterGroupNotFound", "no-such-group"),
    ("instance-parameter-group-missing", "runbook", {"targetDBParameterGroupName": "no-such-group"}, (), None,
     "ParameterGroupNotFound", "no-such-group"),
    ("logical-replication-off", "runbook-logical-replication-off", {}, (), None, "LogicalReplicationDisabled",
     "rds.logical_replication"),
    ("managed-master-password", "runbook-managed-master-password", {}, (), None, "MasterUserSecretUnsupported",
     "Secrets Manager"),
    ("parameters-pending-reboot", "runbook-pending-reboot", {}, (), None, "ParametersPendingReboot",
     "rebootSourceForPendingParameters"),
    ("create-permission-refused", "runbook", {}, (), FaultConfig(denied=frozenset({"CreateBlueGreenDeployment"})),
     "PermissionDenied", "rds:CreateBlueGreenDeployment"),
    ("describe-permission-refused", "runbook", {}, (), FaultConfig(denied=frozenset({"DescribeDBClusters"})),
     "PermissionDenied", "rds:DescribeDBClusters"),
]  # fmt: skip


def run(server: SimServer, manifest: Path, state: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        run_command(manifest, state), env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def refused(server: SimServer, manifest: Path, state: Path, env: dict[str, str], reason: str, words: str) -> None:
    result = run(server, manifest, state, env)
    assert result.returncode == 1, result.stdout + result.stderr
    status = json.loads(state.read_text())["status"]
    assert (status["phase"], status["reason"]) == ("Failed", reason), status
    assert words in status["message"], status["message"]
    effective = [c["operation"] for c in server.calls() if is_mutating(c["operation"]) and took_effect(c)]
    assert effective == [], effective


@pytest.mark.parametrize(
    ("scenario", "spec", "drop", "faults", "reason", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_fails_its_precheck_without_a_change(
    tmp_path: Path,
    scenario: str,
    spec: dict[str, Any],
    drop: tuple[str, ...],
    faults: FaultConfig | None,
    reason: str,
    words: str,
) -> None:
    server = SimServer(config=QUICK, scenario=scenario, faults=faults).start()
    try:
        refused(server, write_manifest(tmp_path, spec, drop), tmp_path / "state.json", env_for(server), reason, words)
    finally:
        server.stop()
    _record(1)


def test_no_credentials_at_all_fails_naming_them(tmp_path: Path) -> None:
    """A new user's first try: no credentials anywhere (issue 7 item 5)."""
    server = SimServer(config=QUICK).start()
    try:
        env = {k: v for k, v in env_for(server).items() if not k.startswith("AWS_") or k == "AWS_ENDPOINT_URL_RDS"}
        env.update(
            AWS_DEFAULT_REGION="ap-northeast-1",
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_CONFIG_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        refused(server, write_manifest(tmp_path, {}), tmp_path / "state.json", env, "AWSCredentialsInvalid", "")
        assert server.calls() == [], "nothing reached AWS without credentials"
    finally:
        server.stop()
    _record(1)


def test_unknown_time_zone_is_refused_before_any_call(tmp_path: Path) -> None:
    """No schema knows IANA zones; `run` refuses the manifest itself (exit 2), as the operator
    fails it with InvalidSpec (tests/e2e/test_operator_guards.py)."""
    server = SimServer(config=QUICK).start()
    try:
        manifest = write_manifest(tmp_path, {"switchover": {"window": {**WINDOW, "timeZone": "Mars/Olympus"}}})
        result = run(server, manifest, tmp_path / "state.json", env_for(server))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "timeZone" in result.stderr and "Mars/Olympus" in result.stderr, result.stderr
        assert server.calls() == []
    finally:
        server.stop()
    _record(1)


def _record(refused_inputs: int) -> None:
    record(
        Row(
            "bad input the schema cannot see: Failed with its reason, no mutation",
            runs=1, faults_injected=0, upgrades_completed=0, duplicate_mutations=0, bad_inputs_refused=refused_inputs,
        )
    )  # fmt: skip
