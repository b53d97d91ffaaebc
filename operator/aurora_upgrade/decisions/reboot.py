"""RebootingSource, RebootingGreen, RebootingInstances (runbook 2.1, 4.2, 7.3).

Green's instances reboot all at once, as the runbook reboots them (green serves no production
traffic); production's reboot one at a time, each once the one before is back, so a reader stays
up (the runbook reboots them all at once too). Each reboot is written to status as an intent
before RebootDBInstance is called, one call per look. On resume, an intent without a recorded
answer is settled by AWS itself: the instance is `rebooting`, or DescribeEvents has "DB instance
restarted" after the intent's time; only when neither is true once AWS has had time to show it
(the consistency grace) is the call made again. A refused RebootDBInstance has no meaning of its
own: a transient state is looked at again; before switchover a request AWS rejects fails the
upgrade, after it the upgrade stalls with a Warning (see `outcome.call_failed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import RebootInstance
from aurora_upgrade.decisions.outcome import Act, GoOn, Outcome, advance, fail, wait
from aurora_upgrade.decisions.questions import Question, describe_cluster_instances
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase, following
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import Instance, RdsReads
from aurora_upgrade.upgrade import Upgrade


def _oldest_reboot_asked(steps: list[RebootStep]) -> str | None:
    asked = [parse_time(s.requested_at) for s in steps if s.requested_at and s.done_at is None]
    return rfc3339(min(asked)) if asked else None


@dataclass(frozen=True)
class RebootObservation:
    """The cluster's instances now, and restart events of the instances whose reboot was asked for."""

    instances: tuple[Instance, ...]
    # "DB instance restarted" since each step's intent, by instance (the steps asked for, not done)
    restarts: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)


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


def questions(upgrade: Upgrade) -> RebootQuestions:
    """What a look asks the shared describes (decisions/questions.py): the rebooted cluster's
    instances. Restarts come from the event feed."""
    return RebootQuestions(describe_cluster_instances(rebooted_cluster(upgrade) or None))


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> RebootObservation:
    instances = tuple(questions(upgrade).instances.ask(aws))
    restarts = {
        step.instance: tuple(aws.instance_restarts_since(step.instance, parse_time(step.intended_at)))
        for step in upgrade.status.reboots
        if step.intended_at and step.done_at is None
    }
    return RebootObservation(instances=instances, restarts=restarts)


def plan_reboots(instances: tuple[Instance, ...]) -> list[RebootStep]:
    return [RebootStep(instance=i.identifier) for i in sorted(instances, key=lambda i: i.identifier)]


def current_step(steps: list[RebootStep]) -> int | None:
    return next((n for n, s in enumerate(steps) if s.done_at is None), None)


def _replace(steps: list[RebootStep], index: int, **changes: str) -> list[RebootStep]:
    updated = list(steps)
    updated[index] = steps[index].model_copy(update=changes)
    return updated


