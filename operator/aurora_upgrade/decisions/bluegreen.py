"""CreatingBlueGreen and ProvisioningGreen (runbook 3.1-3.4, 4.1, 5): what they read from AWS,
what they decide, and how long their waits last. The triage of the deployment's status that
every later phase shares is in decisions/deployment.py.

The deployment is found again by its deterministic name and our uid tag, so a crash right
after CreateBlueGreenDeployment never leads to a second create: an intent is written first,
and while it is young a deployment that is not visible yet is waited for, not recreated.
A refused CreateBlueGreenDeployment has no meaning of its own here: AlreadyExists (an
earlier attempt took effect) and transient refusals are looked at again, a request AWS
rejects fails the upgrade (see `outcome.call_failed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from aurora_upgrade.clock import rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import CreateBlueGreen
from aurora_upgrade.decisions.deployment import (
    deployment_problem,
    foreign_on_source,
    not_listed_yet,
    our_deployment,
)
from aurora_upgrade.decisions.outcome import Act, Outcome, advance, fail, wait
from aurora_upgrade.decisions.questions import (
    Question,
    describe_cluster,
    find_blue_green_by_name,
    find_blue_green_by_source,
)
from aurora_upgrade.phases import Phase, following
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import BlueGreen, Cluster, RdsReads, arn_name
from aurora_upgrade.upgrade import Upgrade


@dataclass(frozen=True)
class CreateObservation:
    cluster: Cluster | None
    with_name: tuple[BlueGreen, ...]  # DescribeBlueGreenDeployments filtered by our name
    on_source: tuple[BlueGreen, ...] = ()  # ... filtered by our source cluster


class CreateQuestions(NamedTuple):
    cluster: Question[Cluster | None]
    with_name: Question[Sequence[BlueGreen]]
    on_source: Question[Sequence[BlueGreen]]


def questions_create(upgrade: Upgrade) -> CreateQuestions:
    """What a look of CreatingBlueGreen asks the shared describes (decisions/questions.py)."""
    return CreateQuestions(
        cluster=describe_cluster(upgrade.cluster),
        with_name=find_blue_green_by_name(upgrade.deployment_name),
        on_source=find_blue_green_by_source(upgrade.cluster),
    )


def observe_create(aws: RdsReads, upgrade: Upgrade, now: datetime) -> CreateObservation:
    declared = questions_create(upgrade)
    cluster = declared.cluster.ask(aws)
    return CreateObservation(
        cluster=cluster,
        with_name=tuple(declared.with_name.ask(aws)),
        on_source=tuple(declared.on_source.ask(aws, cluster.arn)) if cluster else (),
    )


def decide_create(upgrade: Upgrade, seen: CreateObservation, now: datetime, timing: Timing) -> Outcome:
    spec, status = upgrade.spec, upgrade.status
    if seen.cluster is None:
        return fail(Reason.CLUSTER_NOT_FOUND, f"DB cluster {upgrade.cluster} disappeared before creation")
    for bg in seen.with_name:
        if upgrade.owns(bg.tags) and bg.source == seen.cluster.arn:
            return advance(
                Phase.PROVISIONING_GREEN,
                Reason.BLUE_GREEN_DEPLOYMENT_FOUND,
                f"Blue/green deployment {bg.name} ({bg.identifier}) exists; waiting for green",
                blue_green_deployment_identifier=bg.identifier,
            )
        return fail(
            Reason.BLUE_GREEN_DEPLOYMENT_NAME_IN_USE,
            f"a blue/green deployment named {bg.name} ({bg.identifier}) exists and is not ours "
            f"(source {bg.source}); it is left untouched",
        )
    # Someone may have created one on our source since the precheck: never retry into it.
    foreign = foreign_on_source(upgrade, seen.on_source)
    if foreign:
        return foreign
    if status.create_requested_at and since(status.create_requested_at, now) < timing.consistency_grace:
        return not_listed_yet(
            timing, f"CreateBlueGreenDeployment {upgrade.deployment_name} was requested; waiting for AWS to list it"
        )
    stamp = rfc3339(now)
    return Act(
        to=Phase.PROVISIONING_GREEN,
        reason=Reason.BLUE_GREEN_DEPLOYMENT_CREATED,
        message=f"Created blue/green deployment {upgrade.deployment_name} for {spec.target_engine_version}",
        call=CreateBlueGreen(
            name=upgrade.deployment_name,
            source_arn=seen.cluster.arn,
            target_engine_version=spec.target_engine_version,
            cluster_parameter_group=spec.target_db_cluster_parameter_group_name,
            parameter_group=spec.target_db_parameter_group_name,
            tags=upgrade.tags,
        ),
        before={"create_requested_at": stamp},
    )


@dataclass(frozen=True)
class CreateTurn:
    """One upgrade of the operator, as its per-Region create limit counts it (a kopf index)."""

    ref: str  # namespace/name
    phase: str
    since: str  # when it entered its phase (status.phaseStartedAt; RFC 3339 sorts as text)
    create_requested: bool  # CreateBlueGreenDeployment sent (status.createRequestedAt)

    @property
    def creating(self) -> bool:
        """Green asked for and not yet available."""
        return self.phase == Phase.PROVISIONING_GREEN or (
            self.phase == Phase.CREATING_BLUE_GREEN and self.create_requested
        )

    @property
    def waiting(self) -> bool:
        return self.phase == Phase.CREATING_BLUE_GREEN and not self.create_requested


@dataclass(frozen=True)
class CreateSlots:
    """How the operator's per-Region limit stands for one upgrade about to create green."""

    limit: int
    creating: int  # the Region's upgrades creating green, this one excluded
    ahead: int  # upgrades waiting to create that began waiting before this one


