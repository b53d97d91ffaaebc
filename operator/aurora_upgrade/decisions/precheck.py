"""Pending and Prechecking (runbook 1.1-1.3, plus AWS's documented B/G prerequisites): which
upgrade may work on a cluster, what the prechecks read from AWS, and the checks themselves.

Prechecks are a chain of small policies; the first that finds a problem decides. None of
them asks for a mutating call: a failed precheck leaves AWS exactly as it was, and a refused
read fails the upgrade (see `outcome.read_failed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from aurora_upgrade.config import Timing
from aurora_upgrade.database import DatabaseAnswer
from aurora_upgrade.decisions import validate
from aurora_upgrade.decisions.deployment import foreign_on_source
from aurora_upgrade.decisions.outcome import Outcome, advance, fail, wait
from aurora_upgrade.decisions.questions import (
    Question,
    describe_cluster,
    describe_cluster_instances,
    find_blue_green_by_name,
    find_blue_green_by_source,
)
from aurora_upgrade.models import RebootStep, SwitchoverMode
from aurora_upgrade.phases import TERMINAL, Phase, following, happy_path
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import (
    BlueGreen,
    Cluster,
    EngineVersion,
    GlobalCluster,
    Instance,
    RdsReads,
    arn_region,
)
from aurora_upgrade.upgrade import Upgrade

AURORA_POSTGRESQL = "aurora-postgresql"
# Statuses a cluster passes through on its own; anything else needs a person.
TRANSIENT_CLUSTER_STATUSES = frozenset(
    {"backing-up", "modifying", "maintenance", "upgrading", "configuring-iam-database-auth",
     "starting", "rebooting", "renaming", "resetting-master-credentials", "storage-optimization",
     "configuring-log-exports", "creating"}
)  # fmt: skip
# AWS's minimum Aurora PostgreSQL version for blue/green deployments, per major version ("Supported
# Regions and Aurora DB engines for Blue/Green Deployments"; the same in every Region).
BLUE_GREEN_MINIMUM_VERSIONS = {
    11: "11.21", 12: "12.16", 13: "13.12", 14: "14.9", 15: "15.4", 16: "16.1", 17: "17.4",
}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """One AuroraUpgrade's claim on a (region, cluster)."""

    ref: str  # namespace/name
    created: str  # creationTimestamp
    phase: str


def claim_key(region: str, cluster_identifier: str) -> tuple[str, str]:
    """The cluster a claim is on. AWS matches cluster identifiers case-insensitively, so `A`
    and `a` are one cluster."""
    return (region, cluster_identifier.lower())


def claimed_by(claims: list[Claim], me: str) -> str | None:
    """The upgrade that owns the cluster if it is not `me`: one already past Pending, or else
    the oldest Pending one (name breaks ties). Terminal upgrades own nothing."""
    active = [c for c in claims if c.phase not in TERMINAL]
    if not active:
        return None
    winner = min(active, key=lambda c: (c.phase == Phase.PENDING, c.created, c.ref))
    mine = next((c for c in active if c.ref == me), None)
    if mine is not None and mine.phase != Phase.PENDING:
        return None
    return None if winner.ref == me else winner.ref


def decide_pending(upgrade: Upgrade, busy_with: str | None, timing: Timing) -> Outcome:
    """Wait while another AuroraUpgrade works on the same (region, cluster)."""
    if busy_with:
        return wait(
            Reason.CLUSTER_BUSY,
            f"Waiting: AuroraUpgrade {busy_with} is already upgrading {upgrade.cluster} in {upgrade.spec.region}",
        )
    return advance(Phase.PRECHECKING, Reason.PRECHECKS_STARTED, "Checking the cluster and the target version")


@dataclass(frozen=True)
class PrecheckObservation:
    cluster: Cluster | None
    instances: tuple[Instance, ...] = ()
    source_version: EngineVersion | None = None  # DescribeDBEngineVersions for the cluster's version
    target_version: EngineVersion | None = None
    cluster_parameter_group_family: str | None = None  # of the target cluster parameter group
    parameter_group_family: str | None = None  # of the target DB parameter group
    logical_replication: str | None = None  # rds.logical_replication on the cluster's group
    deployments_on_source: tuple[BlueGreen, ...] = ()
    deployments_with_name: tuple[BlueGreen, ...] = ()
    global_cluster: GlobalCluster | None = None  # when the cluster is a member of a global database
    database: DatabaseAnswer | None = None  # the guardrails on blue (decisions/validate.py), filled in by the engine


