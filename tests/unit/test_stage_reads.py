"""Each stage declares once what its look may ask the Region's shared describes (`questions`,
decisions/questions.py): its `observe` asks those, and the operator registers them for the read
cycle the look falls in (engine.reads_of, fleet.resources_of). A read the shared describes were
not asked for still gets its answer, from a call of its own; these tests run each stage's
`observe` against a recording gateway, across the answers that steer it (the deployment's
status, what status records, the spec's cleanup choices), and check that every shared read a
look makes is one `reads_of` registered."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import pytest

from aurora_upgrade import fleet
from aurora_upgrade.decisions.questions import describe_cluster, find_blue_green_by_source
from aurora_upgrade.engine import STAGES, reads_of
from aurora_upgrade.models import RebootStep
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import BlueGreen, Cluster, Reads, arn_name

from .builders import (
    BG_ID,
    CLUSTER_ID,
    GREEN_CLUSTER_ID,
    INSTANCE_IDS,
    NOW,
    ago,
    engine_version,
    instances,
    make_blue_green,
    make_cluster,
    make_snapshot,
    make_spec,
    make_upgrade,
)

OLD_CLUSTER_ID = f"{CLUSTER_ID}-old1"


class RecordingReads:
    """RdsReads answering from builders, recording each question to a shared describe as
    (what Reads field would carry it, the value)."""

    def __init__(self, deployment_status: str) -> None:
        self.deployment_status = deployment_status
        self.asked: set[tuple[str, str]] = set()

    def _deployment(self) -> BlueGreen:
        return make_blue_green(self.deployment_status)

    def describe_cluster(self, identifier: str) -> Cluster | None:
        self.asked.add(("clusters", identifier))
        return make_cluster(identifier)

    def find_cluster_by_resource_id(self, resource_id: str) -> Cluster | None:
        self.asked.add(("cluster_resource_ids", resource_id))
        return make_cluster(OLD_CLUSTER_ID)

    def describe_cluster_instances(self, cluster: str) -> Any:
        if cluster:  # RebootingGreen before green is recorded, which the engine never reaches
            self.asked.add(("instances_of", cluster))
        return instances("available", "available")

    def find_blue_green(self, *, name: str | None = None, source: str | None = None) -> Any:
        if name is not None:
            self.asked.add(("deployment_names", name))
        if source is not None:
            self.asked.add(("sources", arn_name(source)))
        return [self._deployment()]

    def describe_blue_green(self, identifier: str) -> BlueGreen | None:
        self.asked.add(("deployments", identifier))
        return self._deployment()

    def describe_cluster_snapshot(self, identifier: str) -> Any:
        self.asked.add(("snapshots", identifier))
        return make_snapshot()

    # Not the shared describes: remembered per interval, or read from the event feed.
    def describe_engine_version(self, engine: str, version: str) -> Any:
        return engine_version(version)

    def cluster_parameter_group_family(self, name: str) -> str | None:
        return "aurora-postgresql15"

    def parameter_group_family(self, name: str) -> str | None:
        return "aurora-postgresql15"

    def cluster_parameter(self, group: str, name: str) -> str | None:
        return "0"

    def describe_global_cluster(self, identifier: str) -> Any:
        return None

    def instance_restarts_since(self, instance: str, since: datetime) -> Any:
        return ()

    def instance_restarts_asked(self, instance: str, since: datetime) -> Any:
        return ()

    def switchover_signs_since(self, deployment: str, cluster: str, since: datetime) -> Any:
        return ()


def declared(reads: Reads) -> set[tuple[str, str]]:
    return {(f.name, value) for f in fields(reads) for value in getattr(reads, f.name)}


RECORDED = {
    "blue_green_deployment_identifier": BG_ID,
    "green_cluster_identifier": GREEN_CLUSTER_ID,
    "old_cluster_identifier": OLD_CLUSTER_ID,
    "reboots": [RebootStep(instance=INSTANCE_IDS[0], intended_at=ago(30))],
    "switchover_requested_at": ago(30),
}


def _upgrades(phase: Phase) -> list[tuple[str, Any]]:
    """`phase` before AWS named the deployment, with everything recorded, and with cleanup's
    choices both ways."""
    cases = [
        ("nothing recorded", make_upgrade(phase)),
        ("all recorded", make_upgrade(phase, **RECORDED)),
        ("no resource id", make_upgrade(phase, **RECORDED, source_cluster_resource_id=None)),
    ]
    for delete in (True, False):
        spec = make_spec(cleanup={"deleteOldCluster": delete, "deleteBlueGreenDeployment": delete})
        cases.append((f"cleanup {delete}", make_upgrade(phase, spec, **RECORDED)))
    snapshot = make_spec(switchover={"snapshotBeforeSwitchover": False})
    cases.append(("no snapshot", make_upgrade(phase, snapshot, **RECORDED)))
    return cases


@pytest.mark.parametrize("deployment_status", ["PROVISIONING", "AVAILABLE", "SWITCHOVER_COMPLETED"])
@pytest.mark.parametrize("phase", list(STAGES), ids=str)
def test_a_look_reads_no_more_than_its_stage_declares(phase: Phase, deployment_status: str) -> None:
    for case, upgrade in _upgrades(phase):
        aws = RecordingReads(deployment_status)
        STAGES[phase].observe(aws, upgrade, NOW)
        undeclared = aws.asked - declared(reads_of(upgrade))
        if phase == Phase.PROVISIONING_GREEN and deployment_status == "AVAILABLE":
            # Green, which the deployment names once AVAILABLE: the gateway asks for it in the
            # next call when it lists such a deployment (RdsGateway._fetch_deployments).
            undeclared -= {("clusters", GREEN_CLUSTER_ID)}
        assert undeclared == set(), (case, aws.asked)


def test_a_provisioning_look_asks_about_its_deployment_not_its_clusters() -> None:
    """The fleet's longest wait carries its deployment, not clusters and their instances: the
    stages it may go on to in one look read green, not recorded yet (the gateway asks for it when
    AWS lists the deployment AVAILABLE), the deployment and the snapshot."""
    provisioning = make_upgrade(Phase.PROVISIONING_GREEN, blue_green_deployment_identifier=BG_ID)
    reads = reads_of(provisioning)
    assert reads.deployments == (BG_ID,)
    assert reads.clusters == reads.instances_of == reads.cluster_resource_ids == ()
    assert reads.snapshots == (provisioning.snapshot_identifier,)  # Snapshotting, two stages on
    unnamed = make_upgrade(Phase.PROVISIONING_GREEN)
    assert reads_of(unnamed).deployment_names == (unnamed.deployment_name,)


def test_a_look_reads_what_the_stages_it_goes_on_to_read() -> None:
    """RebootingInstances' look goes on to Verifying and CleaningUp once its last reboot is seen
    done and the versions are right: it reads what those read (CleaningUp deletes the deployment)."""
    rebooting = make_upgrade(Phase.REBOOTING_INSTANCES, **RECORDED)
    ahead = [make_upgrade(phase, **RECORDED) for phase in (Phase.VERIFYING, Phase.CLEANING_UP)]
    expected = Reads()
    for upgrade in [rebooting, *ahead]:
        for question in STAGES[upgrade.status.phase].questions(upgrade):
            expected |= question.reads
    assert reads_of(rebooting) == expected
    assert reads_of(rebooting).deployments == (BG_ID,)
    assert reads_of(rebooting).clusters[0] == CLUSTER_ID


def test_a_pending_upgrade_reads_what_its_precheck_reads_and_a_finished_one_nothing() -> None:
    assert reads_of(make_upgrade(Phase.PENDING)) == reads_of(make_upgrade(Phase.PRECHECKING))
    assert reads_of(make_upgrade(Phase.PENDING)).instances_of == (CLUSTER_ID,)
    for phase in (Phase.COMPLETED, Phase.FAILED):
        assert reads_of(make_upgrade(phase, **RECORDED)) == Reads()


def test_events_about_any_of_its_resources_wake_it_whatever_its_next_look_reads() -> None:
    upgrade = make_upgrade(Phase.PROVISIONING_GREEN, **RECORDED)
    resources = fleet.resources_of(upgrade)
    assert resources.reads == reads_of(upgrade)
    assert not resources.reads.clusters
    assert resources.names == {
        n.lower() for n in (CLUSTER_ID, GREEN_CLUSTER_ID, OLD_CLUSTER_ID, BG_ID, upgrade.snapshot_identifier)
    }


def test_a_question_about_nothing_asks_nothing_and_registers_nothing() -> None:
    """What a phase or the spec does not read is declared as a question about nothing (None):
    asking it answers nothing without a call, and the shared describes are not asked for it."""
    aws = RecordingReads("AVAILABLE")
    nothing = describe_cluster(None)
    assert nothing.ask(aws) is None
    assert nothing.reads == Reads()
    assert aws.asked == set()


def test_a_question_asked_as_an_answer_spells_it_registers_the_name_the_upgrade_knows() -> None:
    """The deployments on a source are asked with its ARN (from the look's answer about the
    cluster), and registered by the cluster's name, which the gateway turns into that ARN."""
    aws = RecordingReads("AVAILABLE")
    on_source = find_blue_green_by_source(CLUSTER_ID)
    assert on_source.reads == Reads(sources=(CLUSTER_ID,))
    on_source.ask(aws, make_cluster(CLUSTER_ID).arn)
    assert aws.asked == {("sources", CLUSTER_ID)}
