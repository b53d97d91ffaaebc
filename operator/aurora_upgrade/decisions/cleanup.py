"""CleaningUp (runbook 9.1, 9.2) and what deleting the resource does (deletionPolicy).

Cleanup waits out cleanup.oldClusterRetention first: deleting the deployment removes the
read-only protection of the `-old1` cluster (AWS), so while it is kept for rollback the
deployment is kept too. Then it deletes the blue/green deployment (never its target: after
switchover the target is production), then, only when asked, the `-old1` cluster:
its instances first, then the cluster, with a final snapshot unless told otherwise. Cleanup
runs after switchover, so a refused call stalls it with a Warning rather than failing it.

Deleting the AuroraUpgrade follows deletionPolicy before a switchover call and leaves AWS
alone once a switchover completed. After a call that AWS did not carry out, Abort deletes the
deployment's target only where names and versions prove it is not production; otherwise it
leaves both with a Warning. A refused delete keeps the finalizer (with a Warning), because
releasing it would orphan green.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions import validate
from aurora_upgrade.decisions.actions import (
    Action,
    DeleteBlueGreen,
    DeleteCluster,
    DeleteInstance,
    DisableDeletionProtection,
)
from aurora_upgrade.decisions.deployment import (
    MEMBER_SWITCHING,
    SWITCHED_OVER,
    Names,
    Production,
    find_deployment,
    not_listed_yet,
    our_deployment,
    production_by_names,
)
from aurora_upgrade.decisions.outcome import Act, GoOn, Outcome, Wait, advance, call_failed, fail, wait
from aurora_upgrade.decisions.questions import (
    Question,
    describe_blue_green,
    describe_cluster,
    describe_cluster_instances,
)
from aurora_upgrade.decisions.switchover import previous_production
from aurora_upgrade.decisions.verify import completion_message
from aurora_upgrade.models import DeletionPolicy, parse_duration
from aurora_upgrade.phases import Phase, deleting_touches_aws, recorded_attempt
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import BlueGreen, Cluster, Instance, RdsError, RdsReads, arn_name
from aurora_upgrade.upgrade import Upgrade


@dataclass(frozen=True)
class CleanupObservation:
    deployment: BlueGreen | None
    old_cluster: Cluster | None = None
    old_instances: tuple[Instance, ...] = ()


class CleanupQuestions(NamedTuple):
    deployment: Question[BlueGreen | None]
    old_cluster: Question[Cluster | None]
    old_instances: Question[Sequence[Instance]]


def questions(upgrade: Upgrade) -> CleanupQuestions:
    """What a look may ask the shared describes (decisions/questions.py): the deployment it
    deletes, and the old cluster with its instances if it is deleted."""
    cleanup, old = upgrade.spec.cleanup, upgrade.status.old_cluster_identifier
    deletes_old = bool(cleanup.delete_old_cluster and old)
    return CleanupQuestions(
        deployment=our_deployment(upgrade) if cleanup.delete_blue_green_deployment else describe_blue_green(None),
        old_cluster=previous_production(upgrade) if deletes_old else describe_cluster(None),
        old_instances=describe_cluster_instances(old if deletes_old else None),
    )


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> CleanupObservation:
    declared = questions(upgrade)
    bg = declared.deployment.ask(aws)
    keep_until = retained_until(upgrade)
    # Finding the old cluster (asked about only if cleanup deletes it) is only worth it once it
    # may be deleted.
    if declared.old_cluster.about is None or bg is not None or (keep_until and now < keep_until):
        return CleanupObservation(deployment=bg)
    found = declared.old_cluster.ask(aws)
    return CleanupObservation(
        deployment=bg,
        old_cluster=found,
        old_instances=tuple(declared.old_instances.ask(aws, found.identifier)) if found else (),
    )


def final_snapshot_name(upgrade: Upgrade, old: str) -> str:
    return f"{old}-final-{upgrade.uid[:8]}"


def decide_cleanup(upgrade: Upgrade, seen: CleanupObservation, now: datetime, timing: Timing) -> Outcome:
    spec, status = upgrade.spec, upgrade.status
    bg = seen.deployment
    old = status.old_cluster_identifier
    keep_until = retained_until(upgrade)
    if spec.cleanup.delete_blue_green_deployment and bg is None and _deleted_elsewhere(upgrade):
        # Nothing to wait for: the switchover completed, so the deployment's target is production.
        return GoOn(
            reason=Reason.BLUE_GREEN_DEPLOYMENT_DELETED_ELSEWHERE,
            message=f"Blue/green deployment {status.blue_green_deployment_identifier} was deleted by someone else "
            f"after the switchover (runbook step 9.1 is done); AWS lifted the read-only protection of "
            f"{old or 'the previous production cluster'} with it: keep applications off it. Cleanup goes on",
            changes={"deployment_deleted_elsewhere_at": rfc3339(now)},
        )
    if keep_until is not None and now < keep_until:
        # Deleting the deployment lifts the read-only protection of the old cluster (AWS): while
        # it is kept for rollback, the deployment stays too.
        kept = f"Keeping {old or 'the previous production cluster'} until {keep_until.isoformat()} "
        kept += "(cleanup.oldClusterRetention)"
        if bg is not None:
            kept += f"; blue/green deployment {bg.identifier} stays until then, so the old cluster stays read-only"
        return wait(Reason.RETAINING_OLD_CLUSTER, kept)
    if spec.cleanup.delete_blue_green_deployment and bg is not None:
        if bg.status == "DELETING":
            return wait(Reason.DELETING_BLUE_GREEN, f"Waiting for blue/green deployment {bg.identifier} to go")
        return Act(
            reason=Reason.DELETING_BLUE_GREEN,
            message=f"Deleting blue/green deployment {bg.identifier} (runbook step 9.1); both clusters stay",
            call=DeleteBlueGreen(bg.identifier, delete_target=False),
            before={"deployment_delete_requested_at": rfc3339(now)},
        )
    if spec.cleanup.delete_old_cluster and old:
        found = seen.old_cluster
        if found is not None and (
            found.identifier == upgrade.cluster
            or found.resource_id != status.source_cluster_resource_id
            or found.identifier != old
        ):
            return fail(
                Reason.UNSAFE_CLEANUP,
                f"refusing to delete {found.identifier}: it is not the previous production cluster {old} "
                f"(resource id {status.source_cluster_resource_id})",
            )
        if found is not None and found.global_cluster:
            # AWS deletes a global database's clusters only once they are removed from it (its
            # secondary Regions' first): deleting `-old1`'s instances now would leave half of it.
            return Wait(
                reason=Reason.OLD_CLUSTER_IN_GLOBAL_DATABASE,
                message=f"Not deleting {old}: it is still a member of global database {found.global_cluster}. "
                "Remove that global database's other clusters from it, then "
                f"{old} (RemoveFromGlobalCluster), or set cleanup.deleteOldCluster: false; cleanup then goes on",
            )
        step = _delete_old_cluster(upgrade, old, seen, timing)
        if step is not None:
            return step
    return advance(Phase.COMPLETED, Reason.COMPLETED, completion_message(upgrade))


def _deleted_elsewhere(upgrade: Upgrade) -> bool:
    """The deployment is gone (the caller saw it) and this upgrade neither asked AWS to delete it
    nor said yet that someone else did. A status from before the request was recorded shows
    the operator's own deletion by its reason."""
    status = upgrade.status
    ours = status.deployment_delete_requested_at is not None or status.reason == Reason.DELETING_BLUE_GREEN
    return bool(status.blue_green_deployment_identifier) and not ours and status.deployment_deleted_elsewhere_at is None


