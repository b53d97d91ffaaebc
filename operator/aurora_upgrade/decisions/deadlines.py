"""No wait is unbounded: every reason an upgrade can wait for has a deadline here, derived from
the poll interval (Timing) or a documented spec field, or it is a wait on a person.

The engine passes every outcome it is about to record through `bounded`. A wait keeps the time
it began in status (`waitingFor`, `waitingSince`) for as long as the same reason comes back;
reaching the deadline gives `<Reason>TimedOut`: Failed while switchover has not started
(blue is untouched), a stall with a Warning after it (production needs the remaining steps,
so the upgrade keeps looking and goes on when AWS does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from aurora_upgrade.clock import rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import Outcome, fail
from aurora_upgrade.phases import switchover_may_have_started
from aurora_upgrade.upgrade import Upgrade

Deadline = Callable[[Upgrade, Timing], timedelta]


def _polls(n: int, floor: float = 60.0) -> Deadline:
    return lambda _u, t: timedelta(seconds=max(floor, n * t.poll))


def _switchover_timeout(u: Upgrade, t: Timing) -> timedelta:
    """AWS rolls a switchover back once SwitchoverTimeout has passed: past that and a grace,
    still IN_PROGRESS is not something to wait for quietly."""
    return timedelta(seconds=u.spec.switchover.timeout_seconds) + 2 * t.consistency_grace


DEADLINES: dict[str, Deadline] = {
    # Prechecking: the cluster and its instances pass through these states on their own.
    "ClusterNotAvailable": _polls(60),
    "InstancesNotAvailable": _polls(60),
    "ParametersApplying": _polls(60),
    # Creating and provisioning green: AWS's time to create the green environment.
    "WaitingForBlueGreenDeployment": lambda _u, t: 2 * t.consistency_grace,
    "ProvisioningGreen": _polls(720),  # 6 h at 30 s
    "WaitingForGreen": _polls(40),
    "UnknownBlueGreenStatus": _polls(40),
    "WaitingForBlueGreen": _polls(40),
    # Reboots: the reboot itself has Timing.reboot_timeout (RebootTimedOut).
    "WaitingForInstances": lambda _u, t: t.reboot_timeout,
    "WaitingForInstance": lambda _u, t: t.reboot_timeout,
    "CheckingEarlierReboot": lambda _u, t: 2 * t.consistency_grace,
    "WaitingForReboot": lambda _u, t: t.reboot_timeout + t.consistency_grace,
    # Snapshot and switchover.
    "WaitingForSnapshot": _polls(240),  # 2 h at 30 s
    "SwitchoverNotSafe": _polls(60),
    "SwitchoverRequested": lambda _u, t: 2 * t.consistency_grace,
    "SwitchoverInProgress": _switchover_timeout,
    "WaitingForRename": lambda _u, t: 2 * t.consistency_grace,
    # Verification stalls on its own after Timing.verify_timeout (VerificationStalled).
    "Verifying": lambda _u, t: t.verify_timeout + t.consistency_grace,
    # Deletions (cleanup and deletionPolicy Abort).
    "DeletingBlueGreen": _polls(120),
    "DeletingOldInstances": _polls(120),
    "DeletingOldCluster": _polls(120),
    "DeletingGreen": _polls(120),
    # A call sent by this or another writer, not answered yet (outcome.call_in_flight).
    "CallInFlight": lambda _u, t: 2 * t.consistency_grace,
    # AWS not answering, or a call looked at again.
    "AWSUnavailable": _polls(40),
    "AWSNotFound": _polls(40),
    # Bounded where it is decided (Timing.refusal_timeout); this only backs that up.
    "SwitchoverRefused": lambda _u, t: t.refusal_timeout + t.consistency_grace,
}
UNLISTED = _polls(40)  # a reason added without a deadline here still ends (a unit test lists them all)

# Waits that end when a person acts (or a documented spec field says when), not when AWS does;
# and stalls that already say what a person must fix.
ON_PEOPLE = frozenset(
    {
        "ClusterBusy",  # another AuroraUpgrade of the cluster finishes or is deleted
        "AwaitingApproval",  # spec.switchover.approved
        "OutsideMaintenanceWindow",  # spec.switchover.window
        "RetainingOldCluster",  # spec.cleanup.oldClusterRetention
        "PermissionDenied",
        "AWSCredentialsInvalid",
        "VerificationStalled",
        "InvalidSpec",
    }
)


def _retry_of(reason: str) -> bool:
    """`<Operation>Retry`: a call that failed and is looked at again."""
    return reason.endswith("Retry")


def deadline(reason: str, upgrade: Upgrade, timing: Timing) -> timedelta | None:
    """The longest an upgrade may wait for `reason`; None for a wait on a person."""
    if reason in ON_PEOPLE or reason.endswith("TimedOut"):
        return None
    if _retry_of(reason):
        return _polls(40)(upgrade, timing)
    return DEADLINES.get(reason, UNLISTED)(upgrade, timing)


def bounded(upgrade: Upgrade, outcome: Outcome, now: datetime, timing: Timing, stall: bool = False) -> Outcome:
    """`outcome` with its wait tracked in status, or what reaching the wait's deadline means.
    `stall`: never fail (the finalizer, which must keep its resource until AWS is clean)."""
    status = upgrade.status
    if outcome.phase is not None:
        return replace(outcome, changes={**outcome.changes, "waiting_for": None, "waiting_since": None})
    if outcome.action is not None or outcome.requeue <= 0 or not outcome.reason:
        return outcome  # an action, or a step that goes on at once: not a wait
    tracked = outcome.reason.removesuffix("TimedOut")
    if tracked == "CallInFlight" and status.call_sent_at:
        began = status.call_sent_at  # each call its own wait: a call sent again is not the one waited for before
    elif status.waiting_for == tracked and status.waiting_since:
        began = status.waiting_since
    else:
        began = rfc3339(now)
    limit = deadline(tracked, upgrade, timing)
    outcome = replace(outcome, changes={**outcome.changes, "waiting_for": tracked, "waiting_since": began})
    if limit is None or since(began, now) <= limit:
        return outcome
    waited = f"waited {int(limit.total_seconds())}s since {began}"
    if not stall and not switchover_may_have_started(status):
        return fail(
            f"{tracked}TimedOut",
            f"{outcome.message} ({waited}); giving up before switchover, so blue is untouched",
            waiting_for=None,
            waiting_since=None,
        )
    return Outcome(
        reason=f"{tracked}TimedOut",
        message=f"{outcome.message} ({waited}); production needs the remaining steps, so the upgrade "
        "keeps looking: check the resources named in the RDS console",
        changes=outcome.changes,
        requeue=outcome.requeue,
        warning=True,
    )
