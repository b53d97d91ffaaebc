"""What keeps the operator from touching AWS when it should not: dryRun, a spec the schema
cannot refuse, and a second upgrade of a cluster another one is upgrading."""

from __future__ import annotations

import json

from operator_fixtures import CLUSTER, RUNBOOK_CALLS, Stack, manifest


def test_dry_run_writes_the_plan_and_changes_nothing(stack: Stack) -> None:
    stack.start()
    stack.apply(manifest("dry", stack.namespace, dryRun=True))

    status = stack.wait_phase("dry", "Completed", timeout=60)
    assert status["reason"] == "DryRun", status
    plan = status.get("plan", [])
    assert len(plan) >= 5, plan
    text = "\n".join(plan)
    for step in ("CreateBlueGreenDeployment", "SwitchoverBlueGreenDeployment", "DeleteBlueGreenDeployment"):
        assert step in text, plan
    assert text.index("CreateBlueGreenDeployment") < text.index("SwitchoverBlueGreenDeployment"), plan
    assert status["sourceEngineVersion"] == "15.6"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Upgraded"] == "False", conditions  # nothing was upgraded

    calls = stack.rds_sim.calls()
    assert any(c["operation"] == "DescribeDBClusters" for c in calls), calls  # the prechecks ran
    assert stack.rds_sim.mutating_calls() == [], stack.diagnose()
    cluster = stack.rds_sim.rds().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert cluster["EngineVersion"] == "15.6"


def test_unknown_time_zone_fails_with_invalid_spec_before_any_aws_call(stack: Stack) -> None:
    stack.start()
    window = {"days": ["Sat"], "start": "01:00", "end": "03:00", "timeZone": "Mars/Olympus"}
    # The schema cannot know IANA zones: the API server accepts it ...
    stack.apply(manifest("mars", stack.namespace, switchover={"mode": "Automatic", "window": window}))

    # ... and the operator refuses it.
    status = stack.wait_phase("mars", "Failed", timeout=30)
    assert status["reason"] == "InvalidSpec", status
    assert "Mars/Olympus" in status["message"] and "timeZone" in status["message"], status
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Stalled"] == "True" and conditions["Ready"] == "False", conditions
    stack.wait_for(
        "a Warning Event InvalidSpec",
        lambda: any(e["type"] == "Warning" and e["reason"] == "InvalidSpec" for e in stack.events("mars")),
        timeout=20,
    )
    row = stack.k("get", "aup", "mars", "--no-headers", check=True).stdout.split()
    assert row[3:5] == ["Failed", "False"] or row[4:6] == ["Failed", "False"], row
    assert stack.rds_sim.calls() == [], stack.diagnose()


def test_second_upgrade_of_a_busy_cluster_waits(stack: Stack) -> None:
    stack.start()
    # The first parks before switchover, so it holds the cluster as long as this test needs.
    stack.apply(manifest("first", stack.namespace, switchover={"mode": "Manual"}))
    stack.wait_phase("first", ("Prechecking", "CreatingBlueGreen", "ProvisioningGreen", "AwaitingSwitchover"))
    stack.apply(manifest("second", stack.namespace, blueGreenDeploymentName="second-attempt"))

    def busy() -> dict[str, str] | None:
        status = stack.status("second")
        return status if status.get("reason") == "ClusterBusy" else None

    status = stack.wait_for("the second upgrade to report ClusterBusy", busy, timeout=30)
    assert status["phase"] == "Pending", status
    assert f"{stack.namespace}/first" in status["message"], status

    # It stays Pending for as long as the first is active.
    stack.wait_phase("first", "AwaitingSwitchover", timeout=60)
    looked = len(stack.rds_sim.calls())
    stack.wait_for("the operator to keep polling", lambda: len(stack.rds_sim.calls()) >= looked + 10)
    status = stack.status("second")
    assert (status["phase"], status["reason"]) == ("Pending", "ClusterBusy"), status
    assert stack.rds_sim.mutating_calls().count("CreateBlueGreenDeployment") == 1, stack.diagnose()

    # Once the first completes, the second leaves Pending: the cluster is at 15.10 now, so its
    # precheck refuses it, before any change.
    approve = json.dumps({"spec": {"switchover": {"approved": True}}})
    stack.k("patch", "aup", "first", "--type", "merge", "-p", approve, check=True)
    stack.wait_phase("first", "Completed", timeout=90)
    second = stack.wait_phase("second", "Failed", timeout=30)
    assert second["reason"] == "SourceVersionMismatch", second
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
