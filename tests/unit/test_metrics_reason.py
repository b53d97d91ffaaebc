"""aurora_upgrade_reason: one series per upgrade, carrying its latest status reason."""

from __future__ import annotations

from prometheus_client import REGISTRY

from aurora_upgrade import metrics
from aurora_upgrade.phases import Phase


def reasons(namespace: str, name: str) -> dict[str, float]:
    return {
        sample.labels["reason"]: sample.value
        for family in REGISTRY.collect()
        if family.name == "aurora_upgrade_reason"
        for sample in family.samples
        if (sample.labels["namespace"], sample.labels["name"]) == (namespace, name)
    }


def test_a_new_reason_replaces_the_previous_one() -> None:
    metrics.set_reason("team-a", "gated", "GreenAvailable")
    metrics.set_reason("team-a", "gated", "AwaitingApproval")
    metrics.set_reason("team-a", "gated", "AwaitingApproval")
    metrics.set_reason("team-b", "gated", "OutsideMaintenanceWindow")
    assert reasons("team-a", "gated") == {"AwaitingApproval": 1.0}
    assert reasons("team-b", "gated") == {"OutsideMaintenanceWindow": 1.0}
    metrics.set_reason("team-b", "gated", None)  # a status without a reason
    assert reasons("team-b", "gated") == {}


def test_forget_drops_the_reason_with_the_phase() -> None:
    metrics.set_phase("team-a", "gone", Phase.AWAITING_SWITCHOVER)
    metrics.set_reason("team-a", "gone", "AwaitingApproval")
    metrics.forget("team-a", "gone")
    assert reasons("team-a", "gone") == {}
    assert (
        REGISTRY.get_sample_value(
            "aurora_upgrade_phase", {"namespace": "team-a", "name": "gone", "phase": "AwaitingSwitchover"}
        )
        is None
    )
