"""docs/operations.md's tables, held to the code.

- The troubleshooting tables are generated from reasons.py (every reason status can carry,
  with its kind, meaning, what to do and whether a Warning says it); the deadlines table is
  the table's deadlines at time scale 1.
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

from aurora_upgrade import engine, reasons
from aurora_upgrade.decisions import reboot
from aurora_upgrade.decisions.deployment import BLUE_GREEN_FAILED, deployment_failure, unknown_status
from aurora_upgrade.decisions.outcome import access_problem
from aurora_upgrade.phases import Phase, happy_path
from aurora_upgrade.reasons import (
    TABLE,
    Kind,
    Reason,
    deadlines_markdown,
    entry_of,
    troubleshooting_markdown,
    waits_on_a_person,
)
from aurora_upgrade.resources import BlueGreen, ErrorKind, RdsError
from unit.builders import make_spec, make_upgrade

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"


BEGIN, END = "<!-- reasons: generated from reasons.py -->", "<!-- end of reasons -->"


def generated_part(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n")


def test_the_troubleshooting_tables_are_the_reason_table() -> None:
    """docs/operations.md's reasons are `reasons.troubleshooting_markdown()`, word for word:
    `python -m aurora_upgrade.reasons` prints it."""
    text = OPERATIONS.read_text()
    assert text.index("## Troubleshooting") < text.index(BEGIN)
    assert generated_part(text) == troubleshooting_markdown().strip("\n")


def rows(title: str) -> dict[str, list[str]]:
    """The rows of the generated table after `title`, by the names in their first cell."""
    part = generated_part(OPERATIONS.read_text())
    lines = part[part.index(title) :].splitlines()
    found: dict[str, list[str]] = {}
    for line in lines[lines.index(next(x for x in lines if x.startswith("|"))) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        found[cells[0].strip("`")] = cells
    return found


def doc_name(reason: Reason) -> str:
    return reasons.doc_name(reason).strip("`")


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_its_row_in_the_right_table(reason: Reason) -> None:
    entry = TABLE[reason]
    name = doc_name(reason)
    if entry.kind == Kind.FAILED or entry.fails is not None:
        assert name in rows("Reasons an upgrade ends"), name
    if entry.kind in (Kind.WAITING_ON_AWS, Kind.WAITING_ON_PERSON, Kind.STALLED):
        row = rows("Waits, stalls and Warnings")[name]
        assert row[1] == entry.kind.value
        assert row[-2] == ("yes" if entry.warning else "no")
    if entry.kind == Kind.PROGRESS:
        assert name in rows("Reasons of steps that go on"), name


@pytest.mark.parametrize("status", sorted(BLUE_GREEN_FAILED))
def test_every_failed_deployment_status_is_a_failed_reason_of_the_table(status: str) -> None:
    deployment = BlueGreen(identifier="bgd-1", name="n", source="s", target=None, status=status, status_details=None)
    outcome = deployment_failure(deployment)
    assert outcome is not None
    assert entry_of(outcome.reason) == TABLE[Reason.BLUE_GREEN_FAILED], outcome.reason


@pytest.mark.parametrize("kind", [ErrorKind.PERMISSION, ErrorKind.CREDENTIALS])
def test_permission_and_credential_reasons_are_stalls_that_may_end_an_upgrade(kind: ErrorKind) -> None:
    reason, _ = access_problem(RdsError(kind, "AccessDenied", "no", "DescribeDBClusters"))
    entry = entry_of(reason)
    assert entry is not None and entry.kind == Kind.STALLED and entry.fails is not None


def test_an_unknown_deployment_status_waits_with_a_warning() -> None:
    deployment = BlueGreen(identifier="bgd-1", name="n", source="s", target=None, status="NEW", status_details=None)
    outcome = unknown_status(deployment)
    assert (outcome.reason, outcome.warning) == ("UnknownBlueGreenStatus", True)


def test_the_deadlines_section_is_the_table_at_time_scale_one() -> None:
    """Every wait on AWS with its deadline, and the waits on people named: they have none."""
    text = OPERATIONS.read_text()
    assert deadlines_markdown().strip("\n") in text
    sentence = text[text.index("Waits on people have none:") :].split(".\n")[0]
    assert set(re.findall(r"`([^`]+)`", sentence)) - {"cleanup.oldClusterRetention"} == {
        r.value for r in waits_on_a_person()
    }


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


# --- the phase table: one row per phase, and the blips --------------------------------------

PHASE_TABLE = "## What each phase does to production"


def phase_rows() -> list[tuple[list[str], str]]:
    """(the phases a row names, what it says about production), in the table's order."""
    header, *rows = table_after(PHASE_TABLE)
    assert header == ["phase", "what happens", "production"], header
    return [([name.strip() for name in row[0].split(",")], row[2]) for row in rows]


def every_phase_in_order() -> list[Phase]:
    """The happy path with every optional phase on: a gated switchover, source reboot, validation."""
    validation = {"checks": [{"name": "smoke", "webhook": {"url": "https://smoke.example/run"}}]}
    return happy_path(make_spec(switchover={"mode": "Manual"}, validation=validation), reboot_source=True)


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
