"""Deletion never orphans green (issue 7, behaviour 8): deleting an AuroraUpgrade in every phase,
under both deletion policies, decided by cleanup.decide_deletion with what AWS shows in that phase.
docs/operations.md publishes this table; the test keeps the two the same. Before switchover was
requested, Abort always deletes the deployment with its green cluster (the switchover was not sent);
once it may have been sent, nothing in AWS is touched while it may be under way, and after one that
failed or was not carried out (issue 18, item 3) Abort deletes the target only where names and
versions prove it is not production, and otherwise leaves both with a Warning. A deletion that
arrives while a reconcile is deciding can never be overtaken by a switchover intent: that status
write is conditional on the resourceVersion read, which the deletionTimestamp changed, so it
conflicts and the next read leaves the upgrade to the finalizer (controller.ResourceDeleting;
test_engine.test_two_writers_never_both_act)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade import controller
from aurora_upgrade.decisions.actions import DeleteBlueGreen
from aurora_upgrade.decisions.cleanup import DeletionDecision, DeletionObservation, decide_deletion
from aurora_upgrade.decisions.deployment import Names
from aurora_upgrade.models import dump
from aurora_upgrade.phases import Phase

from .builders import (
    BG_ID,
    CLUSTER_ID,
    GREEN_CLUSTER_ID,
    NOW,
    TIMING,
    ago,
    make_blue_green,
    make_cluster,
    make_spec,
    make_upgrade,
)

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"

DELETES_GREEN = "deletes the deployment and green (`DeleteBlueGreenDeployment` with `DeleteTarget`), then lets go"
NOTHING_CREATED = "lets go: nothing was created"
ORPHANED = "lets go, leaving the deployment and green in AWS (`Orphaned`)"
LEFT_ALONE = "lets go; AWS is left as it is"
WAITS = "waits until AWS lists the deployment, then deletes it and green"
MAY_BE_LEFT = "lets go, saying the deployment it asked for may be left in AWS (`Orphaned`)"
GONE_WARNED = "lets go with a Warning (`GreenLeftInAWS`): the deployment is gone, nothing is deleted"
LEFT_WARNED = (
    "lets go, leaving the deployment and its target in AWS with a Warning (`GreenLeftInAWS`): names and versions "
    "do not prove the target is not production"
)

CREATED = {"blue_green_deployment_identifier": BG_ID, "green_cluster_identifier": GREEN_CLUSTER_ID}
SWITCHED = {**CREATED, "switchover_requested_at": ago(120), "switchover_accepted_at": ago(115)}
CALLED = {**CREATED, "switchover_requested_at": ago(600), "switchover_attempt": 1}

# What names show after a switchover call: blue still production, or production's name on green.
GREEN = make_cluster(GREEN_CLUSTER_ID, engine_version="15.10")
NAMES = {
    "blue": Names(production=make_cluster(), renamed=make_cluster(), green=GREEN),
    "green": Names(
        production=make_cluster(resource_id=GREEN.resource_id, engine_version="15.10"),
        renamed=make_cluster(f"{CLUSTER_ID}-old1"),
        old1=make_cluster(f"{CLUSTER_ID}-old1"),
    ),
}

# (row, phase, status fields, what AWS shows of the deployment, what names show after a call)
CASES: list[tuple[str, Phase, dict[str, Any], str | None, str | None]] = [
    ("Pending", Phase.PENDING, {}, None, None),
    ("Prechecking", Phase.PRECHECKING, {}, None, None),
    ("RebootingSource", Phase.REBOOTING_SOURCE, {}, None, None),
    ("CreatingBlueGreen, before the call", Phase.CREATING_BLUE_GREEN, {}, None, None),
    (
        "CreatingBlueGreen, the call sent, not listed yet",
        Phase.CREATING_BLUE_GREEN,
        {"create_requested_at": ago(1)},
        None,
        None,
    ),
    (
        "ProvisioningGreen",
        Phase.PROVISIONING_GREEN,
        {**CREATED, "create_requested_at": ago(300)},
        "PROVISIONING",
        None,
    ),
    ("RebootingGreen", Phase.REBOOTING_GREEN, CREATED, "AVAILABLE", None),
    ("Validating (a check running, or failed and held)", Phase.VALIDATING, CREATED, "AVAILABLE", None),
    ("AwaitingSwitchover (approval, window)", Phase.AWAITING_SWITCHOVER, CREATED, "AVAILABLE", None),
    ("Snapshotting", Phase.SNAPSHOTTING, CREATED, "AVAILABLE", None),
    (
        "Snapshotting, held at the gate before the snapshot (approval withdrawn, window closed)",
        Phase.SNAPSHOTTING,
        {**CREATED, "reason": "AwaitingApproval"},
        "AVAILABLE",
        None,
    ),
    (
        "AwaitingSwitchover, the deployment gone and production's name on green (switched over elsewhere)",
        Phase.AWAITING_SWITCHOVER,
        CREATED,
        None,
        "green",
    ),
    ("SwitchingOver, before the call", Phase.SWITCHING_OVER, CREATED, "AVAILABLE", None),
    (
        "SwitchingOver, the call sent",
        Phase.SWITCHING_OVER,
        {**CREATED, "switchover_requested_at": ago(5)},
        "AVAILABLE",
        "blue",
    ),
    (
        "SwitchingOver, the call not carried out (`SwitchoverNotCarriedOut`), names prove blue is production",
        Phase.SWITCHING_OVER,
        {**CALLED, "reason": "SwitchoverNotCarriedOut"},
        "AVAILABLE",
        "blue",
    ),
    (
        "SwitchingOver, the snapshot retaken before an authorised attempt, names prove blue is production",
        Phase.SWITCHING_OVER,
        {**CALLED, "reason": "SnapshotRetaken"},
        "AVAILABLE",
        "blue",
    ),
    ("RebootingInstances", Phase.REBOOTING_INSTANCES, SWITCHED, "SWITCHOVER_COMPLETED", None),
    ("Verifying", Phase.VERIFYING, SWITCHED, "SWITCHOVER_COMPLETED", None),
    ("CleaningUp", Phase.CLEANING_UP, SWITCHED, "SWITCHOVER_COMPLETED", None),
    (
        "CleaningUp, the deployment deleted by someone else after switchover",
        Phase.CLEANING_UP,
        {**SWITCHED, "deployment_deleted_elsewhere_at": ago(60)},
        None,
        None,
    ),
    ("Completed", Phase.COMPLETED, SWITCHED, None, None),
    ("Failed at Prechecking", Phase.FAILED, {"failed_phase": Phase.PRECHECKING}, None, None),
    (
        "Failed while AWS provisioned green",
        Phase.FAILED,
        {**CREATED, "failed_phase": Phase.PROVISIONING_GREEN},
        "PROVISIONING_FAILED",
        None,
    ),
    (
        "Failed at SwitchingOver before the call (AWS refused it)",
        Phase.FAILED,
        {**CREATED, "failed_phase": Phase.SWITCHING_OVER},
        "AVAILABLE",
        None,
    ),
    (
        "Failed at SwitchingOver after the call, names prove blue is production",
        Phase.FAILED,
        {**CALLED, "failed_phase": Phase.SWITCHING_OVER},
        "SWITCHOVER_FAILED",
        "blue",
    ),
    (
        "Failed at SwitchingOver after the call, names do not prove it (production's name on green, blue `-old1`)",
        Phase.FAILED,
        {**CALLED, "failed_phase": Phase.SWITCHING_OVER},
        "SWITCHOVER_FAILED",
        "green",
    ),
    (
        "Failed at SwitchingOver after the call, the deployment gone",
        Phase.FAILED,
        {**CALLED, "failed_phase": Phase.SWITCHING_OVER},
        None,
        "blue",
    ),
    (
        "Failed at Verifying",
        Phase.FAILED,
        {**SWITCHED, "failed_phase": Phase.VERIFYING},
        "SWITCHOVER_COMPLETED",
        None,
    ),
    ("Aborted", Phase.ABORTED, {}, None, None),
]


def outcome_of(decision: DeletionDecision) -> str:
    outcome = decision.outcome
    if outcome.action == DeleteBlueGreen(BG_ID, delete_target=True) and not decision.release:
        return DELETES_GREEN
    if outcome.reason == "WaitingForBlueGreenDeployment" and not decision.release:
        return WAITS
    assert decision.release, outcome
    if outcome.reason == "GreenLeftInAWS":
        return GONE_WARNED if "the deployment is gone" in outcome.message else LEFT_WARNED
    if outcome.reason == "Orphaned":
        if "may have been created" in outcome.message:
            return MAY_BE_LEFT
        return NOTHING_CREATED if "nothing was created" in outcome.message else ORPHANED
    if outcome.reason == "Aborted" and "no blue/green deployment had been created" in outcome.message:
        return NOTHING_CREATED
    assert outcome.reason == "Deleted" and outcome.action is None, outcome
    return LEFT_ALONE


def decide(phase: Phase, status: dict[str, Any], deployment: str | None, names: str | None, policy: str) -> str:
    upgrade = make_upgrade(phase, spec=make_spec(deletionPolicy=policy), **status)
    observation = DeletionObservation(
        make_blue_green(deployment) if deployment else None,
        GREEN if deployment else None,
        NAMES[names] if names else None,
    )
    return outcome_of(decide_deletion(upgrade, observation, NOW, TIMING))


def computed_table() -> list[tuple[str, str, str]]:
    return [
        (row, decide(phase, status, deployment, names, "Abort"), decide(phase, status, deployment, names, "Orphan"))
        for row, phase, status, deployment, names in CASES
    ]


def published_table() -> list[tuple[str, str, str]]:
    text = OPERATIONS.read_text()
    section = re.split(r"\n##+ ", text.split("### Deleting in each phase", 1)[1], maxsplit=1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| phase")]
    return [tuple(cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]) for row in rows]  # type: ignore[misc]


PARAMS = ("row", "phase", "status", "deployment", "names")


@pytest.mark.parametrize(PARAMS, CASES, ids=[case[0] for case in CASES])
def test_deletion_never_orphans_green(
    row: str, phase: Phase, status: dict[str, Any], deployment: str | None, names: str | None
) -> None:
    abort = decide(phase, status, deployment, names, "Abort")
    orphan = decide(phase, status, deployment, names, "Orphan")
    sent = status.get("switchover_requested_at") is not None
    # Stopped after a call: failed, held for a person, or retaking the snapshot before an attempt
    # a person authorised once names proved blue is still production (issue 18, item 7).
    stopped = phase is Phase.FAILED or status.get("reason") in ("SwitchoverNotCarriedOut", "SnapshotRetaken")
    spare = deployment in ("PROVISIONING", "AVAILABLE", "PROVISIONING_FAILED", "SWITCHOVER_FAILED")
    if spare and (not sent or (stopped and names == "blue")):
        # Green exists and production is still blue (no call, or names prove the call changed
        # nothing): Abort deletes green, Orphan says it is left.
        assert (abort, orphan) == (DELETES_GREEN, ORPHANED)
    elif sent and stopped and not status.get("switchover_accepted_at"):
        # After a call that failed or was not carried out, names not proving green a spare copy.
        assert (abort, orphan) in ((LEFT_WARNED, ORPHANED), (GONE_WARNED, ORPHANED))
    elif deployment is None and names == "green":
        # Green renamed to production's name is not "gone": nothing is claimed or deleted.
        assert (abort, orphan) == (GONE_WARNED, ORPHANED)
    elif phase in (Phase.COMPLETED, Phase.ABORTED) or sent or deployment == "SWITCHOVER_COMPLETED":
        assert (abort, orphan) == (LEFT_ALONE, LEFT_ALONE)
    elif status.get("create_requested_at") and deployment is None:
        # The create was sent but AWS does not list it yet: Abort waits for it rather than orphan it.
        assert (abort, orphan) == (WAITS, MAY_BE_LEFT)
    else:
        assert (abort, orphan) == (NOTHING_CREATED, NOTHING_CREATED)


@pytest.mark.parametrize(PARAMS, CASES, ids=[case[0] for case in CASES])
def test_only_an_upgrade_whose_deletion_leaves_aws_alone_goes_without_the_finalizer(
    row: str, phase: Phase, status: dict[str, Any], deployment: str | None, names: str | None
) -> None:
    """kopf adds the finalizer only where the deletion handler's filter holds (and takes it off
    where it stops holding): wherever it does not, deleting must change nothing in AWS."""
    upgrade = make_upgrade(phase, **status)
    body = {"metadata": {"name": "u1", "namespace": "ns", "generation": 1}, "status": dump(upgrade.status)}
    if not controller._deletion_has_work(body):
        abort, orphan = (
            decide(phase, status, deployment, names, "Abort"),
            decide(phase, status, deployment, names, "Orphan"),
        )
        assert abort == orphan == LEFT_ALONE
    assert controller._deletion_has_work(body) == (phase not in (Phase.COMPLETED, Phase.ABORTED))
    assert controller._deletion_has_work({"metadata": {"name": "new", "generation": 1}})  # no status yet


def test_the_deletion_table_in_operations_md_is_what_the_finalizer_decides() -> None:
    assert published_table() == computed_table()


if __name__ == "__main__":  # print the table for docs/operations.md
    print("| phase when deleted | `deletionPolicy: Abort` (default) | `deletionPolicy: Orphan` |\n|---|---|---|")
    for row, abort, orphan in computed_table():
        print(f"| {row} | {abort} | {orphan} |")
