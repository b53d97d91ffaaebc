"""The operator process killed with SIGKILL mid-upgrade and started again finishes the
upgrade from its status, without repeating a mutating call: exactly one
CreateBlueGreenDeployment, one snapshot, one SwitchoverBlueGreenDeployment."""

from __future__ import annotations

from typing import Any

import pytest
from operator_fixtures import RUNBOOK_CALLS, Stack, manifest


def deployment_status(stack: Stack) -> str | None:
    found = stack.rds_sim.rds().describe_blue_green_deployments()["BlueGreenDeployments"]
    return found[0]["Status"] if found else None


def finish_after_restart(stack: Stack, name: str) -> dict[str, Any]:
    stack.start_operator()
    status = stack.wait_phase(name, "Completed", timeout=120)
    calls = stack.rds_sim.mutating_calls()
    for once in ("CreateBlueGreenDeployment", "CreateDBClusterSnapshot", "SwitchoverBlueGreenDeployment"):
        assert calls.count(once) == 1, f"{once} was called {calls.count(once)} times: {calls}\n{stack.diagnose()}"
    assert calls == RUNBOOK_CALLS, stack.diagnose()
    assert status["sourceEngineVersion"] == "15.6"
    cluster = stack.rds_sim.rds().describe_db_clusters(DBClusterIdentifier="aurora-bg-aurora-cluster")
    assert cluster["DBClusters"][0]["EngineVersion"] == "15.10"
    return status


def test_killed_while_green_is_provisioning(stack: Stack) -> None:
    stack.start(sim_args=["--provisioning-seconds", "15"])
    stack.apply(manifest("provisioning", stack.namespace))
    stack.wait_phase("provisioning", "ProvisioningGreen", timeout=60)
    # Right after creation AWS may not list the deployment yet (eventual consistency).
    stack.wait_for("AWS to list the deployment PROVISIONING", lambda: deployment_status(stack) == "PROVISIONING")

    stack.kill_operator()
    assert deployment_status(stack) == "PROVISIONING", "killed too late to be mid-provisioning"
    assert stack.status("provisioning")["phase"] == "ProvisioningGreen"

    finish_after_restart(stack, "provisioning")


def test_killed_while_switching_over(stack: Stack) -> None:
    stack.start(sim_args=["--switchover-seconds", "15"])
    stack.apply(manifest("switching", stack.namespace))

    def mid_switchover() -> bool:
        phase = stack.status("switching").get("phase")
        return phase == "SwitchingOver" and deployment_status(stack) == "SWITCHOVER_IN_PROGRESS"

    stack.wait_for("SwitchingOver with the switchover in progress in AWS", mid_switchover, timeout=60)
    stack.kill_operator()
    assert deployment_status(stack) == "SWITCHOVER_IN_PROGRESS", "killed too late to be mid-switchover"

    finish_after_restart(stack, "switching")


@pytest.mark.parametrize(
    ("operation", "phase"),
    [
        ("CreateBlueGreenDeployment", "CreatingBlueGreen"),
        ("RebootDBInstance", "RebootingGreen"),
        ("CreateDBClusterSnapshot", "Snapshotting"),
        ("SwitchoverBlueGreenDeployment", "SwitchingOver"),
    ],
)
def test_killed_after_a_call_took_effect_but_before_its_answer(stack: Stack, operation: str, phase: str) -> None:
    """The worst crash window: AWS carried the call out, the operator never heard back."""
    stack.start()
    stack.rds_sim.hold(operation)
    stack.apply(manifest("held", stack.namespace))
    stack.wait_for(f"the response to {operation} to be held", lambda: operation in stack.rds_sim.held(), timeout=60)
    assert stack.status("held")["phase"] == phase, stack.diagnose()

    stack.kill_operator()
    stack.rds_sim.release()
    assert stack.rds_sim.mutating_calls().count(operation) == 1

    status = finish_after_restart(stack, "held")
    assert stack.operator_starts == 2
    history = [entry["phase"] for entry in status["history"]]
    assert history.count(phase) == 1, history
