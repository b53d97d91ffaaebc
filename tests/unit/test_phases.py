"""phases: which phases a spec passes through, and in which order."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_upgrade.phases import Phase, following, happy_path
from support.runbook import RUNBOOK_PHASES

from .builders import make_spec

P = Phase
WINDOW = {"start": "22:00", "end": "02:00", "timeZone": "Asia/Tokyo"}
NO_CLEANUP = {"deleteBlueGreenDeployment": False, "deleteOldCluster": False}

FULL = [Phase(phase) for phase in RUNBOOK_PHASES]


def _minus(*skipped: Phase) -> list[Phase]:
    return [p for p in FULL if p not in skipped]


def _plus_gate(path: list[Phase]) -> list[Phase]:
    at = path.index(P.PROVISIONING_GREEN) + (2 if P.REBOOTING_GREEN in path else 1)
    return [*path[:at], P.AWAITING_SWITCHOVER, *path[at:]]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, FULL, id="runbook-automatic"),
        pytest.param({"switchover": {"mode": "Manual"}}, _plus_gate(FULL), id="manual-gate"),
        pytest.param({"switchover": {"window": WINDOW}}, _plus_gate(FULL), id="window-gate"),
        pytest.param({"switchover": {"snapshotBeforeSwitchover": False}}, _minus(P.SNAPSHOTTING), id="snapshot-off"),
        pytest.param(
            {"rebootGreenBeforeSwitchover": False, "rebootAfterSwitchover": False},
            _minus(P.REBOOTING_GREEN, P.REBOOTING_INSTANCES),
            id="reboots-off",
        ),
        pytest.param({"rebootGreenBeforeSwitchover": False}, _minus(P.REBOOTING_GREEN), id="green-reboot-off"),
        pytest.param({"cleanup": NO_CLEANUP}, _minus(P.CLEANING_UP), id="cleanup-off"),
        pytest.param(
            {"cleanup": {"deleteBlueGreenDeployment": False, "deleteOldCluster": True}},
            FULL,
            id="only-old-cluster-cleanup",
        ),
        pytest.param(
            {
                "switchover": {"mode": "Manual", "snapshotBeforeSwitchover": False},
                "rebootGreenBeforeSwitchover": False,
                "rebootAfterSwitchover": False,
                "cleanup": NO_CLEANUP,
            },
            [
                P.PENDING,
                P.PRECHECKING,
                P.CREATING_BLUE_GREEN,
                P.PROVISIONING_GREEN,
                P.AWAITING_SWITCHOVER,
                P.SWITCHING_OVER,
                P.VERIFYING,
                P.COMPLETED,
            ],
            id="minimal-manual",
        ),
    ],
)
def test_happy_path_per_spec(overrides: dict[str, Any], expected: list[Phase]) -> None:
    assert happy_path(make_spec(**overrides)) == expected


def test_happy_path_with_source_reboot_inserts_rebooting_source_after_prechecks() -> None:
    path = happy_path(make_spec(), reboot_source=True)

    assert path[:4] == [P.PENDING, P.PRECHECKING, P.REBOOTING_SOURCE, P.CREATING_BLUE_GREEN]
    assert path[-1] == P.COMPLETED


@pytest.mark.parametrize(
    ("phase", "overrides", "expected"),
    [
        pytest.param(P.PENDING, {}, P.PRECHECKING, id="pending"),
        pytest.param(P.PRECHECKING, {}, P.CREATING_BLUE_GREEN, id="precheck"),
        pytest.param(P.REBOOTING_SOURCE, {}, P.CREATING_BLUE_GREEN, id="source-reboot-resumes-after-precheck"),
        pytest.param(P.PROVISIONING_GREEN, {}, P.REBOOTING_GREEN, id="provisioned"),
        pytest.param(
            P.PROVISIONING_GREEN, {"rebootGreenBeforeSwitchover": False}, P.SNAPSHOTTING, id="no-green-reboot"
        ),
        pytest.param(
            P.PROVISIONING_GREEN,
            {"rebootGreenBeforeSwitchover": False, "switchover": {"mode": "Manual"}},
            P.AWAITING_SWITCHOVER,
            id="no-green-reboot-manual",
        ),
        pytest.param(P.REBOOTING_GREEN, {}, P.SNAPSHOTTING, id="green-rebooted-automatic"),
        pytest.param(P.REBOOTING_GREEN, {"switchover": {"mode": "Manual"}}, P.AWAITING_SWITCHOVER, id="green-manual"),
        pytest.param(
            P.REBOOTING_GREEN, {"switchover": {"snapshotBeforeSwitchover": False}}, P.SWITCHING_OVER, id="no-snapshot"
        ),
        pytest.param(P.AWAITING_SWITCHOVER, {"switchover": {"mode": "Manual"}}, P.SNAPSHOTTING, id="approved"),
        pytest.param(P.SNAPSHOTTING, {}, P.SWITCHING_OVER, id="snapshot-taken"),
        pytest.param(P.SWITCHING_OVER, {}, P.REBOOTING_INSTANCES, id="switched"),
        pytest.param(P.SWITCHING_OVER, {"rebootAfterSwitchover": False}, P.VERIFYING, id="switched-no-reboot"),
        pytest.param(P.REBOOTING_INSTANCES, {}, P.VERIFYING, id="production-rebooted"),
        pytest.param(P.VERIFYING, {}, P.CLEANING_UP, id="verified"),
        pytest.param(P.VERIFYING, {"cleanup": NO_CLEANUP}, P.COMPLETED, id="verified-no-cleanup"),
        pytest.param(P.CLEANING_UP, {}, P.COMPLETED, id="cleaned-up"),
    ],
)
def test_following(phase: Phase, overrides: dict[str, Any], expected: Phase) -> None:
    assert following(phase, make_spec(**overrides)) == expected
