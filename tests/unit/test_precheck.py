"""Pending and Prechecking: every reason to stop or wait, and never a mutating call."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.decisions.precheck import PrecheckObservation, decide_pending, decide_precheck
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import Cluster, GlobalCluster
from support.runbook import RUNBOOK_PHASES

from .builders import (
    BLUE_RESOURCE_ID,
    CLUSTER_ID,
    CLUSTER_PARAMS,
    DB_PARAMS,
    FOREIGN_TAGS,
    INSTANCE_IDS,
    NOW,
    TIMING,
    cluster_arn,
    engine_version,
    instances,
    make_blue_green,
    make_cluster,
    make_instance,
    make_spec,
    make_upgrade,
    member,
)

PG16 = "aurora-postgresql16"


def observe(**overrides: Any) -> PrecheckObservation:
    """Everything in order for the runbook's 15.6 -> 15.10 upgrade, with overrides."""
    base = PrecheckObservation(
        cluster=make_cluster(),
        instances=instances(),
        source_version=engine_version(),
        target_version=engine_version("15.10", targets=()),
        cluster_parameter_group_family="aurora-postgresql15",
        parameter_group_family="aurora-postgresql15",
        logical_replication="1",
    )
    return replace(base, **overrides)


MAJOR = {"targetEngineVersion": "16.6", "expectedSourceEngineVersion": "15.6"}
MAJOR_ALLOWED = {**MAJOR, "allowMajorVersionUpgrade": True}
TARGET_16 = engine_version("16.6", family=PG16, targets=())
NO_GROUPS = {"targetDBClusterParameterGroupName": None, "targetDBParameterGroupName": None}


# --- Pending ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("busy_with", "phase", "reason", "message"),
    [
        pytest.param(
            "team-b/other-upgrade",
            None,
            "ClusterBusy",
            "AuroraUpgrade team-b/other-upgrade is already upgrading aurora-bg-aurora-cluster in ap-northeast-1",
            id="busy",
        ),
        pytest.param(None, Phase.PRECHECKING, "PrechecksStarted", "Checking", id="free"),
    ],
)
def test_decide_pending(busy_with: str | None, phase: Phase | None, reason: str, message: str) -> None:
    outcome = decide_pending(make_upgrade(Phase.PENDING), busy_with, TIMING)

    assert outcome.phase == phase
    assert outcome.reason == reason
    assert message in outcome.message
    assert waits(outcome) == bool(busy_with)
    assert outcome.action is None


# --- Prechecking: failures (runbook 1.1-1.3 and AWS prerequisites) ---------------------------


