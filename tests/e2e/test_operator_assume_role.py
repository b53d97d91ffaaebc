"""`spec.aws.roleArn` and `spec.aws.externalId` through the operator itself (kopf, the gateway
every upgrade of the account, Region and role shares, its shared describes and its RDS event
feed), not only through `aurora-upgrade run` (tests/integration/test_run_assume_role.py). The
simulator serves STS on its RDS port (operator_env's AWS_ENDPOINT_URL_STS) and trusts the role
only with its external id; its call log records which access key signed each call."""

from __future__ import annotations

import json
from typing import Any

import boto3
import yaml
from operator_fixtures import EXAMPLE, EXAMPLE_NAME, REGION, RUNBOOK_CALLS, Stack, manifest

from aurora_upgrade.sim.scenarios import RUNBOOK_ACCOUNT_ID

ROLE = f"arn:aws:iam::{RUNBOOK_ACCOUNT_ID}:role/aurora-upgrade-target"
EXTERNAL_ID = "team-a-upgrades"
SESSION = f"arn:aws:sts::{RUNBOOK_ACCOUNT_ID}:assumed-role/aurora-upgrade-target/aurora-upgrade-operator"
OPERATOR_KEY = "testing"  # the operator's own credentials (aurora_upgrade_dev.stack.operator_env)
# The describes every upgrade of the gateway shares (gateway.shared_reads.SharedDescribe), by the filter each
# sends; the call log has the parameters as the query sends them.
SHARED_DESCRIBES = {
    "DescribeDBClusters": "db-cluster-id",
    "DescribeDBInstances": "db-cluster-id",
    "DescribeBlueGreenDeployments": "blue-green-deployment-identifier",
    "DescribeDBClusterSnapshots": "db-cluster-snapshot-id",
}


def caller_of(stack: Stack, access_key_id: str) -> str:
    """Whose key it is, as the simulator's STS says (it checks no signature: the key id is enough)."""
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=stack.rds_sim.endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key="not-checked-by-the-simulator",
    )
    arn: str = sts.get_caller_identity()["Arn"]
    return arn


def test_the_operator_signs_every_rds_call_with_the_assumed_role(stack: Stack) -> None:
    stack.start(sim_args=["--require-external-id", f"{ROLE}={EXTERNAL_ID}"])
    document = yaml.safe_load(EXAMPLE.read_text())
    document["metadata"]["namespace"] = stack.namespace
    document["spec"]["aws"] = {"roleArn": ROLE, "externalId": EXTERNAL_ID}
    stack.apply(json.dumps(document))
    done = stack.wait_phase(EXAMPLE_NAME, "Completed", timeout=120)
    assert {c["type"]: c["status"] for c in done["conditions"]}["Ready"] == "True", done

    calls: list[dict[str, Any]] = stack.rds_sim.calls()  # before caller_of adds its own
    assert calls and calls[0]["operation"] == "AssumeRole", "the role is assumed before the first RDS call"
    assumed = [c for c in calls if c["operation"] == "AssumeRole"]
    for call in assumed:
        assert (call["outcome"], call["access_key_id"]) == ("ok", OPERATOR_KEY), "assumed with the operator's own key"
        assert call["params"]["RoleArn"] == ROLE and call["params"]["ExternalId"] == EXTERNAL_ID, call
        assert call["params"]["RoleSessionName"] == "aurora-upgrade-operator", call
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()

    rds = [c for c in calls if c["operation"] != "AssumeRole"]
    operations = sorted({c["operation"] for c in rds})
    # The region's shared paths ran under the role too: the feed, and describes by filter
    # (one call answering every upgrade that asked in the read cycle).
    assert "DescribeEvents" in operations, operations
    shared = {
        c["operation"]
        for c in rds
        if c["operation"] in SHARED_DESCRIBES
        and c["params"].get("Filters.Filter.1.Name") == SHARED_DESCRIBES[c["operation"]]
    }
    assert shared == set(SHARED_DESCRIBES), operations
    unsigned_or_own = [c for c in rds if not (c["access_key_id"] or "").startswith("ASIA")]
    assert unsigned_or_own == [], "every RDS call signed with STS's temporary keys, none with the operator's own"
    keys = {c["access_key_id"] for c in rds}
    assert {key: caller_of(stack, key) for key in keys} == dict.fromkeys(keys, SESSION)


def test_a_role_refused_to_the_operator_fails_the_upgrade_with_no_rds_call(stack: Stack) -> None:
    stack.start(sim_args=["--require-external-id", f"{ROLE}={EXTERNAL_ID}"])
    stack.apply(manifest("refused", stack.namespace, aws={"roleArn": ROLE, "externalId": "someone-elses-id"}))
    failed = stack.wait_phase("refused", "Failed", timeout=60)
    assert failed["reason"] == "PermissionDenied", failed
    assert "AWS refused sts:AssumeRole (AccessDenied: " in failed["message"] and ROLE in failed["message"], failed
    calls = stack.rds_sim.calls()
    assert {c["operation"] for c in calls} == {"AssumeRole"}, "no RDS call without the role's credentials"
    assert {c["params"].get("ExternalId") for c in calls} == {"someone-elses-id"}, calls
