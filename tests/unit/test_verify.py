"""Verifying (runbook 7.1, 7.2, 7.4): production runs the target version and is available."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.decisions.verify import VerifyObservation, decide_verify
from aurora_upgrade.phases import Phase

from .builders import INSTANCE_IDS, NOW, TIMING, ago, instances, make_cluster, make_instance, make_spec, make_upgrade

UPGRADED = make_cluster(engine_version="15.10")
UPGRADED_INSTANCES = instances(engine_version="15.10")
NO_CLEANUP = {"cleanup": {"deleteBlueGreenDeployment": False, "deleteOldCluster": False}}
LATE = ago(TIMING.verify_timeout.total_seconds() + 30)


def verifying(spec: dict[str, Any] | None = None, phase_started_at: str | None = None) -> Any:
    return make_upgrade(
        Phase.VERIFYING,
        spec=make_spec(**(spec or {})),
        phase_started_at=phase_started_at or ago(60),
        old_cluster_identifier="aurora-bg-aurora-cluster-old1",
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, Phase.CLEANING_UP, id="then-cleanup"),
        pytest.param(
            {"cleanup": {"deleteBlueGreenDeployment": False, "deleteOldCluster": True}}, Phase.CLEANING_UP, id="old"
        ),
        pytest.param(NO_CLEANUP, Phase.COMPLETED, id="cleanup-off-completes"),
    ],
)
def test_verified_production_moves_on(spec: dict[str, Any], expected: Phase) -> None:
    outcome = decide_verify(verifying(spec), VerifyObservation(UPGRADED, UPGRADED_INSTANCES), NOW, TIMING)

    assert outcome.phase == expected
    assert outcome.reason == "Upgraded"
    assert outcome.message.startswith("aurora-bg-aurora-cluster runs 15.10 and is available")
    assert "aurora-bg-aurora-instance-1 15.10 available" in outcome.message
    assert outcome.action is None


def test_completed_without_cleanup_still_names_the_infrastructure_code_change() -> None:
    outcome = decide_verify(verifying(NO_CLEANUP), VerifyObservation(UPGRADED, UPGRADED_INSTANCES), NOW, TIMING)

    assert outcome.phase == Phase.COMPLETED
    assert "engine_version 15.6 -> 15.10" in outcome.message


@pytest.mark.parametrize(
    ("observation", "problem", "found"),
    [
        pytest.param(
            VerifyObservation(make_cluster(engine_version="15.6"), UPGRADED_INSTANCES),
            "cluster aurora-bg-aurora-cluster runs 15.6",
            "production does not run 15.10",
            id="cluster-old-version",
        ),
        pytest.param(
            VerifyObservation(make_cluster(engine_version="15.10", status="rebooting"), UPGRADED_INSTANCES),
            "cluster aurora-bg-aurora-cluster is rebooting",
            "production runs 15.10 but has not settled",
            id="cluster-not-available",
        ),
        pytest.param(
            VerifyObservation(UPGRADED, instances("available", "rebooting", engine_version="15.10")),
            "aurora-bg-aurora-instance-2 is rebooting at 15.10",
            "production runs 15.10 but has not settled",
            id="instance-not-available",
        ),
        pytest.param(
            VerifyObservation(UPGRADED, instances(engine_version="15.6")),
            "aurora-bg-aurora-instance-1 is available at 15.6",
            "production does not run 15.10",
            id="instance-old-version",
        ),
        pytest.param(
            VerifyObservation(UPGRADED, ()),
            "the cluster has no instances",
            "production runs 15.10 but has not settled",
            id="no-instances",
        ),
        pytest.param(
            VerifyObservation(UPGRADED, instances("available", "modifying", engine_version="15.10")),
            "aurora-bg-aurora-instance-2 is modifying at 15.10",
            "production runs 15.10 but has not settled",
            id="instance-modifying",
        ),
        pytest.param(
            VerifyObservation(None, UPGRADED_INSTANCES),
            "cluster aurora-bg-aurora-cluster not found",
            "production runs 15.10 but has not settled",
            id="no-cluster",
        ),
    ],
)
def test_verification_after_switchover_never_ends_in_a_misleading_failed(
    observation: VerifyObservation, problem: str, found: str
) -> None:
    """Unverified production is a wait until the verification deadline, then a stall with a
    Warning that says what it found: switchover is done, so giving up would help nobody."""
    waiting = decide_verify(verifying(), observation, NOW, TIMING)
    late = decide_verify(verifying(phase_started_at=LATE), observation, NOW, TIMING)

    assert (waiting.phase, waiting.reason) == (None, "Verifying")
    assert problem in waiting.message
    assert waits(waiting)
    assert (late.phase, late.reason, late.warning, waits(late)) == (None, "VerificationStalled", True, True)
    assert late.message.startswith(f"{found} after {int(TIMING.verify_timeout.total_seconds())}s: ")
    assert problem in late.message
    assert waiting.action is None and late.action is None


def test_verification_skips_instances_going_away_or_created_after_switchover() -> None:
    """Auto scaling (which AWS does not copy to green) or a person changes production's
    instances after switchover: one being deleted, one still being created, are not waited
    for; the upgrade goes on with a Warning naming them."""
    upgrade = make_upgrade(
        Phase.VERIFYING, spec=make_spec(**NO_CLEANUP), phase_started_at=ago(60), switchover_requested_at=ago(900)
    )
    going = make_instance(INSTANCE_IDS[1], engine_version="15.10", status="deleting")
    coming = make_instance("aurora-bg-aurora-instance-3", engine_version="15.10", status="creating", created_at=NOW)
    seen = VerifyObservation(UPGRADED, (UPGRADED_INSTANCES[0], going, coming))

    outcome = decide_verify(upgrade, seen, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (Phase.COMPLETED, "InstancesChanged")
    assert outcome.warning
    assert (
        f"not waited for: {INSTANCE_IDS[1]} (deleting), aurora-bg-aurora-instance-3 (creating, created after "
        "switchover)" in outcome.message
    )


def test_an_instance_at_the_wrong_version_is_never_skipped() -> None:
    upgrade = make_upgrade(Phase.VERIFYING, switchover_requested_at=ago(900))
    stale = make_instance("aurora-bg-aurora-instance-3", status="creating", created_at=NOW)

    outcome = decide_verify(upgrade, VerifyObservation(UPGRADED, (*UPGRADED_INSTANCES, stale)), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (None, "Verifying")
