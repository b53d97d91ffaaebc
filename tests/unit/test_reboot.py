"""RebootingSource / RebootingGreen / RebootingInstances: one instance at a time, intent first,
and on resume AWS itself settles whether an intended reboot happened."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.decisions.actions import RebootInstance
from aurora_upgrade.decisions.reboot import RebootObservation, decide_reboot
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase

from .builders import GREEN_SUFFIX, INSTANCE_IDS, NOW, TIMING, ago, instances, make_spec, make_upgrade, steps

G1, G2 = (i + GREEN_SUFFIX for i in INSTANCE_IDS)
STAMP = rfc3339(NOW)
YOUNG = ago(10)  # well inside the consistency grace
PAST_GRACE = ago(TIMING.consistency_grace.total_seconds() + 30)
PAST_TIMEOUT = ago(TIMING.reboot_timeout.total_seconds() + 30)
RESTARTED = (NOW - timedelta(seconds=5),)


def green(*statuses: str) -> tuple[Any, ...]:
    return instances(*statuses, suffix=GREEN_SUFFIX, engine_version="15.10")


def upgrade_with(reboot_steps: list[RebootStep], phase: Phase = Phase.REBOOTING_GREEN, **spec: Any) -> Any:
    return make_upgrade(phase, spec=make_spec(**spec), reboots=reboot_steps)


def test_first_look_plans_every_instance_in_name_order() -> None:
    observation = RebootObservation(instances=tuple(reversed(green())))

    outcome = decide_reboot(upgrade_with([]), observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "RebootsPlanned"
    assert outcome.changes == {"reboots": steps(G1, G2)}
    assert outcome.action is None
    assert outcome.requeue == 0  # go on at once: the plan is bookkeeping only


def test_first_look_without_instances_waits() -> None:
    outcome = decide_reboot(upgrade_with([]), RebootObservation(instances=()), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "WaitingForInstances", None)
    assert outcome.requeue == TIMING.poll


@pytest.mark.parametrize(
    ("reboot_steps", "observation", "instance", "message"),
    [
        pytest.param(steps(G1, G2), RebootObservation(green()), G1, f"Rebooting {G1}", id="first-instance"),
        pytest.param(
            steps({"instance": G1, "intended_at": ago(300), "requested_at": ago(300), "done_at": ago(100)}, G2),
            RebootObservation(green()),
            G2,
            f"Rebooting {G2}",
            id="second-after-first-done",
        ),
        pytest.param(
            steps({"instance": G1, "intended_at": ago(300)}, G2),
            RebootObservation(green()),
            G1,
            "no sign in AWS of the earlier attempt",
            id="resume-intent-without-evidence-calls-again",
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
    assert outcome.requeue == TIMING.poll


def test_resume_with_a_young_intent_and_no_sign_yet_waits_instead_of_rebooting_again() -> None:
    # The process may have stopped right after AWS accepted the reboot, before describe calls
    # and events show it: calling again now could reboot the instance twice.
    upgrade = upgrade_with(steps({"instance": G1, "intended_at": YOUNG}, G2))

    outcome = decide_reboot(upgrade, RebootObservation(green()), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "CheckingEarlierReboot", None)
    assert not outcome.intent and not outcome.changes
    assert outcome.requeue == TIMING.poll


@pytest.mark.parametrize(
    ("observation", "why"),
    [
        pytest.param(RebootObservation(green("rebooting", "available")), "instance rebooting", id="instance-rebooting"),
        pytest.param(RebootObservation(green(), restarts=RESTARTED), "restart event", id="restart-event"),
    ],
)
def test_resume_with_intent_adopts_a_reboot_found_in_aws(observation: RebootObservation, why: str) -> None:
    upgrade = upgrade_with(steps({"instance": G1, "intended_at": ago(20)}, G2))

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
            {"instance": G1},
            RebootObservation(green("modifying", "available")),
            "WaitingForInstance",
            None,
            id="instance-busy-before-reboot",
        ),
        pytest.param(
            {"instance": G1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(green("rebooting", "available")),
            "WaitingForReboot",
            {"rebooting_seen_at": STAMP},
            id="rebooting-first-seen",
        ),
        pytest.param(
            {"instance": G1, "intended_at": YOUNG, "requested_at": YOUNG, "rebooting_seen_at": YOUNG},
            RebootObservation(green("rebooting", "available")),
            "WaitingForReboot",
            None,
            id="still-rebooting",
        ),
        pytest.param(
            {"instance": G1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(green()),
            "WaitingForReboot",
            None,
            id="available-without-proof-inside-grace",
        ),
    ],
)
def test_reboot_waits(
    step: dict[str, str], observation: RebootObservation, reason: str, changed: dict[str, str] | None
) -> None:
    outcome = decide_reboot(upgrade_with(steps(step, G2)), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, reason, None)
    assert outcome.requeue == TIMING.poll
    if changed is None:
        assert not outcome.changes
    else:
        assert outcome.changes["reboots"][0] == RebootStep(**{**step, **changed})


@pytest.mark.parametrize(
    ("step", "observation"),
    [
        pytest.param(
            {"instance": G1, "intended_at": ago(90), "requested_at": ago(90), "rebooting_seen_at": ago(60)},
            RebootObservation(green()),
            id="seen-rebooting-now-available",
        ),
        pytest.param(
            {"instance": G1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(green(), restarts=RESTARTED),
            id="restart-event-and-available",
        ),
        pytest.param(
            {"instance": G1, "intended_at": PAST_GRACE, "requested_at": PAST_GRACE},
            RebootObservation(green()),
            id="quick-reboot-accepted-after-grace",
        ),
    ],
)
def test_reboot_done(step: dict[str, str], observation: RebootObservation) -> None:
    outcome = decide_reboot(upgrade_with(steps(step, G2)), observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "InstanceRebooted"
    assert outcome.action is None
    first, second = outcome.changes["reboots"]
    assert first.done_at == STAMP
    assert second == RebootStep(instance=G2)


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
                "instance": G1,
                "intended_at": PAST_TIMEOUT,
                "requested_at": PAST_TIMEOUT,
                "rebooting_seen_at": PAST_TIMEOUT,
            },
            RebootObservation(green("rebooting", "available")),
            "RebootTimedOut",
            f"{G1} has not come back from its reboot after {int(TIMING.reboot_timeout.total_seconds())}s "
            "(status rebooting)",
            id="never-returns",
        ),
        pytest.param(
            {"instance": G1, "intended_at": PAST_TIMEOUT, "requested_at": PAST_TIMEOUT},
            RebootObservation(green("incompatible-parameters", "available")),
            "RebootTimedOut",
            "(status incompatible-parameters)",
            id="stuck-in-bad-state",
        ),
        pytest.param(
            {"instance": G1, "intended_at": YOUNG, "requested_at": YOUNG},
            RebootObservation(green()[1:]),
            "InstanceNotFound",
            f"DB instance {G1} disappeared during RebootingGreen",
            id="instance-disappeared",
        ),
    ],
)
def test_reboot_failures(step: dict[str, str], observation: RebootObservation, reason: str, message: str) -> None:
    outcome = decide_reboot(upgrade_with(steps(step, G2)), observation, NOW, TIMING)

    assert outcome.phase == Phase.FAILED
    assert outcome.reason == reason
    assert message in outcome.message
    assert outcome.action is None
