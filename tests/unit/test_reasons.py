"""The one table of reasons (reasons.py): every name a released version could have written is
still in it, the families parse, outcomes take no reason outside it, and its waits are bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aurora_upgrade.config import Timing
from aurora_upgrade.decisions import deadlines
from aurora_upgrade.decisions.outcome import Wait, advance, fail, wait
from aurora_upgrade.phases import Phase
from aurora_upgrade.reasons import TABLE, Kind, Pace, Reason, decisions_asked, entry_of, is_stall, waits_on_a_person

from .builders import make_upgrade

# Every status.reason version 0.1.0 could write (its decisions, engine and status modules),
# and examples of its four families. Users' alerts and scripts match on these: never drop one.
RELEASED = [
    "AWSCredentialsInvalid",
    "AWSNotFound",
    "AWSUnavailable",
    "Aborted",
    "AbortingBlueGreen",
    "AlreadyAtTargetVersion",
    "AwaitingApproval",
    "BlueGreenDeploymentCreated",
    "BlueGreenDeploymentDeleted",
    "BlueGreenDeploymentFound",
    "BlueGreenDeploymentNameInUse",
    "BlueGreenDeploymentNotFound",
    "CallInFlight",
    "CheckingEarlierReboot",
    "ClusterBusy",
    "ClusterNotAvailable",
    "ClusterNotFound",
    "Completed",
    "Created",
    "CrossRegionReadReplicaUnsupported",
    "Deleted",
    "DeletingBlueGreen",
    "DeletingGreen",
    "DeletingOldCluster",
    "DeletingOldInstance",
    "DeletingOldInstances",
    "DisablingDeletionProtection",
    "DisablingGreenDeletionProtection",
    "DryRun",
    "ForeignBlueGreenDeployment",
    "GlobalDatabaseParameterGroupsMissing",
    "GlobalDatabaseSecondaryCluster",
    "GreenAvailable",
    "InsideMaintenanceWindow",
    "InstanceNotFound",
    "InstanceRebooted",
    "InstancesNotAvailable",
    "InstancesRebooted",
    "InvalidSpec",
    "LogicalReplicationDisabled",
    "MajorVersionUpgradeNotAllowed",
    "MasterUserSecretUnsupported",
    "Orphaned",
    "OutsideMaintenanceWindow",
    "ParameterGroupFamilyMismatch",
    "ParameterGroupNotFound",
    "ParameterGroupRequired",
    "ParametersApplying",
    "ParametersPendingReboot",
    "PermissionDenied",
    "PrechecksPassed",
    "PrechecksStarted",
    "ProvisioningGreen",
    "RebootFound",
    "RebootTimedOut",
    "RebootingInstance",
    "RebootsPlanned",
    "RetainingOldCluster",
    "ServerlessV1Unsupported",
    "SnapshotAvailable",
    "SnapshotFailed",
    "SnapshotNameInUse",
    "SnapshotRequested",
    "SourceVersionBelowBlueGreenMinimum",
    "SourceVersionMismatch",
    "SpecChanged",
    "SwitchedOverOutsideOperator",
    "SwitchoverApproved",
    "SwitchoverCompleted",
    "SwitchoverInProgress",
    "SwitchoverNotSafe",
    "SwitchoverRefused",
    "SwitchoverRequested",
    "SwitchoverRolledBack",
    "SwitchoverStarted",
    "TargetVersionNotFound",
    "TargetVersionNotValid",
    "UnknownBlueGreenStatus",
    "UnsafeCleanup",
    "UnsupportedEngine",
    "Upgraded",
    "VerificationStalled",
    "Verifying",
    "WaitingForBlueGreen",
    "WaitingForBlueGreenDeployment",
    "WaitingForGreen",
    "WaitingForInstance",
    "WaitingForInstances",
    "WaitingForReboot",
    "WaitingForRename",
    "WaitingForSnapshot",
]
RELEASED_FAMILIES = {
    "AWSInvalidParameterCombination": (Reason.AWS_REFUSED, "InvalidParameterCombination"),
    "AWSInvalidBlueGreenDeploymentStateFault": (Reason.AWS_REFUSED, "InvalidBlueGreenDeploymentStateFault"),
    "RebootDBInstanceRetry": (Reason.CALL_RETRY, "RebootDBInstance"),
    "DeleteDBClusterRetry": (Reason.CALL_RETRY, "DeleteDBCluster"),
    "ProvisioningGreenTimedOut": (Reason.TIMED_OUT, "ProvisioningGreen"),
    "AWSUnavailableTimedOut": (Reason.TIMED_OUT, "AWSUnavailable"),
    "CallInFlightTimedOut": (Reason.TIMED_OUT, "CallInFlight"),
    "BlueGreenInvalidConfiguration": (Reason.BLUE_GREEN_FAILED, "InvalidConfiguration"),
    "BlueGreenProvisioningFailed": (Reason.BLUE_GREEN_FAILED, "ProvisioningFailed"),
    "BlueGreenSwitchoverFailed": (Reason.BLUE_GREEN_FAILED, "SwitchoverFailed"),
}


@pytest.mark.parametrize("name", RELEASED)
def test_every_reason_a_released_version_wrote_is_still_in_the_table(name: str) -> None:
    assert Reason.parse(name) == (Reason(name), "")


@pytest.mark.parametrize("name", sorted(RELEASED_FAMILIES))
def test_the_families_parse_to_their_member_and_detail(name: str) -> None:
    reason, detail = RELEASED_FAMILIES[name]
    assert Reason.parse(name) == (reason, detail)
    assert reason.named(detail) == name


def test_a_name_never_written_is_not_a_reason() -> None:
    assert Reason.parse("Nonsense") is None
    assert Reason.parse("TimedOut") is None  # a family needs its detail
    assert entry_of(None) is None


def test_a_family_needs_its_detail_and_only_a_family_takes_one() -> None:
    with pytest.raises(ValueError):
        Reason.TIMED_OUT.named()
    with pytest.raises(ValueError):
        Reason.CLUSTER_BUSY.named("x")


def test_every_member_has_its_entry() -> None:
    assert set(TABLE) == set(Reason)


def test_outcomes_take_reasons_only_from_the_table() -> None:
    with pytest.raises(ValueError, match=r"not in reasons\.TABLE"):
        wait("WaitingForGodot", "waiting")
    with pytest.raises(ValueError, match=r"not in reasons\.TABLE"):
        fail("Oops", "failed")
    assert advance(Phase.COMPLETED, Reason.COMPLETED, "done").phase == Phase.COMPLETED


def test_waits_on_aws_are_bounded_and_the_others_are_not() -> None:
    upgrade = make_upgrade(Phase.PROVISIONING_GREEN)
    for reason, entry in TABLE.items():
        limit = deadlines.deadline(reason.named("X") if reason.family else reason, upgrade, Timing())
        assert (limit is not None) == (entry.kind == Kind.WAITING_ON_AWS), reason


def test_waits_on_a_person_look_at_aws_no_sooner_than_they_must() -> None:
    """Every reason paced at the safety interval is a wait on a person (a spec change wakes it)."""
    assert {r for r, e in TABLE.items() if e.pace == Pace.SAFETY} <= waits_on_a_person()
    assert waits_on_a_person() == {
        Reason.CLUSTER_BUSY,
        Reason.CREATE_LIMIT_REACHED,
        Reason.AWAITING_APPROVAL,
        Reason.OUTSIDE_MAINTENANCE_WINDOW,
        Reason.RETAINING_OLD_CLUSTER,
        Reason.SWITCHOVER_NOT_CARRIED_OUT,
        Reason.AWAITING_MANUAL_REBOOT,
        Reason.VALIDATION_FAILED,
    }
    # Of those, the ones the operator raised itself: it cannot tell what AWS did to production, or
    # green failed the user's own checks, and it will not go on without a person.
    assert decisions_asked() == {
        Reason.SWITCHOVER_NOT_CARRIED_OUT,
        Reason.AWAITING_MANUAL_REBOOT,
        Reason.VALIDATION_FAILED,
    }


def test_a_warning_looks_at_the_base_poll() -> None:
    """A Warning says AWS misbehaves: its reason's pace is the base poll, never a longer one;
    except a quota reached, whose every retry is a create AWS refuses (a slow pace of its own)."""
    quotas = {r for r, e in TABLE.items() if e.pace == Pace.QUOTA}
    assert quotas == {
        Reason.DB_CLUSTER_QUOTA_REACHED,
        Reason.DB_INSTANCE_QUOTA_REACHED,
        Reason.STORAGE_QUOTA_REACHED,
        Reason.SNAPSHOT_QUOTA_REACHED,
    }
    assert {r for r, e in TABLE.items() if e.warning and e.pace != Pace.POLL} == quotas


@pytest.mark.parametrize(
    ("name", "stalled"),
    [
        ("PermissionDenied", True),
        ("InvalidSpec", True),
        ("AWSCredentialsInvalid", True),
        ("VerificationStalled", True),
        ("DeletingBlueGreenTimedOut", True),
        ("AwaitingApproval", False),
        ("AWSUnavailable", False),
        ("ProvisioningGreen", False),
    ],
)
def test_stalls_are_what_a_person_must_fix(name: str, stalled: bool) -> None:
    assert is_stall(name) is stalled


# At the default poll interval (30 s) every deadline was a number of polls; as durations they
# are the same at time scale 1, and the same again when a test compresses time by poll/30.
POLLS_AT_THE_DEFAULT = {
    "ProvisioningGreen": 720,
    "WaitingForSnapshot": 240,
    "WaitingForBlueGreen": 40,
    "SwitchoverNotSafe": 60,
    "WaitingForGreen": 40,
    "UnknownBlueGreenStatus": 40,
    "AWSUnavailable": 40,
    "AWSNotFound": 40,
    "ClusterNotAvailable": 60,
    "InstancesNotAvailable": 60,
    "ParametersApplying": 60,
    "DeletingBlueGreen": 120,
    "DeletingOldInstances": 120,
    "DeletingOldCluster": 120,
    "DeletingGreen": 120,
    "RebootDBInstanceRetry": 40,
}


@pytest.mark.parametrize("poll", [30.0, 1.0, 0.2])
@pytest.mark.parametrize("name", sorted(POLLS_AT_THE_DEFAULT))
def test_deadlines_are_the_durations_they_were_at_the_default_and_compress_alike(name: str, poll: float) -> None:
    timing = Timing.compressed(poll / 30)
    expected = timedelta(seconds=max(60.0, POLLS_AT_THE_DEFAULT[name] * poll))
    assert deadlines.deadline(name, make_upgrade(Phase.PROVISIONING_GREEN), timing) == expected
    assert timing.poll == pytest.approx(poll)


def test_a_shorter_poll_looks_more_often_and_waits_no_less() -> None:
    often = Timing(poll=5.0)
    upgrade = make_upgrade(Phase.PROVISIONING_GREEN)
    assert deadlines.deadline("ProvisioningGreen", upgrade, often) == timedelta(hours=6)
    assert often.reboot_timeout == Timing().reboot_timeout == timedelta(hours=1)


def test_a_wait_kind_is_its_own_type() -> None:
    assert isinstance(wait(Reason.PROVISIONING_GREEN, "waiting"), Wait)