def _global_database(aws: RdsReads, cluster: Cluster) -> GlobalCluster | None:
    """The global database the cluster belongs to, as DescribeGlobalClusters lists it."""
    return aws.describe_global_cluster(cluster.global_cluster) if cluster.global_cluster else None


class PrecheckQuestions(NamedTuple):
    cluster: Question[Cluster | None]
    instances: Question[Sequence[Instance]]
    deployments_on_source: Question[Sequence[BlueGreen]]
    deployments_with_name: Question[Sequence[BlueGreen]]


def questions(upgrade: Upgrade) -> PrecheckQuestions:
    """What a look asks the shared describes (decisions/questions.py). The catalog and parameter
    groups are asked once per interval, and a global database's members apart."""
    return PrecheckQuestions(
        cluster=describe_cluster(upgrade.cluster),
        instances=describe_cluster_instances(upgrade.cluster),
        deployments_on_source=find_blue_green_by_source(upgrade.cluster),
        deployments_with_name=find_blue_green_by_name(upgrade.deployment_name),
    )


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> PrecheckObservation:
    spec, declared = upgrade.spec, questions(upgrade)
    cluster = declared.cluster.ask(aws)
    if cluster is None:
        return PrecheckObservation(cluster=None)
    instances = tuple(declared.instances.ask(aws, cluster.identifier))
    return PrecheckObservation(
        cluster=cluster,
        instances=instances,
        source_version=aws.describe_engine_version(AURORA_POSTGRESQL, cluster.engine_version),
        target_version=aws.describe_engine_version(AURORA_POSTGRESQL, spec.target_engine_version),
        cluster_parameter_group_family=(
            aws.cluster_parameter_group_family(spec.target_db_cluster_parameter_group_name)
            if spec.target_db_cluster_parameter_group_name
            else None
        ),
        parameter_group_family=(
            aws.parameter_group_family(spec.target_db_parameter_group_name)
            if spec.target_db_parameter_group_name
            else None
        ),
        logical_replication=aws.cluster_parameter(cluster.parameter_group, "rds.logical_replication"),
        deployments_on_source=tuple(declared.deployments_on_source.ask(aws, cluster.arn)),
        deployments_with_name=tuple(declared.deployments_with_name.ask(aws)),
        global_cluster=_global_database(aws, cluster),
    )


Check = Callable[[Upgrade, PrecheckObservation], Outcome | None]


