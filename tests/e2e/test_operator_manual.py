"""A Manual switchover waits for a person: the upgrade parks in AwaitingSwitchover with the
green endpoint to validate against, and AWS sees no switchover until `kubectl patch` approves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from operator_fixtures import RUNBOOK_CALLS, Stack, manifest

APPROVE = json.dumps({"spec": {"switchover": {"approved": True}}})


def test_manual_switchover_waits_for_approval(stack: Stack) -> None:
    stack.start()
    stack.apply(manifest("manual", stack.namespace, switchover={"mode": "Manual"}))

    stack.wait_phase("manual", "AwaitingSwitchover", timeout=60)

    # The poll that enters AwaitingSwitchover records why it got there (InstancesRebooted); the
    # next one says what it waits for.
    def awaiting_approval() -> dict[str, Any] | None:
        status = stack.status("manual")
        return status if status.get("reason") == "AwaitingApproval" else None

    waiting = stack.wait_for("the upgrade to report AwaitingApproval", awaiting_approval, timeout=20)
    assert waiting["phase"] == "AwaitingSwitchover", waiting
    endpoint = waiting.get("greenClusterEndpoint")
    assert endpoint and "green" in endpoint, waiting
    assert waiting["greenClusterIdentifier"] in endpoint, waiting
    assert "approved" in waiting["message"], waiting

    # The operator keeps looking (describe calls go on) and still does not switch over.
    def looks() -> int:
        return sum(1 for c in stack.rds_sim.calls() if c["operation"] == "DescribeBlueGreenDeployments")

    seen = looks()
    stack.wait_for("the operator to look at the waiting deployment five more times", lambda: looks() >= seen + 5)
    assert stack.status("manual")["phase"] == "AwaitingSwitchover", stack.diagnose()
    calls = stack.rds_sim.mutating_calls()
    assert "SwitchoverBlueGreenDeployment" not in calls, calls
    assert "CreateDBClusterSnapshot" not in calls, calls  # the snapshot is taken right before switchover
    assert calls == RUNBOOK_CALLS[:3], calls

    # An Event announces the endpoint to validate against (runbook step 5).
    stack.wait_for(
        "an Event naming the green endpoint",
        lambda: any(endpoint in e.get("message", "") for e in stack.events("manual")),
        timeout=20,
    )
    # Ready is False while it waits; kubectl shows the phase.
    conditions = {c["type"]: c["status"] for c in stack.status("manual")["conditions"]}
    assert conditions["Ready"] == "False" and conditions["Reconciling"] == "True", conditions
    row = stack.k("get", "aup", "manual", "--no-headers", check=True).stdout.split()
    assert row[4:6] == ["AwaitingSwitchover", "False"], row

    approved_at = datetime.now(UTC)
    patched = stack.k("patch", "aup", "manual", "--type", "merge", "-p", APPROVE)
    assert patched.returncode == 0, patched.stderr
    assert "auroraupgrade.dbupgrade.dev/manual patched" in patched.stdout

    done = stack.wait_phase("manual", "Completed", timeout=90)
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    phases = [entry["phase"] for entry in done["history"]]
    assert phases[phases.index("AwaitingSwitchover") + 1 : phases.index("SwitchingOver") + 1] == [
        "Snapshotting",
        "SwitchingOver",
    ], phases
    # The switchover call came after the approval.
    switchover = next(c for c in stack.rds_sim.calls() if c["operation"] == "SwitchoverBlueGreenDeployment")
    assert datetime.fromisoformat(switchover["time"]) > approved_at, (switchover, approved_at)
    assert switchover["params"].get("SwitchoverTimeout") == "300", switchover
