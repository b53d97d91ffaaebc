"""status: phase transitions, history, and kstatus conditions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.models import AuroraUpgradeStatus, Condition, ConditionStatus
from aurora_upgrade.phases import Phase
from aurora_upgrade.status import initial, transition, with_conditions

from .builders import NOW

T, F = ConditionStatus.TRUE, ConditionStatus.FALSE
START = NOW - timedelta(hours=1)
LATER = NOW + timedelta(minutes=5)


def conditions(status: AuroraUpgradeStatus) -> dict[str, Condition]:
    return {c.type: c for c in status.conditions}


def states(status: AuroraUpgradeStatus) -> dict[str, ConditionStatus]:
    return {c.type: c.status for c in status.conditions}


# --- transitions and history -----------------------------------------------------------------


def test_initial_status_is_pending_with_one_open_history_entry() -> None:
    status = initial(START)

    assert status.phase == Phase.PENDING
    assert status.started_at == status.phase_started_at == rfc3339(START)
    assert [(h.phase, h.finished_at) for h in status.history] == [(Phase.PENDING, None)]


def test_transition_closes_the_phase_and_opens_the_next() -> None:
    status = transition(initial(START), Phase.PRECHECKING, "PrechecksStarted", "Checking", NOW)

    assert (status.phase, status.reason, status.message) == (Phase.PRECHECKING, "PrechecksStarted", "Checking")
    assert status.phase_started_at == rfc3339(NOW)
    assert status.started_at == rfc3339(START)
    assert status.completed_at is None
    assert status.failed_phase is None
    pending, prechecking = status.history
    assert (pending.finished_at, pending.outcome, pending.message) == (rfc3339(NOW), "Succeeded", "Waiting to start")
    assert (prechecking.phase, prechecking.started_at, prechecking.finished_at) == (
        Phase.PRECHECKING,
        rfc3339(NOW),
        None,
    )


@pytest.mark.parametrize(
    ("to", "outcome"),
    [
        pytest.param(Phase.FAILED, "Failed", id="failed"),
        pytest.param(Phase.ABORTED, "Aborted", id="aborted"),
        pytest.param(Phase.COMPLETED, "Succeeded", id="completed"),
    ],
)
def test_transition_to_a_terminal_phase(to: Phase, outcome: str) -> None:
    switching = transition(initial(START), Phase.SWITCHING_OVER, "SnapshotAvailable", "ok", START)

    status = transition(switching, to, "Why", "What happened", NOW)

    assert status.phase == to
    assert status.completed_at == rfc3339(NOW)
    assert status.failed_phase == (Phase.SWITCHING_OVER if to == Phase.FAILED else None)
    closed, terminal = status.history[-2:]
    assert (closed.phase, closed.finished_at, closed.outcome, closed.message) == (
        Phase.SWITCHING_OVER,
        rfc3339(NOW),
        outcome,
        "What happened",
    )
    assert (terminal.phase, terminal.finished_at, terminal.outcome) == (to, rfc3339(NOW), outcome)


# --- conditions (kstatus polarity) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "plan", "ready", "reconciling", "stalled", "upgraded"),
    [
        pytest.param(Phase.PENDING, [], F, T, F, F, id="pending"),
        pytest.param(Phase.PRECHECKING, [], F, T, F, F, id="prechecking"),
        pytest.param(Phase.AWAITING_SWITCHOVER, [], F, T, F, F, id="awaiting"),
        pytest.param(Phase.SWITCHING_OVER, [], F, T, F, F, id="switching"),
        pytest.param(Phase.VERIFYING, [], F, T, F, F, id="verifying"),
        pytest.param(Phase.CLEANING_UP, [], F, T, F, T, id="cleaning-up-is-upgraded"),
        pytest.param(Phase.COMPLETED, [], T, F, F, T, id="completed"),
        pytest.param(Phase.COMPLETED, ["Prechecking: ..."], T, F, F, F, id="dry-run-completed-not-upgraded"),
        pytest.param(Phase.FAILED, [], F, F, T, F, id="failed"),
        pytest.param(Phase.ABORTED, [], F, F, T, F, id="aborted"),
    ],
)
def test_conditions_per_phase(
    phase: Phase,
    plan: list[str],
    ready: ConditionStatus,
    reconciling: ConditionStatus,
    stalled: ConditionStatus,
    upgraded: ConditionStatus,
) -> None:
    status = AuroraUpgradeStatus(phase=phase, reason="SomeReason", message="Some message", plan=plan)

    result = with_conditions(status, NOW, generation=3)

    assert states(result) == {"Ready": ready, "Reconciling": reconciling, "Stalled": stalled, "Upgraded": upgraded}
    assert result.observed_generation == 3
    for condition in result.conditions:
        assert condition.observed_generation == 3
        assert condition.last_transition_time == rfc3339(NOW)
    for kind in ("Ready", "Reconciling", "Stalled"):
        assert conditions(result)[kind].reason == "SomeReason"
        assert conditions(result)[kind].message == "Some message"


def test_last_transition_time_changes_only_when_the_status_flips() -> None:
    first = with_conditions(AuroraUpgradeStatus(phase=Phase.PRECHECKING, reason="A", message="a"), START, 1)
    moved = first.model_copy(update={"phase": Phase.SWITCHING_OVER, "reason": "B", "message": "b"})

    second = with_conditions(moved, NOW, 2)

    ready = conditions(second)["Ready"]
    assert (ready.status, ready.reason, ready.message) == (F, "B", "b")
    assert ready.last_transition_time == rfc3339(START)
    assert ready.observed_generation == 2
    assert conditions(second)["Reconciling"].last_transition_time == rfc3339(START)

    done = with_conditions(second.model_copy(update={"phase": Phase.COMPLETED, "reason": "Completed"}), LATER, 2)

    assert conditions(done)["Ready"].status == T
    assert conditions(done)["Ready"].last_transition_time == rfc3339(LATER)
    assert conditions(done)["Reconciling"].last_transition_time == rfc3339(LATER)
    assert conditions(done)["Stalled"].last_transition_time == rfc3339(START)
    assert conditions(done)["Upgraded"].last_transition_time == rfc3339(LATER)
    assert [c.type for c in done.conditions] == ["Ready", "Reconciling", "Stalled", "Upgraded"]


def test_upgraded_stays_true_when_cleanup_then_fails() -> None:
    cleaning = with_conditions(AuroraUpgradeStatus(phase=Phase.CLEANING_UP, reason="Upgraded"), START, 1)
    failed = cleaning.model_copy(update={"phase": Phase.FAILED, "reason": "UnsafeCleanup"})

    result = with_conditions(failed, NOW, 1)

    upgraded = conditions(result)["Upgraded"]
    assert (upgraded.status, upgraded.reason, upgraded.last_transition_time) == (T, "Verified", rfc3339(START))
    assert states(result)["Stalled"] == T
    assert states(result)["Ready"] == F


@pytest.mark.parametrize(
    ("reason", "stalled"),
    [
        ("PermissionDenied", True),
        ("DeletingBlueGreenTimedOut", True),
        ("VerificationStalled", True),
        ("DeletingBlueGreen", False),
        ("AWSUnavailable", False),
    ],
)
def test_a_stall_that_needs_a_person_is_kstatus_stalled(reason: str, stalled: bool) -> None:
    status = initial(START).model_copy(update={"phase": Phase.CLEANING_UP, "reason": reason})

    conditions = {c.type: c.status for c in with_conditions(status, NOW, 1).conditions}

    assert (conditions["Stalled"], conditions["Reconciling"]) == ((T, F) if stalled else (F, T))
