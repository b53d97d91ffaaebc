"""RebootingSource, RebootingGreen, RebootingInstances (runbook 2.1, 4.2, 7.3).

Green's instances reboot all at once, as the runbook reboots them (green serves no production
traffic); production's reboot one at a time, each once the one before is back, so a reader stays
up (the runbook reboots them all at once too). Each reboot is written to status as an intent
before RebootDBInstance is called, one call per look.

An intent without a recorded answer (the answer lost to a 5xx or a timeout, the process killed,
the status write refused after the call) is settled by AWS itself, from what it answers, never
from the absence of an event (AWS emits events "on a best effort basis"): the instance seen
`rebooting` (looked at during the call's in-flight grace too, engine.Stage.looks_in_flight), a
"DB instance restarted" event dated after the call, asked of AWS for that instance
(`RdsReads.instance_restarts_asked`), and in RebootingSource its parameters no longer
`pending-reboot` (while they are, it has not rebooted, and RebootingSource never moves on). When
AWS shows none of these once it has had time to (the consistency grace), green is rebooted again;
production never is: after switchover the step ends unconfirmed with a Warning
(`RebootUnconfirmed`, named in the Completed message), and in RebootingSource the upgrade holds
for a person (`AwaitingManualReboot`).

After switchover no step ends in Failed (production already runs the new version): an instance
gone (scaled in, deleted) is skipped, one created after switchover is not rebooted, both named in
a Warning at the end (`InstancesChanged`), and a reboot that does not come back stalls with a
Warning (`RebootStalled`). A refused RebootDBInstance has no meaning of its own: AWS answered, so
the reboot did not happen; a transient state is looked at again; before switchover a request AWS
rejects fails the upgrade, after it the upgrade stalls with a Warning (`outcome.call_failed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import RebootInstance
from aurora_upgrade.decisions.outcome import Act, GoOn, Outcome, Wait, advance, fail, wait
from aurora_upgrade.decisions.precheck import pending_reboot
from aurora_upgrade.decisions.questions import Question, describe_cluster, describe_cluster_instances
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase, following
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import Cluster, Instance, RdsReads
from aurora_upgrade.upgrade import Upgrade


@dataclass(frozen=True)
class RebootObservation:
    """The cluster's instances now, restart events of the instances whose reboot was asked for,
    and (RebootingSource) the cluster, whose members say whether parameters still wait for a
    reboot."""

    instances: tuple[Instance, ...]
    # "DB instance restarted" since each step's intent, by instance (the steps asked for, not done):
    # asked of AWS directly for an intent without its answer, from the event feed otherwise
    restarts: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    cluster: Cluster | None = None


def rebooted_cluster(upgrade: Upgrade) -> str:
    """RebootingGreen reboots green; RebootingSource and RebootingInstances reboot production."""
    if upgrade.status.phase == Phase.REBOOTING_GREEN:
        return upgrade.status.green_cluster_identifier or ""
    return upgrade.cluster


def all_at_once(phase: Phase) -> bool:
    """Green serves no production traffic: its reboots need not wait for each other."""
    return phase == Phase.REBOOTING_GREEN


class RebootQuestions(NamedTuple):
    instances: Question[Sequence[Instance]]
    cluster: Question[Cluster | None]


def questions(upgrade: Upgrade) -> RebootQuestions:
    """What a look asks the shared describes (decisions/questions.py): the rebooted cluster's
    instances, and in RebootingSource the cluster itself (its members' parameter status).
    Restarts come from the event feed, or from AWS directly for a reboot whose answer was lost."""
    cluster = rebooted_cluster(upgrade) or None
    source = upgrade.status.phase == Phase.REBOOTING_SOURCE
    return RebootQuestions(describe_cluster_instances(cluster), describe_cluster(cluster if source else None))


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> RebootObservation:
    declared = questions(upgrade)
    instances = tuple(declared.instances.ask(aws))
    restarts = {}
    for step in upgrade.status.reboots:
        if step.intended_at and step.done_at is None:
            # Evidence for a call whose answer was lost is asked of AWS; a reboot AWS accepted is
            # followed through the feed (its proof only says when it is back).
            ask = aws.instance_restarts_asked if step.requested_at is None else aws.instance_restarts_since
            restarts[step.instance] = tuple(ask(step.instance, parse_time(step.intended_at)))
    return RebootObservation(instances=instances, restarts=restarts, cluster=declared.cluster.ask(aws))


def plan_reboots(instances: Sequence[Instance]) -> list[RebootStep]:
    return [RebootStep(instance=i.identifier) for i in sorted(instances, key=lambda i: i.identifier)]


def created_after_switchover(upgrade: Upgrade, instance: Instance) -> bool:
    """An instance production gained after the switchover was asked for (auto scaling, a person):
    it never served the old version, and the operator does not reboot it."""
    asked = upgrade.status.switchover_requested_at
    return bool(asked and instance.created_at is not None and instance.created_at > parse_time(asked))


def current_step(steps: list[RebootStep]) -> int | None:
    return next((n for n, s in enumerate(steps) if s.done_at is None), None)


def _replace(steps: list[RebootStep], index: int, **changes: str) -> list[RebootStep]:
    updated = list(steps)
    updated[index] = steps[index].model_copy(update=changes)
    return updated


def _parameters_pending(phase: Phase, instance: Instance, cluster: Cluster | None) -> bool:
    """RebootingSource reboots instances whose parameters wait for a reboot: while they still do
    (the instance's DB parameter group, or its cluster parameter group as the cluster's members
    show it), the reboot has not happened. Other phases do not read it."""
    return phase == Phase.REBOOTING_SOURCE and bool(pending_reboot((instance,), cluster))


def _gone(phase: Phase, instance: Instance | None) -> bool:
    """After switchover an instance being deleted is as good as gone (its step is skipped)."""
    return instance is None or (phase == Phase.REBOOTING_INSTANCES and instance.status == "deleting")


def decide_reboot(upgrade: Upgrade, seen: RebootObservation, now: datetime, timing: Timing) -> Outcome:
    phase, steps = upgrade.status.phase, upgrade.status.reboots
    together = all_at_once(phase)
    if not steps:
        # First look in this phase: the instances to reboot are the cluster's members now, but
        # not those production gained after switchover.
        if not seen.instances:
            return wait(Reason.WAITING_FOR_INSTANCES, "Waiting for the cluster's instances to be listed")
        after = phase == Phase.REBOOTING_INSTANCES
        newcomers = sorted(i.identifier for i in seen.instances if after and created_after_switchover(upgrade, i))
        planned = plan_reboots([i for i in seen.instances if i.identifier not in newcomers])
        how = "all at once" if together else "one at a time"
        message = f"Will reboot {', '.join(s.instance for s in planned)} {how}"
        if newcomers:
            message += f"; not {', '.join(newcomers)} (created after switchover)"
        return GoOn(reason=Reason.REBOOTS_PLANNED, message=message, changes={"reboots": planned})
    index = current_step(steps)
    if index is None:
        return _finish(upgrade, seen)
    found = {i.identifier: i for i in seen.instances}
    # The steps this look is about: one at a time, the current one only (an instance further on
    # that goes, e.g. a reader scaled in, is for its own turn); all at once, every step not done.
    about = [n for n, s in enumerate(steps) if s.done_at is None] if together else [index]
    for n in about:
        if _gone(phase, found.get(steps[n].instance)):
            if phase == Phase.REBOOTING_INSTANCES:
                return _skip(upgrade, steps, n, now)
            return fail(Reason.INSTANCE_NOT_FOUND, f"DB instance {steps[n].instance} disappeared during {phase}")
    # At most one step has an intent without its answer: each look makes one call.
    unanswered = next((n for n in about if steps[n].intended_at and steps[n].requested_at is None), None)
    if unanswered is not None:
        return _settle_intent(upgrade, unanswered, found[steps[unanswered].instance], seen, now, timing)
    unasked = [n for n in about if steps[n].intended_at is None]
    # Each reboot is asked for as soon as its instance is available; all at once, the next look
    # follows at once while reboots are left to ask for.
    ready = next((n for n in unasked if found[steps[n].instance].status == "available"), None)
    if ready is not None:
        return _reboot(steps, ready, now, timing, go_on=together and len(unasked) > 1)
    asked = [n for n in about if steps[n].intended_at is not None]
    busy = found[steps[unasked[0]].instance] if unasked else None
    return _follow(upgrade, asked, found, seen, now, timing, busy)


def _finish(upgrade: Upgrade, seen: RebootObservation) -> Outcome:
    """Every step done: on to the next phase, saying what was not rebooted (a Warning when
    production's instances changed after switchover)."""
    phase, steps = upgrade.status.phase, upgrade.status.reboots
    rebooted = [s.instance for s in steps if not (s.skipped_at or s.unconfirmed_at)]
    notes = [f"Rebooted {', '.join(rebooted) or 'none'}"]
    unconfirmed = [s.instance for s in steps if s.unconfirmed_at]
    if unconfirmed:
        notes.append(f"not confirmed (answer lost; never rebooted twice): {', '.join(unconfirmed)}")
    gone = [s.instance for s in steps if s.skipped_at]
    if gone:
        notes.append(f"gone, skipped: {', '.join(gone)}")
    planned = {s.instance for s in steps}
    added = sorted(i.identifier for i in seen.instances if i.identifier not in planned)
    if added and phase == Phase.REBOOTING_INSTANCES:
        notes.append(f"created after switchover, not rebooted: {', '.join(added)}")
    changed = bool(gone or (added and phase == Phase.REBOOTING_INSTANCES))
    reason = Reason.INSTANCES_CHANGED if changed else Reason.INSTANCES_REBOOTED
    return advance(following(phase, upgrade.spec), reason, "; ".join(notes), reboots=[])


def _skip(upgrade: Upgrade, steps: list[RebootStep], index: int, now: datetime) -> Outcome:
    """After switchover, an instance gone before or during its reboot: skipped, with a Warning."""
    step, stamp = steps[index], rfc3339(now)
    return GoOn(
        reason=Reason.INSTANCE_GONE,
        message=f"{step.instance} is no longer in {upgrade.cluster} (scaled in or deleted): skipped",
        changes={"reboots": _replace(steps, index, done_at=stamp, skipped_at=stamp)},
    )


def _reboot(steps: list[RebootStep], index: int, now: datetime, timing: Timing, *, go_on: bool) -> Outcome:
    """Ask for the reboot of step `index`'s instance (available), intent first; with `go_on`
    (reboots left to ask for that need not wait for this one) the next look is at once."""
    step, stamp = steps[index], rfc3339(now)
    return Act(
        reason=Reason.REBOOTING_INSTANCE,
        message=f"Rebooting {step.instance}",
        call=RebootInstance(step.instance),
        before={"reboots": _replace(steps, index, intended_at=stamp)},
        changes={"reboots": _replace(steps, index, intended_at=stamp, requested_at=stamp)},
        at_once=go_on,
    )


def _settle_intent(
    upgrade: Upgrade, index: int, instance: Instance, seen: RebootObservation, now: datetime, timing: Timing
) -> Outcome:
    """An intent with no recorded answer: the call may or may not have reached AWS. AWS's own
    answers say whether the reboot happened; when they show no sign of it once AWS has had time
    to, green is rebooted again and production never is."""
    phase, steps, stamp = upgrade.status.phase, upgrade.status.reboots, rfc3339(now)
    step = steps[index]
    assert step.intended_at is not None
    pending = _parameters_pending(phase, instance, seen.cluster)
    applied = phase == Phase.REBOOTING_SOURCE and instance.status == "available" and not pending
    if instance.status == "rebooting" or seen.restarts.get(step.instance) or applied:
        found = {"requested_at": stamp, **({"rebooting_seen_at": stamp} if instance.status == "rebooting" else {})}
        return GoOn(
            reason=Reason.REBOOT_FOUND,
            message=f"Found the reboot of {step.instance} already under way or done; not repeating it",
            changes={"reboots": _replace(steps, index, **found)},
        )
    if since(step.intended_at, now) < timing.consistency_grace:
        # A reboot AWS accepted a moment ago may not show in describe calls or events yet.
        return wait(
            Reason.CHECKING_EARLIER_REBOOT,
            f"Looking for signs in AWS of the reboot of {step.instance} asked for at {step.intended_at}",
        )
    lost = (
        f"the answer to RebootDBInstance of {step.instance} (asked for at {step.intended_at}) was lost and AWS "
        "shows no sign of the reboot"
    )
    if phase == Phase.REBOOTING_GREEN:
        again = _replace(steps, index, intended_at=stamp)
        return Act(
            reason=Reason.REBOOTING_INSTANCE,
            message=f"Rebooting {step.instance} (no sign in AWS of the earlier attempt; green serves no traffic)",
            call=RebootInstance(step.instance),
            before={"reboots": again},
            changes={"reboots": _replace(again, index, requested_at=stamp)},
        )
    if phase == Phase.REBOOTING_INSTANCES:
        return GoOn(
            reason=Reason.REBOOT_UNCONFIRMED,
            message=f"Not rebooting {step.instance} again: {lost}. A production instance is never rebooted twice; "
            "its reboot is recorded unconfirmed and the upgrade goes on",
            changes={
                "reboots": _replace(steps, index, done_at=stamp, unconfirmed_at=stamp),
                "unconfirmed_reboots": [*upgrade.status.unconfirmed_reboots, step.instance],
            },
        )
    return Wait(
        reason=Reason.AWAITING_MANUAL_REBOOT,
        message=f"Not rebooting {step.instance} again: {lost}, and its parameters are still "
        f"{'pending-reboot' if pending else instance.status}. A production instance is never rebooted twice: "
        f"reboot {step.instance} yourself (aws rds reboot-db-instance --db-instance-identifier {step.instance}); "
        "the upgrade goes on once its parameters are in sync",
    )


def _follow(
    upgrade: Upgrade,
    following_: list[int],
    found: Mapping[str, Instance],
    seen: RebootObservation,
    now: datetime,
    timing: Timing,
    busy: Instance | None,
) -> Outcome:
    """The reboots asked for and not done yet (`following_`): each is done once its instance is
    available again with proof it restarted (the restart event, seen `rebooting`, in
    RebootingSource its parameters in sync); a reboot so quick that neither was seen is accepted
    once describe calls have had time to agree. In RebootingSource, parameters still
    `pending-reboot` keep it waiting. While none is done, the wait is for `busy` if given (the
    next instance to reboot, not available yet), else for the reboots."""
    phase, steps, stamp = upgrade.status.phase, upgrade.status.reboots, rfc3339(now)
    updated, done, waiting = list(steps), [], []
    for index in following_:
        step, instance = steps[index], found[steps[index].instance]
        assert step.requested_at is not None
        if instance.status == "rebooting" and step.rebooting_seen_at is None:
            updated = _replace(updated, index, rebooting_seen_at=stamp)
        pending = _parameters_pending(phase, instance, seen.cluster)
        proven = bool(seen.restarts.get(step.instance)) or step.rebooting_seen_at is not None
        back = instance.status == "available" and not pending
        if back and (
            proven or phase == Phase.REBOOTING_SOURCE or since(step.requested_at, now) > timing.consistency_grace
        ):
            updated = _replace(updated, index, done_at=stamp)
            done.append(step.instance)
        elif since(step.requested_at, now) > timing.reboot_timeout:
            waited = int(timing.reboot_timeout.total_seconds())
            state = f"status {instance.status}{', parameters pending-reboot' if pending else ''}"
            if phase == Phase.REBOOTING_INSTANCES:
                return Wait(
                    reason=Reason.REBOOT_STALLED,
                    message=f"{step.instance} has not come back from its reboot after {waited}s ({state}). "
                    "Switchover is done; the upgrade goes on once it is available (check it in the RDS console)",
                    changes={"reboots": updated} if updated != steps else {},
                )
            return fail(
                Reason.REBOOT_TIMED_OUT, f"{step.instance} has not come back from its reboot after {waited}s ({state})"
            )
        else:
            waiting.append(f"{step.instance} ({instance.status}{', parameters pending-reboot' if pending else ''})")
    changes = {"reboots": updated} if updated != steps else {}
    if done:
        return GoOn(
            reason=Reason.INSTANCE_REBOOTED,
            message=f"{', '.join(done)} rebooted and {'is' if len(done) == 1 else 'are'} available",
            changes=changes,
        )
    if busy is not None:
        return wait(
            Reason.WAITING_FOR_INSTANCE, f"Waiting for {busy.identifier} ({busy.status}) to reboot it", **changes
        )
    return wait(Reason.WAITING_FOR_REBOOT, f"Waiting for {', '.join(waiting)} to restart", **changes)
