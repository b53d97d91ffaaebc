"""CleaningUp (runbook 9.1, 9.2) and deletionPolicy: never the production cluster."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.decisions.actions import (
    DeleteBlueGreen,
    DeleteCluster,
    DeleteInstance,
    DisableDeletionProtection,
)
from aurora_upgrade.decisions.cleanup import (
    CleanupObservation,
    DeletionObservation,
    decide_cleanup,
    decide_deletion,
)
from aurora_upgrade.decisions.deployment import Names
from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.phases import Phase
from aurora_upgrade.reasons import is_stall

from .builders import (
    BG_ID,
    CLUSTER_ID,
    GREEN_CLUSTER_ID,
    NOW,
    TIMING,
    ago,
    cluster_arn,
    instances,
    make_blue_green,
    make_cluster,
    make_spec,
    make_upgrade,
)

OLD = "aurora-bg-aurora-cluster-old1"
OLD_1, OLD_2 = (i.identifier for i in instances(suffix="-old1"))
FINAL = f"{OLD}-final-3f2a9c1d"
COMPLETED_MESSAGE = (
    "Upgrade of aurora-bg-aurora-cluster to 15.10 completed. "
    "Update your infrastructure code: engine_version 15.6 -> 15.10 (runbook step 8)"
)
DELETE_OLD = {"cleanup": {"deleteOldCluster": True}}


def cleaning(spec: dict[str, Any] | None = None, **status: Any) -> Any:
    fields: dict[str, Any] = {
        "blue_green_deployment_identifier": BG_ID,
        "old_cluster_identifier": OLD,
        "switchover_completed_at": ago(600),
        # Rows without a deployment show the state after cleanup's own delete.
        "deployment_delete_requested_at": ago(300),
        **status,
    }
    return make_upgrade(Phase.CLEANING_UP, spec=make_spec(**(spec or {})), **fields)


def old_cluster(**overrides: Any) -> Any:
    return make_cluster(OLD, **overrides)


def old_instances(*statuses: str) -> Any:
    return instances(*statuses, suffix="-old1", cluster=OLD)


@pytest.mark.parametrize(
    ("upgrade", "observation", "action"),
    [
        pytest.param(
            cleaning(),
            CleanupObservation(make_blue_green("SWITCHOVER_COMPLETED")),
            DeleteBlueGreen(BG_ID, delete_target=False),
            id="delete-deployment-keep-both-clusters",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(make_blue_green("SWITCHOVER_COMPLETED"), old_cluster(), old_instances()),
            DeleteBlueGreen(BG_ID, delete_target=False),
            id="deployment-before-old-cluster",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(None, old_cluster(deletion_protection=True), old_instances()),
            DeleteInstance(OLD_1),
            id="old-instances-first",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(None, old_cluster(), old_instances("deleting", "available")),
            DeleteInstance(OLD_2),
            id="next-old-instance",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(None, old_cluster(deletion_protection=True), ()),
            DisableDeletionProtection(OLD),
            id="then-deletion-protection-off",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(None, old_cluster(), ()),
            DeleteCluster(OLD, final_snapshot=FINAL),
            id="then-cluster-with-final-snapshot",
        ),
        pytest.param(
            cleaning({"cleanup": {"deleteOldCluster": True, "finalSnapshotOfOldCluster": False}}),
            CleanupObservation(None, old_cluster(), ()),
            DeleteCluster(OLD, final_snapshot=None),
            id="cluster-without-final-snapshot",
        ),
        pytest.param(
            cleaning(
                {"cleanup": {"deleteOldCluster": True, "oldClusterRetention": "24h"}},
                switchover_completed_at=ago(86401),
            ),
            CleanupObservation(None, old_cluster(), old_instances()),
            DeleteInstance(OLD_1),
            id="retention-over",
        ),
    ],
)
def test_cleanup_actions(upgrade: Any, observation: CleanupObservation, action: Any) -> None:
    outcome = decide_cleanup(upgrade, observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.action == action
    assert waits(outcome)


@pytest.mark.parametrize(
    ("upgrade", "observation", "reason", "message"),
    [
        pytest.param(
            cleaning(),
            CleanupObservation(make_blue_green("DELETING")),
            "DeletingBlueGreen",
            f"Waiting for blue/green deployment {BG_ID} to go",
            id="deployment-deleting",
        ),
        pytest.param(
            cleaning({"cleanup": {"deleteOldCluster": True, "oldClusterRetention": "24h"}}),
            CleanupObservation(None, old_cluster(), old_instances()),
            "RetainingOldCluster",
            f"Keeping {OLD} until 2025-03-15T00:50:00+00:00",
            id="retention",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(None, old_cluster(), old_instances("deleting", "deleting")),
            "DeletingOldInstances",
            f"Waiting for {OLD_1}, {OLD_2} to be deleted",
            id="old-instances-deleting",
        ),
        pytest.param(
            cleaning(DELETE_OLD),
            CleanupObservation(None, old_cluster(status="deleting"), ()),
            "DeletingOldCluster",
            f"Waiting for {OLD} to be deleted",
            id="old-cluster-deleting",
        ),
    ],
)
def test_cleanup_waits(upgrade: Any, observation: CleanupObservation, reason: str, message: str) -> None:
    outcome = decide_cleanup(upgrade, observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, reason, None)
    assert message in outcome.message
    assert waits(outcome)


@pytest.mark.parametrize(
    ("upgrade", "observation"),
    [
        pytest.param(cleaning(), CleanupObservation(None), id="deployment-gone"),
        pytest.param(
            cleaning({"cleanup": {"deleteBlueGreenDeployment": False, "deleteOldCluster": False}}),
            CleanupObservation(make_blue_green("SWITCHOVER_COMPLETED")),
            id="deployment-kept-when-not-asked",
        ),
        pytest.param(cleaning(DELETE_OLD), CleanupObservation(None, None, ()), id="old-cluster-gone"),
    ],
)
def test_cleanup_completes_naming_the_infrastructure_code_change(upgrade: Any, observation: CleanupObservation) -> None:
    outcome = decide_cleanup(upgrade, observation, NOW, TIMING)

    assert outcome.phase == Phase.COMPLETED
    assert outcome.reason == "Completed"
    assert outcome.message == COMPLETED_MESSAGE
    assert outcome.action is None


def test_infrastructure_code_reminder_is_complete() -> None:
    """A major upgrade changes the parameter groups too: the reminder names each changed value."""
    spec = {
        "targetEngineVersion": "16.6",
        "allowMajorVersionUpgrade": True,
        "expectedSourceEngineVersion": "15.6",
        "targetDBClusterParameterGroupName": "pg16-cluster",
        "targetDBParameterGroupName": "pg16",
    }
    outcome = decide_cleanup(cleaning(spec), CleanupObservation(None), NOW, TIMING)

    assert outcome.message == (
        "Upgrade of aurora-bg-aurora-cluster to 16.6 completed. Update your infrastructure code: "
        "engine_version 15.6 -> 16.6, "
        "db_cluster_parameter_group_name aurora-bg-aurora-pg15-cluster-params -> pg16-cluster, "
        "db_parameter_group_name aurora-bg-aurora-pg15-params -> pg16 (runbook step 8)"
    )


@pytest.mark.parametrize(
    "old",
    [
        pytest.param("aurora-bg-aurora-cluster", id="production-name"),
        pytest.param("aurora-bg-aurora-cluster-green-abc123", id="green-name"),
        pytest.param("aurora-bg-aurora-cluster-old2", id="not-old1"),
    ],
)
def test_cleanup_refuses_to_delete_anything_but_the_old1_cluster(old: str) -> None:
    upgrade = cleaning(DELETE_OLD, old_cluster_identifier=old)

    outcome = decide_cleanup(upgrade, CleanupObservation(None, make_cluster(old), instances()), NOW, TIMING)

    assert outcome.phase == Phase.FAILED
    assert outcome.reason == "UnsafeCleanup"
    assert f"refusing to delete {old}" in outcome.message
    assert outcome.action is None


def test_old_cluster_is_deleted_instances_first_then_protection_then_cluster() -> None:
    """Walk runbook step 9.2 as AWS would answer it, one observation per reconcile."""
    upgrade = cleaning(DELETE_OLD)
    protected = old_cluster(deletion_protection=True)
    observations = [
        CleanupObservation(None, protected, old_instances("available", "available")),
        CleanupObservation(None, protected, old_instances("deleting", "available")),
        CleanupObservation(None, protected, old_instances("deleting", "deleting")),
        CleanupObservation(None, protected, ()),
        CleanupObservation(None, old_cluster(), ()),
        CleanupObservation(None, old_cluster(status="deleting"), ()),
        CleanupObservation(None, None, ()),
    ]

    trail = []
    for observation in observations:
        outcome = decide_cleanup(upgrade, observation, NOW, TIMING)
        trail.append(outcome.action or outcome.phase or outcome.reason)

    assert trail == [
        DeleteInstance(OLD_1),
        DeleteInstance(OLD_2),
        "DeletingOldInstances",
        DisableDeletionProtection(OLD),
        DeleteCluster(OLD, final_snapshot=FINAL),
        "DeletingOldCluster",
        Phase.COMPLETED,
    ]


# --- deleting the AuroraUpgrade resource ------------------------------------------------------


def deleted_in(phase: Phase, policy: str = "Abort", **status: Any) -> Any:
    status.setdefault("blue_green_deployment_identifier", BG_ID)
    return make_upgrade(phase, spec=make_spec(deletionPolicy=policy), **status)


@pytest.mark.parametrize(
    "upgrade",
    [
        pytest.param(deleted_in(Phase.SWITCHING_OVER), id="switching-over"),
        pytest.param(deleted_in(Phase.REBOOTING_INSTANCES), id="rebooting-production"),
        pytest.param(deleted_in(Phase.VERIFYING), id="verifying"),
        pytest.param(deleted_in(Phase.CLEANING_UP), id="cleaning-up"),
        pytest.param(deleted_in(Phase.COMPLETED), id="completed"),
        pytest.param(deleted_in(Phase.ABORTED), id="aborted"),
        pytest.param(deleted_in(Phase.FAILED, failed_phase=Phase.SWITCHING_OVER), id="failed-while-switching-over"),
        pytest.param(deleted_in(Phase.FAILED, failed_phase=Phase.VERIFYING), id="failed-while-verifying"),
        pytest.param(deleted_in(Phase.SNAPSHOTTING, switchover_requested_at=ago(30)), id="switchover-intent-recorded"),
        pytest.param(
            deleted_in(Phase.FAILED, failed_phase=Phase.SNAPSHOTTING, switchover_requested_at=ago(30)),
            id="failed-with-switchover-intent",
        ),
    ],
)
def test_deletion_after_switchover_leaves_aws_alone(upgrade: Any) -> None:
    # Even with a deployment still visible, nothing is deleted once switchover may have run; an
    # upgrade that stopped after a switchover call says so with a Warning (GreenLeftInAWS).
    decision = decide_deletion(upgrade, DeletionObservation(make_blue_green("SWITCHOVER_COMPLETED")), NOW, TIMING)

    assert decision.release is True
    assert decision.outcome.action is None
    assert decision.outcome.phase is None
    stopped_after_a_call = upgrade.status.phase == Phase.FAILED and upgrade.status.switchover_requested_at
    assert decision.outcome.reason == ("GreenLeftInAWS" if stopped_after_a_call else "Deleted")


@pytest.mark.parametrize(
    "upgrade",
    [
        pytest.param(deleted_in(Phase.PROVISIONING_GREEN), id="provisioning"),
        pytest.param(deleted_in(Phase.AWAITING_SWITCHOVER), id="awaiting-approval"),
        pytest.param(deleted_in(Phase.SNAPSHOTTING), id="snapshotting"),
        pytest.param(deleted_in(Phase.FAILED, failed_phase=Phase.PROVISIONING_GREEN), id="failed-provisioning"),
    ],
)
def test_abort_before_switchover_deletes_the_deployment_with_its_green_target(upgrade: Any) -> None:
    decision = decide_deletion(upgrade, DeletionObservation(make_blue_green("AVAILABLE")), NOW, TIMING)

    assert decision.release is False
    assert decision.outcome.reason == "AbortingBlueGreen"
    assert decision.outcome.action == DeleteBlueGreen(BG_ID, delete_target=True)
    assert decision.outcome.changes == {
        "abort_requested_at": rfc3339(NOW),
        "green_cluster_identifier": GREEN_CLUSTER_ID,
    }
    assert waits(decision.outcome)


@pytest.mark.parametrize(
    ("requested_seconds_ago", "released"),
    [pytest.param(5, False, id="young-intent-waits"), pytest.param(3600, True, id="old-intent-releases")],
)
def test_abort_right_after_create_waits_for_the_deployment_to_be_listed(
    requested_seconds_ago: int, released: bool
) -> None:
    """Deleted while CreateBlueGreenDeployment was just sent: releasing now would orphan green."""
    upgrade = make_upgrade(
        phase=Phase.CREATING_BLUE_GREEN,
        create_requested_at=ago(requested_seconds_ago),
        blue_green_deployment_identifier=None,
    )
    decision = decide_deletion(upgrade, DeletionObservation(None), NOW, TIMING)

    assert decision.release is released
    assert decision.outcome.action is None
    if not released:
        assert decision.outcome.reason == "WaitingForBlueGreenDeployment"


def test_abort_right_after_create_releases_once_its_own_delete_finished() -> None:
    """Within the grace after create, a deployment this finalizer deleted is gone, not unlisted."""
    upgrade = deleted_in(Phase.AWAITING_SWITCHOVER, create_requested_at=ago(5), abort_requested_at=ago(2))
    decision = decide_deletion(upgrade, DeletionObservation(None), NOW, TIMING)

    assert decision.release is True
    assert (decision.outcome.phase, decision.outcome.reason) == (Phase.ABORTED, "Aborted")


def test_abort_waits_while_the_deployment_is_deleting() -> None:
    decision = decide_deletion(
        deleted_in(Phase.AWAITING_SWITCHOVER), DeletionObservation(make_blue_green("DELETING")), NOW, TIMING
    )

    assert decision.release is False
    assert (decision.outcome.phase, decision.outcome.reason, decision.outcome.action) == (
        None,
        "DeletingBlueGreen",
        None,
    )


@pytest.mark.parametrize(
    ("upgrade", "observation", "reason", "message"),
    [
        pytest.param(
            deleted_in(Phase.AWAITING_SWITCHOVER),
            DeletionObservation(None),
            "Aborted",
            "Deleted before switchover; its blue/green deployment and green cluster are gone",
            id="abort-done",
        ),
        pytest.param(
            deleted_in(Phase.PRECHECKING, blue_green_deployment_identifier=None),
            DeletionObservation(None),
            "Aborted",
            "no blue/green deployment had been created",
            id="abort-before-create",
        ),
        pytest.param(
            deleted_in(Phase.PROVISIONING_GREEN, "Orphan"),
            DeletionObservation(make_blue_green("PROVISIONING")),
            "Orphaned",
            f"(deletionPolicy Orphan); blue/green deployment {BG_ID} is left in AWS",
            id="orphan",
        ),
    ],
)
def test_deletion_before_switchover_ends_aborted_and_releases(
    upgrade: Any, observation: DeletionObservation, reason: str, message: str
) -> None:
    decision = decide_deletion(upgrade, observation, NOW, TIMING)

    assert decision.release is True
    assert decision.outcome.phase == Phase.ABORTED
    assert decision.outcome.reason == reason
    assert message in decision.outcome.message
    assert decision.outcome.action is None


def test_orphan_names_the_deployment_it_leaves_behind_from_status() -> None:
    # Engine.finalize passes DeletionObservation(None) for Orphan (it looks the deployment up only for Abort).
    decision = decide_deletion(deleted_in(Phase.PROVISIONING_GREEN, "Orphan"), DeletionObservation(None), NOW, TIMING)

    assert decision.outcome.phase == Phase.ABORTED
    assert BG_ID in decision.outcome.message


@pytest.mark.parametrize(
    "found",
    [
        pytest.param(old_cluster(resource_id="cluster-SOMEONEELSE"), id="other-resource-id"),
        pytest.param(make_cluster(), id="production-name"),
    ],
)
def test_old_cluster_deletion_refuses_anything_but_the_renamed_blue(found: Any) -> None:
    upgrade = cleaning({"cleanup": {"deleteBlueGreenDeployment": False, "deleteOldCluster": True}})

    outcome = decide_cleanup(upgrade, CleanupObservation(None, found, old_instances()), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (Phase.FAILED, "UnsafeCleanup")
    assert outcome.action is None


@pytest.mark.parametrize(
    ("upgrade", "deletes"),
    [
        pytest.param(deleted_in(Phase.SWITCHING_OVER), True, id="waiting-for-the-window-aborts"),
        pytest.param(deleted_in(Phase.SWITCHING_OVER, switchover_requested_at=ago(1)), False, id="call-in-flight"),
        pytest.param(
            deleted_in(Phase.FAILED, failed_phase=Phase.SWITCHING_OVER, switchover_accepted_at=ago(600)),
            True,
            id="rolled-back-aborts",
        ),
    ],
)
def test_deletion_around_switchover_follows_the_deployment(upgrade: Any, deletes: bool) -> None:
    """Switchover refused or rolled back leaves blue in production and green a spare copy:
    Abort deletes it (names and versions proving it). A switchover that may be in flight is
    never interfered with."""
    green = make_cluster(GREEN_CLUSTER_ID, engine_version="15.10")
    names = Names(production=make_cluster(), renamed=make_cluster(), green=green)
    decision = decide_deletion(upgrade, DeletionObservation(make_blue_green("AVAILABLE"), green, names), NOW, TIMING)

    if deletes:
        assert decision.outcome.action == DeleteBlueGreen(BG_ID, delete_target=True)
        assert decision.release is False
    else:
        assert decision.outcome.action is None
        assert decision.release is True


def test_old_production_stays_read_only_while_it_is_kept_for_rollback() -> None:
    """Deleting the deployment lifts the read-only protection of `-old1` (AWS): within
    cleanup.oldClusterRetention the deployment stays, whatever else cleanup is asked to do."""
    upgrade = cleaning({"cleanup": {"oldClusterRetention": "24h"}})
    observation = CleanupObservation(make_blue_green("SWITCHOVER_COMPLETED"))

    outcome = decide_cleanup(upgrade, observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "RetainingOldCluster", None)
    assert outcome.message == (
        f"Keeping {OLD} until 2025-03-15T00:50:00+00:00 (cleanup.oldClusterRetention); blue/green deployment "
        f"{BG_ID} stays until then, so the old cluster stays read-only"
    )
    after = decide_cleanup(
        cleaning({"cleanup": {"oldClusterRetention": "24h"}}, switchover_completed_at=ago(86401)),
        observation,
        NOW,
        TIMING,
    )
    assert after.action == DeleteBlueGreen(BG_ID, delete_target=False)


def test_abort_must_finish_when_green_has_deletion_protection() -> None:
    """Green copies blue's DeletionProtection and AWS refuses DeleteTarget while it is on: the
    finalizer lifts it on green (never blue), then deletes, and says green is gone only once
    AWS no longer lists it."""
    upgrade = make_upgrade(Phase.AWAITING_SWITCHOVER, blue_green_deployment_identifier=BG_ID)
    protected = make_cluster(GREEN_CLUSTER_ID, deletion_protection=True)

    first = decide_deletion(upgrade, DeletionObservation(make_blue_green(), protected), NOW, TIMING)
    assert first.outcome.action == DisableDeletionProtection(GREEN_CLUSTER_ID)
    assert first.release is False

    lifted = make_cluster(GREEN_CLUSTER_ID, deletion_protection=False)
    second = decide_deletion(upgrade, DeletionObservation(make_blue_green(), lifted), NOW, TIMING)
    assert second.outcome.action == DeleteBlueGreen(BG_ID, delete_target=True)

    asked = make_upgrade(
        Phase.AWAITING_SWITCHOVER,
        blue_green_deployment_identifier=BG_ID,
        green_cluster_identifier=GREEN_CLUSTER_ID,
        abort_requested_at=ago(60),
    )
    going = decide_deletion(
        asked, DeletionObservation(None, make_cluster(GREEN_CLUSTER_ID, status="deleting")), NOW, TIMING
    )
    assert (going.outcome.reason, going.outcome.action, going.release) == ("DeletingGreen", None, False)

    gone = decide_deletion(asked, DeletionObservation(None, None), NOW, TIMING)
    assert (gone.outcome.phase, gone.release) == (Phase.ABORTED, True)


def test_abort_never_lifts_protection_on_blue() -> None:
    """A deployment whose target would be production itself is never modified."""
    upgrade = make_upgrade(Phase.AWAITING_SWITCHOVER, blue_green_deployment_identifier=BG_ID)
    blue = make_cluster(deletion_protection=True)

    decision = decide_deletion(upgrade, DeletionObservation(make_blue_green(target=blue.arn), blue), NOW, TIMING)

    assert not isinstance(decision.outcome.action, DisableDeletionProtection)


@pytest.mark.parametrize(
    "left",
    [
        pytest.param(old_instances("available", "available"), id="instances-left"),
        pytest.param((), id="instances-gone"),
    ],
)
def test_old_cluster_still_in_a_global_database_is_not_deleted(left: Any) -> None:
    """AWS deletes a global database's clusters only once they are removed from it (its secondary
    Regions' clusters first, then the primary): deleting `-old1`'s instances first would leave
    half of it. An upgrade of a global primary started by an earlier version stalls here."""
    upgrade = cleaning(DELETE_OLD)
    observation = CleanupObservation(None, old_cluster(global_cluster="aurora-bg-global"), left)

    outcome = decide_cleanup(upgrade, observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "OldClusterInGlobalDatabase", None)
    assert is_stall(outcome.reason) and outcome.warning and waits(outcome)
    assert f"Not deleting {OLD}: it is still a member of global database aurora-bg-global" in outcome.message
    assert "RemoveFromGlobalCluster" in outcome.message


def test_old_cluster_removed_from_its_global_database_is_deleted() -> None:
    upgrade = cleaning(DELETE_OLD)
    observation = CleanupObservation(None, old_cluster(global_cluster=None), old_instances("available", "available"))

    assert decide_cleanup(upgrade, observation, NOW, TIMING).action == DeleteInstance(OLD_1)


# --- issue 18, item 3: after a switchover call, the target is deleted only if names prove it is
# not production ---------------------------------------------------------------------------------

GREEN_AT_TARGET = make_cluster(GREEN_CLUSTER_ID, engine_version="15.10")
BLUE_IS_PRODUCTION = Names(production=make_cluster(), renamed=make_cluster(), green=GREEN_AT_TARGET)
GREEN_IS_PRODUCTION = Names(
    production=make_cluster(resource_id=GREEN_AT_TARGET.resource_id, engine_version="15.10"),
    renamed=make_cluster(f"{CLUSTER_ID}-old1"),
    old1=make_cluster(f"{CLUSTER_ID}-old1"),
)
AFTER_A_CALL = {"failed_phase": Phase.SWITCHING_OVER, "switchover_requested_at": ago(600), "switchover_attempt": 1}


@pytest.mark.parametrize(
    ("upgrade", "deployment", "green", "names", "left"),
    [
        pytest.param(
            deleted_in(Phase.FAILED, **AFTER_A_CALL),
            make_blue_green("SWITCHOVER_FAILED"),
            None,
            GREEN_IS_PRODUCTION,
            "names and versions do not show blue is still production",
            id="failed-production-is-green",
        ),
        pytest.param(
            deleted_in(Phase.FAILED, **AFTER_A_CALL),
            make_blue_green("AVAILABLE"),
            GREEN_AT_TARGET,
            Names(production=None, green=GREEN_AT_TARGET),
            f"no cluster is named {CLUSTER_ID}",
            id="failed-production-not-described",
        ),
        pytest.param(
            deleted_in(Phase.FAILED, **AFTER_A_CALL),
            make_blue_green("AVAILABLE", target=cluster_arn()),
            make_cluster(),
            BLUE_IS_PRODUCTION,
            f"the deployment's target {CLUSTER_ID} is production",
            id="target-is-production",
        ),
        pytest.param(
            deleted_in(Phase.FAILED, **AFTER_A_CALL),
            None,
            None,
            GREEN_IS_PRODUCTION,
            "the deployment is gone",
            id="deployment-gone",
        ),
        pytest.param(
            deleted_in(Phase.SWITCHING_OVER, reason="SwitchoverOutcomeUnproven", **AFTER_A_CALL),
            make_blue_green("AVAILABLE", switchover_details=((cluster_arn(), "SWITCHOVER_COMPLETED"),)),
            GREEN_AT_TARGET,
            BLUE_IS_PRODUCTION,
            "SWITCHOVER_COMPLETED",
            id="member-switched",
        ),
    ],
)
def test_deleting_after_a_switchover_call_never_deletes_a_target_names_do_not_prove_spare(
    upgrade: Any, deployment: Any, green: Any, names: Names, left: str
) -> None:
    """deletionPolicy Abort after a switchover call that failed or was not carried out: AWS only
    refuses DeleteTarget at SWITCHOVER_COMPLETED, so the operator itself must know the target is
    not production. Where names and versions do not prove it, nothing is deleted and a Warning
    says what AWS showed."""
    decision = decide_deletion(upgrade, DeletionObservation(deployment, green, names), NOW, TIMING)

    assert (decision.outcome.action, decision.release) == (None, True)
    assert decision.outcome.reason == "GreenLeftInAWS" and decision.outcome.warning
    assert left in decision.outcome.message


@pytest.mark.parametrize(
    "upgrade",
    [
        pytest.param(deleted_in(Phase.FAILED, **AFTER_A_CALL), id="failed-after-the-call"),
        pytest.param(
            deleted_in(Phase.SWITCHING_OVER, reason="SwitchoverNotCarriedOut", **AFTER_A_CALL),
            id="held-for-a-person",
        ),
        # Attempt 1 not carried out, attempt 2 authorised, then held by the database right before
        # its call: no call was sent for attempt 2, so names decide as for attempt 1.
        *(
            pytest.param(
                deleted_in(Phase.SWITCHING_OVER, reason=held, **AFTER_A_CALL), id=f"held-before-the-call-{held}"
            )
            for held in (
                "DatabaseChecksRunning",
                "ValidationFailed",
                "ValidationCheckError",
                "DatabaseUnreachable",
                "LongRunningTransactions",
                "DdlInFlight",
                "PreparedTransactions",
                "ReplicationLag",
                "GreenWritable",
                "DdlSinceCreation",
                "ReplicationLagTimedOut",
            )
        ),
    ],
)
def test_deleting_after_a_switchover_call_deletes_green_when_names_prove_blue_is_production(upgrade: Any) -> None:
    observation = DeletionObservation(make_blue_green("SWITCHOVER_FAILED"), GREEN_AT_TARGET, BLUE_IS_PRODUCTION)

    decision = decide_deletion(upgrade, observation, NOW, TIMING)

    assert decision.outcome.action == DeleteBlueGreen(BG_ID, delete_target=True)
    assert decision.release is False


def test_deleting_while_a_switchover_call_may_be_under_way_leaves_aws_alone() -> None:
    """Sent a moment ago (AWS may not show it yet): even names showing blue prove nothing."""
    upgrade = deleted_in(Phase.SWITCHING_OVER, reason="SwitchoverRequested", **AFTER_A_CALL)
    observation = DeletionObservation(make_blue_green("AVAILABLE"), GREEN_AT_TARGET, BLUE_IS_PRODUCTION)

    decision = decide_deletion(upgrade, observation, NOW, TIMING)

    assert (decision.outcome.reason, decision.outcome.action, decision.release) == ("Deleted", None, True)


def test_switchover_may_have_started_comes_from_the_recorded_call_not_the_phase() -> None:
    """A failure in SwitchingOver after the call was sent: it may have started, whatever phase
    the failure happened in; before any call it has not."""
    from aurora_upgrade.phases import switchover_may_have_started

    after = deleted_in(Phase.FAILED, failed_phase=Phase.SWITCHING_OVER, switchover_requested_at=ago(600))
    before = deleted_in(Phase.FAILED, failed_phase=Phase.SWITCHING_OVER)
    legacy_accepted = deleted_in(Phase.FAILED, failed_phase=Phase.SWITCHING_OVER, switchover_accepted_at=ago(600))

    assert switchover_may_have_started(after.status)
    assert switchover_may_have_started(legacy_accepted.status)
    assert not switchover_may_have_started(before.status)


def test_a_missing_deployment_is_never_reported_gone_with_green_when_green_has_production_name() -> None:
    """Before any switchover call of this upgrade, someone switched over and deleted the
    deployment: green, renamed to production's name, is not "gone". Names say so, and nothing
    is claimed or deleted; with names showing blue, the deletion ends as before."""
    upgrade = deleted_in(Phase.AWAITING_SWITCHOVER)

    decision = decide_deletion(upgrade, DeletionObservation(None, None, GREEN_IS_PRODUCTION), NOW, TIMING)

    assert (decision.outcome.reason, decision.outcome.action, decision.release) == ("GreenLeftInAWS", None, True)
    assert "green cluster are gone" not in decision.outcome.message
    assert f"blue's resource id {make_cluster().resource_id} is now {CLUSTER_ID}-old1" in decision.outcome.message
    blue = decide_deletion(upgrade, DeletionObservation(None, None, BLUE_IS_PRODUCTION), NOW, TIMING)
    assert (blue.outcome.phase, blue.outcome.reason) == (Phase.ABORTED, "Aborted")


# --- issue 18, item 4: the deployment deleted by someone else after switchover --------------------


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="delete-deployment"),
        pytest.param({"cleanup": {"oldClusterRetention": "24h"}}, id="while-retaining-old1"),
        pytest.param(DELETE_OLD, id="then-old-cluster"),
    ],
)
def test_cleanup_does_not_wait_for_a_deployment_someone_else_deleted(spec: dict[str, Any]) -> None:
    """Cleanup never asked AWS to delete the deployment and it is gone: someone did runbook step
    9.1 by hand. A Warning says so at once (AWS lifted `-old1`'s read-only protection with it),
    and cleanup goes on without waiting for it."""
    upgrade = cleaning(spec, deployment_delete_requested_at=None, reason="Upgraded")

    said = decide_cleanup(upgrade, CleanupObservation(None), NOW, TIMING)

    assert (said.phase, said.reason, said.action) == (None, "BlueGreenDeploymentDeletedElsewhere", None)
    assert said.warning and "deleted by someone else" in said.message and OLD in said.message
    assert said.changes == {"deployment_deleted_elsewhere_at": rfc3339(NOW)}
    after = upgrade.with_status(upgrade.status.model_copy(update=dict(said.changes)))
    outcome = decide_cleanup(after, CleanupObservation(None, old_cluster(), ()), NOW, TIMING)
    assert outcome.reason != "BlueGreenDeploymentDeletedElsewhere" and not isinstance(outcome.action, DeleteBlueGreen)


def test_cleanup_deleting_the_deployment_itself_says_nothing_of_someone_else() -> None:
    deleting = decide_cleanup(
        cleaning(deployment_delete_requested_at=None),
        CleanupObservation(make_blue_green("SWITCHOVER_COMPLETED")),
        NOW,
        TIMING,
    )
    assert deleting.intent == {"deployment_delete_requested_at": rfc3339(NOW)}
    # A status from before the request was recorded: its reason says whose deletion it was.
    gone = decide_cleanup(
        cleaning(deployment_delete_requested_at=None, reason="DeletingBlueGreen"), CleanupObservation(None), NOW, TIMING
    )
    assert (gone.phase, gone.reason) == (Phase.COMPLETED, "Completed")
