"""No wait is unbounded: every wait reason the decisions can give has a deadline (or waits on a
person), and reaching it gives a specific reason: Failed before switchover, a stall after it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from aurora_upgrade.decisions import deadlines
from aurora_upgrade.decisions.outcome import Advance, Outcome, wait
from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.phases import Phase
from aurora_upgrade.reasons import TABLE, Entry, Kind, Reason, lasting

from .builders import NOW, TIMING, ago, make_upgrade

DECISIONS = Path(__file__).resolve().parents[2] / "operator" / "aurora_upgrade" / "decisions"


def waits_given() -> set[str]:
    """Every literal reason a decision module passes to `wait(...)` (reasons.Reason.X)."""
    found = set()
    for path in DECISIONS.glob("*.py"):
        found |= set(re.findall(r"wait\(\s*Reason\.([A-Z_]+)", path.read_text()))
    return {Reason[name].value for name in found}


def test_no_wait_is_unbounded() -> None:
    """Every reason the decisions wait with has a deadline, or a person ends it, or it is a stall."""
    reasons = waits_given()
    assert {"ProvisioningGreen", "WaitingForSnapshot", "ClusterBusy", "AwaitingApproval"} <= reasons
    unbounded = sorted(
        r
        for r in reasons
        if deadlines.deadline(r, make_upgrade(Phase.PROVISIONING_GREEN), TIMING) is None
        and TABLE[Reason(r)].kind not in (Kind.WAITING_ON_PERSON, Kind.STALLED)
    )
    assert unbounded == []


def test_a_wait_on_aws_without_a_deadline_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="has a deadline"):
        Entry(Kind.WAITING_ON_AWS, "waits forever")
    with pytest.raises(ValueError, match="only a wait on AWS"):
        Entry(Kind.WAITING_ON_PERSON, "a person decides", deadline=lasting(hours=1))


def provisioning_wait() -> Outcome:
    return wait("ProvisioningGreen", "AWS is provisioning the green environment")


def test_a_wait_remembers_when_it_began_and_a_new_reason_starts_again() -> None:
    first = deadlines.bounded(make_upgrade(Phase.PROVISIONING_GREEN), provisioning_wait(), NOW, TIMING)
    assert (first.phase, first.changes["waiting_for"], first.changes["waiting_since"]) == (
        None,
        "ProvisioningGreen",
        ago(0),
    )
    later = make_upgrade(Phase.PROVISIONING_GREEN, waiting_for="ProvisioningGreen", waiting_since=ago(600))
    assert deadlines.bounded(later, provisioning_wait(), NOW, TIMING).changes["waiting_since"] == ago(600)
    other = wait("WaitingForGreen", "Waiting for the endpoint")
    assert deadlines.bounded(later, other, NOW, TIMING).changes["waiting_since"] == ago(0)
    moved = deadlines.bounded(later, Advance(to=Phase.REBOOTING_GREEN, reason="InstancesRebooted"), NOW, TIMING)
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
    waiting = wait("CallInFlight", "Rebooting DB instance green-1 was sent and is not answered yet")

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
    waiting = wait("DeletingBlueGreen", "Waiting for blue/green deployment bgd-1 to go")

    outcome = deadlines.bounded(upgrade, waiting, NOW, TIMING, stall=stall)  # type: ignore[arg-type]

    assert (outcome.phase, outcome.reason, outcome.warning) == (None, "DeletingBlueGreenTimedOut", True)
    assert waits(outcome)
    assert outcome.changes["waiting_since"] == upgrade.status.waiting_since  # type: ignore[attr-defined]


def test_waits_on_people_have_no_deadline() -> None:
    upgrade = make_upgrade(Phase.AWAITING_SWITCHOVER, waiting_for="AwaitingApproval", waiting_since=ago(30 * 86400))
    gate = wait("AwaitingApproval", "Green is ready; set spec.switchover.approved: true")

    assert deadlines.bounded(upgrade, gate, NOW, TIMING).reason == "AwaitingApproval"


def test_the_switchover_deadline_follows_spec_switchover_timeout_seconds() -> None:
    from .builders import make_spec

    upgrade = make_upgrade(Phase.SWITCHING_OVER, make_spec(switchover={"timeoutSeconds": 600}))
    limit = deadlines.deadline("SwitchoverInProgress", upgrade, TIMING)

    assert limit == timedelta(seconds=600) + 2 * TIMING.consistency_grace