def retained_until(upgrade: Upgrade) -> datetime | None:
    """When cleanup.oldClusterRetention after switchover ends (None if switchover time is unknown)."""
    done = upgrade.status.switchover_completed_at
    return parse_time(done) + parse_duration(upgrade.spec.cleanup.old_cluster_retention) if done else None


def _delete_old_cluster(upgrade: Upgrade, old: str, seen: CleanupObservation, timing: Timing) -> Outcome | None:
    cluster = seen.old_cluster
    if cluster is None:
        return None
    pending = [i for i in seen.old_instances if i.status != "deleting"]
    if pending:
        i = pending[0]
        return Act(
            reason=Reason.DELETING_OLD_INSTANCE,
            message=f"Deleting {i.identifier} of {old} (runbook step 9.2)",
            call=DeleteInstance(i.identifier),
        )
    if seen.old_instances:
        names = ", ".join(i.identifier for i in seen.old_instances)
        return wait(Reason.DELETING_OLD_INSTANCES, f"Waiting for {names} to be deleted")
    if cluster.status == "deleting":
        return wait(Reason.DELETING_OLD_CLUSTER, f"Waiting for {old} to be deleted")
    if cluster.deletion_protection:
        return Act(
            reason=Reason.DISABLING_DELETION_PROTECTION,
            message=f"Turning off deletion protection of {old} to delete it",
            call=DisableDeletionProtection(old),
        )
    final = final_snapshot_name(upgrade, old) if upgrade.spec.cleanup.final_snapshot_of_old_cluster else None
    return Act(
        reason=Reason.DELETING_OLD_CLUSTER,
        message=f"Deleting {old}" + (f" with final snapshot {final}" if final else " without a final snapshot"),
        call=DeleteCluster(old, final),
    )


