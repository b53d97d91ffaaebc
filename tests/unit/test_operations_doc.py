"""Every reason the code can end an upgrade with (Failed or Aborted) has a row in the
troubleshooting table of docs/operations.md, found in the code itself: the reason of every
`fail(...)`, of every transition to Failed or Aborted, and the reasons the dynamic ones produce."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from aurora_upgrade import decisions, engine
from aurora_upgrade.decisions.deployment import BLUE_GREEN_FAILED, deployment_failure
from aurora_upgrade.decisions.outcome import access_problem
from aurora_upgrade.resources import BlueGreen, ErrorKind, RdsError

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
SOURCES = [
    *sorted(Path(decisions.__file__).parent.glob("*.py")),
    Path(engine.__file__),
    REPO / "operator/aurora_upgrade/controller.py",
]


def documented_reasons() -> set[str]:
    """The `Reason`s named in the first column of the troubleshooting tables."""
    text = OPERATIONS.read_text()
    rows = [line for line in text[text.index("## Troubleshooting") :].splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}


def _terminal(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("FAILED", "ABORTED")


def ending_reasons() -> tuple[set[str], set[str]]:
    """(literal reasons, prefixes of f-string reasons) of fail(...), advance(Phase.ABORTED, ...)
    and transition(status, Phase.FAILED, ...) calls."""
    literal, prefixes = set(), set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            args = node.args
            if node.func.id == "fail" and args:
                reason = args[0]
            elif node.func.id == "advance" and len(args) > 1 and _terminal(args[0]):
                reason = args[1]
            elif node.func.id == "transition" and len(args) > 2 and _terminal(args[1]):
                reason = args[2]
            else:
                continue
            if isinstance(reason, ast.Constant):
                literal.add(reason.value)
            elif isinstance(reason, ast.JoinedStr) and isinstance(reason.values[0], ast.Constant):
                prefixes.add(str(reason.values[0].value))
            elif isinstance(reason, ast.JoinedStr) and isinstance(reason.values[-1], ast.Constant):
                prefixes.add("*" + str(reason.values[-1].value))  # a suffix: <Reason>TimedOut
            elif isinstance(reason, ast.Name) and path.name == "outcome.py":
                continue  # access_problem's reasons, checked below
            else:
                raise AssertionError(f"{path.name}:{node.lineno}: a reason this test cannot read")
    return literal, prefixes


def test_the_scan_finds_the_reasons() -> None:
    literal, prefixes = ending_reasons()
    assert {"LogicalReplicationDisabled", "SwitchoverRolledBack", "InvalidSpec", "Aborted", "Orphaned"} <= literal
    assert prefixes == {"AWS", "BlueGreen", "*TimedOut"}, prefixes


@pytest.mark.parametrize("reason", sorted(ending_reasons()[0]))
def test_every_literal_reason_is_in_the_table(reason: str) -> None:
    assert reason in documented_reasons(), reason


@pytest.mark.parametrize("status", sorted(BLUE_GREEN_FAILED))
def test_every_failed_deployment_status_has_its_reason_in_the_table(status: str) -> None:
    deployment = BlueGreen(identifier="bgd-1", name="n", source="s", target=None, status=status, status_details=None)
    outcome = deployment_failure(deployment)
    assert outcome is not None
    assert outcome.reason in documented_reasons(), outcome.reason


def test_aws_error_reasons_have_their_pattern_row() -> None:
    assert "AWS<ErrorCode>" in documented_reasons()


def test_deadline_reasons_have_their_pattern_row() -> None:
    assert "<Reason>TimedOut" in documented_reasons()


@pytest.mark.parametrize("kind", [ErrorKind.PERMISSION, ErrorKind.CREDENTIALS])
def test_permission_and_credential_reasons_are_in_the_table(kind: ErrorKind) -> None:
    reason, _ = access_problem(RdsError(kind, "AccessDenied", "no", "DescribeDBClusters"))
    assert reason in documented_reasons(), reason