@pytest.mark.parametrize(
    ("spec", "observation", "reason", "message"),
    [
        pytest.param(
            {}, observe(cluster=None), "ClusterNotFound", "aurora-bg-aurora-cluster was not found", id="no-cluster"
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(engine="aurora-mysql")),
            "UnsupportedEngine",
            "runs aurora-mysql",
            id="mysql",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(master_user_secret=True)),
            "MasterUserSecretUnsupported",
            "Secrets Manager",
            id="managed-master-password",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(engine_version="15.5")),
            "SourceVersionMismatch",
            "is at 15.5, not at expectedSourceEngineVersion 15.6",
            id="source-guard",
        ),
        pytest.param(
            {"expectedSourceEngineVersion": None},
            observe(cluster=make_cluster(engine_version="15.10")),
            "AlreadyAtTargetVersion",
            "already runs 15.10",
            id="already-upgraded",
        ),
        pytest.param(
            {},
            observe(target_version=None),
            "TargetVersionNotFound",
            "15.10 is not offered in ap-northeast-1",
            id="no-target",
        ),
        pytest.param(
            {},
            observe(source_version=engine_version(targets=(("15.7", False), ("15.8", False)))),
            "TargetVersionNotValid",
            "15.10 is not a valid upgrade target of 15.6 (valid: 15.7, 15.8)",
            id="not-a-valid-target",
        ),
        pytest.param(
            {},
            observe(source_version=None),
            "TargetVersionNotValid",
            "(valid: none)",
            id="source-version-unknown",
        ),
        pytest.param(
            MAJOR,
            observe(target_version=TARGET_16),
            "MajorVersionUpgradeNotAllowed",
            "set spec.allowMajorVersionUpgrade: true",
            id="major-not-allowed",
        ),
        pytest.param(
            {**MAJOR_ALLOWED, **NO_GROUPS},
            observe(target_version=TARGET_16, cluster_parameter_group_family=None, parameter_group_family=None),
            "ParameterGroupRequired",
            "needs spec.targetDBClusterParameterGroupName naming a parameter group of family aurora-postgresql16",
            id="major-without-groups",
        ),
        pytest.param(
            {**MAJOR_ALLOWED, "targetDBClusterParameterGroupName": "pg16-cluster", "targetDBParameterGroupName": None},
            observe(target_version=TARGET_16, cluster_parameter_group_family=PG16, parameter_group_family=None),
            "ParameterGroupRequired",
            "needs spec.targetDBParameterGroupName",
            id="major-without-instance-group",
        ),
        pytest.param(
            {},
            observe(cluster_parameter_group_family=None),
            "ParameterGroupNotFound",
            "spec.targetDBClusterParameterGroupName: parameter group aurora-bg-aurora-pg15-cluster-params "
            "was not found",
            id="cluster-group-missing",
        ),
        pytest.param(
            {},
            observe(parameter_group_family=None),
            "ParameterGroupNotFound",
            "spec.targetDBParameterGroupName: parameter group aurora-bg-aurora-pg15-params was not found",
            id="instance-group-missing",
        ),
        pytest.param(
            MAJOR_ALLOWED,
            observe(target_version=TARGET_16),
            "ParameterGroupFamilyMismatch",
            "is of family aurora-postgresql15, but 16.6 needs aurora-postgresql16",
            id="major-with-15-groups",
        ),
        pytest.param(
            {},
            observe(parameter_group_family="aurora-postgresql14"),
            "ParameterGroupFamilyMismatch",
            "spec.targetDBParameterGroupName: aurora-bg-aurora-pg15-params is of family aurora-postgresql14",
            id="minor-with-wrong-instance-group",
        ),
        pytest.param(
            {},
            observe(logical_replication="0"),
            "LogicalReplicationDisabled",
            "rds.logical_replication is 0 in cluster parameter group aurora-bg-aurora-pg15-cluster-params",
            id="logical-replication-0",
        ),
        pytest.param(
            {},
            observe(logical_replication=None),
            "LogicalReplicationDisabled",
            "rds.logical_replication is unset",
            id="logical-replication-unset",
        ),
        pytest.param(
            {},
            observe(deployments_with_name=(make_blue_green(tags=FOREIGN_TAGS, source="arn:other"),)),
            "BlueGreenDeploymentNameInUse",
            "create a new AuroraUpgrade with another spec.blueGreenDeploymentName",
            id="name-taken",
        ),
        pytest.param(
            {},
            observe(deployments_with_name=(make_blue_green(tags={}),)),
            "BlueGreenDeploymentNameInUse",
            "not created by this AuroraUpgrade",
            id="name-taken-untagged",
        ),
        pytest.param(
            {},
            observe(deployments_on_source=(make_blue_green(name="someone-elses", tags=FOREIGN_TAGS),)),
            "ForeignBlueGreenDeployment",
            "already the source of blue/green deployment someone-elses",
            id="foreign-deployment-on-source",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(status="stopped")),
            "ClusterNotAvailable",
            "aurora-bg-aurora-cluster is stopped",
            id="cluster-stopped",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(status="inaccessible-encryption-credentials")),
            "ClusterNotAvailable",
            "is inaccessible-encryption-credentials",
            id="cluster-broken",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(members=(member(INSTANCE_IDS[0], parameter_status="pending-reboot"),))),
            "ParametersPendingReboot",
            "instances aurora-bg-aurora-instance-1 have parameter changes pending a reboot",
            id="cluster-parameters-pending-reboot",
        ),
        pytest.param(
            {},
            observe(
                instances=(
                    make_instance(INSTANCE_IDS[0]),
                    make_instance(INSTANCE_IDS[1], parameter_groups=(("p", "pending-reboot"),)),
                )
            ),
            "ParametersPendingReboot",
            "set spec.rebootSourceForPendingParameters: true",
            id="instance-parameters-pending-reboot",
        ),
    ],
)
def test_precheck_failures(spec: dict[str, Any], observation: PrecheckObservation, reason: str, message: str) -> None:
    upgrade = make_upgrade(Phase.PRECHECKING, spec=make_spec(**spec))

    outcome = decide_precheck(upgrade, observation, NOW, TIMING)

    assert outcome.phase == Phase.FAILED
    assert outcome.reason == reason
    assert message in outcome.message
    assert outcome.action is None
    assert not outcome.intent


