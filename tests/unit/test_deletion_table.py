"""Deletion never orphans green (issue 7, behaviour 8): deleting an AuroraUpgrade in every phase,
under both deletion policies, decided by cleanup.decide_deletion with what AWS shows in that phase.
docs/operations.md publishes this table; the test keeps the two the same. Before switchover was
requested, Abort always deletes the deployment with its green cluster (the switchover was not sent);
once it may have been sent, nothing in AWS is touched. A deletion that arrives while a reconcile is
deciding can never be overtaken by a switchover intent: that status write is conditional on the
resourceVersion read, which the deletionTimestamp changed, so it conflicts and the next read leaves
the upgrade to the finalizer (controller.ResourceDeleting; test_engine.test_two_writers_never_both_act)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade import controller
from aurora_upgrade.decisions.actions import DeleteBlueGreen
from aurora_upgrade.decisions.cleanup import DeletionDecision, DeletionObservation, decide_deletion
from aurora_upgrade.models import dump
from aurora_upgrade.phases import Phase

from .builders import BG_ID, GREEN_CLUSTER_ID, NOW, TIMING, ago, make_blue_green, make_cluster, make_spec, make_upgrade

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"

DELETES_GREEN = "deletes the deployment and green (`DeleteBlueGreenDeployment` with `DeleteTarget`), then lets go"
NOTHING_CREATED = "lets go: nothing was created"
ORPHANED = "lets go, leaving the deployment and green in AWS (`Orphaned`)"
LEFT_ALONE = "lets go; AWS is left as it is"
WAITS = "waits until AWS lists the deployment, then deletes it and green"
MAY_BE_LEFT = "lets go, saying the deployment it asked for may be left in AWS (`Orphaned`)"

CREATED = {"blue_green_deployment_identifier": BG_ID, "green_cluster_identifier": GREEN_CLUSTER_ID}
SWITCHED = {**CREATED, "switchover_requested_at": ago(120), "switchover_accepted_at": ago(115)}

# (row, phase, status fields, what AWS shows of the deployment)
CASES: list[tuple[str, Phase, dict[str, Any], str | None]] = [
    ("Pending", Phase.PENDING, {}, None),
    ("Prechecking", Phase.PRECHECKING, {}, None),
    ("RebootingSource", Phase.REBOOTING_SOURCE, {}, None),
    ("CreatingBlueGreen, before the call", Phase.CREATING_BLUE_GREEN, {}, None),
    (
        "CreatingBlueGreen, the call sent, not listed yet",
        Phase.CREATING_BLUE_GREEN,
        {"create_requested_at": ago(1)},
        None,
    ),
    ("ProvisioningGreen", Phase.PROVISIONING_GREEN, {**CREATED, "create_requested_at": ago(300)}, "PROVISIONING"),
    ("RebootingGreen", Phase.REBOOTING_GREEN, CREATED, "AVAILABLE"),
    ("AwaitingSwitchover (approval, window)", Phase.AWAITING_SWITCHOVER, CREATED, "AVAILABLE"),
    ("Snapshotting", Phase.SNAPSHOTTING, CREATED, "AVAILABLE"),
    ("SwitchingOver, before the call", Phase.SWITCHING_OVER, CREATED, "AVAILABLE"),
    ("SwitchingOver, the call sent", Phase.SWITCHING_OVER, {**CREATED, "switchover_requested_at": ago(5)}, "AVAILABLE"),
    ("RebootingInstances", Phase.REBOOTING_INSTANCES, SWITCHED, "SWITCHOVER_COMPLETED"),
    ("Verifying", Phase.VERIFYING, SWITCHED, "SWITCHOVER_COMPLETED"),
    ("CleaningUp", Phase.CLEANING_UP, SWITCHED, "SWITCHOVER_COMPLETED"),
    ("Completed", Phase.COMPLETED, SWITCHED, None),
    ("Failed at Prechecking", Phase.FAILED, {"failed_phase": Phase.PRECHECKING}, None),
    (
        "Failed while AWS provisioned green",
        Phase.FAILED,
        {**CREATED, "failed_phase": Phase.PROVISIONING_GREEN},
        "PROVISIONING_FAILED",
    ),
    (
        "Failed at SwitchingOver, AWS rolled back",
        Phase.FAILED,
        {**CREATED, "failed_phase": Phase.SWITCHING_OVER, "switchover_requested_at": ago(600)},
        "SWITCHOVER_FAILED",
    ),
    ("Failed at Verifying", Phase.FAILED, {**SWITCHED, "failed_phase": Phase.VERIFYING}, "SWITCHOVER_COMPLETED"),
    ("Aborted", Phase.ABORTED, {}, None),
]


def outcome_of(decision: DeletionDecision) -> str:
    outcome = decision.outcome
    if outcome.action == DeleteBlueGreen(BG_ID, delete_target=True) and not decision.release:
        return DELETES_GREEN
    if outcome.reason == "WaitingForBlueGreenDeployment" and not decision.release:
        return WAITS
    assert decision.release, outcome
    if outcome.reason == "Orphaned":
        if "may have been created" in outcome.message:
            return MAY_BE_LEFT
        return NOTHING_CREATED if "nothing was created" in outcome.message else ORPHANED
    if outcome.reason == "Aborted" and "no blue/green deployment had been created" in outcome.message:
        return NOTHING_CREATED
    assert outcome.reason == "Deleted" and outcome.action is None, outcome
    return LEFT_ALONE


def decide(phase: Phase, status: dict[str, Any], deployment: str | None, policy: str) -> str:
    upgrade = make_upgrade(phase, spec=make_spec(deletionPolicy=policy), **status)
    observation = DeletionObservation(
        make_blue_green(deployment) if deployment else None,
        make_cluster(GREEN_CLUSTER_ID) if deployment else None,
    )
    return outcome_of(decide_deletion(upgrade, observation, NOW, TIMING))


def computed_table() -> list[tuple[str, str, str]]:
    return [
        (row, decide(phase, status, deployment, "Abort"), decide(phase, status, deployment, "Orphan"))
        for row, phase, status, deployment in CASES
    ]


def published_table() -> list[tuple[str, str, str]]:
    text = OPERATIONS.read_text()
    section = re.split(r"\n##+ ", text.split("### Deleting in each phase", 1)[1], maxsplit=1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| phase")]
    return [tuple(cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]) for row in rows]  # type: ignore[misc]


@pytest.mark.parametrize(("row", "phase", "status", "deployment"), CASES, ids=[case[0] for case in CASES])
def test_deletion_never_orphans_green(row: str, phase: Phase, status: dict[str, Any], deployment: str | None) -> None:
    abort = decide(phase, status, deployment, "Abort")
    orphan = decide(phase, status, deployment, "Orphan")
    sent = status.get("switchover_requested_at") is not None and phase is not Phase.FAILED
    if deployment in ("PROVISIONING", "AVAILABLE", "PROVISIONING_FAILED", "SWITCHOVER_FAILED") and not sent:
        # Green exists and production is still blue: Abort deletes green, Orphan says it is left.
        assert (abort, orphan) == (DELETES_GREEN, ORPHANED)
    elif phase in (Phase.COMPLETED, Phase.ABORTED) or sent or deployment == "SWITCHOVER_COMPLETED":
        assert (abort, orphan) == (LEFT_ALONE, LEFT_ALONE)
    elif status.get("create_requested_at") and deployment is None:
        # The create was sent but AWS does not list it yet: Abort waits for it rather than orphan it.
        assert (abort, orphan) == (WAITS, MAY_BE_LEFT)
    else:
        assert (abort, orphan) == (NOTHING_CREATED, NOTHING_CREATED)


@pytest.mark.parametrize(("row", "phase", "status", "deployment"), CASES, ids=[case[0] for case in CASES])
def test_only_an_upgrade_whose_deletion_leaves_aws_alone_goes_without_the_finalizer(
    row: str, phase: Phase, status: dict[str, Any], deployment: str | None
) -> None:
    """kopf adds the finalizer only where the deletion handler's filter holds (and takes it off
    where it stops holding): wherever it does not, deleting must change nothing in AWS."""
    upgrade = make_upgrade(phase, **status)
    body = {"metadata": {"name": "u1", "namespace": "ns", "generation": 1}, "status": dump(upgrade.status)}
    if not controller._deletion_has_work(body):
        assert decide(phase, status, deployment, "Abort") == decide(phase, status, deployment, "Orphan") == LEFT_ALONE
    assert controller._deletion_has_work(body) == (phase not in (Phase.COMPLETED, Phase.ABORTED))
    assert controller._deletion_has_work({"metadata": {"name": "new", "generation": 1}})  # no status yet


def test_the_deletion_table_in_operations_md_is_what_the_finalizer_decides() -> None:
    assert published_table() == computed_table()


if __name__ == "__main__":  # print the table for docs/operations.md
    print("| phase when deleted | `deletionPolicy: Abort` (default) | `deletionPolicy: Orphan` |\n|---|---|---|")
    for row, abort, orphan in computed_table():
        print(f"| {row} | {abort} | {orphan} |")
