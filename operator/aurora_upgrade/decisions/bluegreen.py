"""CreatingBlueGreen and ProvisioningGreen (runbook 3.1-3.4, 4.1, 5): what they read from AWS,
what they decide, and the triage of the deployment's status every later phase shares.

The deployment is found again by its deterministic name and our uid tag, so a crash right
after CreateBlueGreenDeployment never leads to a second create: an intent is written first,
and while it is young a deployment that is not visible yet is waited for, not recreated.
A refused CreateBlueGreenDeployment has no meaning of its own here: AlreadyExists (an
earlier attempt took effect) and transient refusals are looked at again, a request AWS
rejects fails the upgrade (see `outcome.call_failed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import CreateBlueGreen
from aurora_upgrade.decisions.outcome import Outcome, advance, fail, wait
from aurora_upgrade.phases import SWITCHOVER_STARTED, Phase, following
from aurora_upgrade.resources import BlueGreen, Cluster, RdsReads, arn_name
from aurora_upgrade.upgrade import Upgrade

BLUE_GREEN_FAILED = frozenset({"INVALID_CONFIGURATION", "PROVISIONING_FAILED", "SWITCHOVER_FAILED"})
BLUE_GREEN_KNOWN = frozenset(
    {
        "PROVISIONING",
        "AVAILABLE",
        "SWITCHOVER_IN_PROGRESS",
        "SWITCHOVER_COMPLETED",
        "DELETING",
        *BLUE_GREEN_FAILED,
    }
)


def is_failed_status(status: str) -> bool:
    return status in BLUE_GREEN_FAILED or status.endswith("_FAILED")


def details(status_details: str | None) -> str:
    return status_details or "AWS gave no StatusDetails"


def find_deployment(aws: RdsReads, upgrade: Upgrade) -> BlueGreen | None:
    """Our deployment: by recorded id, else by our deterministic name and uid tag."""
    ident = upgrade.status.blue_green_deployment_identifier
    if ident:
        return aws.describe_blue_green(ident)
    owned = [bg for bg in aws.find_blue_green(name=upgrade.deployment_name) if upgrade.owns(bg.tags)]
    return owned[0] if owned else None


@dataclass(frozen=True)
class CreateObservation:
    cluster: Cluster | None
    with_name: tuple[BlueGreen, ...]  # DescribeBlueGreenDeployments filtered by our name
    on_source: tuple[BlueGreen, ...] = ()  # ... filtered by our source cluster


def observe_create(aws: RdsReads, u: Upgrade, now: datetime) -> CreateObservation:
    cluster = aws.describe_cluster(u.cluster)
    return CreateObservation(
        cluster=cluster,
        with_name=tuple(aws.find_blue_green(name=u.deployment_name)),
        on_source=tuple(aws.find_blue_green(source=cluster.arn)) if cluster else (),
    )


def foreign_on_source(upgrade: Upgrade, deployments: tuple[BlueGreen, ...]) -> Outcome | None:
    """Another deployment on our source (someone else's, not being deleted): AWS allows one."""
    for bg in deployments:
        if not upgrade.owns(bg.tags) and bg.status != "DELETING":
            return fail(
                "ForeignBlueGreenDeployment",
                f"DB cluster {upgrade.cluster} is already the source of blue/green deployment "
                f"{bg.name} ({bg.identifier}, {bg.status}); finish or delete it first",
            )
    return None


def decide_create(upgrade: Upgrade, o: CreateObservation, now: datetime, timing: Timing) -> Outcome:
    spec, status = upgrade.spec, upgrade.status
    if o.cluster is None:
        return fail("ClusterNotFound", f"DB cluster {upgrade.cluster} disappeared before creation")
    for bg in o.with_name:
        if upgrade.owns(bg.tags) and bg.source == o.cluster.arn:
            return advance(
                Phase.PROVISIONING_GREEN,
                "BlueGreenDeploymentFound",
                f"Blue/green deployment {bg.name} ({bg.identifier}) exists; waiting for green",
                blue_green_deployment_identifier=bg.identifier,
            )
        return fail(
            "BlueGreenDeploymentNameInUse",
            f"a blue/green deployment named {bg.name} ({bg.identifier}) exists and is not ours "
            f"(source {bg.source}); it is left untouched",
        )
    # Someone may have created one on our source since the precheck: never retry into it.
    foreign = foreign_on_source(upgrade, o.on_source)
    if foreign:
        return foreign
    if status.create_requested_at and since(status.create_requested_at, now) < timing.consistency_grace:
        return wait(
            timing,
            "WaitingForBlueGreenDeployment",
            f"CreateBlueGreenDeployment {upgrade.deployment_name} was requested; waiting for AWS to list it",
        )
    stamp = rfc3339(now)
    return Outcome(
        phase=Phase.PROVISIONING_GREEN,
        reason="BlueGreenDeploymentCreated",
        message=f"Created blue/green deployment {upgrade.deployment_name} for {spec.target_engine_version}",
        intent={"create_requested_at": stamp},
        action=CreateBlueGreen(
            name=upgrade.deployment_name,
            source_arn=o.cluster.arn,
            target_engine_version=spec.target_engine_version,
            cluster_parameter_group=spec.target_db_cluster_parameter_group_name,
            parameter_group=spec.target_db_parameter_group_name,
            tags=upgrade.tags,
        ),
        requeue=timing.poll,
    )


@dataclass(frozen=True)
class DeploymentObservation:
    deployment: BlueGreen | None
    green: Cluster | None = None  # the target cluster, once the deployment names it


def observe_provisioning(aws: RdsReads, u: Upgrade, now: datetime) -> DeploymentObservation:
    bg = find_deployment(aws, u)
    green = aws.describe_cluster(arn_name(bg.target)) if bg and bg.target and bg.status == "AVAILABLE" else None
    return DeploymentObservation(deployment=bg, green=green)


def progress(bg: BlueGreen) -> str:
    active = [f"{name} {state}" for name, state in bg.tasks if state != "COMPLETED"]
    return f" ({'; '.join(active)})" if active else ""


def deployment_failure(bg: BlueGreen) -> Outcome | None:
    """The outcome for a deployment AWS reports as failed or being deleted, else None."""
    if is_failed_status(bg.status):
        return fail(
            f"BlueGreen{bg.status.title().replace('_', '')}",
            f"Blue/green deployment {bg.identifier} is {bg.status}: {details(bg.status_details)}; "
            "the blue cluster was not changed",
        )
    if bg.status == "DELETING":
        return fail("BlueGreenDeploymentDeleted", f"Blue/green deployment {bg.identifier} is being deleted")
    return None


def missing_deployment(upgrade: Upgrade, now: datetime, timing: Timing) -> Outcome:
    """A deployment we created that describe does not show: young means not visible yet."""
    # From AWS's answer to the create, not from the intent saved before it: under throttling the
    # call itself can wait longer than the grace (botocore's adaptive rate limiter holds it back).
    # ProvisioningGreen is entered when the answer is recorded.
    status = upgrade.status
    answered = status.phase_started_at if status.phase == Phase.PROVISIONING_GREEN else None
    created = max((t for t in (status.create_requested_at, answered) if t), key=parse_time, default=None)
    if since(created, now) < timing.consistency_grace:
        return wait(timing, "WaitingForBlueGreenDeployment", "Waiting for AWS to list the new deployment")
    return fail(
        "BlueGreenDeploymentNotFound",
        f"Blue/green deployment {upgrade.status.blue_green_deployment_identifier} no longer exists",
    )


def unknown_status(bg: BlueGreen, timing: Timing) -> Outcome:
    out = wait(timing, "UnknownBlueGreenStatus", f"Blue/green deployment {bg.identifier} reports {bg.status}")
    return Outcome(reason=out.reason, message=out.message + "; waiting", requeue=out.requeue, warning=True)


SWITCHED_OVER = frozenset({"SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"})


def switched_over_elsewhere(upgrade: Upgrade, bg: BlueGreen, now: datetime) -> Outcome | None:
    """Someone switched over (console, CLI) while this upgrade had not: green is production
    now. Approval, window and pre-switchover snapshot mean nothing any more; go on with the
    steps after switchover, saying so with a Warning."""
    if bg.status not in SWITCHED_OVER or upgrade.status.phase in SWITCHOVER_STARTED:
        return None
    return Outcome(
        phase=Phase.SWITCHING_OVER,
        reason="SwitchedOverOutsideOperator",
        message=f"Blue/green deployment {bg.identifier} is {bg.status}: someone switched over outside this "
        f"operator while it was {upgrade.status.phase}; no pre-switchover snapshot is taken of what is now "
        "production, and the upgrade goes on with the steps after switchover",
        changes={"switchover_accepted_at": upgrade.status.switchover_accepted_at or rfc3339(now)},
        warning=True,
    )


def deployment_problem(upgrade: Upgrade, bg: BlueGreen | None, now: datetime, timing: Timing) -> Outcome | None:
    """What every phase that watches the deployment does first: wait for one not listed yet,
    fail on one AWS reports failed or deleting, wait (warning) on a status nobody documents,
    and notice a switchover made by someone else before this upgrade's own."""
    if bg is None:
        return missing_deployment(upgrade, now, timing)
    failure = deployment_failure(bg)
    if failure:
        return failure
    if bg.status not in BLUE_GREEN_KNOWN:
        return unknown_status(bg, timing)
    return switched_over_elsewhere(upgrade, bg, now)


def decide_provisioning(upgrade: Upgrade, o: DeploymentObservation, now: datetime, timing: Timing) -> Outcome:
    bg = o.deployment
    problem = deployment_problem(upgrade, bg, now, timing)
    if problem:
        return problem
    assert bg is not None
    if bg.status == "PROVISIONING":
        return wait(timing, "ProvisioningGreen", f"AWS is provisioning the green environment{progress(bg)}")
    if not bg.target:
        return wait(timing, "WaitingForGreen", "The deployment is AVAILABLE but names no target yet")
    green = arn_name(bg.target)
    endpoint = o.green.endpoint if o.green else None
    if endpoint is None:
        return wait(timing, "WaitingForGreen", f"Waiting for the endpoint of green cluster {green}")
    return advance(
        following(Phase.PROVISIONING_GREEN, upgrade.spec),
        "GreenAvailable",
        f"Green cluster {green} is available at {endpoint}: validate your application against it",
        green_cluster_identifier=green,
        green_cluster_endpoint=endpoint,
    )