def _cluster_usable(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    c = seen.cluster
    name = upgrade.cluster
    if c is None:
        return fail(Reason.CLUSTER_NOT_FOUND, f"DB cluster {name} was not found in {upgrade.spec.region}")
    if c.engine != AURORA_POSTGRESQL:
        return fail(
            Reason.UNSUPPORTED_ENGINE, f"DB cluster {name} runs {c.engine}; only {AURORA_POSTGRESQL} is supported"
        )
    if c.master_user_secret:
        return fail(
            Reason.MASTER_USER_SECRET_UNSUPPORTED,
            f"DB cluster {name} manages its master password in Secrets Manager, "
            "which RDS Blue/Green deployments do not support",
        )
    return None


def _blue_green_supported(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    """AWS's documented limitations a describe call shows (docs/operations.md, "Limitations")."""
    c = seen.cluster
    assert c is not None
    if c.engine_mode == "serverless":
        return fail(
            Reason.SERVERLESS_V1_UNSUPPORTED,
            f"DB cluster {c.identifier} is Aurora Serverless v1 (EngineMode serverless), which RDS Blue/Green "
            "deployments do not support; migrate it to provisioned or Serverless v2 first",
        )
    region = arn_region(c.arn)
    remote = sorted(arn for arn in c.read_replicas if arn_region(arn) not in ("", region))
    if remote:
        return fail(
            Reason.CROSS_REGION_READ_REPLICA_UNSUPPORTED,
            f"DB cluster {c.identifier} has cross-Region read replicas ({', '.join(remote)}), which RDS "
            "Blue/Green deployments do not support; remove them first, or upgrade another way",
        )
    if c.replication_source and arn_region(c.replication_source) not in ("", region):
        return fail(
            Reason.CROSS_REGION_READ_REPLICA_UNSUPPORTED,
            f"DB cluster {c.identifier} is a cross-Region read replica of {c.replication_source}, which RDS "
            "Blue/Green deployments do not support; upgrade its source, or promote it first",
        )
    return _minimum_version(c)


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return None


def _minimum_version(c: Cluster) -> Outcome | None:
    found = _version(c.engine_version)
    # A version AWS names otherwise, or a major newer than the table: the engine-version look-up decides.
    if found is None or found[0] > max(BLUE_GREEN_MINIMUM_VERSIONS):
        return None
    minimum = BLUE_GREEN_MINIMUM_VERSIONS.get(found[0], BLUE_GREEN_MINIMUM_VERSIONS[min(BLUE_GREEN_MINIMUM_VERSIONS)])
    if found >= (_version(minimum) or ()):
        return None
    return fail(
        Reason.SOURCE_VERSION_BELOW_BLUE_GREEN_MINIMUM,
        f"DB cluster {c.identifier} runs {AURORA_POSTGRESQL} {c.engine_version}, below {minimum}, the first version "
        f"RDS Blue/Green deployments support; upgrade it in place to {minimum} or later first",
    )


def _global_member(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    """A global database's blue/green switchover also switches over its secondary Regions, while
    the steps after it (reboot, verification, deleting `-old1`) run in one Region here, and AWS
    deletes a global database's clusters only once they are removed from it: refused before any
    change (docs/operations.md, Limitations). A secondary has its own reason: AWS creates a global
    database's deployment from its primary."""
    c, g = seen.cluster, seen.global_cluster
    if c is None or not c.global_cluster:
        return None
    primary = next((arn for arn, writer in g.members if writer), None) if g is not None else None
    if primary is not None and primary != c.arn:
        return fail(
            Reason.GLOBAL_DATABASE_SECONDARY_CLUSTER,
            f"DB cluster {c.identifier} is a secondary cluster of global database {c.global_cluster}; a blue/green "
            f"deployment of a global database is created from its primary cluster ({primary}), and this operator "
            "does not upgrade global databases (docs/operations.md, Limitations)",
        )
    here = arn_region(c.arn) or upgrade.spec.region
    others = sorted({arn_region(arn) for arn, _ in g.members} - {here, ""}) if g is not None else []
    role = f"{'the primary' if primary else 'a member'} of global database {c.global_cluster}"
    switches = f", whose switchover also switches over {', '.join(others)}" if others else ""
    return fail(
        Reason.GLOBAL_DATABASE_UNSUPPORTED,
        f"DB cluster {c.identifier} is {role}{switches}; this operator reboots, verifies and cleans up in {here} "
        f"only, and AWS deletes a global database's clusters only once they are removed from it: upgrade it "
        "another way (docs/operations.md, Limitations)",
    )


def _source_version(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    assert seen.cluster is not None
    found, spec = seen.cluster.engine_version, upgrade.spec
    if spec.expected_source_engine_version and found != spec.expected_source_engine_version:
        return fail(
            Reason.SOURCE_VERSION_MISMATCH,
            f"DB cluster {upgrade.cluster} is at {found}, "
            f"not at expectedSourceEngineVersion {spec.expected_source_engine_version}",
        )
    if found == spec.target_engine_version:
        return fail(
            Reason.ALREADY_AT_TARGET_VERSION,
            f"DB cluster {upgrade.cluster} already runs {found}: there is nothing to upgrade",
        )
    return None


def _target_version(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    spec = upgrade.spec
    if seen.target_version is None:
        return fail(
            Reason.TARGET_VERSION_NOT_FOUND,
            f"{AURORA_POSTGRESQL} {spec.target_engine_version} is not offered in {spec.region}",
        )
    targets = dict(seen.source_version.valid_targets) if seen.source_version else {}
    source = seen.cluster.engine_version if seen.cluster else "?"
    if spec.target_engine_version not in targets:
        return fail(
            Reason.TARGET_VERSION_NOT_VALID,
            f"{spec.target_engine_version} is not a valid upgrade target of {source} "
            f"(valid: {', '.join(sorted(targets)) or 'none'})",
        )
    if targets[spec.target_engine_version] and not spec.allow_major_version_upgrade:
        return fail(
            Reason.MAJOR_VERSION_UPGRADE_NOT_ALLOWED,
            f"{source} -> {spec.target_engine_version} is a major version upgrade; "
            "set spec.allowMajorVersionUpgrade: true to allow it",
        )
    return None


def _parameter_groups(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    spec, family = upgrade.spec, seen.target_version.family if seen.target_version else ""
    named = (
        ("targetDBClusterParameterGroupName", spec.target_db_cluster_parameter_group_name,
         seen.cluster_parameter_group_family),
        ("targetDBParameterGroupName", spec.target_db_parameter_group_name, seen.parameter_group_family),
    )  # fmt: skip
    major = seen.source_version is not None and seen.source_version.family != family
    for field_name, group, group_family in named:
        if group is None:
            if major:
                return fail(
                    Reason.PARAMETER_GROUP_REQUIRED,
                    f"a major upgrade to {spec.target_engine_version} needs spec.{field_name} "
                    f"naming a parameter group of family {family}",
                )
            continue
        if group_family is None:
            return fail(Reason.PARAMETER_GROUP_NOT_FOUND, f"spec.{field_name}: parameter group {group} was not found")
        if family and group_family != family:
            return fail(
                Reason.PARAMETER_GROUP_FAMILY_MISMATCH,
                f"spec.{field_name}: {group} is of family {group_family}, "
                f"but {spec.target_engine_version} needs {family}",
            )
    return None


def _logical_replication(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    if seen.logical_replication != "1":
        group = seen.cluster.parameter_group if seen.cluster else "?"
        return fail(
            Reason.LOGICAL_REPLICATION_DISABLED,
            f"rds.logical_replication is {seen.logical_replication or 'unset'} in cluster parameter group "
            f"{group}; Aurora PostgreSQL blue/green deployments need 1 (then reboot the writer)",
        )
    return None


def _foreign_deployments(upgrade: Upgrade, seen: PrecheckObservation) -> Outcome | None:
    for bg in seen.deployments_with_name:
        if not upgrade.owns(bg.tags):
            return fail(
                Reason.BLUE_GREEN_DEPLOYMENT_NAME_IN_USE,
                f"a blue/green deployment named {bg.name} ({bg.identifier}) already exists and was "
                "not created by this AuroraUpgrade; create a new AuroraUpgrade with another "
                "spec.blueGreenDeploymentName (it cannot change on this one), or delete that deployment",
            )
    return foreign_on_source(upgrade, seen.deployments_on_source)


PRECHECKS: tuple[Check, ...] = (
    _cluster_usable,
    _source_version,
    _blue_green_supported,
    _global_member,
    _target_version,
    _parameter_groups,
    _logical_replication,
    _foreign_deployments,
)


def pending_reboot(instances: tuple[Instance, ...], cluster: Cluster | None) -> list[str]:
    """Instances whose parameter changes wait for a reboot (cluster- or instance-level)."""
    members = {m.instance: m.parameter_status for m in cluster.members} if cluster else {}
    return sorted(
        i.identifier
        for i in instances
        if members.get(i.identifier) == "pending-reboot"
        or any(state == "pending-reboot" for _, state in i.parameter_groups)
    )


def decide_precheck(upgrade: Upgrade, seen: PrecheckObservation, now: datetime, timing: Timing) -> Outcome:
    for check in PRECHECKS:
        outcome = check(upgrade, seen)
        if outcome is not None:
            return outcome
    assert seen.cluster is not None
    spec, cluster = upgrade.spec, seen.cluster
    if cluster.status != "available":
        if cluster.status in TRANSIENT_CLUSTER_STATUSES:
            return wait(Reason.CLUSTER_NOT_AVAILABLE, f"Waiting for {cluster.identifier} ({cluster.status})")
        return fail(Reason.CLUSTER_NOT_AVAILABLE, f"DB cluster {cluster.identifier} is {cluster.status}")
    busy = [i.identifier for i in seen.instances if i.status != "available"]
    if busy:
        return wait(Reason.INSTANCES_NOT_AVAILABLE, f"Waiting for instances to be available: {', '.join(busy)}")
    members = {m.instance: m.parameter_status for m in cluster.members}
    applying = sorted(
        i.identifier
        for i in seen.instances
        if members.get(i.identifier) == "applying" or any(state == "applying" for _, state in i.parameter_groups)
    )
    if applying:
        return wait(Reason.PARAMETERS_APPLYING, f"Waiting for parameters to apply on {', '.join(applying)}")
    to_reboot = pending_reboot(seen.instances, cluster)
    if to_reboot and not spec.reboot_source_for_pending_parameters:
        return fail(
            Reason.PARAMETERS_PENDING_REBOOT,
            f"instances {', '.join(to_reboot)} have parameter changes pending a reboot (blue/green creation "
            "fails until they are in sync); reboot them or set spec.rebootSourceForPendingParameters: true",
        )
    # Last, once AWS's side passed: the database guardrails (spec.validation) on blue.
    guardrails = validate.before_create(upgrade, cluster, seen.database, now, timing)
    if isinstance(guardrails, Outcome):
        return guardrails
    instance_groups = sorted({name for i in seen.instances for name, _ in i.parameter_groups})
    facts = {
        **guardrails.changes,
        "source_engine_version": cluster.engine_version,
        "source_cluster_resource_id": cluster.resource_id,
        "source_db_cluster_parameter_group_name": cluster.parameter_group or None,
        "source_db_parameter_group_name": ", ".join(instance_groups) or None,
    }
    if spec.dry_run:
        return advance(
            Phase.COMPLETED,
            Reason.DRY_RUN,
            f"Dry run: prechecks passed for {cluster.identifier} {cluster.engine_version} -> "
            f"{spec.target_engine_version}; the plan is in status.plan, nothing was changed",
            plan=plan(upgrade, cluster, to_reboot),
            notes=guardrails.notes,
            **facts,
        )
    if to_reboot:
        return advance(
            Phase.REBOOTING_SOURCE,
            Reason.PARAMETERS_PENDING_REBOOT,
            f"Rebooting {', '.join(to_reboot)} to apply pending parameters (runbook step 2)",
            reboots=[RebootStep(instance=i) for i in to_reboot],
            notes=guardrails.notes,
            **facts,
        )
    return advance(
        following(Phase.PRECHECKING, spec),
        Reason.PRECHECKS_PASSED,
        f"{cluster.identifier} {cluster.engine_version}{_deprecated(seen.source_version)} can be upgraded to "
        f"{spec.target_engine_version}",
        notes=guardrails.notes,
        **facts,
    )


def _deprecated(version: EngineVersion | None) -> str:
    """Upgrading off a deprecated version is the usual reason to upgrade: say so."""
    return " (deprecated)" if version is not None and version.status == "deprecated" else ""


_STEP_TEXT: dict[Phase, str] = {
    Phase.PRECHECKING: "Prechecking: cluster {cluster} {source} -> {target} passed every precheck",
    Phase.REBOOTING_SOURCE: "RebootingSource: reboot {pending} to apply pending parameters",
    Phase.CREATING_BLUE_GREEN: "CreatingBlueGreen: CreateBlueGreenDeployment {name} "
    "(TargetEngineVersion {target}, cluster parameter group {cpg}, DB parameter group {pg})",
    Phase.PROVISIONING_GREEN: "ProvisioningGreen: wait for the deployment to be AVAILABLE",
    Phase.REBOOTING_GREEN: "RebootingGreen: reboot every green instance, all at once",
    Phase.VALIDATING: "Validating: {checks} against green; guardrails {guardrails}",
    Phase.AWAITING_SWITCHOVER: "AwaitingSwitchover: wait for {gate}",
    Phase.SNAPSHOTTING: "Snapshotting: CreateDBClusterSnapshot {snapshot} of {cluster} and wait until available",
    Phase.SWITCHING_OVER: "SwitchingOver: SwitchoverBlueGreenDeployment (timeout {timeout}s)",
    Phase.REBOOTING_INSTANCES: "RebootingInstances: reboot every production instance, one at a time",
    Phase.VERIFYING: "Verifying: cluster and instances run {target} and are available",
    Phase.CLEANING_UP: "CleaningUp: {cleanup}",
}


def plan(upgrade: Upgrade, cluster: Cluster, pending: list[str]) -> list[str]:
    """The ordered steps a real run of this spec would take, for a dry run."""
    spec = upgrade.spec
    gates = []
    if spec.switchover.mode == SwitchoverMode.MANUAL:
        gates.append("spec.switchover.approved: true")
    if spec.switchover.window is not None:
        w = spec.switchover.window
        gates.append(f"the window {'/'.join(w.days)} {w.start}-{w.end} {w.time_zone}")
    cleanup = []
    if spec.cleanup.delete_blue_green_deployment:
        cleanup.append("DeleteBlueGreenDeployment")
    if spec.cleanup.delete_old_cluster:
        cleanup.append(
            f"delete {cluster.identifier}-old1 after {spec.cleanup.old_cluster_retention}"
            + (" with a final snapshot" if spec.cleanup.final_snapshot_of_old_cluster else "")
        )
    values = {
        "cluster": cluster.identifier,
        "source": cluster.engine_version,
        "target": spec.target_engine_version,
        "pending": ", ".join(pending),
        "name": upgrade.deployment_name,
        "cpg": spec.target_db_cluster_parameter_group_name or cluster.parameter_group,
        "pg": spec.target_db_parameter_group_name or "the instances' current",
        "gate": " and ".join(gates),
        "snapshot": upgrade.snapshot_identifier,
        "timeout": spec.switchover.timeout_seconds,
        "cleanup": ", then ".join(cleanup),
        "checks": ", ".join(c.name for c in spec.validation.checks) or "no checks" if spec.validation else "",
        "guardrails": spec.validation.guardrail_mode.value if spec.validation else "",
    }
    steps = happy_path(spec, reboot_source=bool(pending))
    return [_STEP_TEXT[p].format(**values) for p in steps if p in _STEP_TEXT]
