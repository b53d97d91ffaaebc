"""Verifying (runbook 7.1, 7.2, 7.4): production runs the target version and is available,
and what the infrastructure code must now say (`completion_message`, also CleaningUp's last word).

Verifying only reads; a refused read after switchover stalls with a Warning (the engine's
`outcome.read_failed`), since production needs the remaining steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from aurora_upgrade.clock import since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import Outcome, Wait, advance, wait
from aurora_upgrade.decisions.questions import Question, describe_cluster, describe_cluster_instances
from aurora_upgrade.decisions.reboot import created_after_switchover
from aurora_upgrade.phases import Phase, following
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import Cluster, Instance, RdsReads
from aurora_upgrade.upgrade import Upgrade


def completion_message(upgrade: Upgrade) -> str:
    """Runbook step 8: every value the infrastructure code must now say."""
    status, spec = upgrade.status, upgrade.spec
    changed = [f"engine_version {status.source_engine_version} -> {spec.target_engine_version}"]
    groups = (
        ("db_cluster_parameter_group_name", status.source_db_cluster_parameter_group_name,
         spec.target_db_cluster_parameter_group_name),
        ("db_parameter_group_name", status.source_db_parameter_group_name, spec.target_db_parameter_group_name),
    )  # fmt: skip
    changed += [f"{name} {before or '?'} -> {after}" for name, before, after in groups if after and after != before]
    message = (
        f"Upgrade of {upgrade.cluster} to {spec.target_engine_version} completed. "
        f"Update your infrastructure code: {', '.join(changed)} (runbook step 8)"
    )
    if status.unconfirmed_reboots:
        names = ", ".join(status.unconfirmed_reboots)
        message += (
            f". Reboot not confirmed after switchover: {names} (RebootDBInstance's answer was lost and AWS showed no "
            "sign of the reboot; a production instance is never rebooted twice): reboot it yourself in a quiet "
            "moment if its parameters show pending-reboot"
        )
    return message


@dataclass(frozen=True)
class VerifyObservation:
    cluster: Cluster | None
    instances: tuple[Instance, ...]


class VerifyQuestions(NamedTuple):
    cluster: Question[Cluster | None]
    instances: Question[Sequence[Instance]]


def questions(upgrade: Upgrade) -> VerifyQuestions:
    """What a look asks the shared describes (decisions/questions.py): production and its instances."""
    return VerifyQuestions(describe_cluster(upgrade.cluster), describe_cluster_instances(upgrade.cluster))


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> VerifyObservation:
    declared = questions(upgrade)
    return VerifyObservation(cluster=declared.cluster.ask(aws), instances=tuple(declared.instances.ask(aws)))


def skipped(upgrade: Upgrade, instance: Instance) -> str | None:
    """Why verification does not wait for `instance`, if it does not: production's instances may
    change after switchover (auto scaling, which AWS does not copy to green, or a person). One
    being deleted is going away; one created after switchover and not available yet never ran the
    old version. A wrong version is never skipped."""
    if instance.engine_version != upgrade.spec.target_engine_version:
        return None
    if instance.status == "deleting":
        return f"{instance.identifier} (deleting)"
    if instance.status != "available" and created_after_switchover(upgrade, instance):
        return f"{instance.identifier} ({instance.status}, created after switchover)"
    return None


def decide_verify(upgrade: Upgrade, seen: VerifyObservation, now: datetime, timing: Timing) -> Outcome:
    spec = upgrade.spec
    target = spec.target_engine_version
    wrong_version, unsettled = [], []
    changed = [why for why in (skipped(upgrade, i) for i in seen.instances) if why]
    looked_at = [i for i in seen.instances if not skipped(upgrade, i)]
    if seen.cluster is None:
        unsettled.append(f"cluster {upgrade.cluster} not found")
    else:
        if seen.cluster.engine_version != target:
            wrong_version.append(f"cluster {seen.cluster.identifier} runs {seen.cluster.engine_version}")
        if seen.cluster.status != "available":
            unsettled.append(f"cluster {seen.cluster.identifier} is {seen.cluster.status}")
    if not looked_at:
        unsettled.append("the cluster has no instances")
    for i in looked_at:
        if i.engine_version != target:
            wrong_version.append(f"{i.identifier} is {i.status} at {i.engine_version}")
        elif i.status != "available":
            unsettled.append(f"{i.identifier} is {i.status} at {i.engine_version}")
    problems = "; ".join(wrong_version + unsettled)
    if not problems:
        names = ", ".join(f"{i.identifier} {i.engine_version} {i.status}" for i in looked_at)
        upcoming = following(Phase.VERIFYING, spec)
        message = f"{upgrade.cluster} runs {target} and is available ({names})"
        if changed:
            message += f"; not waited for: {', '.join(changed)}"
        if upcoming == Phase.COMPLETED:  # no cleanup asked for: say now what the IaC must change
            message = f"{message}. {completion_message(upgrade)}"
        return advance(upcoming, Reason.INSTANCES_CHANGED if changed else Reason.UPGRADED, message)
    if since(upgrade.status.phase_started_at, now) <= timing.verify_timeout:
        return wait(Reason.VERIFYING, f"Waiting for production to settle: {problems}")
    # Switchover is done: failing now would leave the remaining steps undone and say nothing
    # true about production. Stall with a Warning, keep looking, go on once it has settled.
    waited = int(timing.verify_timeout.total_seconds())
    found = f"production does not run {target}" if wrong_version else f"production runs {target} but has not settled"
    return Wait(
        reason=Reason.VERIFICATION_STALLED,
        message=f"{found} after {waited}s: {problems}. Switchover is done; the upgrade goes on once production "
        "is available at the target version (check the instances in the RDS console)",
    )
