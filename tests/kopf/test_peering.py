"""Two operators with kopf's peering (`--peering`, as the chart runs them): the one of lower
priority stays paused while the other runs, and takes over an upgrade in flight when the other
stops. The Events say which operator did what (their reportingInstance)."""

from __future__ import annotations

from typing import Any

import kopf
from kopf_tier import Sim, Upgrades, calls_since, fleet_cluster, kopf_runner, standard_streams, wait_for
from kubernetes import client as k8s

from support.runbook import RUNBOOK_CALLS, RUNBOOK_PHASES

PEERING = "aurora-upgrade-operator"  # the chart's peering.name


def operator_settings(instance: str) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.posting.reporting_instance = instance  # what its Events say
    return settings


def reported_by(events: list[Any]) -> dict[str, str]:
    return {event.metadata.uid: event.reporting_instance for event in events}


def test_a_second_operator_takes_over_when_the_first_stops(
    operator_env: None, upgrades: Upgrades, sim: Sim, kube: k8s.ApiClient
) -> None:
    objects = k8s.CustomObjectsApi(kube)
    objects.create_namespaced_custom_object(
        "kopf.dev",
        "v1",
        upgrades.namespace,
        "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}},
    )

    def priorities() -> list[int]:
        peering = objects.get_namespaced_custom_object("kopf.dev", "v1", upgrades.namespace, "kopfpeerings", PEERING)
        return sorted(peer["priority"] for peer in (peering.get("status") or {}).values() if peer)

    calls_before = len(sim.calls())
    peering = ("--peering", PEERING)
    first = kopf_runner(upgrades.namespace, *peering, "--priority", "100", settings=operator_settings("first"))
    second = kopf_runner(upgrades.namespace, *peering, "--priority", "10", settings=operator_settings("second"))

    with standard_streams():
        first.__enter__()
        first_running = True
        try:
            wait_for("the first operator in the peering", lambda: priorities() == [100])
            with second:
                # The second sees the first, of higher priority, from its start: it stays paused.
                wait_for("both operators in the peering", lambda: priorities() == [10, 100])
                upgrades.apply("handover", fleet_cluster(5))
                upgrades.wait_status(
                    "handover", "past its first AWS call", lambda s: s.get("blueGreenDeploymentIdentifier") is not None
                )
                first_running = False
                first.__exit__(None, None, None)  # as a pod's termination: it leaves the peering
                before_handover = reported_by(upgrades.events("handover"))
                done = upgrades.wait_phase("handover", "Completed", timeout=120)
                after = reported_by(upgrades.events("handover"))
        finally:
            if first_running:
                first.__exit__(None, None, None)

    assert set(before_handover.values()) == {"first"}, before_handover
    assert "second" in {after[uid] for uid in after.keys() - before_handover.keys()}, after
    # One upgrade, as if one operator had made it: every phase once, every AWS change once.
    assert [entry["phase"] for entry in done["history"]] == RUNBOOK_PHASES, done["history"]
    assert calls_since(sim, calls_before) == RUNBOOK_CALLS
    assert first.exit_code == 0 and second.exit_code == 0