# --- deleting the AuroraUpgrade resource ----------------------------------------------------


@dataclass(frozen=True)
class DeletionObservation:
    deployment: BlueGreen | None
    green: Cluster | None = None  # the deployment's target, or the green cluster recorded in status
    names: Names | None = None  # after a switchover call: what names show (deployment.Names)


@dataclass(frozen=True)
class DeletionDecision:
    outcome: Outcome
    release: bool  # the finalizer may go: nothing more to do in AWS


# Where a switchover call was settled as not carried out: the upgrade failed, or holds for a
# person, for a look at AWS, or at the gate, or retakes the snapshot before an authorised attempt.
# Anywhere else after a call (sent a moment ago, AWS switching) the switchover may be under way,
# and deleting leaves AWS alone.
SETTLED = (
    frozenset(
        {
            Reason.SWITCHOVER_NOT_CARRIED_OUT,
            Reason.SWITCHOVER_OUTCOME_UNPROVEN,
            Reason.SWITCHOVER_REFUSED,
            Reason.AWAITING_APPROVAL,
            Reason.OUTSIDE_MAINTENANCE_WINDOW,
            Reason.SWITCHOVER_NOT_SAFE,
            Reason.DELETING_SUPERSEDED_SNAPSHOT,
            Reason.SNAPSHOT_RETAKEN,
            Reason.SNAPSHOT_REQUESTED,
            Reason.WAITING_FOR_SNAPSHOT,
            Reason.SNAPSHOT_AVAILABLE,
        }
    )
    | validate.BEFORE_THE_CALL
)  # the database's holds right before the call: none was sent for this attempt


def _call_settled(upgrade: Upgrade) -> bool:
    status = upgrade.status
    parsed = Reason.parse(status.reason or "")
    # A pre-call wait past its deadline stalls after an earlier attempt: still no call sent.
    reason = parsed[1] if parsed is not None and parsed[0] == Reason.TIMED_OUT else status.reason
    return status.phase == Phase.FAILED or (status.phase == Phase.SWITCHING_OVER and reason in SETTLED)


def _may_delete(upgrade: Upgrade) -> bool:
    """Whether deletionPolicy Abort may still delete something now: before any switchover call,
    or after one settled as not carried out (names decide then)."""
    status = upgrade.status
    if not deleting_touches_aws(status):
        return False
    return recorded_attempt(status) is None or status.abort_requested_at is not None or _call_settled(upgrade)


