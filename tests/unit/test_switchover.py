"""AwaitingSwitchover, Snapshotting and SwitchingOver: the gates, the snapshot, and the one
SwitchoverBlueGreenDeployment call that happens only when everything is verified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_upgrade.clock import parse_time, rfc3339
from aurora_upgrade.decisions.actions import CreateSnapshot, DeleteSnapshot, Switchover
from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.decisions.switchover import (
    SwitchoverObservation,
    decide_awaiting,
    decide_snapshot,
    decide_switching,
    in_window,
    next_window_start,
    observe,
    snapshot_setting_ignored,
)
from aurora_upgrade.models import MaintenanceWindow
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import RdsEvent

from .builders import (
    BG_ID,
    CLUSTER_ID,
    FOREIGN_TAGS,
    GREEN_CLUSTER_ID,
    GREEN_ENDPOINT,
    GREEN_SUFFIX,
    INSTANCE_IDS,
    NOW,
    OWN_TAGS,
    TIMING,
    ago,
    cluster_arn,
    instances,
    make_blue_green,
    make_cluster,
    make_snapshot,
    make_spec,
    make_upgrade,
    member,
    snapshot_id,
    with_spec,
)

STAMP = rfc3339(NOW)
YOUNG = ago(10)
OLD = ago(TIMING.consistency_grace.total_seconds() + 30)


def at(text: str) -> datetime:
    """A UTC instant, e.g. at("2025-03-14 23:00") (2025-03-14 is a Friday)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(start: str, end: str, days: list[str] | None = None, zone: str = "UTC") -> MaintenanceWindow:
    fields: dict[str, Any] = {"start": start, "end": end, "timeZone": zone}
    if days is not None:
        fields["days"] = days
    return MaintenanceWindow.model_validate(fields)


# --- the maintenance window ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("win", "now", "inside"),
    [
        pytest.param(window("09:00", "17:00"), at("2025-03-14 10:00"), True, id="daily-inside"),
        pytest.param(window("09:00", "17:00"), at("2025-03-14 09:00"), True, id="start-is-inside"),
        pytest.param(window("09:00", "17:00"), at("2025-03-14 17:00"), False, id="end-is-outside"),
        pytest.param(window("09:00", "17:00"), at("2025-03-14 08:59"), False, id="before-start"),
        pytest.param(window("09:00", "17:00", ["Mon"]), at("2025-03-14 10:00"), False, id="other-day"),
        pytest.param(window("22:00", "02:00", ["Fri"]), at("2025-03-14 23:00"), True, id="wrap-evening"),
        pytest.param(window("22:00", "02:00", ["Fri"]), at("2025-03-15 01:30"), True, id="wrap-after-midnight"),
        pytest.param(window("22:00", "02:00", ["Fri"]), at("2025-03-15 02:00"), False, id="wrap-end"),
        pytest.param(window("22:00", "02:00", ["Fri"]), at("2025-03-14 01:00"), False, id="wrap-tail-of-thursday"),
        pytest.param(window("22:00", "02:00", ["Fri"]), at("2025-03-15 23:00"), False, id="wrap-next-evening"),
        pytest.param(window("00:00", "00:00", ["Fri"]), at("2025-03-14 15:00"), True, id="whole-day"),
        pytest.param(window("00:00", "00:00", ["Fri"]), at("2025-03-15 15:00"), False, id="whole-day-other-day"),
        # 2025-03-14 17:30 UTC is Saturday 02:30 in Tokyo.
        pytest.param(
            window("02:00", "04:00", ["Sat"], "Asia/Tokyo"),
            at("2025-03-14 17:30"),
            True,
            id="tokyo-saturday-utc-friday",
        ),
        pytest.param(
            window("02:00", "04:00", ["Sat"], "Asia/Tokyo"), at("2025-03-14 16:30"), False, id="tokyo-too-early"
        ),
        pytest.param(
            window("02:00", "04:00", ["Fri"], "Asia/Tokyo"), at("2025-03-14 17:30"), False, id="tokyo-day-is-local"
        ),
        # 2025-03-14 15:30 UTC is Saturday 00:30 in Tokyo: the tail of Friday's wrapping window.
        pytest.param(
            window("23:00", "01:00", ["Fri"], "Asia/Tokyo"), at("2025-03-14 15:30"), True, id="tokyo-wrap-past-midnight"
        ),
    ],
)
def test_in_window(win: MaintenanceWindow, now: datetime, inside: bool) -> None:
    assert in_window(win, now) is inside


@pytest.mark.parametrize(
    ("win", "now", "expected"),
    [
        pytest.param(
            window("02:00", "04:00", ["Sat"], "Asia/Tokyo"), NOW, "2025-03-15T02:00:00+09:00", id="tokyo-next-saturday"
        ),
        pytest.param(window("22:00", "02:00"), NOW, "2025-03-14T22:00:00+00:00", id="later-today"),
        pytest.param(window("09:00", "10:00", ["Mon"]), NOW, "2025-03-17T09:00:00+00:00", id="next-monday"),
        pytest.param(window("00:30", "02:00", ["Fri"]), NOW, "2025-03-21T00:30:00+00:00", id="same-weekday-next-week"),
    ],
)
def test_next_window_start(win: MaintenanceWindow, now: datetime, expected: str) -> None:
    opens = next_window_start(win, now)

    assert opens.isoformat() == expected
    assert in_window(win, opens)


# --- AwaitingSwitchover ----------------------------------------------------------------------

TOKYO_SATURDAY = {"days": ["Sat"], "start": "02:00", "end": "04:00", "timeZone": "Asia/Tokyo"}
TOKYO_FRIDAY = {"days": ["Fri"], "start": "09:00", "end": "12:00", "timeZone": "Asia/Tokyo"}  # NOW is Fri 10:00 JST


def awaiting(switchover: dict[str, Any]) -> Any:
    return make_upgrade(
        Phase.AWAITING_SWITCHOVER,
        spec=make_spec(switchover=switchover),
        blue_green_deployment_identifier=BG_ID,
        green_cluster_identifier=GREEN_CLUSTER_ID,
        green_cluster_endpoint=GREEN_ENDPOINT,
        create_requested_at=ago(3600),
    )


AVAILABLE = SwitchoverObservation(deployment=make_blue_green("AVAILABLE"))