# --- Prechecking: waits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observation", "reason", "message"),
    [
        pytest.param(
            observe(cluster=make_cluster(status="backing-up")),
            "ClusterNotAvailable",
            "Waiting for aurora-bg-aurora-cluster (backing-up)",
            id="cluster-backing-up",
        ),
        pytest.param(
            observe(cluster=make_cluster(status="modifying")),
            "ClusterNotAvailable",
            "(modifying)",
            id="cluster-modifying",
        ),
        pytest.param(
            observe(instances=instances("available", "rebooting")),
            "InstancesNotAvailable",
            "Waiting for instances to be available: aurora-bg-aurora-instance-2",
            id="instance-rebooting",
        ),
        pytest.param(
            observe(instances=instances(parameter_groups=(("aurora-bg-aurora-pg15-params", "applying"),))),
            "ParametersApplying",
            "Waiting for parameters to apply on aurora-bg-aurora-instance-1, aurora-bg-aurora-instance-2",
            id="parameters-applying",
        ),
    ],
)
def test_precheck_waits(observation: PrecheckObservation, reason: str, message: str) -> None:
    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING), observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == reason
    assert message in outcome.message
    assert waits(outcome)
    assert outcome.action is None


def test_precheck_waits_while_cluster_parameters_are_applying() -> None:
    observation = observe(cluster=make_cluster(members=(member(INSTANCE_IDS[0], parameter_status="applying"),)))

    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (None, "ParametersApplying")


# --- Prechecking: passing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "observation"),
    [
        pytest.param({}, observe(), id="runbook"),
        pytest.param({"expectedSourceEngineVersion": None}, observe(), id="no-source-guard"),
        pytest.param(
            NO_GROUPS, observe(cluster_parameter_group_family=None, parameter_group_family=None), id="no-groups"
        ),
        pytest.param(
            {
                **MAJOR_ALLOWED,
                "targetDBClusterParameterGroupName": "pg16-cluster",
                "targetDBParameterGroupName": "pg16",
            },
            observe(target_version=TARGET_16, cluster_parameter_group_family=PG16, parameter_group_family=PG16),
            id="major-allowed-with-16-groups",
        ),
        pytest.param(
            {},
            observe(deployments_on_source=(make_blue_green(tags=FOREIGN_TAGS, status="DELETING", name="old"),)),
            id="foreign-deployment-being-deleted",
        ),
        pytest.param(
            {},
            observe(deployments_with_name=(make_blue_green(),), deployments_on_source=(make_blue_green(),)),
            id="own-deployment-from-earlier-attempt",
        ),
    ],
)
def test_precheck_passes_to_creating_blue_green(spec: dict[str, Any], observation: PrecheckObservation) -> None:
    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING, spec=make_spec(**spec)), observation, NOW, TIMING)

    assert outcome.phase == Phase.CREATING_BLUE_GREEN
    assert outcome.reason == "PrechecksPassed"
    assert outcome.changes == {
        "source_engine_version": "15.6",
        "source_cluster_resource_id": BLUE_RESOURCE_ID,
        "source_db_cluster_parameter_group_name": CLUSTER_PARAMS,
        "source_db_parameter_group_name": DB_PARAMS,
    }
    assert outcome.action is None


def test_pending_parameters_with_opt_in_reboot_go_to_rebooting_source() -> None:
    upgrade = make_upgrade(Phase.PRECHECKING, spec=make_spec(rebootSourceForPendingParameters=True))
    observation = observe(
        cluster=make_cluster(members=(member(INSTANCE_IDS[1], parameter_status="pending-reboot"),)),
    )

    outcome = decide_precheck(upgrade, observation, NOW, TIMING)

    assert outcome.phase == Phase.REBOOTING_SOURCE
    assert outcome.reason == "ParametersPendingReboot"
    assert "aurora-bg-aurora-instance-2" in outcome.message
    assert outcome.changes["reboots"] == [RebootStep(instance="aurora-bg-aurora-instance-2")]
    assert outcome.changes["source_engine_version"] == "15.6"
    assert outcome.action is None


