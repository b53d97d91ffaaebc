"""The blue/green deployment as every stage that watches it sees it: finding ours again, and the
triage of its status (not listed yet, failed, deleting, a status nobody documents, switched
over by someone else) that CreatingBlueGreen through SwitchingOver, cleanup and the finalizer
share.

The deployment is found by the identifier recorded in status, else by our deterministic name
and uid tag, so a crash right after CreateBlueGreenDeployment never leads to a second create.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import Advance, Outcome, fail, wait
from aurora_upgrade.decisions.questions import Question, describe_blue_green
from aurora_upgrade.phases import SWITCHOVER_PHASES, Phase
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import BlueGreen, Cluster, RdsReads
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
SWITCHED_OVER = frozenset({"SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"})
# SwitchoverDetails[].Status of a member AWS is switching or has switched (AWS's API reference,
# SwitchoverDetail); MISSING_SOURCE / MISSING_TARGET: a member was deleted.
MEMBER_SWITCHING = frozenset({"SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED", "MISSING_SOURCE", "MISSING_TARGET"})


def is_failed_status(status: str) -> bool:
    return status in BLUE_GREEN_FAILED or status.endswith("_FAILED")


def details(status_details: str | None) -> str:
    return status_details or "AWS gave no StatusDetails"


def our_deployment(upgrade: Upgrade) -> Question[BlueGreen | None]:
    """Our deployment: by recorded id, else by our deterministic name and uid tag."""
    ident = upgrade.status.blue_green_deployment_identifier
    if ident:
        return describe_blue_green(ident)

    def owned(aws: RdsReads, name: str) -> BlueGreen | None:
        return next((bg for bg in aws.find_blue_green(name=name) if upgrade.owns(bg.tags)), None)

    return Question("deployment_names", upgrade.deployment_name, owned, None)


def find_deployment(aws: RdsReads, upgrade: Upgrade) -> BlueGreen | None:
    return our_deployment(upgrade).ask(aws)


def foreign_on_source(upgrade: Upgrade, deployments: tuple[BlueGreen, ...]) -> Outcome | None:
    """Another deployment on our source (someone else's, not being deleted): AWS allows one."""
    for bg in deployments:
        if not upgrade.owns(bg.tags) and bg.status != "DELETING":
            return fail(
                Reason.FOREIGN_BLUE_GREEN_DEPLOYMENT,
                f"DB cluster {upgrade.cluster} is already the source of blue/green deployment "
                f"{bg.name} ({bg.identifier}, {bg.status}); finish or delete it first",
            )
    return None


def not_listed_yet(timing: Timing, message: str) -> Outcome:
    """A deployment asked for a moment ago that AWS does not list yet: waited for, never created again."""
    return wait(Reason.WAITING_FOR_BLUE_GREEN_DEPLOYMENT, message)


def gone(identifier: str | None) -> tuple[str, str]:
    return Reason.BLUE_GREEN_DEPLOYMENT_NOT_FOUND, f"Blue/green deployment {identifier} no longer exists"


def failure_of(bg: BlueGreen | None, identifier: str | None) -> tuple[str, str] | None:
    """The reason and the sentence for a deployment that is gone, being deleted, or reported
    failed by AWS; None for any other."""
    if bg is None:
        return gone(identifier)
    if is_failed_status(bg.status):
        return (
            Reason.BLUE_GREEN_FAILED.named(bg.status.title().replace("_", "")),
            f"Blue/green deployment {bg.identifier} is {bg.status}: {details(bg.status_details)}",
        )
    if bg.status == "DELETING":
        return Reason.BLUE_GREEN_DEPLOYMENT_DELETED, f"Blue/green deployment {bg.identifier} is being deleted"
    return None


def deployment_failure(bg: BlueGreen) -> Outcome | None:
    """Before any switchover call: the outcome for a deployment AWS reports as failed or being
    deleted, else None."""
    failure = failure_of(bg, bg.identifier)
    if failure is None:
        return None
    reason, what = failure
    return fail(reason, f"{what}; the blue cluster was not changed" if is_failed_status(bg.status) else what)


def missing_deployment(upgrade: Upgrade, now: datetime, timing: Timing) -> Outcome:
    """A deployment we created that describe does not show: young means not visible yet."""
    # From AWS's answer to the create, not from the intent saved before it: under throttling the
    # call itself can wait longer than the grace (botocore's adaptive rate limiter holds it back).
    # ProvisioningGreen is entered when the answer is recorded.
    status = upgrade.status
    answered = status.phase_started_at if status.phase == Phase.PROVISIONING_GREEN else None
    created = max((t for t in (status.create_requested_at, answered) if t), key=parse_time, default=None)
    if since(created, now) < timing.consistency_grace:
        return not_listed_yet(timing, "Waiting for AWS to list the new deployment")
    return fail(*gone(status.blue_green_deployment_identifier))


def unknown_status(bg: BlueGreen) -> Outcome:
    return wait(Reason.UNKNOWN_BLUE_GREEN_STATUS, f"Blue/green deployment {bg.identifier} reports {bg.status}; waiting")


def switched_over_elsewhere(upgrade: Upgrade, bg: BlueGreen, now: datetime) -> Outcome | None:
    """Someone switched over (console, CLI) while this upgrade had not: green is production
    now. Approval, window and pre-switchover snapshot mean nothing any more; go on with the
    steps after switchover, saying so with a Warning."""
    if bg.status not in SWITCHED_OVER or upgrade.status.phase in SWITCHOVER_PHASES:
        return None
    return Advance(
        to=Phase.SWITCHING_OVER,
        reason=Reason.SWITCHED_OVER_OUTSIDE_OPERATOR,
        message=f"Blue/green deployment {bg.identifier} is {bg.status}: someone switched over outside this "
        f"operator while it was {upgrade.status.phase}; no pre-switchover snapshot is taken of what is now "
        "production, and the upgrade goes on with the steps after switchover",
        changes={"switchover_accepted_at": upgrade.status.switchover_accepted_at or rfc3339(now)},
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
        return unknown_status(bg)
    return switched_over_elsewhere(upgrade, bg, now)


# --- after a switchover call: which cluster is production, by names and versions ---------------


class Production(StrEnum):
    BLUE = "blue"  # production's name is still on blue, at the source version; no renamed blue
    GREEN = "green"  # production's name is on another cluster at the target; blue was renamed
    UNPROVEN = "unproven"


@dataclass(frozen=True)
class Names:
    """What AWS shows by name after a switchover call: the switchover renames green to
    production's name and blue to `<name>-old1`, resource ids staying (AWS's "Switching a
    blue/green deployment", switchover actions)."""

    production: Cluster | None  # the cluster named spec.clusterIdentifier
    renamed: Cluster | None = None  # the cluster with blue's resource id, under whatever name
    old1: Cluster | None = None  # `<name>-old1`
    green: Cluster | None = None  # green under its own `-green-` name


def production_by_names(upgrade: Upgrade, names: Names) -> tuple[Production, str]:
    """Which cluster production is, by names, resource ids and versions, with what was seen.
    BLUE only when every sign agrees: the cluster named like production has blue's resource id
    (recorded at precheck) and the source version, no other cluster carries blue's resource id,
    and `<name>-old1` is absent or someone else's (an earlier upgrade's)."""
    status, cluster = upgrade.status, upgrade.cluster
    blue_id, source, target = (
        status.source_cluster_resource_id,
        status.source_engine_version,
        (upgrade.spec.target_engine_version),
    )
    prod, renamed, old1, green = names.production, names.renamed, names.old1, names.green
    seen = [
        f"{cluster} is {prod.resource_id} at {prod.engine_version}" if prod else f"no cluster is named {cluster}",
        f"{old1.identifier} is {old1.resource_id}" if old1 else f"{cluster}-old1 does not exist",
    ]
    if renamed is not None and renamed.identifier != cluster:
        seen.append(f"blue's resource id {blue_id} is now {renamed.identifier}")
    if green is not None:
        seen.append(f"{green.identifier} is {green.resource_id} at {green.engine_version}")
    evidence = "; ".join(seen)
    if prod is None:
        return Production.UNPROVEN, evidence
    moved = renamed is not None and renamed.identifier != cluster
    old1_is_blue = old1 is not None and (blue_id is None or old1.resource_id == blue_id)
    if blue_id and prod.resource_id != blue_id and prod.engine_version == target and moved:
        return Production.GREEN, evidence
    same_id = prod.resource_id == blue_id if blue_id else green is not None and green.resource_id != prod.resource_id
    same_version = prod.engine_version == source if source else prod.engine_version != target
    if same_id and same_version and not moved and not old1_is_blue:
        return Production.BLUE, evidence
    return Production.UNPROVEN, evidence