def create_slots(me: str, turns: Sequence[CreateTurn], limit: int) -> CreateSlots:
    """Fair: first come, first served by when each began waiting (its name breaks ties)."""
    mine = next((t for t in turns if t.ref == me), None)
    key = (mine.since, me) if mine else ("~", me)  # not indexed yet: behind every indexed one
    return CreateSlots(
        limit=limit,
        creating=sum(1 for t in turns if t.creating and t.ref != me),
        ahead=sum(1 for t in turns if t.waiting and t.ref != me and (t.since, t.ref) < key),
    )


def hold_create(upgrade: Upgrade, outcome: Outcome, slots: CreateSlots | None) -> Outcome:
    """The create `outcome` asks for, or a wait while the operator's per-Region limit on upgrades
    creating green at once is taken (by those creating, and those that began waiting earlier)."""
    if slots is None or not isinstance(outcome.action, CreateBlueGreen):
        return outcome
    if slots.creating + slots.ahead < slots.limit:
        return outcome
    return wait(
        Reason.CREATE_LIMIT_REACHED,
        f"Waiting to create green: {slots.creating} upgrade(s) are creating green in {upgrade.spec.region} and "
        f"{slots.ahead} began waiting before this one; at most {slots.limit} at once "
        "(AURORA_UPGRADE_MAX_CREATING_PER_REGION)",
    )


@dataclass(frozen=True)
class DeploymentObservation:
    deployment: BlueGreen | None
    green: Cluster | None = None  # the target cluster, once the deployment names it


class ProvisioningQuestions(NamedTuple):
    deployment: Question[BlueGreen | None]
    # Green: not known before the look (the deployment names it once AVAILABLE, and the gateway
    # asks for it in its next call when it lists the deployment so).
    green: Question[Cluster | None]


def questions_provisioning(upgrade: Upgrade) -> ProvisioningQuestions:
    """What a look of ProvisioningGreen asks the shared describes (decisions/questions.py)."""
    return ProvisioningQuestions(deployment=our_deployment(upgrade), green=describe_cluster(None))


def observe_provisioning(aws: RdsReads, upgrade: Upgrade, now: datetime) -> DeploymentObservation:
    declared = questions_provisioning(upgrade)
    bg = declared.deployment.ask(aws)
    green = declared.green.ask(aws, arn_name(bg.target)) if bg and bg.target and bg.status == "AVAILABLE" else None
    return DeploymentObservation(deployment=bg, green=green)


def progress(bg: BlueGreen) -> str:
    active = [f"{name} {state}" for name, state in bg.tasks if state != "COMPLETED"]
    return f" ({'; '.join(active)})" if active else ""


def decide_provisioning(upgrade: Upgrade, seen: DeploymentObservation, now: datetime, timing: Timing) -> Outcome:
    bg = seen.deployment
    problem = deployment_problem(upgrade, bg, now, timing)
    if problem:
        return problem
    assert bg is not None
    if bg.status == "PROVISIONING":
        return wait(Reason.PROVISIONING_GREEN, f"AWS is provisioning the green environment{progress(bg)}")
    if not bg.target:
        return wait(Reason.WAITING_FOR_GREEN, "The deployment is AVAILABLE but names no target yet")
    green = arn_name(bg.target)
    endpoint = seen.green.endpoint if seen.green else None
    if endpoint is None:
        return wait(Reason.WAITING_FOR_GREEN, f"Waiting for the endpoint of green cluster {green}")
    return advance(
        following(Phase.PROVISIONING_GREEN, upgrade.spec),
        Reason.GREEN_AVAILABLE,
        f"Green cluster {green} is available at {endpoint}: validate your application against it",
        green_cluster_identifier=green,
        green_cluster_endpoint=endpoint,
    )