def decide_reboot(upgrade: Upgrade, seen: RebootObservation, now: datetime, timing: Timing) -> Outcome:
    phase, steps = upgrade.status.phase, upgrade.status.reboots
    together = all_at_once(phase)
    if not steps:
        # First look in this phase: the instances to reboot are the cluster's members now.
        if not seen.instances:
            return wait(Reason.WAITING_FOR_INSTANCES, "Waiting for the cluster's instances to be listed")
        how = "all at once" if together else "one at a time"
        return GoOn(
            reason=Reason.REBOOTS_PLANNED,
            message=f"Will reboot {', '.join(s.instance for s in plan_reboots(seen.instances))} {how}",
            changes={"reboots": plan_reboots(seen.instances)},
        )
    index = current_step(steps)
    if index is None:
        return advance(
            following(phase, upgrade.spec),
            Reason.INSTANCES_REBOOTED,
            f"Rebooted {', '.join(s.instance for s in steps)}",
            reboots=[],
        )
    found = {i.identifier: i for i in seen.instances}
    # The steps this look is about: one at a time, the current one only (an instance further on
    # that goes, e.g. a reader scaled in, is for its own turn); all at once, every step not done.
    about = [n for n, s in enumerate(steps) if s.done_at is None] if together else [index]
    for n in about:
        if steps[n].instance not in found:
            return fail(Reason.INSTANCE_NOT_FOUND, f"DB instance {steps[n].instance} disappeared during {phase}")
    # At most one step has an intent without its answer: each look makes one call.
    unanswered = next((n for n in about if steps[n].intended_at and steps[n].requested_at is None), None)
    if unanswered is not None:
        return _settle_intent(steps, unanswered, found[steps[unanswered].instance], seen, now, timing)
    unasked = [n for n in about if steps[n].intended_at is None]
    # Each reboot is asked for as soon as its instance is available; all at once, the next look
    # follows at once while reboots are left to ask for.
    ready = next((n for n in unasked if found[steps[n].instance].status == "available"), None)
    if ready is not None:
        return _reboot(steps, ready, now, timing, go_on=together and len(unasked) > 1)
    asked = [n for n in about if steps[n].intended_at is not None]
    busy = found[steps[unasked[0]].instance] if unasked else None
    return _follow(steps, asked, found, seen, now, timing, busy)


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
    steps: list[RebootStep], index: int, instance: Instance, seen: RebootObservation, now: datetime, timing: Timing
) -> Outcome:
    """An intent with no recorded answer: the process stopped around the call. AWS says whether
    the reboot happened; only when it shows no sign of it once it has had time to is it asked
    for again."""
    step, stamp = steps[index], rfc3339(now)
    assert step.intended_at is not None
    if instance.status == "rebooting" or seen.restarts.get(step.instance):
        return GoOn(
            reason=Reason.REBOOT_FOUND,
            message=f"Found the reboot of {step.instance} already under way; not repeating it",
            changes={"reboots": _replace(steps, index, requested_at=stamp)},
        )
    if since(step.intended_at, now) < timing.consistency_grace:
        # A reboot AWS accepted a moment ago may not show in describe calls or events yet.
        return wait(
            Reason.CHECKING_EARLIER_REBOOT,
            f"Looking for signs in AWS of the reboot of {step.instance} asked for at {step.intended_at}",
        )
    again = _replace(steps, index, intended_at=stamp)
    return Act(
        reason=Reason.REBOOTING_INSTANCE,
        message=f"Rebooting {step.instance} (no sign in AWS of the earlier attempt)",
        call=RebootInstance(step.instance),
        before={"reboots": again},
        changes={"reboots": _replace(again, index, requested_at=stamp)},
    )


def _follow(
    steps: list[RebootStep],
    following_: list[int],
    found: Mapping[str, Instance],
    seen: RebootObservation,
    now: datetime,
    timing: Timing,
    busy: Instance | None,
) -> Outcome:
    """The reboots asked for and not done yet (`following_`): each is done once its instance is
    available again with proof it restarted (the restart event, or seen `rebooting`); a reboot
    so quick that neither was seen is accepted once describe calls have had time to agree.
    While none is done, the wait is for `busy` if given (the next instance to reboot, not
    available yet), else for the reboots."""
    stamp = rfc3339(now)
    updated, done, waiting = list(steps), [], []
    for index in following_:
        step, instance = steps[index], found[steps[index].instance]
        assert step.requested_at is not None
        if instance.status == "rebooting" and step.rebooting_seen_at is None:
            updated = _replace(updated, index, rebooting_seen_at=stamp)
        proven = bool(seen.restarts.get(step.instance)) or step.rebooting_seen_at is not None
        if instance.status == "available" and (proven or since(step.requested_at, now) > timing.consistency_grace):
            updated = _replace(updated, index, done_at=stamp)
            done.append(step.instance)
        elif since(step.requested_at, now) > timing.reboot_timeout:
            return fail(
                Reason.REBOOT_TIMED_OUT,
                f"{step.instance} has not come back from its reboot after "
                f"{int(timing.reboot_timeout.total_seconds())}s (status {instance.status})",
            )
        else:
            waiting.append(f"{step.instance} ({instance.status})")
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