def observe_deletion(aws: RdsReads, upgrade: Upgrade, now: datetime) -> DeletionObservation:
    """Only when deletionPolicy Abort may still have to delete something: the deployment and
    its green cluster (its deletion protection; once the deployment is gone, whether green is),
    and after a switchover call or once the deployment is gone, what names show of production
    (green renamed to production's name is not "gone")."""
    if not _may_delete(upgrade) or upgrade.spec.deletion_policy != DeletionPolicy.ABORT:
        return DeletionObservation(None)
    bg = find_deployment(aws, upgrade)
    green_id = arn_name(bg.target) if bg is not None and bg.target else upgrade.status.green_cluster_identifier
    green = aws.describe_cluster(green_id) if green_id else None
    names = None
    if recorded_attempt(upgrade.status) is not None or (bg is None and upgrade.status.blue_green_deployment_identifier):
        names = Names(
            production=describe_cluster(upgrade.cluster).ask(aws),
            renamed=previous_production(upgrade).ask(aws),
            old1=describe_cluster(f"{upgrade.cluster}-old1").ask(aws),
            green=green,
        )
    return DeletionObservation(bg, green, names)


def _target_is_not_production(upgrade: Upgrade, seen: DeletionObservation) -> str | None:
    """After a switchover call: None when names and versions prove the deployment's target is
    not production (so DeleteTarget deletes a spare copy), else what AWS showed instead. AWS's
    API reference only refuses DeleteTarget once the deployment is SWITCHOVER_COMPLETED; nothing
    says another status protects production."""
    bg, green = seen.deployment, seen.green
    if bg is None:
        return "the deployment is gone"
    members = [f"{arn_name(m)} {state}" for m, state in bg.switchover_details if state in MEMBER_SWITCHING]
    if bg.status in SWITCHED_OVER or members:
        return f"{bg.identifier} is {bg.status}" + (f" with members {', '.join(members)}" if members else "")
    production, evidence = production_by_names(upgrade, seen.names or Names(None))
    if production != Production.BLUE:
        return f"names and versions do not show blue is still production ({evidence})"
    target = arn_name(bg.target) if bg.target else None
    prod = seen.names.production if seen.names is not None else None
    if green is None or green.identifier != target or prod is None:
        return f"the deployment's target {target} cannot be described"
    if green.identifier == prod.identifier or green.resource_id == prod.resource_id:
        return f"the deployment's target {target} is production"
    return None


def _unproven_spare(upgrade: Upgrade, seen: DeletionObservation, attempt: int | None) -> str | None:
    """Why green cannot be treated as a spare copy, or None: after a switchover call, unless
    names prove its target is not production; before one, only a deployment that vanished
    while names show production changed (someone switched over and deleted it elsewhere)."""
    if attempt is not None:
        return _target_is_not_production(upgrade, seen)
    if seen.deployment is not None or seen.names is None:
        return None
    production, evidence = production_by_names(upgrade, seen.names)
    if production == Production.BLUE:
        return None
    return f"the deployment is gone and names and versions do not show blue is still production ({evidence})"


def deletion_call_failed(upgrade: Upgrade, action: Action, error: RdsError, now: datetime, timing: Timing) -> Outcome:
    """A refused delete keeps the finalizer with a Warning: releasing it would orphan green."""
    return call_failed(action, error, stall=True)


