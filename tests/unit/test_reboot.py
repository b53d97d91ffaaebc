"""RebootingSource / RebootingGreen / RebootingInstances: intent first, and on resume AWS itself
settles whether an intended reboot happened. Production's instances reboot one at a time;
green's all at once, as the runbook reboots them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.decisions import deadlines
from aurora_upgrade.decisions.actions import RebootInstance
from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.decisions.reboot import RebootObservation, decide_reboot
from aurora_upgrade.decisions.verify import completion_message
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase
from aurora_upgrade.reasons import Reason, decisions_asked, is_stall

from .builders import (
    DB_PARAMS,
    GREEN_SUFFIX,
    INSTANCE_IDS,
    NOW,
    TIMING,
    ago,
    instances,
    make_cluster,
    make_instance,
    make_spec,
    make_upgrade,
    member,
    steps,
)

P1, P2 = INSTANCE_IDS
G1, G2 = (i + GREEN_SUFFIX for i in INSTANCE_IDS)
STAMP = rfc3339(NOW)
YOUNG = ago(10)  # well inside the consistency grace
PAST_GRACE = ago(TIMING.consistency_grace.total_seconds() + 30)
PAST_TIMEOUT = ago(TIMING.reboot_timeout.total_seconds() + 30)
RESTARTED = (NOW - timedelta(seconds=5),)


def restarted(instance: str = P1) -> dict[str, tuple[Any, ...]]:
    return {instance: RESTARTED}


def green(*statuses: str) -> tuple[Any, ...]:
    return instances(*statuses, suffix=GREEN_SUFFIX, engine_version="15.10")


def production(*statuses: str) -> tuple[Any, ...]:
    return instances(*statuses, engine_version="15.10")


def upgrade_with(reboot_steps: list[RebootStep], phase: Phase = Phase.REBOOTING_INSTANCES, **spec: Any) -> Any:
    return make_upgrade(phase, spec=make_spec(**spec), reboots=reboot_steps)


def test_first_look_plans_every_instance_in_name_order() -> None:
    observation = RebootObservation(instances=tuple(reversed(production())))

    outcome = decide_reboot(upgrade_with([]), observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "RebootsPlanned"
    assert outcome.message == f"Will reboot {P1}, {P2} one at a time"
    assert outcome.changes == {"reboots": steps(P1, P2)}
    assert outcome.action is None
    assert not waits(outcome)  # go on at once: the plan is bookkeeping only


def test_first_look_without_instances_waits() -> None:
    outcome = decide_reboot(upgrade_with([]), RebootObservation(instances=()), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "WaitingForInstances", None)
    assert waits(outcome)


@pytest.mark.parametrize(
    ("reboot_steps", "observation", "instance", "message"),
    [
        pytest.param(steps(P1, P2), RebootObservation(production()), P1, f"Rebooting {P1}", id="first-instance"),
        pytest.param(
            steps({"instance": P1, "intended_at": ago(300), "requested_at": ago(300), "done_at": ago(100)}, P2),
            RebootObservation(production()),
            P2,
            f"Rebooting {P2}",
            id="second-after-first-done",
        ),
    ],
)
def test_reboot_call_is_preceded_by_its_intent(
    reboot_steps: list[RebootStep], observation: RebootObservation, instance: str, message: str
) -> None:
    outcome = decide_reboot(upgrade_with(reboot_steps), observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "RebootingInstance"
    assert message in outcome.message
    assert outcome.action == RebootInstance(instance)
    index = [s.instance for s in reboot_steps].index(instance)
    intended = outcome.intent["reboots"][index]
    assert (intended.instance, intended.intended_at, intended.requested_at) == (instance, STAMP, None)
    answered = outcome.changes["reboots"][index]
    assert (answered.intended_at, answered.requested_at, answered.done_at) == (STAMP, STAMP, None)
    assert waits(outcome)


def test_resume_with_a_young_intent_and_no_sign_yet_waits_instead_of_rebooting_again() -> None:
    # The process may have stopped right after AWS accepted the reboot, before describe calls
    # and events show it: calling again now could reboot the instance twice.
    upgrade = upgrade_with(steps({"instance": P1, "intended_at": YOUNG}, P2))

    outcome = decide_reboot(upgrade, RebootObservation(production()), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "CheckingEarlierReboot", None)
    assert not outcome.intent and not outcome.changes
    assert waits(outcome)


@pytest.mark.parametrize(
    ("observation", "why"),
    [
        pytest.param(
            RebootObservation(production("rebooting", "available")), "instance rebooting", id="instance-rebooting"
        ),
        pytest.param(RebootObservation(production(), restarts=restarted()), "restart event", id="restart-event"),
    ],
)
def test_resume_with_intent_adopts_a_reboot_found_in_aws(observation: RebootObservation, why: str) -> None:
    upgrade = upgrade_with(steps({"instance": P1, "intended_at": ago(20)}, P2))

    outcome = decide_reboot(upgrade, observation, NOW, TIMING)

    assert outcome.reason == "RebootFound", why
    assert "not repeating it" in outcome.message
    assert outcome.action is None
    assert not outcome.intent
    adopted = outcome.changes["reboots"][0]
    assert (adopted.intended_at, adopted.requested_at) == (ago(20), STAMP)


@pytest.mark.parametrize(
    ("step", "observation", "reason", "changed"),
    [
        pytest.param(
            {"instance": P1},
            RebootObservation(production("modifying", "available")),
            "WaitingForInstance",
            None,
            id="instance-busy-before-reboot",
        ),
        pytest.param(
            {"instance": P1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(production("rebooting", "available")),
            "WaitingForReboot",
            {"rebooting_seen_at": STAMP},
            id="rebooting-first-seen",
        ),
        pytest.param(
            {"instance": P1, "intended_at": YOUNG, "requested_at": YOUNG, "rebooting_seen_at": YOUNG},
            RebootObservation(production("rebooting", "available")),
            "WaitingForReboot",
            None,
            id="still-rebooting",
        ),
        pytest.param(
            {"instance": P1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(production()),
            "WaitingForReboot",
            None,
            id="available-without-proof-inside-grace",
        ),
    ],
)
def test_reboot_waits(
    step: dict[str, str], observation: RebootObservation, reason: str, changed: dict[str, str] | None
) -> None:
    outcome = decide_reboot(upgrade_with(steps(step, P2)), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, reason, None)
    assert waits(outcome)
    if changed is None:
        assert not outcome.changes
    else:
        assert outcome.changes["reboots"][0] == RebootStep(**{**step, **changed})


@pytest.mark.parametrize(
    ("step", "observation"),
    [
        pytest.param(
            {"instance": P1, "intended_at": ago(90), "requested_at": ago(90), "rebooting_seen_at": ago(60)},
            RebootObservation(production()),
            id="seen-rebooting-now-available",
        ),
        pytest.param(
            {"instance": P1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(production(), restarts=restarted()),
            id="restart-event-and-available",
        ),
        pytest.param(
            {"instance": P1, "intended_at": PAST_GRACE, "requested_at": PAST_GRACE},
            RebootObservation(production()),
            id="quick-reboot-accepted-after-grace",
        ),
    ],
)
def test_reboot_done(step: dict[str, str], observation: RebootObservation) -> None:
    outcome = decide_reboot(upgrade_with(steps(step, P2)), observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "InstanceRebooted"
    assert outcome.action is None
    first, second = outcome.changes["reboots"]
    assert first.done_at == STAMP
    assert second == RebootStep(instance=P2)


DONE = {"intended_at": ago(300), "requested_at": ago(300), "done_at": ago(200)}


@pytest.mark.parametrize(
    ("phase", "spec", "expected"),
    [
        pytest.param(Phase.REBOOTING_SOURCE, {}, Phase.CREATING_BLUE_GREEN, id="source-then-create"),
        pytest.param(Phase.REBOOTING_GREEN, {}, Phase.SNAPSHOTTING, id="green-automatic-then-snapshot"),
        pytest.param(
            Phase.REBOOTING_GREEN,
            {"switchover": {"mode": "Manual"}},
            Phase.AWAITING_SWITCHOVER,
            id="green-manual-then-gate",
        ),
        pytest.param(
            Phase.REBOOTING_GREEN,
            {"switchover": {"snapshotBeforeSwitchover": False}},
            Phase.SWITCHING_OVER,
            id="green-no-snapshot-then-switch",
        ),
        pytest.param(Phase.REBOOTING_INSTANCES, {}, Phase.VERIFYING, id="production-then-verify"),
    ],
)
def test_all_done_moves_on_per_spec_and_clears_the_steps(phase: Phase, spec: dict[str, Any], expected: Phase) -> None:
    upgrade = upgrade_with(steps({"instance": G1, **DONE}, {"instance": G2, **DONE}), phase, **spec)

    outcome = decide_reboot(upgrade, RebootObservation(green()), NOW, TIMING)

    assert outcome.phase == expected
    assert outcome.reason == "InstancesRebooted"
    assert outcome.message == f"Rebooted {G1}, {G2}"
    assert outcome.changes == {"reboots": []}
    assert outcome.action is None


@pytest.mark.parametrize(
    ("step", "observation", "reason", "message"),
    [
        pytest.param(
            {
                "instance": P1,
                "intended_at": PAST_TIMEOUT,
                "requested_at": PAST_TIMEOUT,
                "rebooting_seen_at": PAST_TIMEOUT,
            },
            RebootObservation(production("rebooting", "available")),
            "RebootTimedOut",
            f"{P1} has not come back from its reboot after {int(TIMING.reboot_timeout.total_seconds())}s "
            "(status rebooting)",
            id="never-returns",
        ),
        pytest.param(
            {"instance": P1, "intended_at": PAST_TIMEOUT, "requested_at": PAST_TIMEOUT},
            RebootObservation(production("incompatible-parameters", "available")),
            "RebootTimedOut",
            "(status incompatible-parameters)",
            id="stuck-in-bad-state",
        ),
        pytest.param(
            {"instance": P1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(production()[1:]),
            "InstanceNotFound",
            f"DB instance {P1} disappeared during RebootingSource",
            id="instance-disappeared",
        ),
    ],
)
def test_reboot_failures_before_switchover(
    step: dict[str, str], observation: RebootObservation, reason: str, message: str
) -> None:
    outcome = decide_reboot(upgrade_with(steps(step, P2), Phase.REBOOTING_SOURCE), observation, NOW, TIMING)

    assert outcome.phase == Phase.FAILED
    assert outcome.reason == reason
    assert message in outcome.message
    assert outcome.action is None


# --- green: all at once ---------------------------------------------------------------------


def green_upgrade(*reboot_steps: dict[str, str] | str) -> Any:
    return upgrade_with(steps(*reboot_steps), Phase.REBOOTING_GREEN)


ASKED = {"intended_at": YOUNG, "requested_at": YOUNG}


def test_green_plans_its_reboots_all_at_once() -> None:
    outcome = decide_reboot(upgrade_with([], Phase.REBOOTING_GREEN), RebootObservation(green()), NOW, TIMING)

    assert (outcome.reason, outcome.message) == ("RebootsPlanned", f"Will reboot {G1}, {G2} all at once")
    assert outcome.changes == {"reboots": steps(G1, G2)}


def test_green_asks_for_the_next_reboot_at_once_without_waiting_for_the_first() -> None:
    first = decide_reboot(green_upgrade(G1, G2), RebootObservation(green()), NOW, TIMING)
    assert (first.reason, first.action, waits(first)) == ("RebootingInstance", RebootInstance(G1), False)
    assert first.intent["reboots"][1] == RebootStep(instance=G2)

    # G1 is rebooting now; the look that follows at once asks for G2's reboot, the last one.
    second = decide_reboot(
        green_upgrade({"instance": G1, **ASKED}, G2), RebootObservation(green("rebooting", "available")), NOW, TIMING
    )
    assert (second.reason, second.action, waits(second)) == ("RebootingInstance", RebootInstance(G2), True)
    intended = second.intent["reboots"]
    assert (intended[0], intended[1].intended_at, intended[1].requested_at) == (
        RebootStep(instance=G1, **ASKED),
        STAMP,
        None,
    )


def test_green_waits_for_an_instance_that_is_busy_before_rebooting_it() -> None:
    outcome = decide_reboot(
        green_upgrade({"instance": G1, **ASKED}, G2), RebootObservation(green("rebooting", "modifying")), NOW, TIMING
    )

    assert (outcome.reason, outcome.action) == ("WaitingForInstance", None)
    assert f"{G2} (modifying)" in outcome.message
    # ...while it follows the reboot asked for: G1 seen rebooting is recorded (proof it restarted).
    assert outcome.changes["reboots"][0].rebooting_seen_at == STAMP


def test_green_records_a_reboot_done_while_another_instance_is_busy() -> None:
    upgrade = green_upgrade({"instance": G1, **ASKED}, G2)

    outcome = decide_reboot(upgrade, RebootObservation(green("available", "modifying"), restarted(G1)), NOW, TIMING)

    assert (outcome.reason, outcome.action) == ("InstanceRebooted", None)
    assert outcome.changes["reboots"][0].done_at == STAMP


def test_one_at_a_time_an_instance_further_on_that_goes_is_for_its_own_turn() -> None:
    # P2, not asked for yet, is gone (a reader scaled in) while P1 reboots: P1's reboot is followed.
    upgrade = upgrade_with(steps({"instance": P1, **ASKED}, P2))

    outcome = decide_reboot(upgrade, RebootObservation(production("rebooting")[:1]), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (None, "WaitingForReboot")


def test_the_reboot_wait_is_measured_from_the_reboot_waited_for() -> None:
    """One at a time, each instance has the whole timeout: P1's wait, long since over, does not
    count against P2's."""
    long_ago = ago(TIMING.reboot_timeout.total_seconds() * 0.9)
    upgrade = make_upgrade(
        Phase.REBOOTING_INSTANCES,
        reboots=steps(
            {"instance": P1, "intended_at": long_ago, "requested_at": long_ago, "done_at": ago(60)},
            {"instance": P2, **ASKED},
        ),
        waiting_for="WaitingForReboot",
        waiting_since=long_ago,
    )
    outcome = decide_reboot(upgrade, RebootObservation(production("available", "rebooting")), NOW, TIMING)
    assert outcome.reason == "WaitingForReboot"

    later = NOW + TIMING.reboot_timeout * 0.5
    bounded = deadlines.bounded(upgrade, outcome, later, TIMING)

    assert (bounded.phase, bounded.reason) == (None, "WaitingForReboot")
    assert bounded.changes["waiting_since"] == YOUNG


