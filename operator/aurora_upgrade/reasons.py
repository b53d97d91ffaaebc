"""Every reason `status.reason` can carry, once: what it means, what kind of state it is, how
long it may last and how soon to look again, whether it pages, and what the user should do.

Users and their automation match on these names (alerts, the Argo CD health script, scripts),
so a name never changes once released; tests/unit/test_reasons.py holds every name a released
version could write. Four families carry a detail in the name: `AWS<ErrorCode>`,
`<Operation>Retry`, `<Reason>TimedOut` and `BlueGreen<Status>` (`Reason.named`, `Reason.parse`).

Deadlines are durations: how long AWS may take, from AWS's documentation or a spec field, not
a number of polls. `config.Timing.scale` compresses them for tests and demos. What is derived
from this table: the troubleshooting tables of docs/operations.md (`troubleshooting_markdown`),
the Stalled condition (status.py), the chart's list of waits on a person (checked by a test),
the next look (decisions/pacing.py) and the deadlines (decisions/deadlines.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

from aurora_upgrade.clock import parse_time, rfc3339
from aurora_upgrade.window import window_opens

if TYPE_CHECKING:
    from aurora_upgrade.config import Timing
    from aurora_upgrade.models import AuroraUpgradeStatus
    from aurora_upgrade.upgrade import Upgrade


class Kind(StrEnum):
    """What an upgrade whose status carries the reason is doing."""

    PROGRESS = "progress"  # a step done or going on; no wait
    WAITING_ON_AWS = "waiting on AWS"  # AWS is working; bounded by a deadline
    WAITING_ON_PERSON = "waiting on a person"  # a spec field or another upgrade ends it; no deadline
    STALLED = "stalled"  # a person must fix something the message names (kstatus Stalled)
    FAILED = "failed"  # the upgrade ended (Failed or Aborted)


class Pace(Enum):
    """How soon to look again while status carries the reason (intervals in `config.Timing`)."""

    POLL = "poll"  # the base poll interval
    QUICK = "quick"  # AWS takes seconds to minutes: switchover, reboots, a call just made
    PROVISIONING = "provisioning"  # AWS provisions green (tens of minutes)
    # A person decides (approval, window, retention): a spec change wakes the upgrade at once,
    # so the long safety interval is enough. Not every wait on a person: ClusterBusy ends when
    # another AuroraUpgrade finishes, which no change of this one's spec signals, so it polls.
    SAFETY = "safety"
    # A create AWS refused for a Region's quota: each retry is a create AWS may refuse again, and
    # a quota frees up in hours (upgrades finishing, a person deleting or asking for more), so
    # it is retried at the safety interval, though no spec change ends the wait.
    QUOTA = "quota"
    # AWS's own work ends with an RDS event that wakes the look at once (snapshot created,
    # deployment deleted): the poll is only for a lost event, so it may be long. Never where the
    # evidence rules need quick looks (a production reboot unconfirmed, a switchover call's
    # answer unknown): those stay QUICK.
    EVENTED = "evented"


Deadline = Callable[["Upgrade", "Timing"], timedelta]


def lasting(**duration: float) -> Deadline:
    """A deadline of a fixed duration (compressed by the time scale, at least a minute)."""
    real = timedelta(**duration)
    return lambda _u, t: t.scaled(real)


def graces(n: int) -> Deadline:
    """`n` consistency graces: for something AWS was asked for and has not shown yet."""
    return lambda _u, t: n * t.consistency_grace


def _switchover_timeout(upgrade: Upgrade, timing: Timing) -> timedelta:
    """AWS rolls a switchover back once SwitchoverTimeout has passed: past that and a grace,
    still IN_PROGRESS is not something to wait for quietly."""
    return timedelta(seconds=upgrade.spec.switchover.timeout_seconds) + 2 * timing.consistency_grace


def _checks_bound(upgrade: Upgrade, timing: Timing) -> timedelta:
    """The database checks run for their own timeouts (spec, real seconds) and the guardrails'
    (validation_jobs.GUARDRAIL_BOUND); the runner answers for a job past that first."""
    checks = upgrade.spec.validation.checks if upgrade.spec.validation is not None else []
    return timedelta(seconds=sum(c.timeout_seconds for c in checks), minutes=3) + 2 * timing.consistency_grace


def _found_on_the_database(meaning: str, todo: str) -> Entry:
    """A guardrail of the first group (docs/validation.md) with `guardrails: Enforce`: found on blue
    at Prechecking it fails the upgrade before anything is created; found by a later run it holds
    the switchover for a person."""
    return Entry(
        Kind.STALLED,
        f"with `guardrails: Enforce`, found after green was made: {meaning}",
        f"{todo}, then change the spec to check again",
        fails=(
            f"with `guardrails: Enforce`, found on blue at Prechecking (nothing is created): {meaning}",
            f"{todo}; a new generation starts over ([validation.md](validation.md))",
        ),
        warning=True,
    )


def _oldest_reboot_asked(status: AuroraUpgradeStatus) -> str | None:
    """The request of the reboot waited for: one at a time, each instance has the whole timeout."""
    asked = [parse_time(s.requested_at) for s in status.reboots if s.requested_at and s.done_at is None]
    return rfc3339(min(asked)) if asked else None


@dataclass(frozen=True)
class Entry:
    """What one reason means. `meaning` and `todo` describe the state the kind names; `fails`
    is (meaning, todo) for a reason that may also end the upgrade (e.g. a wait before anything
    was created). `warning`: a Warning Event says it when status takes it without ending the
    upgrade. `deadline`: how long the wait may last before `<Reason>TimedOut`. `due`: when
    what is waited for is expected (the next look then). `began`: when the wait began, where
    status records it (a call's send time)."""

    kind: Kind
    meaning: str
    todo: str = "nothing; it goes on by itself"
    fails: tuple[str, str] | None = None
    warning: bool = False
    deadline: Deadline | None = None
    pace: Pace = Pace.POLL
    due: Callable[[Upgrade, datetime], datetime | None] | None = None
    began: Callable[[AuroraUpgradeStatus], str | None] | None = None
    # A wait on a person the operator itself raised: it cannot tell what AWS did and will not
    # repeat a step on production on its own, or green failed the user's checks and it will not
    # switch over to it (AuroraUpgradeNeedsDecision pages at once).
    decision: bool = False

    @property
    def pages(self) -> str:
        """Which of the chart's alerts pages while status carries the reason."""
        match self.kind:
            case Kind.FAILED:
                return "AuroraUpgradeFailed"
            case Kind.WAITING_ON_PERSON:
                return "AuroraUpgradeNeedsDecision" if self.decision else "no"
            case _:
                return "AuroraUpgradeStalled, past its `for`"

    def __post_init__(self) -> None:
        if self.decision and self.kind != Kind.WAITING_ON_PERSON:
            raise ValueError("only a wait on a person asks for a decision")
        if self.kind == Kind.WAITING_ON_AWS and self.deadline is None:
            raise ValueError("a wait on AWS has a deadline")
        if self.kind != Kind.WAITING_ON_AWS and self.deadline is not None:
            raise ValueError("only a wait on AWS has a deadline")


class Reason(StrEnum):
    """Every reason status can carry. A family's value holds `{}` where its detail goes."""

    # --- progress -----------------------------------------------------------------------------
    CREATED = "Created"
    SPEC_CHANGED = "SpecChanged"
    PRECHECKS_STARTED = "PrechecksStarted"
    PRECHECKS_PASSED = "PrechecksPassed"
    DRY_RUN = "DryRun"
    REBOOTS_PLANNED = "RebootsPlanned"
    REBOOTING_INSTANCE = "RebootingInstance"
    REBOOT_FOUND = "RebootFound"
    INSTANCE_REBOOTED = "InstanceRebooted"
    INSTANCES_REBOOTED = "InstancesRebooted"
    REBOOT_UNCONFIRMED = "RebootUnconfirmed"
    INSTANCE_GONE = "InstanceGone"
    INSTANCES_CHANGED = "InstancesChanged"
    BLUE_GREEN_DEPLOYMENT_CREATED = "BlueGreenDeploymentCreated"
    BLUE_GREEN_DEPLOYMENT_FOUND = "BlueGreenDeploymentFound"
    GREEN_AVAILABLE = "GreenAvailable"
    VALIDATION_STARTED = "ValidationStarted"
    VALIDATION_CHECK_PASSED = "ValidationCheckPassed"
    DATABASE_GUARDRAILS_PASSED = "DatabaseGuardrailsPassed"
    VALIDATION_PASSED = "ValidationPassed"
    VALIDATION_EXPIRED = "ValidationExpired"
    EXTENSIONS_OUTDATED = "ExtensionsOutdated"
    ANALYZE_NEEDED = "AnalyzeNeeded"
    SWITCHOVER_APPROVED = "SwitchoverApproved"
    INSIDE_MAINTENANCE_WINDOW = "InsideMaintenanceWindow"
    SNAPSHOT_REQUESTED = "SnapshotRequested"
    SNAPSHOT_AVAILABLE = "SnapshotAvailable"
    SNAPSHOT_RETAKEN = "SnapshotRetaken"
    DELETING_SUPERSEDED_SNAPSHOT = "DeletingSupersededSnapshot"
    SNAPSHOT_TURNED_OFF = "SnapshotTurnedOff"
    SNAPSHOT_SETTING_IGNORED = "SnapshotSettingIgnored"
    SWITCHOVER_STARTED = "SwitchoverStarted"
    SWITCHOVER_ATTEMPT_AUTHORISED = "SwitchoverAttemptAuthorised"
    SWITCHOVER_COMPLETED = "SwitchoverCompleted"
    SWITCHED_OVER_OUTSIDE_OPERATOR = "SwitchedOverOutsideOperator"
    BLUE_GREEN_DEPLOYMENT_DELETED_ELSEWHERE = "BlueGreenDeploymentDeletedElsewhere"
    UPGRADED = "Upgraded"
    DELETING_OLD_INSTANCE = "DeletingOldInstance"
    DISABLING_DELETION_PROTECTION = "DisablingDeletionProtection"
    DISABLING_GREEN_DELETION_PROTECTION = "DisablingGreenDeletionProtection"
    ABORTING_BLUE_GREEN = "AbortingBlueGreen"
    DELETED = "Deleted"
    GREEN_LEFT_IN_AWS = "GreenLeftInAWS"
    COMPLETED = "Completed"
    # --- waiting on AWS -----------------------------------------------------------------------
    CALL_IN_FLIGHT = "CallInFlight"
    AWS_UNAVAILABLE = "AWSUnavailable"
    AWS_NOT_FOUND = "AWSNotFound"
    CLUSTER_NOT_AVAILABLE = "ClusterNotAvailable"
    INSTANCES_NOT_AVAILABLE = "InstancesNotAvailable"
    PARAMETERS_APPLYING = "ParametersApplying"
    WAITING_FOR_INSTANCES = "WaitingForInstances"
    WAITING_FOR_INSTANCE = "WaitingForInstance"
    CHECKING_EARLIER_REBOOT = "CheckingEarlierReboot"
    WAITING_FOR_REBOOT = "WaitingForReboot"
    WAITING_FOR_BLUE_GREEN_DEPLOYMENT = "WaitingForBlueGreenDeployment"
    UNKNOWN_BLUE_GREEN_STATUS = "UnknownBlueGreenStatus"
    PROVISIONING_GREEN = "ProvisioningGreen"
    WAITING_FOR_GREEN = "WaitingForGreen"
    WAITING_FOR_SNAPSHOT = "WaitingForSnapshot"
    WAITING_FOR_BLUE_GREEN = "WaitingForBlueGreen"
    SWITCHOVER_NOT_SAFE = "SwitchoverNotSafe"
    DATABASE_CHECKS_RUNNING = "DatabaseChecksRunning"
    DATABASE_UNREACHABLE = "DatabaseUnreachable"
    VALIDATION_CHECK_ERROR = "ValidationCheckError"
    LONG_RUNNING_TRANSACTIONS = "LongRunningTransactions"
    DDL_IN_FLIGHT = "DdlInFlight"
    PREPARED_TRANSACTIONS = "PreparedTransactions"
    REPLICATION_LAG = "ReplicationLag"
    SWITCHOVER_REQUESTED = "SwitchoverRequested"
    SWITCHOVER_IN_PROGRESS = "SwitchoverInProgress"
    WAITING_FOR_RENAME = "WaitingForRename"
    SWITCHOVER_REFUSED = "SwitchoverRefused"
    VERIFYING = "Verifying"
    DELETING_BLUE_GREEN = "DeletingBlueGreen"
    DELETING_OLD_INSTANCES = "DeletingOldInstances"
    DELETING_OLD_CLUSTER = "DeletingOldCluster"
    DELETING_GREEN = "DeletingGreen"
    CALL_RETRY = "{}Retry"
    DB_CLUSTER_QUOTA_REACHED = "DBClusterQuotaReached"
    DB_INSTANCE_QUOTA_REACHED = "DBInstanceQuotaReached"
    STORAGE_QUOTA_REACHED = "StorageQuotaReached"
    SNAPSHOT_QUOTA_REACHED = "SnapshotQuotaReached"
    # --- waiting on a person ------------------------------------------------------------------
    CLUSTER_BUSY = "ClusterBusy"
    CREATE_LIMIT_REACHED = "CreateLimitReached"
    AWAITING_APPROVAL = "AwaitingApproval"
    OUTSIDE_MAINTENANCE_WINDOW = "OutsideMaintenanceWindow"
    RETAINING_OLD_CLUSTER = "RetainingOldCluster"
    SWITCHOVER_NOT_CARRIED_OUT = "SwitchoverNotCarriedOut"
    VALIDATION_FAILED = "ValidationFailed"
    # --- stalled ------------------------------------------------------------------------------
    INVALID_SPEC = "InvalidSpec"
    PERMISSION_DENIED = "PermissionDenied"
    AWS_CREDENTIALS_INVALID = "AWSCredentialsInvalid"
    VERIFICATION_STALLED = "VerificationStalled"
    OLD_CLUSTER_IN_GLOBAL_DATABASE = "OldClusterInGlobalDatabase"
    SWITCHOVER_OUTCOME_UNPROVEN = "SwitchoverOutcomeUnproven"
    REBOOT_STALLED = "RebootStalled"
    AWAITING_MANUAL_REBOOT = "AwaitingManualReboot"
    GREEN_WRITABLE = "GreenWritable"
    DDL_SINCE_CREATION = "DdlSinceCreation"
    IAM_AUTH_DISABLED = "IamDatabaseAuthenticationDisabled"
    DATABASE_USER_MISSING = "DatabaseUserMissing"
    TABLES_WITHOUT_PRIMARY_KEY = "TablesWithoutPrimaryKey"
    UNLOGGED_TABLES = "UnloggedTables"
    LARGE_OBJECTS = "LargeObjects"
    MATERIALIZED_VIEWS = "MaterializedViews"
    SELF_MANAGED_REPLICATION = "SelfManagedReplication"
    INCOMPATIBLE_EXTENSIONS = "IncompatibleExtensions"
    TOO_MANY_DATABASES = "TooManyDatabases"
    MANY_SEQUENCES = "ManySequences"
    TIMED_OUT = "{}TimedOut"
    # --- failed -------------------------------------------------------------------------------
    CLUSTER_NOT_FOUND = "ClusterNotFound"
    UNSUPPORTED_ENGINE = "UnsupportedEngine"
    MASTER_USER_SECRET_UNSUPPORTED = "MasterUserSecretUnsupported"
    SERVERLESS_V1_UNSUPPORTED = "ServerlessV1Unsupported"
    CROSS_REGION_READ_REPLICA_UNSUPPORTED = "CrossRegionReadReplicaUnsupported"
    SOURCE_VERSION_BELOW_BLUE_GREEN_MINIMUM = "SourceVersionBelowBlueGreenMinimum"
    GLOBAL_DATABASE_SECONDARY_CLUSTER = "GlobalDatabaseSecondaryCluster"
    GLOBAL_DATABASE_PARAMETER_GROUPS_MISSING = "GlobalDatabaseParameterGroupsMissing"
    GLOBAL_DATABASE_UNSUPPORTED = "GlobalDatabaseUnsupported"
    SOURCE_VERSION_MISMATCH = "SourceVersionMismatch"
    ALREADY_AT_TARGET_VERSION = "AlreadyAtTargetVersion"
    TARGET_VERSION_NOT_FOUND = "TargetVersionNotFound"
    TARGET_VERSION_NOT_VALID = "TargetVersionNotValid"
    MAJOR_VERSION_UPGRADE_NOT_ALLOWED = "MajorVersionUpgradeNotAllowed"
    PARAMETER_GROUP_REQUIRED = "ParameterGroupRequired"
    PARAMETER_GROUP_NOT_FOUND = "ParameterGroupNotFound"
    PARAMETER_GROUP_FAMILY_MISMATCH = "ParameterGroupFamilyMismatch"
    LOGICAL_REPLICATION_DISABLED = "LogicalReplicationDisabled"
    PARAMETERS_PENDING_REBOOT = "ParametersPendingReboot"
    BLUE_GREEN_DEPLOYMENT_NAME_IN_USE = "BlueGreenDeploymentNameInUse"
    FOREIGN_BLUE_GREEN_DEPLOYMENT = "ForeignBlueGreenDeployment"
    BLUE_GREEN_FAILED = "BlueGreen{}"
    BLUE_GREEN_DEPLOYMENT_DELETED = "BlueGreenDeploymentDeleted"
    BLUE_GREEN_DEPLOYMENT_NOT_FOUND = "BlueGreenDeploymentNotFound"
    INSTANCE_NOT_FOUND = "InstanceNotFound"
    REBOOT_TIMED_OUT = "RebootTimedOut"
    SNAPSHOT_NAME_IN_USE = "SnapshotNameInUse"
    SNAPSHOT_FAILED = "SnapshotFailed"
    SWITCHOVER_ROLLED_BACK = "SwitchoverRolledBack"
    UNSAFE_CLEANUP = "UnsafeCleanup"
    AWS_REFUSED = "AWS{}"
    ABORTED = "Aborted"
    ORPHANED = "Orphaned"

    @property
    def family(self) -> bool:
        return "{}" in self.value

    def named(self, detail: str = "") -> str:
        """The name status records: a family's value with its detail, else the value itself."""
        if self.family != bool(detail):
            raise ValueError(f"{self.name}: a detail goes with a family's reason, and only there")
        return self.value.format(detail) if detail else self.value

    @classmethod
    def parse(cls, name: str) -> tuple[Reason, str] | None:
        """The reason and detail a recorded name stands for; None for a name never written."""
        try:
            return cls(name), ""
        except ValueError:
            pass
        # The suffix families first: `AWSUnavailableTimedOut` is a timed-out wait, not an AWS error.
        for family in (cls.TIMED_OUT, cls.CALL_RETRY, cls.BLUE_GREEN_FAILED, cls.AWS_REFUSED):
            prefix, suffix = family.value.split("{}")
            detail = name.removeprefix(prefix).removesuffix(suffix) if name.startswith(prefix) else ""
            if detail and name == prefix + detail + suffix and detail[0].isupper():
                return family, detail
        return None


def entry_of(name: str | None) -> Entry | None:
    """The table's entry for a recorded name (a family's entry for a member of it)."""
    parsed = Reason.parse(name) if name else None
    return TABLE[parsed[0]] if parsed else None


def is_stall(name: str | None) -> bool:
    """A person must fix something: kstatus Stalled. A wait past its deadline is one too."""
    found = entry_of(name)
    return found is not None and found.kind == Kind.STALLED


def waits_on_a_person() -> frozenset[Reason]:
    return frozenset(r for r, e in TABLE.items() if e.kind == Kind.WAITING_ON_PERSON)


def decisions_asked() -> frozenset[Reason]:
    """The waits on a person the operator raised itself: a person must decide what AWS did."""
    return frozenset(r for r, e in TABLE.items() if e.decision)


_DELETION = lasting(hours=1)
# A transient guardrail finding right before the switchover (a long transaction, DDL in flight, a
# prepared transaction, lag) is looked at again for 30 minutes: longer than a batch's usual
# transaction or a catch-up after a burst, and as long as SwitchoverNotSafe waits for green. Past
# it, what holds the switchover is the application's pattern, which a person must schedule around.
_GUARDRAIL_TRANSIENT = lasting(minutes=30)
_TRANSIENT = lasting(minutes=30)  # states a cluster passes through by itself
_AWS_SLOW = lasting(minutes=20)
_QUICK = Pace.QUICK
# A Region's quota frees up when other upgrades finish or a person deletes or asks AWS for more:
# hours, not seconds. Each retry is a create AWS refuses, so they are slow.
_QUOTA_WAIT = lasting(hours=6)


def _quota_reached(quota: str) -> Entry:
    return Entry(
        Kind.WAITING_ON_AWS,
        f"AWS refused a create: the account's quota of {quota} is reached; nothing was created, and the create is "
        "tried again at the safety interval",
        "delete what is no longer needed in the Region or request a higher quota (Service Quotas, Amazon RDS); "
        "apply a fleet's upgrades in batches that fit it",
        warning=True,
        deadline=_QUOTA_WAIT,
        pace=Pace.QUOTA,
    )


TABLE: dict[Reason, Entry] = {
    # --- progress -----------------------------------------------------------------------------
    Reason.CREATED: Entry(Kind.PROGRESS, "the operator has seen the new upgrade"),
    Reason.SPEC_CHANGED: Entry(Kind.PROGRESS, "a new generation of a failed precheck or a dry run starts over"),
    Reason.PRECHECKS_STARTED: Entry(Kind.PROGRESS, "the prechecks (runbook 1.1-1.3) have started"),
    Reason.PRECHECKS_PASSED: Entry(Kind.PROGRESS, "every precheck passed; nothing was changed in AWS"),
    Reason.DRY_RUN: Entry(Kind.PROGRESS, "`dryRun`: the prechecks passed and `status.plan` lists the steps"),
    Reason.REBOOTS_PLANNED: Entry(Kind.PROGRESS, "the instances to reboot in this phase are recorded"),
    Reason.REBOOTING_INSTANCE: Entry(Kind.PROGRESS, "RebootDBInstance was sent for the named instance", pace=_QUICK),
    Reason.REBOOT_FOUND: Entry(
        Kind.PROGRESS,
        'AWS shows that a reboot whose answer was not recorded happened: the instance seen `rebooting`, a "DB '
        'instance restarted" event dated after the call (asked of AWS for that instance), or, in RebootingSource, '
        "its parameters no longer `pending-reboot`; it is not repeated",
        pace=_QUICK,
    ),
    Reason.INSTANCE_REBOOTED: Entry(Kind.PROGRESS, "the named instances are back from their reboot"),
    Reason.INSTANCES_REBOOTED: Entry(Kind.PROGRESS, "every instance of the phase has rebooted"),
    Reason.REBOOT_UNCONFIRMED: Entry(
        Kind.PROGRESS,
        "after switchover, the answer to RebootDBInstance of the named production instance was lost and AWS showed "
        "no sign of the reboot within the consistency grace (no `rebooting`, no restart event after the call): the "
        "operator never reboots a production instance twice, so the step is recorded unconfirmed "
        "(`status.unconfirmedReboots`) and the upgrade goes on; the Completed message names it "
        "([events.md](events.md#a-reboot-whose-answer-was-lost))",
        "if the instance's parameters show `pending-reboot`, reboot it yourself in a quiet moment",
        warning=True,
    ),
    Reason.INSTANCE_GONE: Entry(
        Kind.PROGRESS,
        "after switchover, the production instance whose turn it was is gone or being deleted (auto scaling, which "
        "AWS does not copy to green, or a person): it is skipped",
        "nothing; the Warning Event names it",
        warning=True,
    ),
    Reason.INSTANCES_CHANGED: Entry(
        Kind.PROGRESS,
        "production's instances changed after switchover (RebootingInstances, Verifying): those gone were skipped, "
        "those created after switchover were not rebooted (and, while still being created, not waited for); the "
        "message names them",
        "check that the instances are the ones you expect (auto scaling policies are not copied to green)",
        warning=True,
    ),
    Reason.BLUE_GREEN_DEPLOYMENT_CREATED: Entry(Kind.PROGRESS, "CreateBlueGreenDeployment was sent"),
    Reason.BLUE_GREEN_DEPLOYMENT_FOUND: Entry(
        Kind.PROGRESS, "a deployment whose create answer was not recorded was found by name and tag; not created again"
    ),
    Reason.GREEN_AVAILABLE: Entry(Kind.PROGRESS, "green is available; the message names its writer endpoint"),
    Reason.VALIDATION_STARTED: Entry(
        Kind.PROGRESS,
        "green is ready: `spec.validation`'s checks (in order, against green's writer endpoint) and the database "
        "guardrails run ([validation.md](validation.md))",
    ),
    Reason.VALIDATION_CHECK_PASSED: Entry(Kind.PROGRESS, "(an Event) the named check passed against green"),
    Reason.DATABASE_GUARDRAILS_PASSED: Entry(Kind.PROGRESS, "(an Event) the database guardrails found nothing"),
    Reason.VALIDATION_PASSED: Entry(
        Kind.PROGRESS, "every check passed and no `Enforce` guardrail holds the switchover (condition `Validated`)"
    ),
    Reason.VALIDATION_EXPIRED: Entry(
        Kind.PROGRESS,
        "the checks passed longer ago than an hour when the gate opened (a Manual approval, a window), or "
        "`spec.validation` changed since their verdict (a check added or edited): they run again right before the "
        "switchover, which waits for them",
    ),
    Reason.EXTENSIONS_OUTDATED: Entry(
        Kind.PROGRESS,
        "(a Warning, never a hold) extensions on green whose installed version is not their default: AWS does not "
        "update them; the message lists the `ALTER EXTENSION ... UPDATE` to run after switchover",
        "run the listed statements on production after the switchover",
        warning=True,
    ),
    Reason.ANALYZE_NEEDED: Entry(
        Kind.PROGRESS,
        "(a Warning, never a hold) a major upgrade: the planner's statistics do not carry over, so queries may be "
        "slow until `ANALYZE` ran",
        "run `ANALYZE` (e.g. `vacuumdb --all --analyze-in-stages`) on green before switching over, or on production "
        "right after",
        warning=True,
    ),
    Reason.SWITCHOVER_APPROVED: Entry(Kind.PROGRESS, "`switchover.approved: true` released the Manual gate"),
    Reason.INSIDE_MAINTENANCE_WINDOW: Entry(Kind.PROGRESS, "`switchover.window` is open"),
    Reason.SNAPSHOT_REQUESTED: Entry(Kind.PROGRESS, "CreateDBClusterSnapshot of blue was sent (runbook 6.1)"),
    Reason.SNAPSHOT_AVAILABLE: Entry(Kind.PROGRESS, "the pre-switchover snapshot is available"),
    Reason.SNAPSHOT_RETAKEN: Entry(
        Kind.PROGRESS,
        "the pre-switchover snapshot was older than an hour (since it was available) when the switchover was due, "
        "e.g. after the gate closed or a switchover was not carried out: a new one is taken before the call, "
        "`-2`, `-3`, ... appended to its name (a documented repeat, counted in `status.snapshotRetakes`); the stale "
        "one is kept as `status.supersededSnapshotIdentifier` "
        "([The pre-switchover snapshot](#the-pre-switchover-snapshot))",
    ),
    Reason.DELETING_SUPERSEDED_SNAPSHOT: Entry(
        Kind.PROGRESS,
        "a second retake is due: the older superseded snapshot (the operator's own) is deleted first, so at most "
        "one superseded snapshot is kept (AWS allows 100 manual cluster snapshots per Region by default)",
    ),
    Reason.SNAPSHOT_TURNED_OFF: Entry(
        Kind.PROGRESS,
        "`snapshotBeforeSwitchover` was turned off before the switchover call: no snapshot is taken; one already "
        "taken is kept",
    ),
    Reason.SNAPSHOT_SETTING_IGNORED: Entry(
        Kind.PROGRESS,
        "`snapshotBeforeSwitchover` changed after a switchover call was sent: ignored, because a snapshot then could "
        "capture the new production and must never be presented as the rollback point",
        "nothing; the switchover goes on as it was sent (the Warning is given once per value set)",
        warning=True,
    ),
    Reason.SWITCHOVER_STARTED: Entry(Kind.PROGRESS, "SwitchoverBlueGreenDeployment was sent", pace=_QUICK),
    Reason.SWITCHOVER_ATTEMPT_AUTHORISED: Entry(
        Kind.PROGRESS,
        "a person raised `spec.switchover.attempt` above `status.switchoverAttempt` after AWS did not carry a "
        "switchover out: one more SwitchoverBlueGreenDeployment was sent, recorded with that attempt number",
        pace=_QUICK,
    ),
    Reason.SWITCHOVER_COMPLETED: Entry(Kind.PROGRESS, "production is the former green cluster; blue is `-old1`"),
    Reason.SWITCHED_OVER_OUTSIDE_OPERATOR: Entry(
        Kind.PROGRESS,
        "someone switched the deployment over (console, CLI) while the upgrade waited for approval, a window or its "
        "snapshot; no pre-switchover snapshot is taken of what is now production, and the upgrade goes on with the "
        "steps after switchover",
        "nothing; the Warning Event records it",
        warning=True,
    ),
    Reason.BLUE_GREEN_DEPLOYMENT_DELETED_ELSEWHERE: Entry(
        Kind.PROGRESS,
        "someone else deleted the deployment after the switchover (runbook step 9.1 done by hand): names and "
        "versions show the switchover completed (production's name on another cluster at the target version, "
        "blue's resource id renamed), so the upgrade goes on with the steps after switchover and does not wait for "
        "a deployment that is gone. AWS lifts `-old1`'s read-only protection once the deployment is deleted",
        "nothing; the Warning Event records it. `-old1` may accept writes again: keep applications off it",
        warning=True,
    ),
    Reason.UPGRADED: Entry(Kind.PROGRESS, "production runs the target version with every instance available"),
    Reason.DELETING_OLD_INSTANCE: Entry(Kind.PROGRESS, "DeleteDBInstance was sent for an instance of `-old1`"),
    Reason.DISABLING_DELETION_PROTECTION: Entry(Kind.PROGRESS, "deletion protection of `-old1` is being turned off"),
    Reason.DISABLING_GREEN_DELETION_PROTECTION: Entry(
        Kind.PROGRESS, "deletion protection of green is being turned off, so that it can be deleted (`Abort`)"
    ),
    Reason.ABORTING_BLUE_GREEN: Entry(Kind.PROGRESS, "deletionPolicy `Abort`: the deployment and green are deleted"),
    Reason.DELETED: Entry(Kind.PROGRESS, "the resource is deleted and AWS is left as it is"),
    Reason.GREEN_LEFT_IN_AWS: Entry(
        Kind.PROGRESS,
        "the resource was deleted (`deletionPolicy: Abort`) after a switchover was requested, and names and "
        "versions did not prove that the deployment's target is not production, or the deployment vanished while "
        "names show production's name on another cluster (switched over elsewhere): nothing is deleted "
        "([Deleting](#deleting-an-auroraupgrade))",
        "find out which cluster is production (the message says what AWS showed) before deleting anything by hand",
        warning=True,
    ),
    Reason.COMPLETED: Entry(
        Kind.PROGRESS, "the upgrade is done; the message says what the infrastructure code must now say (runbook 8)"
    ),
    # --- waiting on AWS -----------------------------------------------------------------------
    Reason.CALL_IN_FLIGHT: Entry(
        Kind.WAITING_ON_AWS,
        "a call this or another operator process sent is not answered yet (`status.callInFlight`); decisions wait "
        "for its answer for the consistency grace (the reboot phases look meanwhile, and call nothing)",
        "nothing; a second operator without peering shows it now and then",
        deadline=graces(2),
        began=lambda status: status.call_sent_at,  # each call is its own wait
    ),
    Reason.AWS_UNAVAILABLE: Entry(
        Kind.WAITING_ON_AWS,
        "a call failed in a way worth retrying: throttling after botocore's retries, a 5xx, a connection error; the "
        "message names the call and AWS's error",
        "it resumes by itself; past its deadline it becomes `AWSUnavailableTimedOut`",
        warning=True,
        deadline=_AWS_SLOW,
    ),
    Reason.AWS_NOT_FOUND: Entry(
        Kind.WAITING_ON_AWS,
        'AWS answered "not found" for something the upgrade needs (e.g. a parameter group deleted meanwhile)',
        "check the resource named in the message",
        warning=True,
        deadline=_AWS_SLOW,
    ),
    Reason.CLUSTER_NOT_AVAILABLE: Entry(
        Kind.WAITING_ON_AWS,
        "the cluster passes through a transient status (e.g. `modifying`, `backing-up`)",
        fails=(
            "the cluster is in a status that does not pass by itself (it waits through the transient ones)",
            "bring the cluster back to `available`",
        ),
        deadline=_TRANSIENT,
    ),
    Reason.INSTANCES_NOT_AVAILABLE: Entry(
        Kind.WAITING_ON_AWS, "an instance of the cluster passes through a transient status", deadline=_TRANSIENT
    ),
    Reason.PARAMETERS_APPLYING: Entry(
        Kind.WAITING_ON_AWS, "an instance is applying parameter changes (`applying`)", deadline=_TRANSIENT
    ),
    Reason.WAITING_FOR_INSTANCES: Entry(
        Kind.WAITING_ON_AWS, "the cluster lists no instances to reboot yet", deadline=lambda _u, t: t.reboot_timeout
    ),
    Reason.WAITING_FOR_INSTANCE: Entry(
        Kind.WAITING_ON_AWS,
        "the next instance to reboot is not available yet",
        deadline=lambda _u, t: t.reboot_timeout,
        pace=_QUICK,
    ),
    Reason.CHECKING_EARLIER_REBOOT: Entry(
        Kind.WAITING_ON_AWS,
        "a reboot was asked for and its answer not recorded; AWS is given time to show it before anything else",
        deadline=graces(2),
        pace=_QUICK,
    ),
    Reason.WAITING_FOR_REBOOT: Entry(
        Kind.WAITING_ON_AWS,
        "the instances asked to reboot have not restarted yet",
        # From the request of the reboot waited for; the reboot itself fails at RebootTimedOut first.
        deadline=lambda _u, t: t.reboot_timeout + t.consistency_grace,
        pace=_QUICK,
        began=_oldest_reboot_asked,
    ),
    Reason.WAITING_FOR_BLUE_GREEN_DEPLOYMENT: Entry(
        Kind.WAITING_ON_AWS, "a deployment asked for a moment ago is not listed by AWS yet", deadline=graces(2)
    ),
    Reason.UNKNOWN_BLUE_GREEN_STATUS: Entry(
        Kind.WAITING_ON_AWS,
        "the deployment reports a status the operator does not know",
        "look at the deployment in the console; it waits",
        warning=True,
        deadline=_AWS_SLOW,
    ),
    Reason.PROVISIONING_GREEN: Entry(
        Kind.WAITING_ON_AWS,
        "AWS is building green; the message lists its unfinished tasks",
        "for hours: the runbook's checklist: parameter group compatibility, security groups, subnet groups",
        deadline=lasting(hours=6),
        pace=Pace.PROVISIONING,
    ),
    Reason.WAITING_FOR_GREEN: Entry(
        Kind.WAITING_ON_AWS, "green's cluster or its endpoint is not available yet", deadline=_AWS_SLOW
    ),
    Reason.WAITING_FOR_SNAPSHOT: Entry(
        Kind.WAITING_ON_AWS,
        "the pre-switchover snapshot is being taken",
        deadline=lasting(hours=2),
        pace=Pace.EVENTED,
    ),
    Reason.WAITING_FOR_BLUE_GREEN: Entry(
        Kind.WAITING_ON_AWS, "the deployment is not AVAILABLE for a switchover yet", deadline=_AWS_SLOW
    ),
    Reason.SWITCHOVER_NOT_SAFE: Entry(
        Kind.WAITING_ON_AWS,
        "right before switchover green is not verified (version, instance status, members)",
        "it waits; look at green if it persists",
        deadline=lasting(minutes=30),
    ),
    Reason.DATABASE_CHECKS_RUNNING: Entry(
        Kind.WAITING_ON_AWS,
        "the database checks or guardrails run outside the look (they take up to their `timeoutSeconds`); a later "
        "look picks their answer up",
        "nothing; past its deadline (the checks' timeouts and a few minutes) the runner is overloaded",
        deadline=_checks_bound,
        pace=_QUICK,
    ),
    Reason.DATABASE_UNREACHABLE: Entry(
        Kind.WAITING_ON_AWS,
        "with `guardrails: Enforce`, the operator could not connect to the database (or it did not answer in time); "
        "a guardrail not run has not passed, so the switchover waits and it connects again",
        "check the network path (security groups, the operator's egress), the database user and its "
        "authentication (IAM `rds-db:connect`, or the Secret), TLS ([validation.md](validation.md))",
        fails=(
            "at Prechecking with `guardrails: Enforce`, the operator could not connect to blue: the guardrails did "
            "not run, so nothing is created",
            "fix the connection ([validation.md](validation.md)); a new generation starts over",
        ),
        warning=True,
        deadline=_GUARDRAIL_TRANSIENT,
    ),
    Reason.VALIDATION_CHECK_ERROR: Entry(
        Kind.WAITING_ON_AWS,
        "a check of `spec.validation.checks` could not run (result `Error`: no answer within its `timeoutSeconds`, "
        "green or the webhook unreachable, the password Secret unreadable); a check that did not run has not passed, "
        "so the switchover waits and the check is run again until it answers",
        "look at the message: the network path to green or the webhook, the Secret, the check's `timeoutSeconds` "
        "([validation.md](validation.md)); past 30 minutes it times out",
        warning=True,
        deadline=_GUARDRAIL_TRANSIENT,
    ),
    Reason.LONG_RUNNING_TRANSACTIONS: Entry(
        Kind.WAITING_ON_AWS,
        "right before the switchover call, blue has long-running transactions, which AWS's switchover guardrail "
        "refuses; looked at again until they end",
        "let them finish, or end them; past 30 minutes it times out",
        warning=True,
        deadline=_GUARDRAIL_TRANSIENT,
    ),
    Reason.DDL_IN_FLIGHT: Entry(
        Kind.WAITING_ON_AWS,
        "right before the switchover call, DDL is running on blue (an `AccessExclusiveLock` held or awaited); "
        "looked at again until it ends",
        "let it finish; and avoid DDL on blue while a deployment exists (it degrades replication)",
        warning=True,
        deadline=_GUARDRAIL_TRANSIENT,
    ),
    Reason.PREPARED_TRANSACTIONS: Entry(
        Kind.WAITING_ON_AWS,
        "right before the switchover call, blue has prepared (two-phase) transactions; looked at again until they "
        "are committed or rolled back",
        "`COMMIT PREPARED` or `ROLLBACK PREPARED` them (`pg_prepared_xacts`)",
        warning=True,
        deadline=_GUARDRAIL_TRANSIENT,
    ),
    Reason.REPLICATION_LAG: Entry(
        Kind.WAITING_ON_AWS,
        "right before the switchover call, green lags behind blue (the deployment's replication slots); AWS "
        "refuses a switchover with lag, so it is looked at again until green caught up",
        "lower the write load on blue, or wait for a quieter moment",
        warning=True,
        deadline=_GUARDRAIL_TRANSIENT,
    ),
    Reason.SWITCHOVER_REQUESTED: Entry(
        Kind.WAITING_ON_AWS,
        "the switchover was sent and the deployment does not show it yet",
        deadline=graces(2),
        pace=_QUICK,
    ),
    Reason.SWITCHOVER_IN_PROGRESS: Entry(
        Kind.WAITING_ON_AWS,
        "AWS is switching over (SWITCHOVER_IN_PROGRESS)",
        deadline=_switchover_timeout,
        # The call was answered: AWS's "switchover completed" event wakes the look, and the
        # poll, not quick, still bounds a lost one well inside the switchover's timeout.
        pace=Pace.POLL,
    ),
    Reason.WAITING_FOR_RENAME: Entry(
        Kind.WAITING_ON_AWS,
        "the switchover completed and AWS does not list `-old1` yet",
        deadline=graces(2),
        pace=_QUICK,
    ),
    Reason.SWITCHOVER_REFUSED: Entry(
        Kind.WAITING_ON_AWS,
        "AWS refused the switchover for a transient state; both sides are verified again before another call (a "
        "call AWS answered with an error took no effect, so this is not a second switchover)",
        "it retries for 10 minutes of one opening of the gate, then fails; the clock starts again when the "
        "approval is given again or the window opens again",
        fails=(
            "AWS kept refusing the switchover for a transient state (e.g. `InvalidBlueGreenDeploymentStateFault`) "
            "for longer than 10 minutes of one opening of the gate; blue is still production",
            "check the deployment's members and the RDS events; delete and start again",
        ),
        warning=True,
        # Bounded where it is decided (Timing.refusal_timeout); this only backs that up.
        deadline=lambda _u, t: t.refusal_timeout + t.consistency_grace,
    ),
    Reason.VERIFYING: Entry(
        Kind.WAITING_ON_AWS,
        "after switchover, production does not show the target version with every instance available yet",
        # Verification stalls on its own first, after Timing.verify_timeout (VerificationStalled).
        deadline=lambda _u, t: t.verify_timeout + t.consistency_grace,
    ),
    Reason.DELETING_BLUE_GREEN: Entry(
        Kind.WAITING_ON_AWS,
        "the deployment is being deleted (runbook 9.1); both clusters stay",
        deadline=_DELETION,
        pace=Pace.EVENTED,
    ),
    Reason.DELETING_OLD_INSTANCES: Entry(
        Kind.WAITING_ON_AWS, "the instances of `-old1` are being deleted (runbook 9.2)", deadline=_DELETION
    ),
    Reason.DELETING_OLD_CLUSTER: Entry(
        Kind.WAITING_ON_AWS, "`-old1` is being deleted (runbook 9.2)", deadline=_DELETION
    ),
    Reason.DELETING_GREEN: Entry(
        Kind.WAITING_ON_AWS, "deletionPolicy `Abort`: green is being deleted with the deployment", deadline=_DELETION
    ),
    Reason.CALL_RETRY: Entry(
        Kind.WAITING_ON_AWS,
        "(e.g. `RebootDBInstanceRetry`, `DeleteDBClusterRetry`) a write failed and will be tried "
        "again once AWS's state says it is needed; after switchover refusals stall here instead of failing",
        "read AWS's error in the message",
        warning=True,
        deadline=_AWS_SLOW,
    ),
    Reason.DB_CLUSTER_QUOTA_REACHED: _quota_reached("DB clusters (40 per Region by default)"),
    Reason.DB_INSTANCE_QUOTA_REACHED: _quota_reached("DB instances (40 per Region by default)"),
    Reason.STORAGE_QUOTA_REACHED: _quota_reached("total storage for all DB instances"),
    Reason.SNAPSHOT_QUOTA_REACHED: _quota_reached("manual DB cluster snapshots (100 per Region by default)"),
    # --- waiting on a person ------------------------------------------------------------------
    Reason.CLUSTER_BUSY: Entry(
        Kind.WAITING_ON_PERSON,
        "another `AuroraUpgrade` is upgrading the same cluster",
        "wait, or delete the other one",
    ),
    Reason.CREATE_LIMIT_REACHED: Entry(
        Kind.WAITING_ON_PERSON,
        "`AURORA_UPGRADE_MAX_CREATING_PER_REGION` upgrades of the operator are creating green in this Region (their "
        "CreateBlueGreenDeployment sent, green not yet available), or as many began waiting earlier; the upgrade "
        "creates its own when its turn comes (first come, first served)",
        "wait, or raise the limit (within the account's quota of DB clusters)",
    ),
    Reason.AWAITING_APPROVAL: Entry(
        Kind.WAITING_ON_PERSON,
        "`switchover.mode: Manual`: green is ready (and rebooted, unless `rebootGreenBeforeSwitchover: false`); the "
        "message names its endpoint",
        "validate against green, then approve ([Holding the switchover](#holding-the-switchover-approval-and-windows))",
        pace=Pace.SAFETY,
    ),
    Reason.OUTSIDE_MAINTENANCE_WINDOW: Entry(
        Kind.WAITING_ON_PERSON,
        "`switchover.window` is closed; the message gives the next opening",
        "nothing, or change the window",
        pace=Pace.SAFETY,
        due=window_opens,  # looked at again when it opens, not up to a safety interval later
    ),
    Reason.RETAINING_OLD_CLUSTER: Entry(
        Kind.WAITING_ON_PERSON,
        "`cleanup.oldClusterRetention` has not passed since switchover; `-old1` is kept until then, and so is the "
        "deployment (which keeps `-old1` read-only)",
        "nothing, or shorten the retention",
        pace=Pace.SAFETY,
    ),
    Reason.SWITCHOVER_NOT_CARRIED_OUT: Entry(
        Kind.WAITING_ON_PERSON,
        "a switchover call was sent (`status.switchoverAttempt`) and AWS did not carry it out: the deployment is "
        "AVAILABLE again, production's name is still on blue at the source version, and no `-old1` carries blue's "
        "resource id (AWS rolled it back, canceled it, or never got it); the operator never sends another one by "
        "itself ([A switchover AWS did not carry out](#a-switchover-aws-did-not-carry-out))",
        "read the RDS events for why (a guardrail, the timeout), then raise `spec.switchover.attempt` above "
        "`status.switchoverAttempt` to authorise one more attempt, or delete the `AuroraUpgrade`",
        warning=True,  # looks at the base poll, like every Warning: someone may switch over in the console
        decision=True,
    ),
    Reason.VALIDATION_FAILED: Entry(
        Kind.WAITING_ON_PERSON,
        "a check of `spec.validation.checks` did not pass against green (the message names it and its result); "
        "the upgrade never switches over unverified, and green stays for you to look at, whatever `guardrails` says",
        "look at green (`status.greenClusterEndpoint`, `status.validation`); fix it or the check, then change the "
        "spec (any field, e.g. the check) to run the checks again, or delete the `AuroraUpgrade` (`deletionPolicy` "
        "decides what happens to green)",
        warning=True,  # at the base poll, like every Warning: someone may still switch over in the console
        decision=True,
    ),
    # --- stalled ------------------------------------------------------------------------------
    Reason.INVALID_SPEC: Entry(
        Kind.STALLED,
        "a spec value the schema cannot check (e.g. an unknown `switchover.window.timeZone`) edited once the upgrade "
        "has changed something in AWS (from RebootingSource on); the message starts `Stalled:`",
        "fix the spec; the upgrade resumes",
        fails=(
            "a value the schema cannot check, e.g. an unknown `switchover.window.timeZone`; `Failed` before any AWS "
            "call (in the middle of an upgrade it only stalls, `Stalled: ...`)",
            "fix the spec; the upgrade starts over (or resumes)",
        ),
        warning=True,
    ),
    Reason.PERMISSION_DENIED: Entry(
        Kind.STALLED,
        "once green exists or after switchover, AWS refused a permission; the message names the IAM action",
        "fix the policy ([`iam-policy.json`](iam-policy.json)); it resumes by itself once fixed",
        fails=(
            "before anything was created, AWS refused a call for lack of permission; the message names the IAM action "
            "(e.g. `rds:CreateBlueGreenDeployment`, `sts:AssumeRole`)",
            "allow it for the operator's role ([`iam-policy.json`](iam-policy.json)); for `sts:AssumeRole`, the trust "
            "policy of `spec.aws.roleArn`'s role must trust the operator's role (and require the `spec.aws.externalId` "
            "sent), and the operator's role must be allowed to assume it "
            "([install](install.md#specawsrolearn-clusters-in-another-account)); a new generation of a failed "
            "precheck starts over",
        ),
        warning=True,
    ),
    Reason.AWS_CREDENTIALS_INVALID: Entry(
        Kind.STALLED,
        "once green exists or after switchover, the credentials stopped working",
        "fix the credentials ([install.md](install.md#iam)); it resumes by itself once fixed",
        fails=(
            "before anything was created there were no usable credentials (none found, invalid, expired)",
            "configure IRSA / EKS Pod Identity / the environment, or fix `spec.aws.roleArn` "
            "([install.md](install.md#iam))",
        ),
        warning=True,
    ),
    Reason.VERIFICATION_STALLED: Entry(
        Kind.STALLED,
        "after switchover, production did not show the target version with every instance available within 20 "
        "minutes; the message says whether a version is wrong or an instance is still e.g. `modifying`",
        "it goes on by itself once production settles; if a version is wrong, inspect production "
        "([Going back](#going-back))",
        warning=True,
    ),
    Reason.OLD_CLUSTER_IN_GLOBAL_DATABASE: Entry(
        Kind.STALLED,
        "`cleanup.deleteOldCluster` is on and the previous production cluster (`-old1`) is still a member of an "
        "Aurora global database (an upgrade of a global database's primary started by an earlier version); AWS "
        "deletes a global database's clusters only once they are removed from it, so nothing was deleted (see "
        "[Limitations](#limitations-aws-documents-that-the-prechecks-see))",
        "remove `-old1`'s secondary clusters from that global database, then `-old1` itself "
        "(`aws rds remove-from-global-cluster`), or set `cleanup.deleteOldCluster: false`; cleanup goes on by itself",
        warning=True,
    ),
    Reason.SWITCHOVER_OUTCOME_UNPROVEN: Entry(
        Kind.STALLED,
        "after a switchover call, the deployment failed, is being deleted or is gone, or is AVAILABLE while names "
        "and versions do not show which cluster is production; nothing more is sent and nothing is deleted "
        "([A switchover AWS did not carry out](#a-switchover-aws-did-not-carry-out))",
        "look at both clusters in the RDS console (the message says what AWS showed); it looks again and goes on "
        "once AWS shows the switchover completed",
        warning=True,
    ),
    Reason.REBOOT_STALLED: Entry(
        Kind.STALLED,
        "after switchover, a production instance has not come back from its reboot within an hour; production "
        "already runs the new version, so the upgrade keeps looking instead of failing",
        "look at the instance in the RDS console; the upgrade goes on once it is available",
        warning=True,
    ),
    Reason.AWAITING_MANUAL_REBOOT: Entry(
        Kind.WAITING_ON_PERSON,
        "RebootingSource: the answer to RebootDBInstance of the named production instance was lost, and its "
        "parameters are still `pending-reboot` (the reboot has not happened, or AWS does not show it): the "
        "operator never reboots a production instance twice, so it holds "
        "([events.md](events.md#a-reboot-whose-answer-was-lost))",
        "reboot the instance yourself (`aws rds reboot-db-instance`) in a quiet moment; the upgrade goes on once its "
        "parameters are in sync",
        warning=True,
        decision=True,
    ),
    Reason.GREEN_WRITABLE: Entry(
        Kind.STALLED,
        "with `guardrails: Enforce`, a setting lets writes land on green (`default_transaction_read_only` turned off "
        "for a role or database): AWS's switchover guardrail wants no writes there, and writes on green are lost to "
        "replication conflicts",
        "remove the override (`ALTER ROLE ... RESET default_transaction_read_only`), then change the spec (any "
        "field) to check again",
        warning=True,
    ),
    Reason.DDL_SINCE_CREATION: Entry(
        Kind.STALLED,
        "with `guardrails: Enforce`, blue's catalog changed since the deployment was created (DDL or DCL, which "
        "logical replication does not carry): AWS will report replication degraded, and waiting cannot fix it",
        "recreate the deployment: delete this `AuroraUpgrade` (`deletionPolicy: Abort` deletes green) and start a "
        "new one, with no DDL on blue until it has switched over",
        warning=True,
    ),
    Reason.IAM_AUTH_DISABLED: _found_on_the_database(
        "IAM database authentication is off on blue while `validation.database` uses it (no passwordSecretRef)",
        "turn it on (`aws rds modify-db-cluster --enable-iam-database-authentication`), or use a Secret",
    ),
    Reason.DATABASE_USER_MISSING: _found_on_the_database(
        "the database user is not on blue: DCL is not replicated to green, so it must exist before green is made",
        "create it on blue (`CREATE ROLE ... LOGIN`, `GRANT rds_iam` for IAM authentication)",
    ),
    Reason.TABLES_WITHOUT_PRIMARY_KEY: _found_on_the_database(
        "tables without a primary key or `REPLICA IDENTITY FULL` receive UPDATE or DELETE: logical replication "
        "cannot apply them to green",
        "add a primary key, or `ALTER TABLE ... REPLICA IDENTITY FULL`",
    ),
    Reason.UNLOGGED_TABLES: _found_on_the_database(
        "unlogged tables, which are not replicated unless `rds.logically_replicate_unlogged_tables` is on",
        "turn the parameter on, or make them logged",
    ),
    Reason.LARGE_OBJECTS: _found_on_the_database(
        "large objects (`pg_largeobject`), which logical replication does not carry to green",
        "move them into `bytea` columns, or upgrade another way",
    ),
    Reason.MATERIALIZED_VIEWS: _found_on_the_database(
        "materialized views, whose refreshes are not replicated",
        "refresh them on green before the switchover, or drop them",
    ),
    Reason.SELF_MANAGED_REPLICATION: _found_on_the_database(
        "self-managed publications, subscriptions or replication slots, which blue/green deployments do not support",
        "drop them (and recreate them after the upgrade)",
    ),
    Reason.INCOMPATIBLE_EXTENSIONS: _found_on_the_database(
        "extensions AWS lists as incompatible with blue/green deployments (e.g. `pg_partman`, `pglogical`, "
        "`pgactive` on blue, `pg_cron` on green)",
        "drop them for the upgrade, or upgrade another way",
    ),
    Reason.TOO_MANY_DATABASES: _found_on_the_database(
        "more databases than the replication slots allow (each database needs its own slot)",
        "raise `max_replication_slots` (and `max_wal_senders`, `max_logical_replication_workers`), or drop "
        "unused databases",
    ),
    Reason.MANY_SEQUENCES: _found_on_the_database(
        "so many sequences that AWS's synchronising them at switchover may not fit `switchover.timeoutSeconds`",
        "raise `switchover.timeoutSeconds`, or set `guardrails: Warn`",
    ),
    Reason.TIMED_OUT: Entry(
        Kind.STALLED,
        "after switchover (e.g. `DeletingBlueGreenTimedOut`, `SwitchoverInProgressTimedOut`): a "
        "wait lasted past its deadline; production needs the remaining steps, so the upgrade keeps looking",
        "look at the resource the message names in the RDS console",
        fails=(
            "(e.g. `ProvisioningGreenTimedOut`, `WaitingForSnapshotTimedOut`, "
            "`SwitchoverNotSafeTimedOut`) a wait before switchover lasted past its deadline (every wait has one, "
            "see [Deadlines](#deadlines)); blue is untouched",
            "look at the resource the message names; delete the `AuroraUpgrade` (green goes with `Abort`) and start "
            "again",
        ),
        warning=True,
    ),
    # --- failed -------------------------------------------------------------------------------
    Reason.CLUSTER_NOT_FOUND: Entry(
        Kind.FAILED,
        "no cluster `spec.clusterIdentifier` in `spec.region` (or it disappeared before the create)",
        "check the name, region and credentials' account",
    ),
    Reason.UNSUPPORTED_ENGINE: Entry(
        Kind.FAILED, "the cluster is not aurora-postgresql", "the operator upgrades Aurora PostgreSQL only"
    ),
    Reason.MASTER_USER_SECRET_UNSUPPORTED: Entry(
        Kind.FAILED,
        "the master password is managed in Secrets Manager, which blue/green deployments do not support",
        "turn the managed master password off, or upgrade another way",
    ),
    Reason.SERVERLESS_V1_UNSUPPORTED: Entry(
        Kind.FAILED,
        "the cluster is Aurora Serverless v1 (`EngineMode: serverless`), which blue/green deployments do not support "
        "(see [Limitations](#limitations-aws-documents-that-the-prechecks-see))",
        "migrate it to provisioned or Serverless v2, or upgrade another way",
    ),
    Reason.CROSS_REGION_READ_REPLICA_UNSUPPORTED: Entry(
        Kind.FAILED,
        "the cluster has cross-Region read replicas (`ReadReplicaIdentifiers` in another Region) or is one "
        "(`ReplicationSourceIdentifier`)",
        "remove the replicas (or promote the replica) first, or upgrade another way",
    ),
    Reason.SOURCE_VERSION_BELOW_BLUE_GREEN_MINIMUM: Entry(
        Kind.FAILED,
        "the cluster runs a version below AWS's minimum for blue/green deployments (e.g. 15.4 in major 15; the table "
        "is below)",
        "upgrade it in place to a supported minor first",
    ),
    Reason.GLOBAL_DATABASE_SECONDARY_CLUSTER: Entry(
        Kind.FAILED,
        "the cluster is a secondary of an Aurora global database; a global database's blue/green deployment starts "
        "from its primary, and the operator does not upgrade global databases (`GlobalDatabaseUnsupported`)",
        "upgrade the global database another way ([Limitations](#limitations-aws-documents-that-the-prechecks-see))",
    ),
    Reason.GLOBAL_DATABASE_PARAMETER_GROUPS_MISSING: Entry(
        Kind.FAILED,
        "(written by earlier versions, which upgraded a global database's primary) the parameter groups green would "
        "use were missing in another of its Regions",
        "the operator no longer upgrades global databases (`GlobalDatabaseUnsupported`)",
    ),
    Reason.GLOBAL_DATABASE_UNSUPPORTED: Entry(
        Kind.FAILED,
        "the cluster is the primary (or a member) of an Aurora global database: its blue/green switchover also "
        "switches over the secondary Regions, while the operator reboots, verifies and cleans up in one Region, and "
        "cannot delete an `-old1` that belongs to a global database ([Limitations](#limitations-aws-documents-that-"
        "the-prechecks-see)); nothing was changed",
        "upgrade the global database another way, e.g. its blue/green deployment by hand from the primary's Region, "
        "with the steps after switchover done in every Region",
    ),
    Reason.SOURCE_VERSION_MISMATCH: Entry(
        Kind.FAILED,
        "the cluster is not at `expectedSourceEngineVersion` (perhaps another upgrade got there first)",
        "check the cluster; create a new `AuroraUpgrade` with the right expectation",
    ),
    Reason.ALREADY_AT_TARGET_VERSION: Entry(Kind.FAILED, "the cluster already runs the target", "nothing to do"),
    Reason.TARGET_VERSION_NOT_FOUND: Entry(
        Kind.FAILED,
        "the target version is not offered in the region",
        "pick one from `aws rds describe-db-engine-versions --engine aurora-postgresql`",
    ),
    Reason.TARGET_VERSION_NOT_VALID: Entry(
        Kind.FAILED,
        "not in the source version's `ValidUpgradeTarget` (the message lists the valid ones)",
        "pick a valid target, or upgrade in two steps",
    ),
    Reason.MAJOR_VERSION_UPGRADE_NOT_ALLOWED: Entry(
        Kind.FAILED,
        "a major upgrade without `allowMajorVersionUpgrade: true`",
        "set it (with parameter groups of the target family)",
    ),
    Reason.PARAMETER_GROUP_REQUIRED: Entry(
        Kind.FAILED,
        "a major upgrade needs `targetDBClusterParameterGroupName` and `targetDBParameterGroupName` of the target "
        "family",
        "create them (with `rds.logical_replication=1`) and name them",
    ),
    Reason.PARAMETER_GROUP_NOT_FOUND: Entry(Kind.FAILED, "a named parameter group does not exist", "check the names"),
    Reason.PARAMETER_GROUP_FAMILY_MISMATCH: Entry(
        Kind.FAILED,
        "a named parameter group is not of the target version's family",
        "use groups of that family (e.g. aurora-postgresql16)",
    ),
    Reason.LOGICAL_REPLICATION_DISABLED: Entry(
        Kind.FAILED,
        "`rds.logical_replication` is not `1` on the cluster parameter group (Aurora PostgreSQL blue/green "
        "deployments need it, minor upgrades too)",
        "set it to 1, reboot the writer (or let `rebootSourceForPendingParameters` do it), retry",
    ),
    Reason.PARAMETERS_PENDING_REBOOT: Entry(
        Kind.PROGRESS,
        "with `rebootSourceForPendingParameters`, production's instances with pending parameters are rebooted first "
        "(RebootingSource)",
        fails=(
            "instances have parameter changes waiting for a reboot; blue/green creation fails until they are in sync",
            "reboot them, or set `rebootSourceForPendingParameters: true`",
        ),
    ),
    Reason.BLUE_GREEN_DEPLOYMENT_NAME_IN_USE: Entry(
        Kind.FAILED,
        "a deployment with this name exists and was not created by this `AuroraUpgrade`; it is left untouched",
        "delete that deployment, or create a new `AuroraUpgrade` with another `blueGreenDeploymentName`",
    ),
    Reason.FOREIGN_BLUE_GREEN_DEPLOYMENT: Entry(
        Kind.FAILED,
        "the cluster is already the source of another blue/green deployment",
        "finish or delete that one first",
    ),
    Reason.BLUE_GREEN_FAILED: Entry(
        Kind.FAILED,
        "the deployment reports a failure status, its StatusDetails in the message. "
        "`BlueGreenInvalidConfiguration`: AWS could not build green (INVALID_CONFIGURATION), typically incompatible "
        "parameters or pending reboots, also when someone promoted green by hand; `BlueGreenProvisioningFailed`: AWS "
        "failed to provision green; `BlueGreenSwitchoverFailed`: the switchover failed (past "
        "`switchover.timeoutSeconds`, or a guardrail: replica lag, long writes or DDL on blue, external "
        "replication), AWS rolled back. After a switchover call it ends the upgrade only when names and versions "
        "prove blue is still production (the message says what AWS showed); otherwise `SwitchoverOutcomeUnproven`",
        "fix what StatusDetails names (the runbook's checklist: parameter group compatibility, security groups, "
        "subnet groups; for a switchover, read the RDS events below: a longer timeout, a quieter moment), delete the "
        "`AuroraUpgrade` (green goes with `Abort`), start again",
    ),
    Reason.BLUE_GREEN_DEPLOYMENT_DELETED: Entry(
        Kind.FAILED,
        "someone deleted the deployment while the upgrade used it (after a switchover call: only when names and "
        "versions prove blue is still production)",
        "start again",
    ),
    Reason.BLUE_GREEN_DEPLOYMENT_NOT_FOUND: Entry(
        Kind.FAILED,
        "the recorded deployment no longer exists (after a switchover call: only when names and versions prove "
        "blue is still production)",
        "check who deleted it; start again",
    ),
    Reason.INSTANCE_NOT_FOUND: Entry(
        Kind.FAILED,
        "before switchover, an instance being rebooted disappeared (after switchover it is skipped: `InstanceGone`)",
        "check the cluster's instances; start again",
    ),
    Reason.REBOOT_TIMED_OUT: Entry(
        Kind.FAILED,
        "before switchover, an instance did not come back from its reboot within an hour (after switchover the "
        "upgrade stalls instead: `RebootStalled`)",
        "look at the instance in AWS; start again",
    ),
    Reason.SNAPSHOT_NAME_IN_USE: Entry(
        Kind.FAILED,
        "a snapshot with the pre-switchover name exists and was not taken by this upgrade",
        "delete or rename it, start again",
    ),
    Reason.SNAPSHOT_FAILED: Entry(
        Kind.FAILED, "the pre-switchover snapshot failed; switchover was not started", "check the cluster, start again"
    ),
    Reason.SWITCHOVER_ROLLED_BACK: Entry(
        Kind.FAILED,
        "(written by earlier versions; now `SwitchoverNotCarriedOut`) AWS accepted the switchover but the deployment "
        "is AVAILABLE again: it rolled back; blue is still production. Also when the answer to the switchover call "
        "was lost and AWS's events (RDS-EVENT-0247/0249, 0259/0261) show it was taken and canceled "
        "([events.md](events.md#a-switchover-whose-answer-was-lost))",
        "check the RDS events; delete the `AuroraUpgrade` and start again",
    ),
    Reason.UNSAFE_CLEANUP: Entry(
        Kind.FAILED,
        "the cluster to delete is not the recorded previous production cluster (name or resource id differ); nothing "
        "was deleted",
        "check `status.oldClusterIdentifier` against AWS; delete `-old1` by hand if intended",
    ),
    Reason.AWS_REFUSED: Entry(
        Kind.FAILED,
        "(e.g. `AWSInvalidParameterCombination`, `AWSInvalidBlueGreenDeploymentStateFault`) AWS "
        "refused a request outright: before switchover the upgrade fails; a switchover AWS rejects outright fails it, "
        "with blue untouched",
        "read the message (AWS's own); fix the spec or the account",
    ),
    Reason.ABORTED: Entry(
        Kind.FAILED,
        "(phase Aborted) the resource was deleted before switchover with `deletionPolicy: Abort`; the deployment and "
        "green were deleted ([Deleting](#deleting-an-auroraupgrade))",
        "nothing; the object is gone",
    ),
    Reason.ORPHANED: Entry(
        Kind.FAILED,
        "(phase Aborted) the resource was deleted before switchover with `deletionPolicy: Orphan`; AWS was left as it "
        "is ([Deleting](#deleting-an-auroraupgrade))",
        "nothing; the object is gone",
    ),
}


def doc_name(reason: Reason) -> str:
    """How the docs name a reason: a family with its detail in angle brackets."""
    return f"`{reason.value.replace('{}', '<' + _FAMILY_DETAIL[reason] + '>')}`" if reason.family else f"`{reason}`"


_FAMILY_DETAIL = {
    Reason.CALL_RETRY: "Operation",
    Reason.TIMED_OUT: "Reason",
    Reason.BLUE_GREEN_FAILED: "Status",
    Reason.AWS_REFUSED: "ErrorCode",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def troubleshooting_markdown() -> str:
    """docs/operations.md's tables of reasons, made from the table (tests/unit/test_reasons.py
    checks the page holds exactly this)."""
    ending = ["| reason | meaning | what to do |", "|---|---|---|"]
    for reason, e in TABLE.items():
        if e.kind == Kind.FAILED:
            ending.append(f"| {doc_name(reason)} | {_cell(e.meaning)} | {_cell(e.todo)} |")
        elif e.fails is not None:
            ending.append(f"| {doc_name(reason)} | {_cell(e.fails[0])} | {_cell(e.fails[1])} |")
    going = ["| reason | kind | meaning | what to do | Warning Event | pages |", "|---|---|---|---|---|---|"]
    for reason, e in TABLE.items():
        if e.kind in (Kind.WAITING_ON_AWS, Kind.WAITING_ON_PERSON, Kind.STALLED) or e.warning:
            going.append(
                f"| {doc_name(reason)} | {e.kind} | {_cell(e.meaning)} | {_cell(e.todo)} | "
                f"{'yes' if e.warning else 'no'} | {e.pages} |"
            )
    progress = ["| reason | meaning |", "|---|---|"]
    progress += [f"| {doc_name(r)} | {_cell(e.meaning)} |" for r, e in TABLE.items() if e.kind == Kind.PROGRESS]
    return "\n".join(
        [
            "Reasons an upgrade ends `Failed` (or `Aborted`) with:",
            "",
            *ending,
            "",
            "Waits, stalls and Warnings that do not end the upgrade (`status.reason` and `status.message` say why; "
            "the waits on a person and the stalls have no deadline, see [Deadlines](#deadlines)):",
            "",
            *going,
            "",
            "Reasons of steps that go on:",
            "",
            *progress,
            "",
        ]
    )


def deadlines_markdown() -> str:
    """The deadline of every wait on AWS at time scale 1 and the default spec."""
    # Imported here: status.py imports this module (the Stalled condition), and models/upgrade are
    # needed only to render the docs.
    from aurora_upgrade.config import Timing
    from aurora_upgrade.models import AuroraUpgradeSpec
    from aurora_upgrade.status import initial
    from aurora_upgrade.upgrade import Upgrade

    spec = AuroraUpgradeSpec.model_validate(
        {"region": "ap-northeast-1", "clusterIdentifier": "c", "targetEngineVersion": "15.10"}
    )
    upgrade = Upgrade("u", "default", "uid", 1, spec, initial(datetime(2026, 1, 1)))
    rows = ["| reason | deadline | pace |", "|---|---|---|"]
    for reason, e in TABLE.items():
        if e.deadline is not None:
            rows.append(f"| {doc_name(reason)} | {_duration(e.deadline(upgrade, Timing()))} | {e.pace.value} |")
    return "\n".join(rows) + "\n"


def _duration(limit: timedelta) -> str:
    seconds = int(limit.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


MARKS = {
    "reasons": ("<!-- reasons: generated from reasons.py -->", "<!-- end of reasons -->", troubleshooting_markdown),
    "deadlines": ("<!-- deadlines: generated from reasons.py -->", "<!-- end of deadlines -->", deadlines_markdown),
}


def rewrite(text: str) -> str:
    """`text` (docs/operations.md) with its generated parts made anew."""
    for begin, end, make in MARKS.values():
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{make()}{end}{rest.split(end, 1)[1]}"
    return text


if __name__ == "__main__":  # `python -m aurora_upgrade.reasons docs/operations.md` (make docs)
    import sys
    from pathlib import Path

    page = Path(sys.argv[1])
    page.write_text(rewrite(page.read_text()))
