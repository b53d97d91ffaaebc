"""`kubectl delete aup` and deletionPolicy, through the operator's finalizer: before switchover
Abort removes the blue/green deployment with its green cluster and Orphan leaves AWS as it
is; after switchover deletion never touches AWS."""

from __future__ import annotations

from typing import Any

from operator_fixtures import CLUSTER, RUNBOOK_CALLS, Stack, manifest

FINALIZER = "dbupgrade.dev/finalizer"


def clusters(stack: Stack) -> dict[str, dict[str, Any]]:
    return {c["DBClusterIdentifier"]: c for c in stack.rds_sim.rds().describe_db_clusters()["DBClusters"]}


def deployments(stack: Stack) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = stack.rds_sim.rds().describe_blue_green_deployments()["BlueGreenDeployments"]
    return result


def awaiting_approval(stack: Stack, name: str, policy: str, scenario: str = "runbook") -> dict[str, Any]:
    """An upgrade parked before switchover: Manual mode, not approved, green available."""
    stack.start(["--scenario", scenario])
    stack.apply(manifest(name, stack.namespace, switchover={"mode": "Manual"}, deletionPolicy=policy))
    status = stack.wait_phase(name, "AwaitingSwitchover", timeout=60)
    assert FINALIZER in stack.get(name)["metadata"].get("finalizers", []), stack.diagnose()
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS[:3], stack.diagnose()
    return status


def delete(stack: Stack, name: str) -> None:
    """`kubectl delete` waits until the finalizer is gone and the object with it; 30 s leaves
    room for AWS's delete (seconds in the simulator) but not for a finalizer that hangs."""
    deleted = stack.k("delete", "aup", name, "--timeout=30s")
    assert deleted.returncode == 0, f"kubectl delete failed: {deleted.stderr}\n{stack.diagnose()}"
    assert f'auroraupgrade.dbupgrade.dev "{name}" deleted' in deleted.stdout
    gone = stack.k("get", "aup", name)
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout


def test_abort_deletes_the_deployment_and_its_green_cluster(stack: Stack) -> None:
    status = awaiting_approval(stack, "abort", "Abort")
    bg_id, green = status["blueGreenDeploymentIdentifier"], status["greenClusterIdentifier"]
    assert green in clusters(stack), stack.diagnose()

    delete(stack, "abort")

    calls = stack.rds_sim.calls()
    deletes = [c for c in calls if c["operation"] == "DeleteBlueGreenDeployment"]
    assert len(deletes) == 1, deletes
    assert deletes[0]["params"]["BlueGreenDeploymentIdentifier"] == bg_id
    assert deletes[0]["params"]["DeleteTarget"] == "true", deletes[0]
    assert stack.rds_sim.mutating_calls() == [*RUNBOOK_CALLS[:3], "DeleteBlueGreenDeployment"]
    assert deployments(stack) == [], stack.diagnose()
    # The green cluster goes with it (AWS deletes its instances first), blue is untouched.
    stack.wait_for("the green cluster to be deleted", lambda: green not in clusters(stack), timeout=30)
    remaining = clusters(stack)
    assert set(remaining) == {CLUSTER}, remaining
    assert (remaining[CLUSTER]["EngineVersion"], remaining[CLUSTER]["Status"]) == ("15.6", "available")
    instances = stack.rds_sim.rds().describe_db_instances()["DBInstances"]
    assert sorted(i["DBInstanceIdentifier"] for i in instances) == [
        "aurora-bg-aurora-instance-1",
        "aurora-bg-aurora-instance-2",
    ]
    # kubectl still shows why: the Events outlive the object.
    events = stack.events("abort")
    reasons = {e["reason"] for e in events}
    assert "DeleteBlueGreenDeployment" in reasons, reasons
    # Waiting for AWS is progress, not an error: no kopf retry noise among the Events.
    assert {e["type"] for e in events} <= {"Normal", "Warning"}, [(e["type"], e["message"]) for e in events]
    assert not [e for e in events if "failed temporarily" in e.get("message", "")], events
    errors = [line for line in stack.operator_log.read_text().splitlines() if "[ERROR" in line]
    assert errors == [], errors


def test_orphan_leaves_the_deployment_in_aws(stack: Stack) -> None:
    status = awaiting_approval(stack, "orphan", "Orphan")
    before = stack.rds_sim.mutating_calls()

    delete(stack, "orphan")

    assert stack.rds_sim.mutating_calls() == before, stack.diagnose()
    left = deployments(stack)
    assert [(d["BlueGreenDeploymentIdentifier"], d["Status"]) for d in left] == [
        (status["blueGreenDeploymentIdentifier"], "AVAILABLE")
    ], left
    assert status["greenClusterIdentifier"] in clusters(stack)
    # kopf posts Events in the background, so the last one may trail the object's removal.
    stack.wait_for(
        "the Orphaned event", lambda: "Orphaned" in {e["reason"] for e in stack.events("orphan")}, timeout=20
    )


def test_delete_after_completion_leaves_aws_alone(stack: Stack) -> None:
    stack.start()
    stack.apply(manifest("done", stack.namespace))
    stack.wait_phase("done", "Completed", timeout=90)
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    before = clusters(stack)
    # Deleting it has nothing left to do, so kopf takes the finalizer off (controller._deletion_has_work).
    stack.wait_for(
        "the finalizer to come off the Completed upgrade",
        lambda: FINALIZER not in stack.get("done")["metadata"].get("finalizers", []),
        timeout=20,
    )

    delete(stack, "done")

    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    after = clusters(stack)
    assert set(after) == {CLUSTER, f"{CLUSTER}-old1"}, after
    assert {k: (v["EngineVersion"], v["Status"]) for k, v in after.items()} == {
        k: (v["EngineVersion"], v["Status"]) for k, v in before.items()
    }


def test_abort_must_finish_when_green_has_deletion_protection(stack: Stack) -> None:
    """Blue has deletion protection, so green copied it and AWS refuses DeleteTarget: the
    finalizer lifts it on green only, deletes, and lets go once green is really gone."""
    status = awaiting_approval(stack, "protected", "Abort", scenario="runbook-deletion-protection")
    green = status["greenClusterIdentifier"]
    assert clusters(stack)[green]["DeletionProtection"] is True, stack.diagnose()

    delete(stack, "protected")

    modified = [c for c in stack.rds_sim.calls() if c["operation"] == "ModifyDBCluster"]
    assert [c["params"]["DBClusterIdentifier"] for c in modified] == [green], modified
    assert stack.rds_sim.mutating_calls() == [*RUNBOOK_CALLS[:3], "ModifyDBCluster", "DeleteBlueGreenDeployment"]
    remaining = clusters(stack)
    assert set(remaining) == {CLUSTER}, remaining
    assert remaining[CLUSTER]["DeletionProtection"] is True, "blue keeps its protection"
    assert deployments(stack) == []
