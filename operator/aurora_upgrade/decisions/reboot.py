"""RebootingSource, RebootingGreen, RebootingInstances (runbook 2.1, 4.2, 7.3).

Instances reboot one at a time (the runbook reboots them all at once; one at a time keeps a
reader up on production). Each reboot is written to status as an intent before
RebootDBInstance is called. On resume, an intent without a recorded answer is settled by
AWS itself: the instance is `rebooting`, or DescribeEvents has "DB instance restarted"
after the intent's time; only when neither is true once AWS has had time to show it (the
consistency grace) is the call made again. A refused RebootDBInstance has no meaning of its
own: a transient state is looked at again; before switchover a request AWS rejects fails the
upgrade, after it the upgrade stalls with a Warning (see `outcome.call_failed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import RebootInstance
from aurora_upgrade.decisions.outcome import Outcome, Pace, Wait, advance, fail, graces, wait
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase, following
from aurora_upgrade.resources import Instance, RdsReads, Reads, named
from aurora_upgrade.upgrade import Upgrade

# The reboot itself has Timing.reboot_timeout (RebootTimedOut); AWS reboots in seconds to minutes.
WAITS = {
    "WaitingForInstances": Wait(deadline=lambda _u, t: t.reboot_timeout),
    "WaitingForInstance": Wait(deadline=lambda _u, t: t.reboot_timeout, pace=Pace.QUICK),
    "RebootingInstance": Wait(pace=Pace.QUICK),  # the call: not a wait
    "RebootFound": Wait(pace=Pace.QUICK),  # goes on at once: not a wait
    "CheckingEarlierReboot": Wait(deadline=graces(2), pace=Pace.QUICK),
    "WaitingForReboot": Wait(deadline=lambda _u, t: t.reboot_timeout + t.consistency_grace, pace=Pace.QUICK),
}


@dataclass(frozen=True)
class RebootObservation:
    """The cluster's instances now, and restart events of the current step's instance."""

    instances: tuple[Instance, ...]
    restarts: tuple[datetime, ...] = ()  # "DB instance restarted" since the step's intent


def rebooted_cluster(u: Upgrade) -> str:
    """RebootingGreen reboots green; RebootingSource and RebootingInstances reboot production."""
    if u.status.phase == Phase.REBOOTING_GREEN:
        return u.status.green_cluster_identifier or ""
    return u.cluster


def reads(u: Upgrade) -> Reads:
    """What `observe` asks the shared describes (restarts come from the event feed)."""
    return Reads(instances_of=named(rebooted_cluster(u)))


def observe(aws: RdsReads, u: Upgrade, now: datetime) -> RebootObservation:
    instances = tuple(aws.describe_cluster_instances(rebooted_cluster(u)))
    index = current_step(u.status.reboots)
    restarts: tuple[datetime, ...] = ()
    if index is not None:
        step = u.status.reboots[index]
        if step.intended_at and step.done_at is None:
            restarts = tuple(aws.instance_restarts_since(step.instance, parse_time(step.intended_at)))
    return RebootObservation(instances=instances, restarts=restarts)


def plan_reboots(instances: tuple[Instance, ...]) -> list[RebootStep]:
    return [RebootStep(instance=i.identifier) for i in sorted(instances, key=lambda i: i.identifier)]


def current_step(steps: list[RebootStep]) -> int | None:
    return next((n for n, s in enumerate(steps) if s.done_at is None), None)


def _replace(steps: list[RebootStep], index: int, **changes: str) -> list[RebootStep]:
    updated = list(steps)
    updated[index] = steps[index].model_copy(update=changes)
    return updated


def decide_reboot(upgrade: Upgrade, o: RebootObservation, now: datetime, timing: Timing) -> Outcome:
    phase, steps = upgrade.status.phase, upgrade.status.reboots
    if not steps:
        # First look in this phase: the instances to reboot are the cluster's members now.
        if not o.instances:
            return wait(timing, "WaitingForInstances", "Waiting for the cluster's instances to be listed")
        return Outcome(
            reason="RebootsPlanned",
            message=f"Will reboot {', '.join(s.instance for s in plan_reboots(o.instances))} one at a time",
            changes={"reboots": plan_reboots(o.instances)},
        )
    index = current_step(steps)
    if index is None:
        return advance(
            following(phase, upgrade.spec),
            "InstancesRebooted",
            f"Rebooted {', '.join(s.instance for s in steps)}",
            reboots=[],
        )
    step = steps[index]
    found = {i.identifier: i for i in o.instances}
    instance = found.get(step.instance)
    if instance is None:
        return fail("InstanceNotFound", f"DB instance {step.instance} disappeared during {phase}")
    stamp = rfc3339(now)

    if step.intended_at is None:
        if instance.status != "available":
            return wait(timing, "WaitingForInstance", f"Waiting for {step.instance} ({instance.status}) to reboot it")
        return Outcome(
            reason="RebootingInstance",
            message=f"Rebooting {step.instance}",
            intent={"reboots": _replace(steps, index, intended_at=stamp)},
            action=RebootInstance(step.instance),
            changes={"reboots": _replace(steps, index, intended_at=stamp, requested_at=stamp)},
            requeue=timing.poll,
        )

    if step.requested_at is None:
        # An intent with no recorded answer: the process stopped around the call.
        if instance.status == "rebooting" or o.restarts:
            return Outcome(
                reason="RebootFound",
                message=f"Found the reboot of {step.instance} already under way; not repeating it",
                changes={"reboots": _replace(steps, index, requested_at=stamp)},
            )
        if since(step.intended_at, now) < timing.consistency_grace:
            # A reboot AWS accepted a moment ago may not show in describe calls or events yet.
            return wait(
                timing,
                "CheckingEarlierReboot",
                f"Looking for signs in AWS of the reboot of {step.instance} asked for at {step.intended_at}",
            )
        again = _replace(steps, index, intended_at=stamp)
        return Outcome(
            reason="RebootingInstance",
            message=f"Rebooting {step.instance} (no sign in AWS of the earlier attempt)",
            intent={"reboots": again},
            action=RebootInstance(step.instance),
            changes={"reboots": _replace(again, index, requested_at=stamp)},
            requeue=timing.poll,
        )

    if instance.status == "rebooting" and step.rebooting_seen_at is None:
        return wait(
            timing,
            "WaitingForReboot",
            f"Waiting for {step.instance} to restart (rebooting)",
            reboots=_replace(steps, index, rebooting_seen_at=stamp),
        )
    # Proof the reboot happened: the restart event, or the instance seen `rebooting`. A reboot
    # so quick that neither was seen is accepted once describe calls have had time to agree.
    proven = bool(o.restarts) or step.rebooting_seen_at is not None
    if instance.status == "available" and (proven or since(step.requested_at, now) > timing.consistency_grace):
        return Outcome(
            reason="InstanceRebooted",
            message=f"{step.instance} rebooted and is available",
            changes={"reboots": _replace(steps, index, done_at=stamp)},
        )
    if since(step.requested_at, now) > timing.reboot_timeout:
        return fail(
            "RebootTimedOut",
            f"{step.instance} has not come back from its reboot after "
            f"{int(timing.reboot_timeout.total_seconds())}s (status {instance.status})",
        )
    return wait(timing, "WaitingForReboot", f"Waiting for {step.instance} to restart ({instance.status})")