# --- dry run ---------------------------------------------------------------------------------


def _steps(plan: list[str]) -> list[str]:
    return [line.split(":", 1)[0] for line in plan]


def test_dry_run_completes_with_the_plan_and_changes_nothing() -> None:
    upgrade = make_upgrade(Phase.PRECHECKING, spec=make_spec(dryRun=True))

    outcome = decide_precheck(upgrade, observe(), NOW, TIMING)

    assert outcome.phase == Phase.COMPLETED
    assert outcome.reason == "DryRun"
    assert "nothing was changed" in outcome.message
    assert outcome.action is None
    plan = outcome.changes["plan"]
    assert _steps(plan) == RUNBOOK_PHASES[1:-1]  # every phase from the precheck on, up to Completed
    text = "\n".join(plan)
    assert "cluster aurora-bg-aurora-cluster 15.6 -> 15.10" in text
    assert "CreateBlueGreenDeployment aurora-bg-upgrade-15-10 (TargetEngineVersion 15.10" in text
    assert "cluster parameter group aurora-bg-aurora-pg15-cluster-params" in text
    assert "DB parameter group aurora-bg-aurora-pg15-params" in text
    assert f"CreateDBClusterSnapshot {CLUSTER_ID}-before-switchover-3f2a9c1d" in text
    assert "(timeout 300s)" in text
    assert plan[-1] == "CleaningUp: DeleteBlueGreenDeployment"


def test_dry_run_plan_names_the_source_reboot_gates_and_old_cluster_cleanup() -> None:
    spec = make_spec(
        dryRun=True,
        rebootSourceForPendingParameters=True,
        switchover={
            "mode": "Manual",
            "snapshotBeforeSwitchover": False,
            "window": {"days": ["Sat", "Sun"], "start": "22:00", "end": "02:00", "timeZone": "Asia/Tokyo"},
        },
        cleanup={"deleteOldCluster": True, "oldClusterRetention": "24h"},
    )
    observation = observe(cluster=make_cluster(members=(member(INSTANCE_IDS[0], parameter_status="pending-reboot"),)))

    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING, spec=spec), observation, NOW, TIMING)

    assert outcome.phase == Phase.COMPLETED
    plan = outcome.changes["plan"]
    assert _steps(plan)[:3] == ["Prechecking", "RebootingSource", "CreatingBlueGreen"]
    assert "Snapshotting" not in _steps(plan)
    assert plan[1] == "RebootingSource: reboot aurora-bg-aurora-instance-1 to apply pending parameters"
    gate = next(line for line in plan if line.startswith("AwaitingSwitchover"))
    assert "spec.switchover.approved: true" in gate
    assert "the window Sat/Sun 22:00-02:00 Asia/Tokyo" in gate
    assert plan[-1] == (
        "CleaningUp: DeleteBlueGreenDeployment, "
        "then delete aurora-bg-aurora-cluster-old1 after 24h with a final snapshot"
    )


def test_a_deprecated_source_version_can_be_upgraded() -> None:
    """Upgrading off a deprecated version is the usual reason to upgrade: it passes, and says so."""
    deprecated = observe(source_version=engine_version(status="deprecated"))

    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING), deprecated, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (Phase.CREATING_BLUE_GREEN, "PrechecksPassed")
    assert outcome.message == "aurora-bg-aurora-cluster 15.6 (deprecated) can be upgraded to 15.10"


# --- Prechecking: AWS's documented limitations (docs/operations.md, "Limitations") -------------