@pytest.mark.parametrize(
    ("switchover", "reason", "message"),
    [
        pytest.param(
            {"mode": "Manual"},
            "AwaitingApproval",
            f"set spec.switchover.approved: true to switch over (green endpoint {GREEN_ENDPOINT})",
            id="manual-unapproved",
        ),
        pytest.param(
            {"window": TOKYO_SATURDAY},
            "OutsideMaintenanceWindow",
            "Waiting for the maintenance window opening 2025-03-15T02:00+09:00",
            id="outside-window",
        ),
        pytest.param(
            {"mode": "Manual", "approved": True, "window": TOKYO_SATURDAY},
            "OutsideMaintenanceWindow",
            "2025-03-15T02:00+09:00",
            id="approved-but-outside-window",
        ),
        pytest.param(
            {"mode": "Manual", "approved": False, "window": TOKYO_FRIDAY},
            "AwaitingApproval",
            "approved: true",
            id="inside-window-but-unapproved",
        ),
    ],
)
def test_awaiting_waits(switchover: dict[str, Any], reason: str, message: str) -> None:
    outcome = decide_awaiting(awaiting(switchover), AVAILABLE, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == reason
    assert message in outcome.message
    assert waits(outcome)
    assert outcome.action is None


@pytest.mark.parametrize(
    ("switchover", "phase", "reason"),
    [
        pytest.param({"mode": "Manual", "approved": True}, Phase.SNAPSHOTTING, "SwitchoverApproved", id="approved"),
        pytest.param(
            {"mode": "Manual", "approved": True, "snapshotBeforeSwitchover": False},
            Phase.SWITCHING_OVER,
            "SwitchoverApproved",
            id="approved-no-snapshot",
        ),
        pytest.param({"window": TOKYO_FRIDAY}, Phase.SNAPSHOTTING, "InsideMaintenanceWindow", id="inside-window"),
    ],
)
def test_awaiting_proceeds(switchover: dict[str, Any], phase: Phase, reason: str) -> None:
    outcome = decide_awaiting(awaiting(switchover), AVAILABLE, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (phase, reason)
    assert outcome.action is None


@pytest.mark.parametrize(
    ("observation", "phase", "reason"),
    [
        pytest.param(
            SwitchoverObservation(make_blue_green("INVALID_CONFIGURATION", status_details="DDL on blue")),
            Phase.FAILED,
            "BlueGreenInvalidConfiguration",
            id="deployment-broke-while-waiting",
        ),
        pytest.param(SwitchoverObservation(None), Phase.FAILED, "BlueGreenDeploymentNotFound", id="deployment-gone"),
        pytest.param(SwitchoverObservation(make_blue_green("WEIRD")), None, "UnknownBlueGreenStatus", id="unknown"),
    ],
)
def test_awaiting_notices_deployment_problems_even_when_approved(
    observation: SwitchoverObservation, phase: Phase | None, reason: str
) -> None:
    outcome = decide_awaiting(awaiting({"mode": "Manual", "approved": True}), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (phase, reason)
    assert outcome.action is None


# --- Snapshotting (runbook 6.1) --------------------------------------------------------------


def snapshotting(**status: Any) -> Any:
    return make_upgrade(Phase.SNAPSHOTTING, blue_green_deployment_identifier=BG_ID, **status)


@pytest.mark.parametrize(
    "upgrade",
    [
        pytest.param(snapshotting(), id="first-look"),
        pytest.param(snapshotting(snapshot_requested_at=OLD), id="old-intent-never-listed"),
    ],
)
def test_snapshot_is_created_with_intent(upgrade: Any) -> None:
    outcome = decide_snapshot(upgrade, SwitchoverObservation(make_blue_green(), snapshot=None), NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "SnapshotRequested"
    assert outcome.intent == {
        "snapshot_requested_at": STAMP,
        "snapshot_identifier": snapshot_id(),
        "snapshot_available_at": None,
    }
    assert outcome.action == CreateSnapshot(identifier=snapshot_id(), cluster=CLUSTER_ID, tags=OWN_TAGS)
    assert waits(outcome)


@pytest.mark.parametrize(
    ("upgrade", "snapshot", "reason", "message"),
    [
        pytest.param(
            snapshotting(snapshot_requested_at=YOUNG),
            None,
            "WaitingForSnapshot",
            "waiting for AWS to list it",
            id="young",
        ),
        pytest.param(
            snapshotting(snapshot_requested_at=YOUNG),
            make_snapshot("creating", percent_progress=40),
            "WaitingForSnapshot",
            f"Snapshot {snapshot_id()} is creating (40%)",
            id="creating",
        ),
    ],
)
def test_snapshot_waits(upgrade: Any, snapshot: Any, reason: str, message: str) -> None:
    outcome = decide_snapshot(upgrade, SwitchoverObservation(make_blue_green(), snapshot=snapshot), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, reason, None)
    assert message in outcome.message


@pytest.mark.parametrize(
    "upgrade",
    [
        pytest.param(snapshotting(snapshot_requested_at=YOUNG), id="ours-after-create"),
        pytest.param(snapshotting(), id="ours-found-after-crash"),
    ],
)
def test_available_snapshot_moves_to_switchover(upgrade: Any) -> None:
    outcome = decide_snapshot(upgrade, SwitchoverObservation(make_blue_green(), snapshot=make_snapshot()), NOW, TIMING)

    assert outcome.phase == Phase.SWITCHING_OVER
    assert outcome.reason == "SnapshotAvailable"
    assert outcome.changes == {"snapshot_identifier": snapshot_id(), "snapshot_available_at": STAMP}
    assert outcome.action is None


@pytest.mark.parametrize(
    ("snapshot", "reason", "message"),
    [
        pytest.param(
            make_snapshot(tags=FOREIGN_TAGS), "SnapshotNameInUse", "not taken by this AuroraUpgrade", id="foreign"
        ),
        pytest.param(make_snapshot(cluster="another-cluster"), "SnapshotNameInUse", "not taken", id="other-cluster"),
        pytest.param(make_snapshot("failed"), "SnapshotFailed", "is failed; switchover not started", id="failed"),
        pytest.param(make_snapshot("error"), "SnapshotFailed", "is error", id="error"),
    ],
)
def test_snapshot_failures(snapshot: Any, reason: str, message: str) -> None:
    upgrade = snapshotting(snapshot_requested_at=YOUNG)

    outcome = decide_snapshot(upgrade, SwitchoverObservation(make_blue_green(), snapshot=snapshot), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (Phase.FAILED, reason, None)
    assert message in outcome.message


# --- SwitchingOver (runbook 6.2, 6.3) --------------------------------------------------------

GREEN = make_cluster(GREEN_CLUSTER_ID, engine_version="15.10", endpoint=GREEN_ENDPOINT)
GREEN_INSTANCES = instances(suffix=GREEN_SUFFIX, engine_version="15.10", cluster=GREEN_CLUSTER_ID)


def ready(**overrides: Any) -> SwitchoverObservation:
    """Everything verified: deployment AVAILABLE, green at 15.10 and available, snapshot available."""
    fields: dict[str, Any] = {
        "deployment": make_blue_green("AVAILABLE"),
        "green": GREEN,
        "green_instances": GREEN_INSTANCES,
        "snapshot": make_snapshot(),
        "blue": make_cluster(),
        "blue_instances": instances(),
        **overrides,
    }
    return SwitchoverObservation(**fields)


def switching(spec: dict[str, Any] | None = None, **status: Any) -> Any:
    return make_upgrade(
        Phase.SWITCHING_OVER,
        spec=make_spec(**(spec or {})),
        blue_green_deployment_identifier=BG_ID,
        green_cluster_identifier=GREEN_CLUSTER_ID,
        green_cluster_endpoint=GREEN_ENDPOINT,
        create_requested_at=ago(7200),
        **{"snapshot_identifier": snapshot_id(), **status},
    )


@pytest.mark.parametrize(
    ("upgrade", "observation", "timeout"),
    [
        pytest.param(switching(), ready(), 300, id="runbook"),
        pytest.param(switching({"switchover": {"timeoutSeconds": 900}}), ready(), 900, id="custom-timeout"),
        pytest.param(
            switching({"switchover": {"snapshotBeforeSwitchover": False}}),
            ready(snapshot=None),
            300,
            id="no-snapshot-wanted",
        ),
        pytest.param(
            switching({"switchover": {"mode": "Manual", "approved": True, "window": TOKYO_FRIDAY}}),
            ready(),
            300,
            id="approved-inside-window",
        ),
    ],
)
def test_switchover_is_called_once_with_intent(upgrade: Any, observation: SwitchoverObservation, timeout: int) -> None:
    outcome = decide_switching(upgrade, observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == "SwitchoverStarted"
    snapshot = upgrade.spec.switchover.snapshot_before_switchover
    assert outcome.intent == {
        "switchover_requested_at": STAMP,
        "switchover_attempt": 1,
        "snapshot_before_switchover": snapshot,
    }
    assert outcome.action == Switchover(BG_ID, timeout, attempt=1)
    assert waits(outcome)


@pytest.mark.parametrize(
    ("upgrade", "observation", "reason", "message"),
    [
        pytest.param(
            switching(),
            ready(green=make_cluster(GREEN_CLUSTER_ID, engine_version="15.6")),
            "SwitchoverNotSafe",
            f"green cluster {GREEN_CLUSTER_ID} runs 15.6, not 15.10",
            id="green-wrong-version",
        ),
        pytest.param(
            switching(),
            ready(green=make_cluster(GREEN_CLUSTER_ID, engine_version="15.10", status="modifying")),
            "SwitchoverNotSafe",
            f"green cluster {GREEN_CLUSTER_ID} is modifying",
            id="green-cluster-busy",
        ),
        pytest.param(
            switching(), ready(green=None), "SwitchoverNotSafe", "cannot be described", id="green-not-described"
        ),
        pytest.param(
            switching(),
            ready(green_instances=instances("available", "rebooting", suffix=GREEN_SUFFIX, engine_version="15.10")),
            "SwitchoverNotSafe",
            "aurora-bg-aurora-instance-2-green-abc123 is rebooting at 15.10",
            id="green-instance-rebooting",
        ),
        pytest.param(
            switching(),
            ready(green_instances=instances(suffix=GREEN_SUFFIX, engine_version="15.6")),
            "SwitchoverNotSafe",
            "is available at 15.6",
            id="green-instance-wrong-version",
        ),
        pytest.param(
            switching(),
            ready(snapshot=make_snapshot("creating")),
            "WaitingForSnapshot",
            f"Snapshot {snapshot_id()} is creating",
            id="snapshot-still-creating",
        ),
        pytest.param(
            switching({"switchover": {"window": TOKYO_SATURDAY}}),
            ready(),
            "OutsideMaintenanceWindow",
            "2025-03-15T02:00+09:00",
            id="window-closed-meanwhile",
        ),
        pytest.param(
            switching({"switchover": {"mode": "Manual", "approved": False}}),
            ready(),
            "AwaitingApproval",
            "approved: true",
            id="approval-withdrawn",
        ),
        pytest.param(
            switching(switchover_requested_at=YOUNG),
            ready(),
            "SwitchoverRequested",
            "waiting for AWS to report it",
            id="young-intent",
        ),
        pytest.param(
            switching(switchover_requested_at=ago(60)),
            ready(deployment=make_blue_green("SWITCHOVER_IN_PROGRESS")),
            "SwitchoverInProgress",
            f"AWS is switching over {BG_ID}",
            id="in-progress",
        ),
        pytest.param(
            switching(),
            ready(deployment=make_blue_green("PROVISIONING")),
            "WaitingForBlueGreen",
            "is PROVISIONING",
            id="deployment-not-available",
        ),
        pytest.param(
            switching(),
            ready(deployment=make_blue_green("NEW_STATE")),
            "UnknownBlueGreenStatus",
            "reports NEW_STATE",
            id="unknown-status",
        ),
    ],
)
def test_switchover_is_never_called_unverified(
    upgrade: Any, observation: SwitchoverObservation, reason: str, message: str
) -> None:
    outcome = decide_switching(upgrade, observation, NOW, TIMING)

    assert outcome.phase is None
    assert outcome.reason == reason
    assert message in outcome.message
    assert outcome.action is None
    assert not outcome.intent
    assert waits(outcome)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, Phase.REBOOTING_INSTANCES, id="then-reboot-production"),
        pytest.param({"rebootAfterSwitchover": False}, Phase.VERIFYING, id="then-verify"),
    ],
)
def test_switchover_completed_records_the_old_cluster(spec: dict[str, Any], expected: Phase) -> None:
    upgrade = switching(spec, switchover_requested_at=YOUNG)

    renamed = make_cluster(f"{CLUSTER_ID}-old1")  # same resource id as blue before the switchover
    observation = ready(deployment=make_blue_green("SWITCHOVER_COMPLETED"), blue=renamed)

    outcome = decide_switching(upgrade, observation, NOW, TIMING)

    assert outcome.phase == expected
    assert outcome.reason == "SwitchoverCompleted"
    assert outcome.changes == {
        "old_cluster_identifier": "aurora-bg-aurora-cluster-old1",
        "switchover_completed_at": STAMP,
    }
    assert "the previous production cluster is aurora-bg-aurora-cluster-old1" in outcome.message
    assert outcome.action is None


@pytest.mark.parametrize(
    ("observation", "reason", "message"),
    [
        pytest.param(
            ready(
                deployment=make_blue_green(
                    "SWITCHOVER_FAILED", status_details="Switchover timed out; changes were rolled back"
                )
            ),
            "BlueGreenSwitchoverFailed",
            f"Blue/green deployment {BG_ID} is SWITCHOVER_FAILED: Switchover timed out; changes were rolled back",
            id="switchover-failed",
        ),
        pytest.param(ready(deployment=None), "BlueGreenDeploymentNotFound", "no longer exists", id="deployment-gone"),
        pytest.param(
            ready(deployment=make_blue_green("DELETING")), "BlueGreenDeploymentDeleted", "being deleted", id="deleting"
        ),
    ],
)
def test_switchover_failures(observation: SwitchoverObservation, reason: str, message: str) -> None:
    outcome = decide_switching(switching(switchover_requested_at=ago(120)), observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (Phase.FAILED, reason, None)
    assert message in outcome.message


@pytest.mark.parametrize(
    ("accepted", "phase", "reason", "old"),
    [
        pytest.param(YOUNG, None, "WaitingForRename", None, id="young-waits-for-the-rename"),
        pytest.param(OLD, Phase.REBOOTING_INSTANCES, "SwitchoverCompleted", None, id="old-moves-on-without-it"),
    ],
)
def test_switchover_completed_without_finding_the_old_cluster(
    accepted: str, phase: Phase | None, reason: str, old: str | None
) -> None:
    upgrade = switching(switchover_requested_at=accepted, switchover_accepted_at=accepted)
    observation = ready(deployment=make_blue_green("SWITCHOVER_COMPLETED"), blue=None)

    outcome = decide_switching(upgrade, observation, NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (phase, reason)
    assert outcome.action is None
    if phase is not None:
        assert outcome.changes["old_cluster_identifier"] is None
        assert "was not found" in outcome.message


def test_switchover_accepted_then_available_again_waits_for_a_person_without_calling_again() -> None:
    """AWS rolled the switchover back: a second SwitchoverBlueGreenDeployment is never sent by
    itself, and the upgrade does not end (green stays for another attempt a person authorises)."""
    upgrade = switching(switchover_requested_at=OLD, switchover_accepted_at=OLD)

    outcome = decide_switching(upgrade, ready(), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (None, "SwitchoverNotCarriedOut")
    assert "AWS accepted it and the deployment is AVAILABLE again" in outcome.message
    assert outcome.action is None


def test_switchover_in_progress_records_that_aws_accepted_it() -> None:
    upgrade = switching(switchover_requested_at=YOUNG)

    outcome = decide_switching(upgrade, ready(deployment=make_blue_green("SWITCHOVER_IN_PROGRESS")), NOW, TIMING)

    assert outcome.reason == "SwitchoverInProgress"
    assert outcome.changes == {"switchover_accepted_at": STAMP}
    assert outcome.action is None


def test_switchover_call_records_acceptance_only_after_the_call() -> None:
    outcome = decide_switching(switching(), ready(), NOW, TIMING)

    assert isinstance(outcome.action, Switchover)
    assert outcome.intent == {
        "switchover_requested_at": STAMP,
        "switchover_attempt": 1,
        "snapshot_before_switchover": True,
    }
    assert outcome.changes == {"switchover_accepted_at": STAMP}


@pytest.mark.parametrize(
    ("observation", "words"),
    [
        pytest.param(
            ready(blue=make_cluster(members=(member(INSTANCE_IDS[0]),) * 3)),
            "green has 2 instances, blue has 3",
            id="green-missing-an-instance",
        ),
        pytest.param(
            ready(
                deployment=make_blue_green(
                    "AVAILABLE", switchover_details=((cluster_arn(), "AVAILABLE"), ("arn:x:db:inst-2", "PROVISIONING"))
                )
            ),
            "inst-2 PROVISIONING",
            id="member-not-ready",
        ),
    ],
)
def test_no_switchover_while_green_does_not_mirror_blue(observation: SwitchoverObservation, words: str) -> None:
    outcome = decide_switching(switching(), observation, NOW, TIMING)

    assert outcome.action is None
    assert outcome.reason == "SwitchoverNotSafe"
    assert words in outcome.message


def test_switchover_accepted_moments_ago_still_reading_available_waits() -> None:
    """A describe may lag behind the accepted call: not yet a rollback."""
    upgrade = switching(switchover_requested_at=YOUNG, switchover_accepted_at=YOUNG)

    outcome = decide_switching(upgrade, ready(), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "SwitchoverRequested", None)


def test_cluster_identifiers_are_case_insensitive() -> None:
    """A manifest may spell the cluster `Aurora-BG-Aurora-Cluster`; AWS names the snapshot and
    its cluster lower-case. That snapshot is ours, not a false SnapshotNameInUse."""
    spec = make_spec(clusterIdentifier="Aurora-BG-Aurora-Cluster")
    upgrade = make_upgrade(Phase.SNAPSHOTTING, spec, blue_green_deployment_identifier=BG_ID)
    assert upgrade.snapshot_identifier == snapshot_id()

    outcome = decide_snapshot(
        upgrade, SwitchoverObservation(make_blue_green("AVAILABLE"), snapshot=make_snapshot()), NOW, TIMING
    )

    assert (outcome.phase, outcome.reason) == (Phase.SWITCHING_OVER, "SnapshotAvailable")


@pytest.mark.parametrize("aws_status", ["SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"])
@pytest.mark.parametrize(
    ("phase", "spec", "decide"),
    [
        pytest.param(Phase.PROVISIONING_GREEN, {}, "provisioning", id="provisioning"),
        pytest.param(Phase.AWAITING_SWITCHOVER, {"switchover": {"mode": "Manual"}}, "awaiting", id="awaiting-approval"),
        pytest.param(
            Phase.AWAITING_SWITCHOVER,
            {"switchover": {"window": {"days": ["Sun"], "start": "03:00", "end": "04:00"}}},
            "awaiting",
            id="awaiting-window",
        ),
        pytest.param(Phase.SNAPSHOTTING, {}, "snapshot", id="snapshotting"),
    ],
)
def test_someone_switched_over_in_the_console(phase: Phase, spec: dict[str, Any], decide: str, aws_status: str) -> None:
    """A switchover made outside the operator before its own: noticed on the next look, no
    snapshot call, no wait for an approval or window that no longer means anything; a Warning,
    and on to SwitchingOver, which settles the rest (waiting for AWS, then the old cluster)."""
    from aurora_upgrade.decisions.bluegreen import DeploymentObservation, decide_provisioning

    upgrade = make_upgrade(phase, make_spec(**spec), blue_green_deployment_identifier=BG_ID)
    deployment = make_blue_green(aws_status)
    outcome = {
        "provisioning": lambda: decide_provisioning(upgrade, DeploymentObservation(deployment), NOW, TIMING),
        "awaiting": lambda: decide_awaiting(upgrade, SwitchoverObservation(deployment), NOW, TIMING),
        "snapshot": lambda: decide_snapshot(upgrade, SwitchoverObservation(deployment, snapshot=None), NOW, TIMING),
    }[decide]()

    assert (outcome.phase, outcome.reason, outcome.warning) == (
        Phase.SWITCHING_OVER,
        "SwitchedOverOutsideOperator",
        True,
    )
    assert outcome.action is None
    assert f"{BG_ID} is {aws_status}: someone switched over outside this operator" in outcome.message
    assert outcome.changes == {"switchover_accepted_at": rfc3339(NOW)}


@pytest.mark.parametrize(
    ("overrides", "unsafe"),
    [
        pytest.param(
            {"blue": make_cluster(status="backing-up")},
            "blue cluster aurora-bg-aurora-cluster is backing-up",
            id="blue-backing-up",
        ),
        pytest.param(
            {"blue": make_cluster(status="modifying")},
            "blue cluster aurora-bg-aurora-cluster is modifying",
            id="blue-modifying",
        ),
        pytest.param(
            {"blue_instances": instances("available", "modifying")},
            "blue instance aurora-bg-aurora-instance-2 is modifying",
            id="blue-instance-modifying",
        ),
        pytest.param({"blue": None}, "the blue cluster aurora-bg-aurora-cluster cannot be described", id="blue-unseen"),
    ],
)
def test_switch_over_only_when_both_sides_are_ready(overrides: dict[str, Any], unsafe: str) -> None:
    """AWS's best practice: blue and its instances `available` right before the call; a busy
    blue is a wait, not a failure."""
    outcome = decide_switching(switching(), ready(**overrides), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "SwitchoverNotSafe", None)
    assert outcome.message == f"Not switching over yet: {unsafe}"
    assert waits(outcome)


def _event(message: str, seconds_ago: float) -> RdsEvent:
    return RdsEvent(BG_ID, "blue-green-deployment", message, NOW - timedelta(seconds=seconds_ago))


@pytest.mark.parametrize(
    "signs",
    [
        pytest.param(
            (
                _event("Switchover from x to y started.", 100),
                _event("Switchover canceled on blue/green deployment.", 90),
            ),
            id="started-then-canceled",
        ),
        pytest.param((_event("Switchover canceled on blue/green deployment.", 90),), id="canceled-only"),
    ],
)
def test_a_switchover_whose_answer_was_lost_is_never_repeated(signs: tuple[RdsEvent, ...]) -> None:
    """The intent is in status, AWS's answer is not (a crash or a lost connection), and the
    deployment is AVAILABLE after the consistency grace: AWS may have taken the switchover and
    canceled it quickly. Its events say so, and the message names them."""
    upgrade = switching(switchover_requested_at=OLD)

    outcome = decide_switching(upgrade, ready(switchover_signs=signs), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, "SwitchoverNotCarriedOut", None)
    assert "canceled" in outcome.message and "blue is still production" in outcome.message


class _Reads:
    """The reads `observe` makes, answered from fixed values (a decision-table fake of RdsReads)."""

    def __init__(self, signs: tuple[RdsEvent, ...]) -> None:
        self.signs = signs
        self.asked: list[tuple[str, str, datetime]] = []

    def __getattr__(self, name: str) -> Any:
        answers: dict[str, Any] = {
            "describe_blue_green": lambda _i: make_blue_green("AVAILABLE"),
            "describe_cluster": lambda i: GREEN if i == GREEN_CLUSTER_ID else make_cluster(),
            "describe_cluster_instances": lambda c: GREEN_INSTANCES if c == GREEN_CLUSTER_ID else instances(),
            "describe_cluster_snapshot": lambda _i: make_snapshot(),
            "find_cluster_by_resource_id": lambda _r: make_cluster(),
        }
        return answers[name]

    def switchover_signs_since(self, deployment: str, cluster: str, since: datetime) -> tuple[RdsEvent, ...]:
        self.asked.append((deployment, cluster, since))
        return self.signs


def test_observe_looks_for_switchover_events_only_for_an_unanswered_intent() -> None:
    signs = (_event("Switchover canceled on blue/green deployment.", 90),)
    lost = _Reads(signs)
    assert observe(lost, switching(switchover_requested_at=OLD), NOW).switchover_signs == signs
    assert lost.asked == [(BG_ID, CLUSTER_ID, parse_time(OLD))]

    answered = _Reads(signs)
    observe(answered, switching(switchover_requested_at=OLD, switchover_accepted_at=OLD), NOW)
    never_asked = _Reads(signs)
    observe(never_asked, switching(), NOW)
    assert answered.asked == never_asked.asked == []


# --- issue 18, item 2: a second switchover is never sent without a person --------------------


@pytest.mark.parametrize(
    ("status", "observation", "how"),
    [
        pytest.param(
            {"switchover_requested_at": OLD},
            ready(),
            "its answer was lost and the deployment is AVAILABLE",
            id="answer-lost-no-sign",
        ),
        pytest.param(
            {"switchover_requested_at": OLD},
            ready(switchover_signs=(_event("Switchover canceled on blue/green deployment.", 90),)),
            "AWS's events show it was taken and canceled",
            id="answer-lost-canceled",
        ),
        pytest.param(
            {"switchover_requested_at": OLD, "switchover_accepted_at": OLD},
            ready(),
            "AWS accepted it and the deployment is AVAILABLE again",
            id="accepted-rolled-back",
        ),
    ],
)
def test_a_second_switchover_is_never_sent_without_a_person(
    status: dict[str, Any], observation: SwitchoverObservation, how: str
) -> None:
    """After a switchover call and a deployment AVAILABLE again, names and versions showing
    blue still production: the upgrade stops for a person (not Failed), says how to authorise
    one more attempt, and sends nothing; re-applying the same manifest changes nothing."""
    from aurora_upgrade.reasons import Kind, entry_of

    for upgrade in (switching(**status), switching({"switchover": {"attempt": 1}}, generation=2, **status)):
        outcome = decide_switching(upgrade, observation, NOW, TIMING)

        assert (outcome.phase, outcome.reason, outcome.action) == (None, "SwitchoverNotCarriedOut", None)
        assert how in outcome.message
        assert "set spec.switchover.attempt: 2 to authorise one more attempt" in outcome.message
        assert f"{CLUSTER_ID} is {make_cluster().resource_id} at 15.6" in outcome.message
        assert outcome.warning, "a Warning Event says so"
        found = entry_of(outcome.reason)
        assert found is not None and found.kind == Kind.WAITING_ON_PERSON


def test_raising_switchover_attempt_authorises_exactly_one_more_call() -> None:
    """Only `attempt` above the recorded one authorises a call; it is recorded with its number
    before it is sent, so that number never authorises a second one."""
    lost = {"switchover_requested_at": OLD, "switchover_attempt": 1}
    raised = switching({"switchover": {"attempt": 2}}, generation=2, **lost)

    outcome = decide_switching(raised, ready(), NOW, TIMING)

    assert outcome.reason == "SwitchoverAttemptAuthorised"
    assert outcome.action == Switchover(BG_ID, 300, attempt=2)
    assert outcome.intent == {
        "switchover_requested_at": STAMP,
        "switchover_attempt": 2,
        "snapshot_before_switchover": True,
        "switchover_accepted_at": None,
    }
    assert "attempt 2, authorised by spec.switchover.attempt after attempt 1 was not carried out" in outcome.message

    # Attempt 2 was sent and its answer lost as well: attempt 2 authorises nothing more.
    again = switching({"switchover": {"attempt": 2}}, generation=2, switchover_requested_at=OLD, switchover_attempt=2)
    held = decide_switching(again, ready(), NOW, TIMING)
    assert (held.reason, held.action) == ("SwitchoverNotCarriedOut", None)
    assert "spec.switchover.attempt: 3" in held.message
    # Lowering it, or leaving it, authorises nothing either.
    lowered = switching({"switchover": {"attempt": 1}}, generation=3, switchover_requested_at=OLD, switchover_attempt=2)
    assert decide_switching(lowered, ready(), NOW, TIMING).action is None


def test_a_status_from_before_attempts_were_recorded_counts_its_call_as_attempt_1() -> None:
    """An upgrade in flight when the operator is upgraded: its status has the call's times and
    no attempt; that call was attempt 1."""
    from aurora_upgrade.models import parse_status

    old = parse_status({"phase": "SwitchingOver", "switchoverRequestedAt": OLD, "blueGreenDeploymentIdentifier": BG_ID})
    assert old.switchover_attempt is None
    upgrade = switching(switchover_requested_at=OLD)

    assert decide_switching(upgrade, ready(), NOW, TIMING).reason == "SwitchoverNotCarriedOut"
    raised = switching({"switchover": {"attempt": 2}}, switchover_requested_at=OLD)
    assert decide_switching(raised, ready(), NOW, TIMING).action == Switchover(BG_ID, 300, attempt=2)


def test_a_switchover_aws_answered_with_an_error_is_retried_without_a_person() -> None:
    """A call AWS refused took no effect: the engine keeps the status from before its intent,
    so no attempt is recorded and the next look may call again (not a repeat)."""
    from aurora_upgrade.decisions.switchover import refused_call
    from aurora_upgrade.resources import ErrorKind, RdsError

    error = RdsError(
        ErrorKind.INVALID_STATE, "InvalidBlueGreenDeploymentStateFault", "busy", "SwitchoverBlueGreenDeployment"
    )
    before = switching()  # the status the engine restores for an answered error
    refusal = refused_call(before, Switchover(BG_ID, 300), error, NOW, TIMING)
    assert (refusal.phase, refusal.reason) == (None, "SwitchoverRefused")

    retried = before.with_status(before.status.model_copy(update=dict(refusal.changes)))
    assert decide_switching(retried, ready(), NOW + timedelta(seconds=30), TIMING).action == Switchover(BG_ID, 300)


@pytest.mark.parametrize(
    ("overrides", "shows"),
    [
        pytest.param(
            {
                "blue": make_cluster(resource_id="cluster-GREEN", engine_version="15.10"),
                "renamed": make_cluster(f"{CLUSTER_ID}-old1"),
            },
            f"blue's resource id {make_cluster().resource_id} is now {CLUSTER_ID}-old1",
            id="production-name-on-green",
        ),
        pytest.param(
            {"old1": make_cluster(f"{CLUSTER_ID}-old1")},
            f"{CLUSTER_ID}-old1 is {make_cluster().resource_id}",
            id="old1-is-blue",
        ),
        pytest.param({"blue": None}, f"no cluster is named {CLUSTER_ID}", id="production-name-missing"),
        pytest.param(
            {"deployment": make_blue_green(switchover_details=((cluster_arn(), "SWITCHOVER_COMPLETED"),))},
            "SWITCHOVER_COMPLETED",
            id="member-switched",
        ),
    ],
)
def test_after_a_switchover_call_names_and_versions_decide_what_production_is(
    overrides: dict[str, Any], shows: str
) -> None:
    """AVAILABLE again after a call, but names, versions or SwitchoverDetails do not show blue
    as production: nothing is sent, not even with a raised attempt, and nothing fails."""
    for spec in ({}, {"switchover": {"attempt": 2}}):
        upgrade = switching(spec, switchover_requested_at=OLD, switchover_attempt=1)

        outcome = decide_switching(upgrade, ready(**overrides), NOW, TIMING)

        assert (outcome.phase, outcome.reason, outcome.action) == (None, "SwitchoverOutcomeUnproven", None)
        assert shows in outcome.message


# --- issue 18, item 3: a failure after a switchover call never claims "not switched over" ----

SWITCHED_NAMES = {
    "blue": make_cluster(resource_id="cluster-GREEN", engine_version="15.10"),
    "renamed": make_cluster(f"{CLUSTER_ID}-old1"),
    "green": None,
}


@pytest.mark.parametrize(
    "deployment",
    [
        pytest.param(make_blue_green("SWITCHOVER_FAILED", status_details="Switchover failed"), id="failed"),
        pytest.param(make_blue_green("DELETING"), id="deleting"),
        pytest.param(None, id="gone"),
    ],
)
@pytest.mark.parametrize(
    "names",
    [
        pytest.param(SWITCHED_NAMES, id="production-is-green"),
        pytest.param({"old1": make_cluster(f"{CLUSTER_ID}-old1")}, id="old1-is-blue"),
        pytest.param({"blue": None}, id="production-not-described"),
    ],
)
def test_a_failure_after_switchover_was_requested_is_never_reported_as_not_switched_over(
    deployment: Any, names: dict[str, Any]
) -> None:
    upgrade = switching(switchover_requested_at=ago(120), switchover_accepted_at=ago(119), switchover_attempt=1)

    outcome = decide_switching(upgrade, ready(deployment=deployment, **names), NOW, TIMING)

    assert "not changed" not in outcome.message and "after switchover attempt 1" in outcome.message
    assert outcome.warning and outcome.action is None
    if names is SWITCHED_NAMES and (deployment is None or deployment.status == "DELETING"):
        # Item 4: names prove the switchover completed; someone else deleted the deployment.
        assert (outcome.phase, outcome.reason) == (Phase.REBOOTING_INSTANCES, "BlueGreenDeploymentDeletedElsewhere")
        return
    assert outcome.phase is None, "never Failed while names do not prove production unchanged"
    assert outcome.reason == "SwitchoverOutcomeUnproven"


@pytest.mark.parametrize(
    ("deployment", "reason"),
    [
        pytest.param(make_blue_green("SWITCHOVER_FAILED"), "BlueGreenSwitchoverFailed", id="failed"),
        pytest.param(make_blue_green("DELETING"), "BlueGreenDeploymentDeleted", id="deleting"),
        pytest.param(None, "BlueGreenDeploymentNotFound", id="gone"),
    ],
)
def test_a_failure_after_switchover_was_requested_fails_only_with_names_proving_blue(
    deployment: Any, reason: str
) -> None:
    upgrade = switching(switchover_requested_at=ago(120), switchover_accepted_at=ago(119), switchover_attempt=1)

    outcome = decide_switching(upgrade, ready(deployment=deployment), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (Phase.FAILED, reason, None)
    assert "names and versions show blue is still production" in outcome.message
    assert f"{CLUSTER_ID} is {make_cluster().resource_id} at 15.6" in outcome.message


def test_observe_reads_names_after_a_switchover_call() -> None:
    """After a call: production's name, blue's resource id and `<name>-old1` are read."""
    reads = _Reads(())
    seen = observe(reads, switching(switchover_requested_at=OLD, switchover_attempt=1), NOW)
    assert seen.blue == make_cluster() and seen.renamed == make_cluster() and seen.old1 == make_cluster()
    assert seen.green == GREEN


# --- issue 18, item 6: a refused switchover is retried in each new opening of the gate -----------


def _after(upgrade: Any, outcome: Any) -> Any:
    """The upgrade as the engine records it after `outcome` (its changes saved)."""
    return upgrade.with_status(upgrade.status.model_copy(update=dict(outcome.changes)))


@pytest.mark.parametrize(
    ("closed", "reopened", "now"),
    [
        pytest.param(
            {"switchover": {"mode": "Manual", "approved": False}},
            {"switchover": {"mode": "Manual", "approved": True}},
            NOW,
            id="approval-given-again",
        ),
        pytest.param(
            {"switchover": {"window": TOKYO_FRIDAY}},
            {"switchover": {"window": TOKYO_FRIDAY}},
            NOW + timedelta(days=7),  # the next Friday's window
            id="window-opens-again",
        ),
    ],
)
def test_a_refused_switchover_is_retried_in_each_new_opening_of_the_gate(
    closed: dict[str, Any], reopened: dict[str, Any], now: datetime
) -> None:
    """AWS refused the switchover for a transient state in an earlier opening of the gate,
    longer ago than the refusal timeout: one refusal in the new opening is retried, not a
    failure."""
    from aurora_upgrade.decisions.switchover import refused_call
    from aurora_upgrade.resources import ErrorKind, RdsError

    refused_long_ago = rfc3339(NOW - TIMING.refusal_timeout - timedelta(minutes=5))
    # The snapshot is retaken in the new opening before the call (item 7): here it is fresh.
    upgrade = switching(closed, switchover_refused_at=refused_long_ago, snapshot_available_at=rfc3339(now))
    if reopened != closed:  # the gate is seen closed, then opens
        held = decide_switching(upgrade, ready(), NOW, TIMING)
        assert held.reason == "AwaitingApproval"
        upgrade = _after(upgrade, held)
        upgrade = with_spec(upgrade, **reopened)
    looks = 0
    outcome = decide_switching(upgrade, ready(), now, TIMING)
    while outcome.action is None and looks < 3:  # bookkeeping steps go on at once
        upgrade, looks = _after(upgrade, outcome), looks + 1
        outcome = decide_switching(upgrade, ready(), now, TIMING)
    assert isinstance(outcome.action, Switchover)

    error = RdsError(
        ErrorKind.INVALID_STATE, "InvalidBlueGreenDeploymentStateFault", "busy", "SwitchoverBlueGreenDeployment"
    )
    refusal = refused_call(upgrade, outcome.action, error, now, TIMING)

    assert (refusal.phase, refusal.reason) == (None, "SwitchoverRefused")
    assert refusal.changes == {"switchover_refused_at": rfc3339(now)}


# --- issue 18, item 7: the pre-switchover snapshot is the one that precedes the switchover -------

STALE = ago(TIMING.snapshot_max_age.total_seconds() + 60)
FRESH = ago(TIMING.snapshot_max_age.total_seconds() - 60)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        pytest.param(
            {"switchover": {"mode": "Manual", "approved": False}}, "AwaitingApproval", id="approval-withdrawn"
        ),
        pytest.param({"switchover": {"window": TOKYO_SATURDAY}}, "OutsideMaintenanceWindow", id="window-closed"),
    ],
)
def test_the_pre_switchover_snapshot_is_taken_inside_the_open_gate(spec: dict[str, Any], reason: str) -> None:
    """The gate closed after AwaitingSwitchover let the upgrade go on: no snapshot is taken
    while it is closed (it would be days old by the switchover), and the hold stays in place."""
    upgrade = with_spec(snapshotting(), **spec)

    outcome = decide_snapshot(upgrade, SwitchoverObservation(make_blue_green(), snapshot=None), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (None, reason, None)
    assert not outcome.intent


def test_the_snapshot_records_when_it_became_available() -> None:
    outcome = decide_snapshot(
        snapshotting(snapshot_requested_at=YOUNG),
        SwitchoverObservation(make_blue_green(), snapshot=make_snapshot()),
        NOW,
        TIMING,
    )

    assert outcome.phase == Phase.SWITCHING_OVER
    assert outcome.changes == {"snapshot_identifier": snapshot_id(), "snapshot_available_at": STAMP}


@pytest.mark.parametrize(
    "status",
    [
        pytest.param({"snapshot_available_at": STALE}, id="available-long-ago"),
        pytest.param({"phase_started_at": STALE}, id="status-from-before-snapshot-available-at"),
    ],
)
def test_a_snapshot_gone_stale_is_retaken_before_the_switchover(status: dict[str, Any]) -> None:
    """The gate held the switchover for longer than the bound after the snapshot: the snapshot
    presented as the rollback point is taken again right before the call, the stale one kept."""
    upgrade = switching(**status)

    outcome = decide_switching(upgrade, ready(), NOW, TIMING)

    retaken = f"{snapshot_id()}-2"
    assert (outcome.phase, outcome.reason) == (None, "SnapshotRetaken")
    assert outcome.action == CreateSnapshot(retaken, CLUSTER_ID, OWN_TAGS, supersedes=snapshot_id())
    assert outcome.intent == {
        "snapshot_identifier": retaken,
        "snapshot_requested_at": STAMP,
        "snapshot_available_at": None,
        "superseded_snapshot_identifier": snapshot_id(),
        "snapshot_retakes": 1,
    }
    assert "retaken" in outcome.action.describe()


def test_a_fresh_snapshot_is_not_retaken() -> None:
    outcome = decide_switching(switching(snapshot_available_at=FRESH), ready(), NOW, TIMING)

    assert outcome.action == Switchover(BG_ID, 300, attempt=1)
    assert outcome.intent["snapshot_before_switchover"] is True


def test_a_retake_keeps_at_most_one_superseded_snapshot() -> None:
    """A second retake deletes the older superseded snapshot first (AWS allows 100 manual
    cluster snapshots per Region by default); the current one is never deleted."""
    current = f"{snapshot_id()}-2"
    upgrade = switching(
        snapshot_identifier=current,
        superseded_snapshot_identifier=snapshot_id(),
        snapshot_retakes=1,
        snapshot_available_at=STALE,
    )
    seen = ready(snapshot=make_snapshot(identifier=current))

    first = decide_switching(upgrade, seen, NOW, TIMING)
    assert (first.reason, first.action) == ("DeletingSupersededSnapshot", DeleteSnapshot(snapshot_id()))
    assert first.changes == {"superseded_snapshot_identifier": None}

    then = decide_switching(_after(upgrade, first), seen, NOW, TIMING)
    assert then.action == CreateSnapshot(f"{snapshot_id()}-3", CLUSTER_ID, OWN_TAGS, supersedes=current)
    assert then.intent["superseded_snapshot_identifier"] == current and then.intent["snapshot_retakes"] == 2


def test_a_retaken_snapshot_is_waited_for_and_its_availability_recorded() -> None:
    retaken = f"{snapshot_id()}-2"
    upgrade = switching(snapshot_identifier=retaken, snapshot_requested_at=YOUNG, snapshot_retakes=1)

    creating = decide_switching(upgrade, ready(snapshot=make_snapshot("creating", identifier=retaken)), NOW, TIMING)
    assert (creating.reason, creating.action) == ("WaitingForSnapshot", None)

    available = decide_switching(upgrade, ready(snapshot=make_snapshot(identifier=retaken)), NOW, TIMING)
    assert (available.reason, available.action) == ("SnapshotAvailable", None)
    assert available.changes == {"snapshot_available_at": STAMP}

    outcome = decide_switching(
        _after(upgrade, available), ready(snapshot=make_snapshot(identifier=retaken)), NOW, TIMING
    )
    assert outcome.action == Switchover(BG_ID, 300, attempt=1)


def test_turning_the_snapshot_on_in_switching_over_takes_it_before_the_call() -> None:
    """snapshotBeforeSwitchover turned on after Snapshotting was skipped: the snapshot is taken
    in SwitchingOver before the call, not waited for until SwitchoverNotSafe fails the upgrade."""
    upgrade = switching(snapshot_identifier=None)

    outcome = decide_switching(upgrade, ready(snapshot=None), NOW, TIMING)

    assert (outcome.phase, outcome.reason) == (None, "SnapshotRequested")
    assert outcome.action == CreateSnapshot(snapshot_id(), CLUSTER_ID, OWN_TAGS)
    assert outcome.intent == {
        "snapshot_requested_at": STAMP,
        "snapshot_identifier": snapshot_id(),
        "snapshot_available_at": None,
    }


def test_turning_the_snapshot_off_before_the_call_takes_none_and_keeps_one_taken() -> None:
    off = {"switchover": {"snapshotBeforeSwitchover": False}}
    # In Snapshotting, before any snapshot was asked for: none is taken.
    outcome = decide_snapshot(with_spec(snapshotting(), **off), SwitchoverObservation(make_blue_green()), NOW, TIMING)
    assert (outcome.phase, outcome.reason, outcome.action) == (Phase.SWITCHING_OVER, "SnapshotTurnedOff", None)
    # One being taken is kept (never deleted because of this field), and not waited for.
    taking = with_spec(snapshotting(snapshot_requested_at=YOUNG, snapshot_identifier=snapshot_id()), **off)
    outcome = decide_snapshot(
        taking, SwitchoverObservation(make_blue_green(), snapshot=make_snapshot("creating")), NOW, TIMING
    )
    assert (outcome.phase, outcome.action) == (Phase.SWITCHING_OVER, None)
    assert f"snapshot {snapshot_id()} is kept" in outcome.message
    # In SwitchingOver, a stale one is not retaken.
    outcome = decide_switching(switching(off, snapshot_available_at=STALE), ready(), NOW, TIMING)
    assert outcome.action == Switchover(BG_ID, 300, attempt=1)
    assert outcome.intent["snapshot_before_switchover"] is False


def test_a_snapshot_setting_changed_after_the_switchover_call_is_ignored_with_a_warning() -> None:
    """Off when attempt 1 was sent, turned on before a person authorised attempt 2: attempt 2 is
    sent without a snapshot (one now could capture the new production), and a Warning says so."""
    upgrade = switching(
        {"switchover": {"attempt": 2, "snapshotBeforeSwitchover": True}},
        snapshot_identifier=None,
        switchover_requested_at=OLD,
        switchover_attempt=1,
        snapshot_before_switchover=False,
    )

    outcome = decide_switching(upgrade, ready(snapshot=None), NOW, TIMING)
    assert outcome.action == Switchover(BG_ID, 300, attempt=2)

    ignored = snapshot_setting_ignored(upgrade)
    assert ignored is not None and ignored.warning and ignored.reason == "SnapshotSettingIgnored"
    assert ignored.action is None and ignored.phase is None
    assert "never presented as the rollback point" in ignored.message
    assert snapshot_setting_ignored(_after(upgrade, ignored)) is None, "said once per value"
    # Before any call, a change is not ignored.
    assert snapshot_setting_ignored(switching({"switchover": {"snapshotBeforeSwitchover": False}})) is None


def test_a_hold_after_a_switchover_call_was_sent_never_returns_to_an_earlier_phase() -> None:
    """Attempt 2 authorised days after attempt 1: the snapshot taken before attempt 1 is stale;
    it is retaken in SwitchingOver (names prove blue is still production), and a gate that
    closed again holds in SwitchingOver."""
    after_call = {"switchover_requested_at": OLD, "switchover_attempt": 1, "snapshot_available_at": STALE}
    upgrade = switching({"switchover": {"attempt": 2}}, **after_call)

    outcome = decide_switching(upgrade, ready(), NOW, TIMING)
    assert (outcome.phase, outcome.reason) == (None, "SnapshotRetaken")

    held = switching({"switchover": {"attempt": 2, "mode": "Manual", "approved": False}}, **after_call)
    outcome = decide_switching(held, ready(), NOW, TIMING)
    assert (outcome.phase, outcome.reason, outcome.action) == (None, "AwaitingApproval", None)


# --- issue 18, item 4: the deployment deleted by someone else right after switchover ------------


@pytest.mark.parametrize(
    "deployment",
    [pytest.param(None, id="gone"), pytest.param(make_blue_green("DELETING"), id="deleting")],
)
@pytest.mark.parametrize(
    ("spec", "upcoming"),
    [
        pytest.param({}, Phase.REBOOTING_INSTANCES, id="reboot-after"),
        pytest.param({"rebootAfterSwitchover": False}, Phase.VERIFYING, id="no-reboot"),
    ],
)
def test_someone_deleting_the_deployment_right_after_switchover_is_not_a_failure(
    deployment: Any, spec: dict[str, Any], upcoming: Phase
) -> None:
    """Runbook step 9.1 done by hand in the console right after the switchover: names and
    versions prove it completed (production's name on green's resource id at the target,
    blue renamed `-old1`), so the upgrade goes on, saying with a Warning who deleted it."""
    upgrade = switching(spec, switchover_requested_at=ago(120), switchover_accepted_at=ago(119), switchover_attempt=1)
    names = {**SWITCHED_NAMES, "old1": make_cluster(f"{CLUSTER_ID}-old1")}

    outcome = decide_switching(upgrade, ready(deployment=deployment, **names), NOW, TIMING)

    assert (outcome.phase, outcome.reason, outcome.action) == (upcoming, "BlueGreenDeploymentDeletedElsewhere", None)
    assert outcome.warning
    assert "deleted by someone else" in outcome.message
    assert outcome.changes == {
        "old_cluster_identifier": f"{CLUSTER_ID}-old1",
        "switchover_completed_at": STAMP,
        "deployment_deleted_elsewhere_at": STAMP,
    }