@pytest.mark.parametrize(
    ("observation", "reason"),
    [
        pytest.param(RebootObservation(green("available", "rebooting")), "RebootFound", id="rebooting"),
        pytest.param(RebootObservation(green(), restarts=restarted(G2)), "RebootFound", id="restart-event"),
        pytest.param(RebootObservation(green()), "CheckingEarlierReboot", id="no-sign-yet"),
        pytest.param(RebootObservation(green(), restarts=restarted(G1)), "CheckingEarlierReboot", id="g1s-event"),
    ],
)
def test_green_settles_an_unanswered_intent_before_anything_else(observation: RebootObservation, reason: str) -> None:
    # The process stopped around G2's call, G1's reboot asked for before: AWS settles G2 first,
    # and nothing is called again while it does (G1's restart event says nothing about G2).
    upgrade = green_upgrade({"instance": G1, **ASKED}, {"instance": G2, "intended_at": YOUNG})

    outcome = decide_reboot(upgrade, observation, NOW, TIMING)

    assert (outcome.reason, outcome.action) == (reason, None)
    if reason == "RebootFound":
        assert outcome.changes["reboots"][1].requested_at == STAMP
        assert outcome.changes["reboots"][0] == RebootStep(instance=G1, **ASKED)


def test_green_follows_its_reboots_together() -> None:
    both = green_upgrade({"instance": G1, **ASKED}, {"instance": G2, **ASKED})

    # G1 back (its restart event), G2 seen rebooting: G1 is done, G2's rebooting recorded.
    outcome = decide_reboot(both, RebootObservation(green("available", "rebooting"), restarted(G1)), NOW, TIMING)
    assert (outcome.reason, outcome.message) == ("InstanceRebooted", f"{G1} rebooted and is available")
    first, second = outcome.changes["reboots"]
    assert (first.done_at, second.done_at, second.rebooting_seen_at) == (STAMP, None, STAMP)
    assert not waits(outcome)  # the next look (at once) follows G2

    # Both back with proof: both done in one look.
    outcome = decide_reboot(both, RebootObservation(green(), {G1: RESTARTED, G2: RESTARTED}), NOW, TIMING)
    assert outcome.message == f"{G1}, {G2} rebooted and are available"
    assert [s.done_at for s in outcome.changes["reboots"]] == [STAMP, STAMP]

    # Neither proven yet (inside the grace): waits for both, and says so.
    outcome = decide_reboot(both, RebootObservation(green()), NOW, TIMING)
    assert (outcome.reason, outcome.action, outcome.changes) == ("WaitingForReboot", None, {})
    assert outcome.message == f"Waiting for {G1} (available), {G2} (available) to restart"


