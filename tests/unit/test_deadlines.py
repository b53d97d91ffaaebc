"""No wait is unbounded: every wait reason the decisions can give has a deadline (or waits on a
person), and reaching it gives a specific reason: Failed before switchover, a stall after it."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.decisions import deadlines
from aurora_upgrade.decisions.outcome import Outcome, Pace, Wait, wait
from aurora_upgrade.phases import Phase
from aurora_upgrade.status import STALLING_REASONS

from .builders import NOW, TIMING, ago, make_upgrade

DECISIONS = Path(__file__).resolve().parents[2] / "operator" / "aurora_upgrade" / "decisions"


def wait_reasons_in(path: Path) -> set[str]:
    """Every reason one decision module can wait with: `wait(timing, "X", ...)`, or an Outcome
    with a literal reason and a requeue."""
    text = path.read_text()
    found = set(re.findall(r'wait\(\s*timing,\s*"([A-Za-z]+)"', text))
    for block in re.findall(r"Outcome\((.*?)\n\s*\)", text, flags=re.S):
        if "requeue=" in block and "action=" not in block and "phase=" not in block:
            found |= set(re.findall(r'reason="([A-Za-z]+)"', block))
    return found


def wait_reasons() -> set[str]:
    """Every reason a decision module can wait with."""
    found = set()
    for path in DECISIONS.glob("*.py"):
        found |= wait_reasons_in(path)
    return found


def test_no_wait_is_unbounded() -> None:
    reasons = wait_reasons()
    assert {"ProvisioningGreen", "WaitingForSnapshot", "ClusterBusy", "AwaitingApproval"} <= reasons
    unlisted = sorted(r for r in reasons if r not in deadlines.DEADLINES and r not in deadlines.ON_PEOPLE)
    assert unlisted == []


# The modules that declare their waits; deadlines.py merges their tables in this order.
DECLARING = ("outcome", "deployment", "precheck", "bluegreen", "reboot", "switchover", "verify", "cleanup")


def waits_of(name: str) -> Any:
    return importlib.import_module(f"aurora_upgrade.decisions.{name}").WAITS


@pytest.mark.parametrize("name", DECLARING)
def test_every_wait_a_module_gives_is_declared_in_its_own_table(name: str) -> None:
    """What a stage's waits mean is in the stage: each reason it can wait with is in its own
    `WAITS`. Stalls are the exception: they are declared once, in status.STALLING_REASONS,
    because status bookkeeping may not import the decisions."""
    reasons = wait_reasons_in(DECISIONS / f"{name}.py")
    undeclared = sorted(reasons - set(waits_of(name)) - STALLING_REASONS)
    assert undeclared == []


def test_only_the_declaring_modules_give_waits_and_deadlines_merges_them_all() -> None:
    givers = {path.stem for path in DECISIONS.glob("*.py") if wait_reasons_in(path)}
    assert givers - set(DECLARING) == set()
    assert list(deadlines.TABLES) == [waits_of(name) for name in DECLARING]


def test_no_reason_is_declared_twice() -> None:
    seen: dict[str, str] = {}
    twice = []
    for name in DECLARING:
        for reason in waits_of(name):
            if reason in seen:
                twice.append((reason, seen[reason], name))
            seen[reason] = name
    assert twice == []
    assert set(deadlines.WAITS) == set(seen)
    with pytest.raises(ValueError, match="declared twice"):
        deadlines.merged(({"X": Wait(pace=Pace.QUICK)}, {"X": Wait(pace=Pace.QUICK)}))


def test_every_declared_wait_says_something() -> None:
    """A wait has a deadline or is on a person; a reason that is not a wait is declared only for
    a pace of its own. A wait on a person has no deadline."""
    pointless = sorted(
        reason
        for reason, w in deadlines.WAITS.items()
        if w.deadline is None and not w.on_person and w.pace is Pace.POLL and w.due is None
    )
    assert pointless == []
    with pytest.raises(ValueError, match="no deadline"):
        Wait(deadline=lambda _u, t: t.reboot_timeout, on_person=True)


def provisioning_wait() -> Outcome:
    return wait(TIMING, "ProvisioningGreen", "AWS is provisioning the green environment")


def test_a_wait_remembers_when_it_began_and_a_new_reason_starts_again() -> None:
    first = deadlines.bounded(make_upgrade(Phase.PROVISIONING_GREEN), provisioning_wait(), NOW, TIMING)
    assert (first.phase, first.changes["waiting_for"], first.changes["waiting_since"]) == (
        None,
        "ProvisioningGreen",
        ago(0),
    )
    later = make_upgrade(Phase.PROVISIONING_GREEN, waiting_for="ProvisioningGreen", waiting_since=ago(600))
    assert deadlines.bounded(later, provisioning_wait(), NOW, TIMING).changes["waiting_since"] == ago(600)
    other = wait(TIMING, "WaitingForGreen", "Waiting for the endpoint")
    assert deadlines.bounded(later, other, NOW, TIMING).changes["waiting_since"] == ago(0)
    moved = deadlines.bounded(later, Outcome(phase=Phase.REBOOTING_GREEN), NOW, TIMING)
    assert (moved.changes["waiting_for"], moved.changes["waiting_since"]) == (None, None)


def test_a_call_in_flight_is_waited_for_from_when_that_call_was_sent() -> None:
    """A writer killed during a call, resumed, waits for it; the mark expires, the call is sent
    again and the writer is killed again: the second wait counts from the second call, not from
    the first wait (CI once failed CallInFlightTimedOut 1 s after the second call)."""
    limit = deadlines.deadline("CallInFlight", make_upgrade(Phase.REBOOTING_GREEN), TIMING)
    assert limit is not None
    upgrade = make_upgrade(
        Phase.REBOOTING_GREEN,
        waiting_for="CallInFlight",
        waiting_since=ago(limit.total_seconds() + 30),
        call_in_flight="Rebooting DB instance green-1",
        call_sent_at=ago(1),
    )
    waiting = wait(TIMING, "CallInFlight", "Rebooting DB instance green-1 was sent and is not answered yet")

    outcome = deadlines.bounded(upgrade, waiting, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.changes["waiting_since"]) == (None, "CallInFlight", ago(1))


def past(reason: str, phase: Phase, **status: str) -> object:
    limit = deadlines.deadline(reason, make_upgrade(phase), TIMING)
    assert limit is not None
    began = ago((limit + timedelta(seconds=30)).total_seconds())
    return make_upgrade(phase, waiting_for=reason, waiting_since=began, **status)


def test_reaching_a_deadline_before_switchover_fails_with_a_specific_reason() -> None:
    upgrade = past("ProvisioningGreen", Phase.PROVISIONING_GREEN)

    outcome = deadlines.bounded(upgrade, provisioning_wait(), NOW, TIMING)  # type: ignore[arg-type]

    assert (outcome.phase, outcome.reason) == (Phase.FAILED, "ProvisioningGreenTimedOut")
    assert "blue is untouched" in outcome.message


@pytest.mark.parametrize("stall", [False, True], ids=["cleanup", "finalizer"])
def test_reaching_a_deadline_after_switchover_or_in_the_finalizer_stalls(stall: bool) -> None:
    phase = Phase.CLEANING_UP if not stall else Phase.PROVISIONING_GREEN
    upgrade = past("DeletingBlueGreen", phase)
    waiting = wait(TIMING, "DeletingBlueGreen", "Waiting for blue/green deployment bgd-1 to go")

    outcome = deadlines.bounded(upgrade, waiting, NOW, TIMING, stall=stall)  # type: ignore[arg-type]

    assert (outcome.phase, outcome.reason, outcome.warning) == (None, "DeletingBlueGreenTimedOut", True)
    assert outcome.requeue == TIMING.poll
    assert outcome.changes["waiting_since"] == upgrade.status.waiting_since  # type: ignore[attr-defined]


def test_waits_on_people_have_no_deadline() -> None:
    upgrade = make_upgrade(Phase.AWAITING_SWITCHOVER, waiting_for="AwaitingApproval", waiting_since=ago(30 * 86400))
    gate = wait(TIMING, "AwaitingApproval", "Green is ready; set spec.switchover.approved: true")

    assert deadlines.bounded(upgrade, gate, NOW, TIMING).reason == "AwaitingApproval"


def test_the_switchover_deadline_follows_spec_switchover_timeout_seconds() -> None:
    from .builders import make_spec

    upgrade = make_upgrade(Phase.SWITCHING_OVER, make_spec(switchover={"timeoutSeconds": 600}))
    limit = deadlines.deadline("SwitchoverInProgress", upgrade, TIMING)

    assert limit == timedelta(seconds=600) + 2 * TIMING.consistency_grace
