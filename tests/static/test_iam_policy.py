"""docs/iam-policy.json: least privilege, checked against the code and AWS's own reference.

Every action it grants is an RDS operation the gateway (operator/aurora_upgrade/gateway/) calls,
or one AWS's Service Authorization Reference lists as a dependent action of such an operation
(what blue/green does on the caller's behalf; parliament ships that reference as data), and
each of those is documented in docs/install.md. parliament, run as users run it, reports nothing.
tests/e2e/test_iam_policy.py checks every call the operator made in the e2e runs against it.

One statement is not an RDS API call: `rds-db:connect`, IAM database authentication for the
validation's connections to blue and green (docs/validation.md). AWS says the `rds-db:` prefix
and `rds-db:connect` are "only for IAM database authentication"; it is scoped to the database
user and, since the cluster resource id behind production's name changes at switchover and
green's is unknown until green exists, to any cluster resource id.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import parliament
import pytest

from aurora_upgrade import gateway
from aurora_upgrade.models import DatabaseSpec
from aurora_upgrade.upgrade import UID_TAG

REPO = Path(__file__).resolve().parents[2]
POLICY_FILE = REPO / "docs" / "iam-policy.json"
INSTALL_DOC = REPO / "docs" / "install.md"
PARLIAMENT = Path(sys.executable).with_name("parliament")


CONNECT_SID = "ConnectToBlueAndGreenAsTheValidationUser"


def policy() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(POLICY_FILE.read_text())
    return loaded


def api_statements() -> list[dict[str, Any]]:
    """The statements granting RDS API calls: all but the database connect statement."""
    return [s for s in policy()["Statement"] if s.get("Sid") != CONNECT_SID]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def gateway_operations() -> set[str]:
    """The RDS operations the gateway can call: the first argument of every `self._call`,
    `self._pages` and `self._describe_or_none` in its package."""
    trees = [ast.parse(path.read_text()) for path in Path(gateway.__file__).parent.glob("*.py")]
    return {
        node.args[0].value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("_call", "_pages", "_describe_or_none")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


@cache
def service_reference() -> dict[str, Any]:
    """AWS's Service Authorization Reference for RDS, as parliament ships it."""
    data = json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text())
    rds_service: dict[str, Any] = next(s for s in data if s["prefix"] == "rds")
    return {p["privilege"]: p for p in rds_service["privileges"]}


def dependent_actions(operation: str) -> set[str]:
    privilege = service_reference()[operation]
    return {a for r in privilege["resource_types"] for a in r["dependent_actions"]}


def parliament_findings(document: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PARLIAMENT), "--string", json.dumps(document), "--include-community-auditors", *options],
        stdin=subprocess.DEVNULL,  # parliament takes a policy from stdin too; give it none
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_gateway_calls_what_the_readme_and_engine_need() -> None:
    """The AST scan finds the gateway's operations (a scan that found nothing would pass below)."""
    assert {"DescribeDBClusters", "CreateBlueGreenDeployment", "SwitchoverBlueGreenDeployment"} <= gateway_operations()
    assert len(gateway_operations()) >= 15


def test_no_service_wide_or_wildcard_action() -> None:
    for statement in api_statements():
        assert statement["Effect"] == "Allow", statement
        for action in actions_of(statement):
            assert action.startswith("rds:") and "*" not in action, action


def test_every_gateway_operation_is_granted() -> None:
    granted = {a.removeprefix("rds:") for s in api_statements() for a in actions_of(s)}
    assert gateway_operations() <= granted, gateway_operations() - granted


def test_nothing_is_granted_that_the_operator_or_blue_green_on_its_behalf_does_not_call() -> None:
    called = gateway_operations()
    on_behalf = {a.removeprefix("rds:") for op in called for a in dependent_actions(op) if a.startswith("rds:")}
    granted = {a.removeprefix("rds:") for s in api_statements() for a in actions_of(s)}
    assert granted <= called | on_behalf, granted - called - on_behalf
    # What the operator never calls itself is documented, with the operation it serves.
    documented = INSTALL_DOC.read_text()
    for action in sorted(granted - called):
        assert f"`rds:{action}`" in documented, f"rds:{action} is granted but not explained in docs/install.md"