def decide_deletion(upgrade: Upgrade, seen: DeletionObservation, now: datetime, timing: Timing) -> DeletionDecision:
    spec, status = upgrade.spec, upgrade.status
    if not _may_delete(upgrade):
        return DeletionDecision(GoOn(reason=Reason.DELETED, message="Resource deleted; AWS left as it is"), True)
    if spec.deletion_policy == DeletionPolicy.ORPHAN:
        ident = status.blue_green_deployment_identifier
        if ident:
            left = f" blue/green deployment {ident} is"
        elif status.create_requested_at:  # the create was sent; its answer was not recorded
            left = f" blue/green deployment {upgrade.deployment_name} may have been created and is"
        else:
            left = " nothing was created, nothing is"
        return DeletionDecision(
            advance(
                Phase.ABORTED,
                Reason.ORPHANED,
                f"Deleted before switchover (deletionPolicy Orphan);{left} left in AWS",
            ),
            True,
        )
    bg = seen.deployment
    attempt = recorded_attempt(status)
    unproven = None if status.abort_requested_at else _unproven_spare(upgrade, seen, attempt)
    if unproven is not None:
        left = f"blue/green deployment {bg.identifier} and its target are left in AWS" if bg else "nothing is deleted"
        asked = f" after switchover attempt {attempt} was requested" if attempt is not None else ""
        return DeletionDecision(
            GoOn(
                reason=Reason.GREEN_LEFT_IN_AWS,
                message=f"The resource was deleted{asked} (deletionPolicy Abort): {unproven}, so {left}; find out "
                "which cluster is production before deleting anything by hand",
            ),
            True,
        )
    # Not found right after CreateBlueGreenDeployment may mean "not listed yet"; once this
    # finalizer asked AWS to delete it (or saw it DELETING), not found means gone.
    deletion_seen = status.abort_requested_at is not None
    if (
        bg is None
        and status.create_requested_at
        and not deletion_seen
        and since(status.create_requested_at, now) < timing.consistency_grace
    ):
        # CreateBlueGreenDeployment was just sent: wait until AWS lists it, or green would be orphaned.
        return DeletionDecision(
            not_listed_yet(timing, "Waiting for AWS to list the new deployment to delete it"),
            False,
        )
    green = seen.green if seen.green is not None and seen.green.identifier != upgrade.cluster else None
    if bg is None and green is not None:
        # Say green is gone only once AWS no longer lists it.
        return DeletionDecision(
            wait(Reason.DELETING_GREEN, f"Waiting for green cluster {green.identifier} ({green.status}) to go"),
            False,
        )
    if bg is None:
        gone = (
            "its blue/green deployment and green cluster are gone"
            if status.blue_green_deployment_identifier
            else ("no blue/green deployment had been created")
        )
        return DeletionDecision(advance(Phase.ABORTED, Reason.ABORTED, f"Deleted before switchover; {gone}"), True)
    if bg.status in SWITCHED_OVER:
        # Someone switched over outside this operator: the green target is production now.
        return DeletionDecision(
            GoOn(reason=Reason.DELETED, message=f"{bg.identifier} is {bg.status}; AWS left as it is"), True
        )
    if bg.status == "DELETING":
        return DeletionDecision(
            wait(
                Reason.DELETING_BLUE_GREEN,
                f"Waiting for blue/green deployment {bg.identifier} and green to go",
                abort_requested_at=status.abort_requested_at or rfc3339(now),
            ),
            False,
        )
    target = arn_name(bg.target) if bg.target else None
    if green is not None and green.identifier == target and green.deletion_protection:
        # AWS deletes the target only without deletion protection, which green copies from blue.
        # Lifted on green only: blue is never modified here.
        return DeletionDecision(
            Act(
                reason=Reason.DISABLING_GREEN_DELETION_PROTECTION,
                message=f"Turning off deletion protection of green cluster {green.identifier} to delete it "
                "(deletionPolicy Abort); blue keeps its own",
                call=DisableDeletionProtection(green.identifier),
                changes={"green_cluster_identifier": green.identifier},
            ),
            False,
        )
    return DeletionDecision(
        Act(
            reason=Reason.ABORTING_BLUE_GREEN,
            message=f"Deleting blue/green deployment {bg.identifier} and its green cluster (deletionPolicy Abort)",
            call=DeleteBlueGreen(bg.identifier, delete_target=True),
            changes={"abort_requested_at": rfc3339(now), "green_cluster_identifier": target},
        ),
        False,
    )
