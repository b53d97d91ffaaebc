"""Reliability of concurrent upgrades and of two operators: two AuroraUpgrades on one cluster
(the second waits ClusterBusy, then runs), ten on ten clusters at once, and two operators with
kopf peering where the active one is SIGKILLed mid-upgrade and the standby completes it."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from operator_fixtures import CLUSTER, POLL_SECONDS, Runner, SimProcess, Stack, manifest

from aurora_upgrade.sim import scenarios
from aurora_upgrade_dev.processes import stop_process
from aurora_upgrade_dev.stack import start_operator
from support.reliability import Authorised, Row, duplicates, faults_in, record
from support.runbook import REPO

pytestmark = pytest.mark.reliability

PEERING_CRDS = REPO / "charts" / "aurora-upgrade-operator" / "crds" / "kopf-peering.yaml"
FLEET = 10
PG16 = {
    "targetEngineVersion": "16.6",
    "expectedSourceEngineVersion": "15.10",
    "allowMajorVersionUpgrade": True,
    "targetDBClusterParameterGroupName": scenarios.PG16_CLUSTER_PARAMETER_GROUP,
    "targetDBParameterGroupName": scenarios.PG16_DB_PARAMETER_GROUP,
}


def split_at_create(calls: list[dict[str, Any]], deployment_name: str) -> tuple[list[Any], list[Any]]:
    """The record before and from the CreateBlueGreenDeployment of `deployment_name`."""
    for index, call in enumerate(calls):
        if call["operation"] == "CreateBlueGreenDeployment" and call["params"].get("BlueGreenDeploymentName") == (
            deployment_name
        ):
            return calls[:index], calls[index:]
    raise AssertionError(f"no CreateBlueGreenDeployment of {deployment_name}")


def test_second_upgrade_of_one_cluster_waits_cluster_busy_then_runs(stack: Stack) -> None:
    stack.start(sim_args=["--seed", "11", "--throttle-rate", "0.1"])
    stack.apply(manifest("first", stack.namespace))
    stack.wait_phase("first", ("Prechecking", "CreatingBlueGreen", "ProvisioningGreen"))
    # 15.10 -> 16.6 once the first has brought the cluster to 15.10.
    stack.apply(manifest("second", stack.namespace, **PG16))
    busy = stack.wait_for(
        "the second to wait ClusterBusy", lambda: stack.status("second").get("reason") == "ClusterBusy", timeout=30
    )
    assert busy
    assert stack.status("second")["phase"] == "Pending"
    stack.wait_phase("first", "Completed", timeout=180)
    second = stack.wait_phase("second", "Completed", timeout=240)
    assert second["sourceEngineVersion"] == "15.10", second
    cluster = stack.rds_sim.rds().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert cluster["EngineVersion"] == "16.6"
    calls = stack.rds_sim.calls()
    first_calls, second_calls = split_at_create(calls, "second")
    extra = 0
    for part in (first_calls, second_calls):
        n, problems = duplicates(part)
        assert not problems, f"{problems}\n{stack.diagnose()}"
        extra += n
    record(
        Row(
            "two AuroraUpgrades on one cluster: the second waits ClusterBusy, then runs",
            runs=1, faults_injected=faults_in(calls), upgrades_completed=2, duplicate_mutations=extra,
            notes="10 % throttling; 15.6 -> 15.10, then 15.10 -> 16.6",
        )
    )  # fmt: skip


def fleet_scenario(path: Path) -> Path:
    data = scenarios.runbook()
    template = data["db_clusters"][0]
    clusters = []
    for i in range(FLEET):
        cluster = copy.deepcopy(template)
        cluster["identifier"] = f"fleet-{i}"
        cluster["tags"] = {"Name": f"fleet-{i}"}
        for n, instance in enumerate(cluster["instances"], start=1):
            instance["identifier"] = f"fleet-{i}-instance-{n}"
        clusters.append(cluster)
    data["db_clusters"] = clusters
    path.write_text(yaml.safe_dump(data))
    return path


def test_ten_upgrades_of_ten_clusters_in_parallel(stack: Stack, tmp_path: Path) -> None:
    scenario = fleet_scenario(tmp_path / "fleet.yaml")
    stack.start(
        sim_args=["--scenario", str(scenario), "--seed", "12", "--throttle-rate", "0.2", "--error-rate", "0.05"]
    )
    for i in range(FLEET):
        stack.apply(manifest(f"fleet-{i}", stack.namespace, clusterIdentifier=f"fleet-{i}"))
    began = time.monotonic()
    authorised = 1
    for i in range(FLEET):
        status, asked = stack.wait_completed(f"fleet-{i}", timeout=600)
        assert status["reason"] == "Completed", status
        authorised = max(authorised, asked)
    took = time.monotonic() - began
    rds = stack.rds_sim.rds()
    versions = {c["DBClusterIdentifier"]: c["EngineVersion"] for c in rds.describe_db_clusters()["DBClusters"]}
    assert all(versions[f"fleet-{i}"] == "15.10" for i in range(FLEET)), versions
    calls = stack.rds_sim.calls()
    n, problems = duplicates(calls, upgrades=FLEET, authorised=Authorised(switchover_attempts=authorised))
    assert not problems, f"{problems}\n{stack.diagnose()}"
    record(
        Row(
            "ten AuroraUpgrades of ten clusters at once, 20 % throttling, 5 % 500s",
            runs=1, faults_injected=faults_in(calls), upgrades_completed=FLEET, duplicate_mutations=n,
            notes=f"all ten Completed in {took:.0f} s",
        )
    )  # fmt: skip


def test_two_operators_with_peering_the_active_one_killed_mid_upgrade(
    stack: Stack, kubectl: Runner, tmp_path: Path
) -> None:
    """kopf's peering: the operator with the higher priority acts, the other stays paused; when
    the active one is SIGKILLed its keep-alive expires (kopf's peering lifetime, 60 s, from its
    last keep-alive) and the standby resumes and completes the upgrade, each once-only call
    having taken effect once."""
    kubectl("apply", "-f", str(PEERING_CRDS), check=True)
    kubectl(
        "wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=60s", check=True
    )  # fmt: skip
    peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "aurora-upgrade-operator"}}
    stack.apply(json.dumps(peering))
    faults = ["--seed", "13", "--throttle-rate", "0.2", "--error-rate", "0.05"]
    stack.sim = SimProcess(tmp_path / "sim.log", ["--provisioning-seconds", "8", *faults]).start()

    def operator(priority: int, log: Path) -> Any:
        assert stack.sim is not None
        args = ["--namespace", stack.namespace, "--peering=aurora-upgrade-operator", f"--priority={priority}"]
        return start_operator(stack.plane.kubeconfig, stack.sim.endpoint_url, log, POLL_SECONDS, args=args)

    active_log, standby_log = tmp_path / "active.log", tmp_path / "standby.log"
    active = operator(200, active_log)
    standby = None
    try:
        stack.wait_for("the active operator's keep-alive", lambda: "priority" in peering_status(stack), timeout=60)
        standby = operator(100, standby_log)
        # kopf starts a peered operator paused; it resumes only when no peer of a higher priority
        # is alive, so the standby's log has no "Resuming" while the active one runs.
        stack.wait_for(
            "the standby to start",
            lambda: "Initial authentication has finished" in standby_log.read_text(),
            timeout=60,
        )
        stack.apply(manifest("peered", stack.namespace))
        stack.wait_phase("peered", "ProvisioningGreen", timeout=60)
        before_kill = standby_log.read_text()
        assert "Resuming operations" not in before_kill, before_kill[-3000:]
        assert f"[{stack.namespace}/peered]" not in before_kill, "the paused standby handled the upgrade"
        stop_process(active, 9)  # SIGKILL: no goodbye in the peering object
        killed_at = time.monotonic()
        status, authorised = stack.wait_completed("peered", timeout=240)
        took_over = time.monotonic() - killed_at
    finally:
        stop_process(active)
        if standby is not None:
            stop_process(standby)
    assert status["reason"] == "Completed"
    standby_text = standby_log.read_text()
    assert "Resuming operations after the pause" in standby_text, standby_text[-3000:]
    calls = stack.rds_sim.calls()
    n, problems = duplicates(calls, authorised=Authorised(switchover_attempts=authorised))
    assert not problems, f"{problems}\n{active_log.read_text()[-3000:]}\n{standby_text[-3000:]}"
    record(
        Row(
            "two operators with kopf peering, the active one SIGKILLed mid-upgrade",
            runs=1, faults_injected=faults_in(calls) + 1, upgrades_completed=1, duplicate_mutations=n,
            notes=f"the standby resumed and completed it {took_over:.0f} s after the kill",
        )
    )  # fmt: skip


def peering_status(stack: Stack) -> str:
    found = stack.k("get", "kopfpeering", "aurora-upgrade-operator", "-o", "json")
    return json.dumps(json.loads(found.stdout).get("status", {})) if found.returncode == 0 else ""