REPLICA_ELSEWHERE = "arn:aws:rds:us-west-2:123456789012:cluster:aurora-bg-aurora-replica"
GLOBAL_ID = "aurora-bg-global"
SECONDARY_ARN = "arn:aws:rds:us-west-2:123456789012:cluster:aurora-bg-aurora-cluster-usw2"
GLOBAL_PRIMARY = GlobalCluster(GLOBAL_ID, members=((cluster_arn(), True), (SECONDARY_ARN, False)))
GLOBAL_SECONDARY = GlobalCluster(GLOBAL_ID, members=((SECONDARY_ARN, True), (cluster_arn(), False)))


@pytest.mark.parametrize(
    ("spec", "observation", "reason", "message"),
    [
        pytest.param(
            {},
            observe(cluster=make_cluster(engine_mode="serverless")),
            "ServerlessV1Unsupported",
            "is Aurora Serverless v1 (EngineMode serverless)",
            id="serverless-v1",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(read_replicas=(REPLICA_ELSEWHERE,))),
            "CrossRegionReadReplicaUnsupported",
            f"has cross-Region read replicas ({REPLICA_ELSEWHERE})",
            id="has-cross-region-replica",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(replication_source=REPLICA_ELSEWHERE)),
            "CrossRegionReadReplicaUnsupported",
            f"is a cross-Region read replica of {REPLICA_ELSEWHERE}",
            id="is-cross-region-replica",
        ),
        pytest.param(
            {"expectedSourceEngineVersion": "15.3"},
            observe(cluster=make_cluster(engine_version="15.3")),
            "SourceVersionBelowBlueGreenMinimum",
            "runs aurora-postgresql 15.3, below 15.4, the first version RDS Blue/Green deployments support",
            id="below-15.4",
        ),
        pytest.param(
            {"expectedSourceEngineVersion": "14.8", "targetEngineVersion": "14.10"},
            observe(cluster=make_cluster(engine_version="14.8")),
            "SourceVersionBelowBlueGreenMinimum",
            "below 14.9",
            id="below-14.9",
        ),
        pytest.param(
            {"expectedSourceEngineVersion": "10.21", "targetEngineVersion": "11.21"},
            observe(cluster=make_cluster(engine_version="10.21")),
            "SourceVersionBelowBlueGreenMinimum",
            "below 11.21",
            id="major-10",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(global_cluster=GLOBAL_ID), global_cluster=GLOBAL_SECONDARY),
            "GlobalDatabaseSecondaryCluster",
            f"is a secondary cluster of global database {GLOBAL_ID}; a blue/green deployment of a global "
            f"database is created from its primary cluster ({SECONDARY_ARN})",
            id="global-secondary",
        ),
        pytest.param(
            {},
            observe(cluster=make_cluster(global_cluster=GLOBAL_ID), global_cluster=GLOBAL_PRIMARY),
            "GlobalDatabaseUnsupported",
            f"is the primary of global database {GLOBAL_ID}, whose switchover also switches over us-west-2; "
            "this operator reboots, verifies and cleans up in ap-northeast-1 only",
            id="global-primary",
        ),
        pytest.param(
            {},
            # GlobalClusterIdentifier set, the global database not listed (yet): still a member.
            observe(cluster=make_cluster(global_cluster=GLOBAL_ID)),
            "GlobalDatabaseUnsupported",
            f"is a member of global database {GLOBAL_ID}",
            id="global-member-not-listed",
        ),
    ],
)
def test_prechecks_cover_aws_documented_limitations(
    spec: dict[str, Any], observation: PrecheckObservation, reason: str, message: str
) -> None:
    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING, make_spec(**spec)), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (Phase.FAILED, reason)
    assert message in outcome.message
    assert outcome.action is None and not outcome.intent


@pytest.mark.parametrize(
    "cluster",
    [
        pytest.param(make_cluster(engine_version="15.4"), id="at-the-minimum"),
        pytest.param(make_cluster(read_replicas=(cluster_arn("same-region-replica"),)), id="same-region-replica"),
        pytest.param(make_cluster(engine_mode="provisioned"), id="provisioned"),
    ],
)
def test_what_aws_supports_passes_the_limitation_prechecks(cluster: Cluster) -> None:
    spec = make_spec(expectedSourceEngineVersion=cluster.engine_version)
    outcome = decide_precheck(make_upgrade(Phase.PRECHECKING, spec), observe(cluster=cluster), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (Phase.CREATING_BLUE_GREEN, "PrechecksPassed")
