"""`aurora-upgrade run` with `spec.aws.roleArn` and `spec.aws.externalId`: the operator assumes the
role through STS (the simulator serves it on the same port, `AWS_ENDPOINT_URL_STS`) and signs
every RDS call with the role's temporary credentials; a refused AssumeRole fails the upgrade,
naming sts:AssumeRole and the role, before anything is changed. What was called, and with whose
access key, is the simulator's call record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_upgrade.sim import RoleTrust
from aurora_upgrade.sim.scenarios import RUNBOOK_ACCOUNT_ID
from support.runbook import REGION, RUNBOOK_CALLS
from support.sim import SimFactory

from .runcli import run_cli, write_manifest

# The runbook's clusters are in the simulator's default account, so the role is in it too (moto
# answers a role's credentials from the role's account, as AWS does).
ROLE = f"arn:aws:iam::{RUNBOOK_ACCOUNT_ID}:role/aurora-upgrade-target"
EXTERNAL_ID = "team-a-upgrades"
# The credentials run_cli gives the operator (its own identity, before the role).
OPERATOR_KEY = "testing"


def status_of(state: Path) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(state.read_text())["status"]
    return status


def role_manifest(tmp_path: Path, external_id: str | None) -> Path:
    """A manifest with spec.aws.roleArn, and spec.aws.externalId unless `external_id` is None."""
    aws = {"roleArn": ROLE} if external_id is None else {"roleArn": ROLE, "externalId": external_id}
    return write_manifest(tmp_path, {"aws": aws})


def test_role_arn_is_assumed_and_used_for_rds_calls(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(roles=RoleTrust(external_ids={ROLE: EXTERNAL_ID}))
    state = tmp_path / "state.json"
    result = run_cli(sim, role_manifest(tmp_path, EXTERNAL_ID), state)
    assert result.returncode == 0, result.stdout + result.stderr
    assert status_of(state)["phase"] == "Completed"

    calls = sim.calls()
    assume = [c for c in calls if c["operation"] == "AssumeRole"]
    assert assume, "the role was never assumed"
    assert calls[0]["operation"] == "AssumeRole", "the role is assumed before the first RDS call"
    for call in assume:
        assert (call["outcome"], call["access_key_id"]) == ("ok", OPERATOR_KEY), "assumed with the operator's own key"
        assert call["params"]["RoleArn"] == ROLE
        assert call["params"]["ExternalId"] == EXTERNAL_ID
        assert call["params"]["RoleSessionName"] == "aurora-upgrade-operator"

    rds_calls = [c for c in calls if c["operation"] != "AssumeRole"]
    assert sim.mutating_calls() == RUNBOOK_CALLS, "the whole upgrade ran with the role"
    keys = {c["access_key_id"] for c in rds_calls}
    assert OPERATOR_KEY not in keys, "no RDS call is made with the operator's own credentials"
    assert all(key and key.startswith("ASIA") for key in keys), keys  # AWS's prefix of STS's temporary keys
    # Whose keys are they? The simulator's STS says (it does not check signatures, so the key id
    # is enough to ask with): the session of the assumed role.
    for key in keys:
        sts = boto3.client(
            "sts",
            region_name=REGION,
            endpoint_url=sim.endpoint_url,
            aws_access_key_id=key,
            aws_secret_access_key="not-checked-by-the-simulator",
        )
        arn = sts.get_caller_identity()["Arn"]
        assert arn == f"arn:aws:sts::{RUNBOOK_ACCOUNT_ID}:assumed-role/aurora-upgrade-target/aurora-upgrade-operator"


@pytest.mark.parametrize(
    ("roles", "external_id"),
    [
        # The role's trust policy wants another ExternalId.
        pytest.param(RoleTrust(external_ids={ROLE: EXTERNAL_ID}), "someone-elses-id", id="wrong-external-id"),
        # The role's trust policy wants an ExternalId; the manifest has no spec.aws.externalId.
        pytest.param(RoleTrust(external_ids={ROLE: EXTERNAL_ID}), None, id="missing-external-id"),
        # The role's trust policy does not name the operator's identity.
        pytest.param(RoleTrust(refused=frozenset({ROLE})), EXTERNAL_ID, id="not-trusted"),
    ],
)
def test_a_refused_assume_role_gives_a_specific_reason(
    make_sim: SimFactory, tmp_path: Path, roles: RoleTrust, external_id: str | None
) -> None:
    sim = make_sim(roles=roles)
    state = tmp_path / "state.json"
    result = run_cli(sim, role_manifest(tmp_path, external_id), state)
    assert result.returncode == 1, result.stdout + result.stderr
    status = status_of(state)
    assert (status["phase"], status["reason"]) == ("Failed", "PermissionDenied")
    message = status["message"]
    assert "AWS refused sts:AssumeRole (AccessDenied: " in message and ROLE in message, message
    assert "must trust the operator's identity" in message, "says what to fix: the trust policy, not iam-policy.json"
    calls = sim.calls()
    assert {c["operation"] for c in calls} == {"AssumeRole"}, "no RDS call without the role's credentials"
    assert {c["outcome"] for c in calls} == {"AccessDenied"}
    assert [c["params"].get("ExternalId") for c in calls] == [external_id] * len(calls), "sent as the manifest says"
    assert sim.mutating_calls() == []
