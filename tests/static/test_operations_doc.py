"""docs/operations.md's tables, held to the code.

- Every reason the code can end an upgrade with (Failed or Aborted) has a row in the
  troubleshooting table, found in the code itself: the reason of every `fail(...)`, of every
  transition to Failed or Aborted, and the reasons the dynamic ones produce.
- The waits table lists every Warning that does not end an upgrade (every `Outcome(...,
  warning=True)` and the engine's literal Warning events) and says so in its last column; a row
  that says "no" is a wait the code declares (`deadlines.WAITS`) and sends no Warning for; every
  wait on a person (`deadlines.ON_PEOPLE`: no deadline, or a stall) has a row.
- The phase table has one row per phase of the happy path with every option on, in its order
  (every `Phase` but Failed and Aborted), and marks **blip** exactly the phases whose stage
  switches over or reboots production's instances.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from aurora_upgrade import decisions, engine
from aurora_upgrade.decisions import actions, deadlines, reboot
from aurora_upgrade.decisions.deployment import BLUE_GREEN_FAILED, deployment_failure, unknown_status
from aurora_upgrade.decisions.outcome import access_problem
from aurora_upgrade.phases import Phase, happy_path
from aurora_upgrade.resources import BlueGreen, ErrorKind, RdsError
from aurora_upgrade.status import STALLING_REASONS
from unit.builders import TIMING, make_spec, make_upgrade

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


# --- the waits table: what does not end an upgrade, and whether a Warning Event says it ------

WAITS_TABLE = "Waits and Warnings that do not end the upgrade"
PATTERNS = {"*TimedOut": "<Reason>TimedOut", "*Retry": "<Operation>Retry"}  # f-string reasons: their rows
# Warning outcomes whose reason is a variable (file, expression): the functions that produce
# them are called in warning_reasons.
DYNAMIC = {("outcome.py", "reason"), ("deployment.py", "out.reason")}
ACTION_OPERATIONS = {getattr(cls, "operation", "") for cls in vars(actions).values() if isinstance(cls, type)} - {""}


def table_after(marker: str) -> list[list[str]]:
    """The cells of the first table after `marker` (the header row first, no |---| row)."""
    text = OPERATIONS.read_text()
    lines = text[text.index(marker) :].splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    return [table[0], *table[2:]]


def names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def waits_rows() -> dict[str, bool]:
    """Every reason in the first column of the waits table (examples included), and whether its
    row says a Warning Event says it."""
    header, *rows = table_after(WAITS_TABLE)
    assert header[-1] == "Warning Event", header
    documented: dict[str, bool] = {}
    for row in rows:
        assert row[-1] in ("yes", "no"), row
        for name in names(row[0]):
            documented[name] = row[-1] == "yes"
    return documented


def _reasons_of(reason: ast.expr | None, path: Path, line: int, dynamic: set[tuple[str, str]]) -> set[str]:
    if isinstance(reason, ast.Constant):
        return {str(reason.value)}
    if isinstance(reason, ast.IfExp):  # "AWSUnavailable" if error.retryable else "AWSNotFound"
        return _reasons_of(reason.body, path, line, dynamic) | _reasons_of(reason.orelse, path, line, dynamic)
    if isinstance(reason, ast.JoinedStr) and isinstance(reason.values[-1], ast.Constant):
        return {"*" + str(reason.values[-1].value)}  # a suffix: <Reason>TimedOut, <Operation>Retry
    if reason is not None and (path.name, ast.unparse(reason)) in DYNAMIC:
        dynamic.add((path.name, ast.unparse(reason)))
        return set()
    raise AssertionError(f"{path.name}:{line}: a Warning reason this test cannot read")


def warning_reasons() -> set[str]:
    """The reasons of every Warning that does not end the upgrade: `Outcome(..., warning=True)`
    without a terminal phase, and the reasons of `.event("Warning", ...)` calls (the engine's
    stall on an InvalidSpec; its other Warning events pass an outcome's reason on)."""
    found: set[str] = set()
    dynamic: set[tuple[str, str]] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            warning, phase = keywords.get("warning"), keywords.get("phase")
            if isinstance(node.func, ast.Name) and node.func.id == "Outcome" and warning is not None:
                if not (isinstance(warning, ast.Constant) and warning.value is True):
                    raise AssertionError(f"{path.name}:{node.lineno}: a Warning this test cannot read")
                if phase is None or not _terminal(phase):
                    found |= _reasons_of(keywords.get("reason"), path, node.lineno, dynamic)
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "event" and len(node.args) > 1:
                event_type, reason = node.args[0], node.args[1]
                if isinstance(event_type, ast.Constant) and event_type.value == "Warning":
                    found |= _reasons_of(reason, path, node.lineno, dynamic)
    assert dynamic == DYNAMIC, f"variable reasons not found any more: {sorted(DYNAMIC - dynamic)}"
    for kind in (ErrorKind.PERMISSION, ErrorKind.CREDENTIALS):
        found.add(access_problem(RdsError(kind, "AccessDenied", "no", "DescribeDBClusters"))[0])
    deployment = BlueGreen(identifier="bgd-1", name="n", source="s", target=None, status="NEW", status_details=None)
    found.add(unknown_status(deployment, TIMING).reason)
    return found


def test_the_warning_scan_finds_the_warnings() -> None:
    found = warning_reasons()
    assert {"AWSUnavailable", "AWSNotFound", "SwitchoverRefused", "VerificationStalled", "InvalidSpec"} <= found
    assert {"SwitchedOverOutsideOperator", "UnknownBlueGreenStatus"} <= found
    assert {"PermissionDenied", "AWSCredentialsInvalid"} <= found
    assert {"*TimedOut", "*Retry"} <= found


@pytest.mark.parametrize("reason", sorted(warning_reasons()))
def test_every_warning_that_does_not_end_the_upgrade_has_a_row_saying_so(reason: str) -> None:
    documented = waits_rows()
    name = PATTERNS.get(reason, reason)
    assert name in documented, f"{name}: a Warning the waits table does not list"
    assert documented[name], f"{name}: its row says no Warning Event; the code sends one"


def test_every_row_saying_warning_is_a_warning_of_the_code() -> None:
    code = {PATTERNS.get(reason, reason) for reason in warning_reasons()}
    for name, warning in waits_rows().items():
        if not warning or name in code:
            continue
        # Otherwise only an example of a pattern row: a wait that has a deadline, a call retried.
        if name.endswith("TimedOut"):
            assert name.removesuffix("TimedOut") in deadlines.DEADLINES, name
        elif name.endswith("Retry"):
            assert name.removesuffix("Retry") in ACTION_OPERATIONS, name
        else:
            raise AssertionError(f"{name}: the table says a Warning Event; the code sends none")


def test_rows_without_a_warning_are_waits_the_code_declares() -> None:
    code = warning_reasons()
    quiet = [name for name, warning in waits_rows().items() if not warning]
    assert quiet, "no row without a Warning Event: is the last column read?"
    for name in quiet:
        assert name in deadlines.WAITS, f"{name}: not a reason the code waits with"
        assert name not in code, f"{name}: its row says no Warning Event; the code sends one"


@pytest.mark.parametrize("reason", sorted(deadlines.ON_PEOPLE))
def test_every_wait_on_a_person_has_a_row(reason: str) -> None:
    """The waits without a deadline (a person ends them) and the stalls (a person must fix something)."""
    assert reason in waits_rows(), f"{reason}: a wait on a person the waits table does not list"


def test_the_deadlines_section_names_the_waits_on_people() -> None:
    """The sentence "Waits on people have none: ..." names every `Wait(on_person=True)`; the rest
    of ON_PEOPLE is its "stalls that already say what to fix"."""
    text = OPERATIONS.read_text()
    sentence = text[text.index("Waits on people have none:") :].split(".\n")[0]
    on_person = {reason for reason, w in deadlines.WAITS.items() if w.on_person}
    assert set(names(sentence)) - {"cleanup.oldClusterRetention"} == on_person
    assert deadlines.ON_PEOPLE - on_person == STALLING_REASONS


# --- the phase table: one row per phase, and the blips --------------------------------------

PHASE_TABLE = "## What each phase does to production"


def phase_rows() -> list[tuple[list[str], str]]:
    """(the phases a row names, what it says about production), in the table's order."""
    header, *rows = table_after(PHASE_TABLE)
    assert header == ["phase", "what happens", "production"], header
    return [([name.strip() for name in row[0].split(",")], row[2]) for row in rows]


def every_phase_in_order() -> list[Phase]:
    """The happy path with every optional phase on: a gated switchover, source reboot."""
    return happy_path(make_spec(switchover={"mode": "Manual"}), reboot_source=True)


def test_the_happy_path_with_every_option_is_every_phase_but_the_endings() -> None:
    assert set(Phase) - set(every_phase_in_order()) == {Phase.FAILED, Phase.ABORTED}


def test_the_phase_table_has_one_row_per_phase_in_order() -> None:
    """Failed and Aborted are the troubleshooting tables' (their reasons, above)."""
    documented = [name for phases, _ in phase_rows() for name in phases]
    assert documented == [p.value for p in every_phase_in_order()]


def _asks_for(function: object, action: str, seen: set[str] | None = None) -> bool:
    """`function`'s body, or that of a function of its module it calls, builds the action
    `action` (e.g. `Switchover(...)`)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    if action in called:
        return True
    seen = seen if seen is not None else set()
    module = inspect.getmodule(function)
    for name in sorted(called - seen):
        seen.add(name)
        helper = getattr(module, name, None)
        own = inspect.isfunction(helper) and helper.__module__ == getattr(module, "__name__", None)
        if own and _asks_for(helper, action, seen):
            return True
    return False


def interrupting_phases() -> set[Phase]:
    """The phases whose stage switches over, or reboots production's own instances (a
    reboot's cluster is reboot.rebooted_cluster: green's in RebootingGreen)."""
    interrupting = set()
    for phase, stage in engine.STAGES.items():
        if _asks_for(stage.decide, "Switchover"):
            interrupting.add(phase)
        elif _asks_for(stage.decide, "RebootInstance"):
            upgrade = make_upgrade(phase, green_cluster_identifier="green")
            if reboot.rebooted_cluster(upgrade) == upgrade.cluster:
                interrupting.add(phase)
    return interrupting


def test_the_blip_scan_finds_the_switchover_and_the_reboots() -> None:
    reboots = {p for p, s in engine.STAGES.items() if _asks_for(s.decide, "RebootInstance")}
    assert reboots == {Phase.REBOOTING_SOURCE, Phase.REBOOTING_GREEN, Phase.REBOOTING_INSTANCES}
    assert Phase.SWITCHING_OVER in interrupting_phases()


def test_the_blip_rows_are_the_phases_that_interrupt_production() -> None:
    """As the section says: "Connections are interrupted only in the rows marked **blip**"."""
    blips = {name for phases, production in phase_rows() if "**blip**" in production for name in phases}
    assert blips == {p.value for p in interrupting_phases()}
