"""CreatingBlueGreen and ProvisioningGreen: exactly one create, found again by name and uid tag."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.decisions.actions import CreateBlueGreen
from aurora_upgrade.decisions.bluegreen import (
    CreateObservation,
    DeploymentObservation,
    decide_create,
    decide_provisioning,
)
from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.phases import Phase

from .builders import (
    BG_ID,
    FOREIGN_TAGS,
    GREEN_CLUSTER_ID,
    GREEN_ENDPOINT,
    NOW,
    OWN_TAGS,
    TIMING,
    UID,
    ago,
    cluster_arn,
    make_blue_green,
    make_cluster,
    make_spec,
    make_upgrade,
)

STAMP = rfc3339(NOW)
YOUNG = ago(10)
OLD = ago(TIMING.consistency_grace.total_seconds() + 30)


def creating(**status: Any) -> Any:
    return make_upgrade(Phase.CREATING_BLUE_GREEN, **status)


# --- CreatingBlueGreen -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upgrade", "name", "cluster_group", "group"),
    [
        pytest.param(
            creating(),
            "aurora-bg-upgrade-15-10",
            "aurora-bg-aurora-pg15-cluster-params",
            "aurora-bg-aurora-pg15-params",
            id="runbook",
        ),
        pytest.param(
            creating(create_requested_at=OLD),
            "aurora-bg-upgrade-15-10",
            "aurora-bg-aurora-pg15-cluster-params",
            "aurora-bg-aurora-pg15-params",
            id="old-intent-never-listed-creates-again",
        ),
        pytest.param(
            make_upgrade(
                Phase.CREATING_BLUE_GREEN,
                spec=make_spec(
                    blueGreenDeploymentName="pg-15-10",
                    targetDBClusterParameterGroupName=None,
                    targetDBParameterGroupName=None,
                ),
            ),
            "pg-15-10",
            None,
            None,
            id="named-deployment-current-groups",
        ),
    ],
)
def test_create_writes_intent_and_asks_for_one_create(
    upgrade: Any, name: str, cluster_group: str | None, group: str | None
) -> None:
    outcome = decide_create(upgrade, CreateObservation(cluster=make_cluster(), with_name=()), NOW, TIMING)

    assert outcome.phase == Phase.PROVISIONING_GREEN
    assert outcome.reason == "BlueGreenDeploymentCreated"
    assert outcome.intent == {"create_requested_at": STAMP}
    assert outcome.action == CreateBlueGreen(
        name=name,
        source_arn=cluster_arn(),
        target_engine_version="15.10",
        cluster_parameter_group=cluster_group,
        parameter_group=group,
        tags=OWN_TAGS,
    )
    assert outcome.action.tags["dbupgrade.dev/uid"] == UID
    assert waits(outcome)


def test_create_adopts_our_deployment_found_by_name() -> None:
    observation = CreateObservation(cluster=make_cluster(), with_name=(make_blue_green("PROVISIONING"),))

    outcome = decide_create(creating(create_requested_at=YOUNG), observation, NOW, TIMING)

    assert outcome.phase == Phase.PROVISIONING_GREEN
    assert outcome.reason == "BlueGreenDeploymentFound"
    assert outcome.changes == {"blue_green_deployment_identifier": BG_ID}
    assert outcome.action is None


@pytest.mark.parametrize(
    ("observation", "phase", "reason", "message"),
    [
        pytest.param(
            CreateObservation(cluster=make_cluster(), with_name=(make_blue_green(tags=FOREIGN_TAGS),)),
            Phase.FAILED,
            "BlueGreenDeploymentNameInUse",
            "is not ours",
            id="foreign-tag",
        ),
        pytest.param(
            CreateObservation(
                cluster=make_cluster(), with_name=(make_blue_green(source=cluster_arn("another-cluster")),)
            ),
            Phase.FAILED,
            "BlueGreenDeploymentNameInUse",
            "(source arn:aws:rds:ap-northeast-1:123456789012:cluster:another-cluster)",
            id="our-tag-other-source",
        ),
        pytest.param(
            CreateObservation(cluster=None, with_name=()),
            Phase.FAILED,
            "ClusterNotFound",
            "disappeared before creation",
            id="cluster-gone",
        ),
    ],
)
def test_create_never_touches_what_is_not_ours(
    observation: CreateObservation, phase: Phase, reason: str, message: str
) -> None:
    outcome = decide_create(creating(), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (phase, reason)
    assert message in outcome.message
    assert outcome.action is None
    assert not outcome.intent


def test_create_with_young_intent_waits_for_aws_to_list_it() -> None:
    outcome = decide_create(
        creating(create_requested_at=YOUNG), CreateObservation(cluster=make_cluster(), with_name=()), NOW, TIMING
    )

    assert outcome.phase is None
    assert outcome.reason == "WaitingForBlueGreenDeployment"
    assert outcome.action is None
    assert not outcome.intent
    assert waits(outcome)


# --- ProvisioningGreen -----------------------------------------------------------------------


def provisioning(spec: dict[str, Any] | None = None, **status: Any) -> Any:
    status.setdefault("create_requested_at", ago(600))
    status.setdefault("phase_started_at", ago(600))  # the create was answered then too
    status.setdefault("blue_green_deployment_identifier", BG_ID)
    return make_upgrade(Phase.PROVISIONING_GREEN, spec=make_spec(**(spec or {})), **status)


GREEN = make_cluster(GREEN_CLUSTER_ID, engine_version="15.10", endpoint=GREEN_ENDPOINT)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, Phase.REBOOTING_GREEN, id="then-reboot-green"),
        pytest.param(
            {"rebootGreenBeforeSwitchover": False, "switchover": {"mode": "Manual"}},
            Phase.AWAITING_SWITCHOVER,
            id="manual-without-green-reboot",
        ),
    ],
)
def test_available_records_green_and_moves_on(spec: dict[str, Any], expected: Phase) -> None:
    observation = DeploymentObservation(deployment=make_blue_green("AVAILABLE"), green=GREEN)

    outcome = decide_provisioning(provisioning(spec), observation, NOW, TIMING)

    assert outcome.phase == expected
    assert outcome.reason == "GreenAvailable"
    assert outcome.changes == {
        "green_cluster_identifier": GREEN_CLUSTER_ID,
        "green_cluster_endpoint": GREEN_ENDPOINT,
    }
    assert GREEN_ENDPOINT in outcome.message
    assert outcome.action is None


@pytest.mark.parametrize(
    ("upgrade", "observation", "reason", "message", "warning"),
    [
        pytest.param(
            provisioning(),
            DeploymentObservation(
                make_blue_green(
                    "PROVISIONING",
                    tasks=(
                        ("CREATING_READ_REPLICA_OF_SOURCE", "COMPLETED"),
                        ("DB_ENGINE_VERSION_UPGRADE", "IN_PROGRESS"),
                        ("CREATE_DB_INSTANCES_FOR_CLUSTER", "PENDING"),
                    ),
                )
            ),
            "ProvisioningGreen",
            "AWS is provisioning the green environment "
            "(DB_ENGINE_VERSION_UPGRADE IN_PROGRESS; CREATE_DB_INSTANCES_FOR_CLUSTER PENDING)",
            False,
            id="provisioning-with-progress",
        ),
        pytest.param(
            provisioning(),
            DeploymentObservation(make_blue_green("AVAILABLE", target=None)),
            "WaitingForGreen",
            "names no target yet",
            False,
            id="available-without-target",
        ),
        pytest.param(
            provisioning(),
            DeploymentObservation(make_blue_green("AVAILABLE"), green=None),
            "WaitingForGreen",
            f"Waiting for the endpoint of green cluster {GREEN_CLUSTER_ID}",
            False,
            id="available-green-not-described",
        ),
        pytest.param(
            provisioning(),
            DeploymentObservation(make_blue_green("UPGRADING_SOMETHING_NEW")),
            "UnknownBlueGreenStatus",
            f"Blue/green deployment {BG_ID} reports UPGRADING_SOMETHING_NEW; waiting",
            True,
            id="unknown-status-warns",
        ),
        pytest.param(
            provisioning(create_requested_at=YOUNG, blue_green_deployment_identifier=None),
            DeploymentObservation(None),
            "WaitingForBlueGreenDeployment",
            "Waiting for AWS to list the new deployment",
            False,
            id="not-listed-yet",
        ),
        pytest.param(
            # The create was asked for long ago but answered just now (throttled, held back by the
            # client's rate limiter): the grace counts from the answer. The ten-upgrades
            # reliability run failed BlueGreenDeploymentNotFound on a live deployment this way.
            provisioning(create_requested_at=ago(600), phase_started_at=YOUNG),
            DeploymentObservation(None),
            "WaitingForBlueGreenDeployment",
            "Waiting for AWS to list the new deployment",
            False,
            id="answered-just-now-after-a-slow-create",
        ),
    ],
)
def test_provisioning_waits(
    upgrade: Any, observation: DeploymentObservation, reason: str, message: str, warning: bool
) -> None:
    outcome = decide_provisioning(upgrade, observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == reason
    assert message in outcome.message
    assert outcome.warning is warning
    assert waits(outcome)
    assert outcome.action is None


@pytest.mark.parametrize(
    ("observation", "reason", "message"),
    [
        pytest.param(
            DeploymentObservation(
                make_blue_green("INVALID_CONFIGURATION", status_details="rds.logical_replication must be 1")
            ),
            "BlueGreenInvalidConfiguration",
            f"Blue/green deployment {BG_ID} is INVALID_CONFIGURATION: rds.logical_replication must be 1; "
            "the blue cluster was not changed",
            id="invalid-configuration",
        ),
        pytest.param(
            DeploymentObservation(make_blue_green("PROVISIONING_FAILED", status_details="Insufficient capacity")),
            "BlueGreenProvisioningFailed",
            "PROVISIONING_FAILED: Insufficient capacity",
            id="provisioning-failed",
        ),
        pytest.param(
            DeploymentObservation(make_blue_green("PROVISIONING_FAILED")),
            "BlueGreenProvisioningFailed",
            "AWS gave no StatusDetails",
            id="failed-without-details",
        ),
        pytest.param(
            DeploymentObservation(make_blue_green("DELETING")),
            "BlueGreenDeploymentDeleted",
            "is being deleted",
            id="deleted-under-us",
        ),
        pytest.param(
            DeploymentObservation(None),
            "BlueGreenDeploymentNotFound",
            f"Blue/green deployment {BG_ID} no longer exists",
            id="gone-long-after-create",
        ),
    ],
)
def test_provisioning_failures(observation: DeploymentObservation, reason: str, message: str) -> None:
    outcome = decide_provisioning(provisioning(), observation, NOW, TIMING)

    assert outcome.phase == Phase.FAILED
    assert outcome.reason == reason
    assert message in outcome.message
    assert outcome.action is None


def test_a_deployment_created_by_someone_else_after_the_precheck_is_detected() -> None:
    """AWS allows one deployment per source: one created by someone else since the precheck
    fails the upgrade with a reason, instead of a create retried into AWS's refusal forever."""
    foreign = make_blue_green("PROVISIONING", tags=FOREIGN_TAGS, name="someone-elses")
    upgrade = make_upgrade(Phase.CREATING_BLUE_GREEN)

    outcome = decide_create(upgrade, CreateObservation(make_cluster(), (), (foreign,)), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (Phase.FAILED, "ForeignBlueGreenDeployment", None)
    assert "someone-elses" in outcome.message