def test_resources_are_scoped_where_aws_allows_it() -> None:
    """`*` only for actions without resource-level permissions (DescribeDBEngineVersions,
    DescribeEvents); everything else names the RDS resource types it acts on."""
    for statement in api_statements():
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if "*" in resources:
            assert resources == ["*"], statement
            for action in actions_of(statement):
                types = [r["resource_type"] for r in service_reference()[action.removeprefix("rds:")]["resource_types"]]
                assert [t for t in types if t] == [], f"{action} supports resource-level permissions: {types}"
        else:
            assert all(r.startswith("arn:aws:rds:*:*:") and r.endswith(":*") for r in resources), resources


def test_what_the_operator_creates_is_tagged_and_only_its_own_deployments_are_switched_or_deleted() -> None:
    by_action = {a: s for s in policy()["Statement"] for a in actions_of(s)}
    create = by_action["rds:CreateBlueGreenDeployment"]["Condition"]
    assert create == {"Null": {f"aws:RequestTag/{UID_TAG}": "false"}}
    for action in ("rds:SwitchoverBlueGreenDeployment", "rds:DeleteBlueGreenDeployment"):
        assert by_action[action]["Condition"] == {"Null": {f"aws:ResourceTag/{UID_TAG}": "false"}}, action


def test_database_connections_are_granted_for_the_validation_user_only() -> None:
    """rds-db:connect, in one statement, for the default database user of spec.validation, on
    any cluster resource id (blue's and green's; production's changes at switchover), and no
    other statement grants anything but RDS API calls."""
    connect = [s for s in policy()["Statement"] if s.get("Sid") == CONNECT_SID]
    assert connect == [
        {
            "Sid": CONNECT_SID,
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": f"arn:aws:rds-db:*:*:dbuser:*/{DatabaseSpec().user}",
        }
    ]
    others = {a for s in api_statements() for a in actions_of(s)}
    assert all(a.startswith("rds:") for a in others), others
    documented = INSTALL_DOC.read_text()
    assert "`rds-db:connect`" in documented and "validation.md" in documented


def test_parliament_reports_nothing() -> None:
    """Nothing on the RDS API statements; on the whole policy, only what its community auditors
    say of any rds-db:connect (it logs in to a database: "credentials exposure", "permissions
    management"), each naming that action alone."""
    document = policy()
    api_only = {**document, "Statement": api_statements()}
    result = parliament_findings(api_only)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    whole = parliament_findings(document, "--json")
    findings = sorted((f["issue"], f["location"]["actions"]) for f in map(json.loads, whole.stdout.splitlines()))
    assert findings == [
        ("CREDENTIALS_EXPOSURE", ["rds-db:connect"]),
        ("PERMISSIONS_MANAGEMENT_ACTIONS", ["rds-db:connect"]),
    ], whole.stdout


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "rds:RebootDBInstance", "Resource": "*"},
        {"Effect": "Allow", "Action": "rds:RebootDBInstanse", "Resource": "arn:aws:rds:*:*:db:*"},
        {"Effect": "Allow", "Action": "rds:RebootDBInstance", "Resource": "arn:aws:rds:*:*:cluster:*"},
    ],
    ids=["resource-star", "unknown-action", "wrong-resource-type"],
)
def test_parliament_would_report_a_broken_statement(statement: dict[str, Any]) -> None:
    """The check above can fail: parliament flags each of these."""
    document = {**policy(), "Statement": [*api_statements(), statement]}
    result = parliament_findings(document)
    assert result.returncode != 0 and result.stdout.strip(), result


QUEUE_POLICY_FILE = REPO / "docs" / "iam-policy-event-queue.json"


def test_the_event_queue_policy_grants_what_its_gateway_calls_on_that_queue_only() -> None:
    """The optional EventBridge queue (docs/events.md): ReceiveMessage, and DeleteMessage, which
    authorises DeleteMessageBatch (SQS has no action of its own for the batch), on one queue."""
    source = (Path(gateway.__file__).parent / "event_queue.py").read_text()
    called = {
        node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.endswith(("_message", "_message_batch"))
    }
    assert called == {"receive_message", "delete_message_batch"}
    (statement,) = json.loads(QUEUE_POLICY_FILE.read_text())["Statement"]
    assert sorted(actions_of(statement)) == ["sqs:DeleteMessage", "sqs:ReceiveMessage"]
    assert statement["Resource"].startswith("arn:aws:sqs:") and "*" not in statement["Resource"].rsplit(":", 1)[1]


def test_parliament_reports_nothing_for_the_event_queue_policy() -> None:
    result = parliament_findings(json.loads(QUEUE_POLICY_FILE.read_text()))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    broken = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMesage", "Resource": "*"}],
    }
    assert parliament_findings(broken).returncode != 0  # the check above can fail