def test_green_fails_when_one_of_its_reboots_never_returns() -> None:
    late = {"intended_at": PAST_TIMEOUT, "requested_at": PAST_TIMEOUT, "rebooting_seen_at": PAST_TIMEOUT}
    upgrade = green_upgrade({"instance": G1, **ASKED}, {"instance": G2, **late})

    outcome = decide_reboot(upgrade, RebootObservation(green("rebooting", "rebooting")), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (Phase.FAILED, "RebootTimedOut")
    assert G2 in outcome.message


# --- a lost answer (issue 18, item 1) -------------------------------------------------------

LOST = {"instance": P1, "intended_at": PAST_GRACE}  # intent recorded, answer never recorded


def pending(*statuses: str) -> tuple[Any, ...]:
    """Production's instances with their DB parameter group's changes waiting for a reboot."""
    return instances(*statuses, parameter_groups=((DB_PARAMS, "pending-reboot"),))


def test_a_lost_answer_never_reboots_production_again_after_switchover() -> None:
    """No `rebooting` seen, no restart event: the step ends unconfirmed with a Warning naming
    the instance, and the upgrade goes on to the next instance (runbook 7.3 allows it)."""
    outcome = decide_reboot(upgrade_with(steps(LOST, P2)), RebootObservation(production()), NOW, TIMING)

    assert (outcome.action, outcome.phase, outcome.reason) == (None, None, "RebootUnconfirmed")
    assert outcome.warning and P1 in outcome.message
    first, second = outcome.changes["reboots"]
    assert (first.done_at, first.unconfirmed_at, first.requested_at) == (STAMP, STAMP, None)
    assert second == RebootStep(instance=P2)
    assert outcome.changes["unconfirmed_reboots"] == [P1]
    assert not waits(outcome)  # the next look reboots P2


def test_a_lost_answer_in_rebooting_source_holds_for_a_person_while_parameters_are_pending() -> None:
    upgrade = upgrade_with(steps(LOST, P2), Phase.REBOOTING_SOURCE)

    outcome = decide_reboot(upgrade, RebootObservation(pending()), NOW, TIMING)

    assert (outcome.action, outcome.phase, outcome.reason) == (None, None, "AwaitingManualReboot")
    # A decision the operator asks of a person (it pages at once), with a Warning.
    assert Reason.AWAITING_MANUAL_REBOOT in decisions_asked() and outcome.warning
    assert f"reboot {P1} yourself" in outcome.message
    assert waits(outcome) and not outcome.changes


@pytest.mark.parametrize("intended", [YOUNG, PAST_GRACE], ids=["in-grace", "past-grace"])
def test_rebooting_source_takes_parameters_in_sync_as_the_lost_reboot_found(intended: str) -> None:
    upgrade = upgrade_with(steps({"instance": P1, "intended_at": intended}, P2), Phase.REBOOTING_SOURCE)

    outcome = decide_reboot(upgrade, RebootObservation(production()), NOW, TIMING)

    assert (outcome.action, outcome.reason) == (None, "RebootFound")
    assert outcome.changes["reboots"][0].requested_at == STAMP


def test_rebooting_source_never_moves_on_while_parameters_are_pending() -> None:
    """A restart event and the instance available, but its parameters still pending-reboot:
    the reboot that applies them has not happened."""
    upgrade = upgrade_with(steps({"instance": P1, **ASKED}, P2), Phase.REBOOTING_SOURCE)

    outcome = decide_reboot(upgrade, RebootObservation(pending(), restarts=restarted()), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "WaitingForReboot", None)
    assert "parameters pending-reboot" in outcome.message


def test_a_cluster_parameter_group_pending_reboot_keeps_rebooting_source_waiting() -> None:
    cluster = make_cluster(members=(member(P1, parameter_status="pending-reboot"), member(P2)))
    upgrade = upgrade_with(steps({"instance": P1, **ASKED}, P2), Phase.REBOOTING_SOURCE)

    outcome = decide_reboot(upgrade, RebootObservation(production(), restarted(), cluster), NOW, TIMING)

    assert outcome.reason == "WaitingForReboot"


def test_green_is_rebooted_again_after_a_lost_answer_without_evidence() -> None:
    """Green serves no production traffic: a reboot AWS shows no sign of is asked for again."""
    upgrade = green_upgrade({"instance": G1, "intended_at": PAST_GRACE}, G2)

    outcome = decide_reboot(upgrade, RebootObservation(green()), NOW, TIMING)

    assert (outcome.reason, outcome.action) == ("RebootingInstance", RebootInstance(G1))
    assert "no sign in AWS of the earlier attempt" in outcome.message


def test_a_reboot_seen_rebooting_while_its_answer_is_lost_is_recorded_as_seen() -> None:
    upgrade = upgrade_with(steps({"instance": P1, "intended_at": YOUNG}, P2))

    outcome = decide_reboot(upgrade, RebootObservation(production("rebooting", "available")), NOW, TIMING)

    assert outcome.reason == "RebootFound"
    found = outcome.changes["reboots"][0]
    assert (found.requested_at, found.rebooting_seen_at) == (STAMP, STAMP)


def test_the_completed_message_names_the_unconfirmed_reboots() -> None:
    upgrade = make_upgrade(Phase.VERIFYING, unconfirmed_reboots=[P1])

    message = completion_message(upgrade)

    assert f"Reboot not confirmed after switchover: {P1}" in message
    assert "engine_version 15.6 -> 15.10" in message


# --- production's instances change after switchover (issue 18, item 5) ----------------------


def test_an_instance_gone_after_switchover_is_skipped_with_a_warning() -> None:
    upgrade = upgrade_with(steps({"instance": P1, **ASKED}, P2))

    outcome = decide_reboot(upgrade, RebootObservation(production()[1:]), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "InstanceGone", None)
    assert outcome.warning and P1 in outcome.message
    skipped = outcome.changes["reboots"][0]
    assert (skipped.done_at, skipped.skipped_at) == (STAMP, STAMP)


def test_an_instance_being_deleted_after_switchover_is_skipped() -> None:
    upgrade = upgrade_with(steps({"instance": P1, **DONE}, P2))

    outcome = decide_reboot(upgrade, RebootObservation(production("available", "deleting")), NOW, TIMING)

    assert (outcome.reason, outcome.action) == ("InstanceGone", None)


def test_instances_created_after_switchover_are_not_rebooted() -> None:
    newcomer = make_instance("aurora-bg-aurora-instance-3", engine_version="15.10", created_at=NOW)
    upgrade = make_upgrade(Phase.REBOOTING_INSTANCES, switchover_requested_at=ago(600))
    seen = RebootObservation((*production(), newcomer))

    planned = decide_reboot(upgrade, seen, NOW, TIMING)

    assert planned.changes == {"reboots": steps(P1, P2)}
    assert "not aurora-bg-aurora-instance-3 (created after switchover)" in planned.message

    finished = decide_reboot(
        make_upgrade(
            Phase.REBOOTING_INSTANCES,
            switchover_requested_at=ago(600),
            reboots=steps({"instance": P1, **DONE}, {"instance": P2, **DONE, "done_at": ago(5), "skipped_at": ago(5)}),
        ),
        RebootObservation((production()[0], newcomer)),
        NOW,
        TIMING,
    )
    assert (finished.phase, finished.reason) == (Phase.VERIFYING, "InstancesChanged")
    assert finished.warning
    assert finished.message == (
        f"Rebooted {P1}; gone, skipped: {P2}; created after switchover, not rebooted: aurora-bg-aurora-instance-3"
    )


def test_a_reboot_that_does_not_come_back_after_switchover_stalls_instead_of_failing() -> None:
    late = {
        "instance": P1,
        "intended_at": PAST_TIMEOUT,
        "requested_at": PAST_TIMEOUT,
        "rebooting_seen_at": PAST_TIMEOUT,
    }

    outcome = decide_reboot(upgrade_with(steps(late, P2)), RebootObservation(production("rebooting")), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "RebootStalled", None)
    assert is_stall(outcome.reason) and outcome.warning
    assert "Switchover is done" in outcome.message
    bounded = deadlines.bounded(upgrade_with(steps(late, P2)), outcome, NOW + timedelta(days=1), TIMING)
    assert bounded.phase is None  # a stall has no deadline: it never ends in Failed
