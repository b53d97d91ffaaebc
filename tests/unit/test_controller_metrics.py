"""The phase and reason series follow what kopf lists and watches (controller.spec_changed):
every upgrade exports them, finished ones too, and a deleted upgrade's series do not come back
from the events of its deletion, which carry its last status."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import kopf
from prometheus_client import REGISTRY

from aurora_upgrade import controller, metrics
from aurora_upgrade.config import Timing
from aurora_upgrade.phases import Phase

# What the startup handler leaves in kopf's memo; these handlers touch no API server.
MEMO = kopf.Memo(controller=controller.Controller(timing=Timing(), api=None, looks=None, feed_reads=None))


def body(phase: str, reason: str, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "u1", "namespace": "ns", "generation": 1, "uid": "uid-1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": meta, "spec": {}, "status": {"phase": phase, "reason": reason, "observedGeneration": 1}}


def phase_of(name: str) -> dict[str, float]:
    return {
        phase.value: value
        for phase in Phase
        if (
            value := REGISTRY.get_sample_value(
                "aurora_upgrade_phase", {"namespace": "ns", "name": name, "phase": phase.value}
            )
        )
        is not None
    }


def reason_of(name: str, reason: str) -> float | None:
    return REGISTRY.get_sample_value("aurora_upgrade_reason", {"namespace": "ns", "name": name, "reason": reason})


def test_a_finished_upgrade_exports_its_phase_and_reason_from_its_watch_event() -> None:
    asyncio.run(
        controller.spec_changed(body("Failed", "SwitchoverFailed"), namespace="ns", name="u1", memo=MEMO, type=None)
    )

    assert phase_of("u1")["Failed"] == 1 and phase_of("u1")["Completed"] == 0
    assert reason_of("u1", "SwitchoverFailed") == 1
    metrics.forget("ns", "u1")


def test_a_deleted_upgrades_series_do_not_come_back() -> None:
    asyncio.run(
        controller.spec_changed(
            body("Failed", "SwitchoverFailed"), namespace="ns", name="u1", memo=MEMO, type="MODIFIED"
        )
    )
    metrics.forget("ns", "u1")  # what the finalizer does last

    # The finalizer's removal, then the deletion itself, both with the last status.
    asyncio.run(
        controller.spec_changed(
            body("Failed", "Deleted", deleting=True), namespace="ns", name="u1", memo=MEMO, type="MODIFIED"
        )
    )
    assert phase_of("u1") == {} and reason_of("u1", "Deleted") is None
    asyncio.run(
        controller.spec_changed(
            body("Failed", "Deleted", deleting=True), namespace="ns", name="u1", memo=MEMO, type="DELETED"
        )
    )
    assert phase_of("u1") == {} and reason_of("u1", "Deleted") is None


def test_a_deletion_without_the_finalizer_still_drops_the_series() -> None:
    asyncio.run(
        controller.spec_changed(body("Completed", "Completed"), namespace="ns", name="u1", memo=MEMO, type=None)
    )
    assert phase_of("u1")["Completed"] == 1

    asyncio.run(
        controller.spec_changed(body("Completed", "Completed"), namespace="ns", name="u1", memo=MEMO, type="DELETED")
    )

    assert phase_of("u1") == {} and reason_of("u1", "Completed") is None


def test_the_handlers_of_every_watch_event_run_in_the_event_loop() -> None:
    """kopf runs sync handlers in the executor the looks run in: there, a fleet's watch events
    queued behind the looks with their bodies, and an asyncio.Event was set off its loop."""
    assert inspect.iscoroutinefunction(controller.spec_changed)
    assert inspect.iscoroutinefunction(controller.upgrades_by_cluster)
