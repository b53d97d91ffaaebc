"""The simulator's injected faults (aurora-upgrade sim --seed --throttle-rate --error-rate
--lost-rate --slow-rate --deny --fault), seen through boto3 as the operator sees AWS."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from aurora_upgrade.sim import SimServer
from aurora_upgrade.sim.config import FaultConfig
from support.runbook import CLUSTER, REGION
from support.sim import QUICK


def client(server: SimServer) -> Any:
    """No botocore retries: each call is one request, so the record and the client agree."""
    return boto3.client(
        "rds",
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )


def started(faults: FaultConfig, scenario: str = "runbook") -> SimServer:
    return SimServer(config=QUICK, scenario=scenario, faults=faults).start()


def error_code(call: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_throttling_and_500s_refuse_the_call_and_are_marked() -> None:
    server = started(FaultConfig(seed=7, throttle_rate=0.5, error_rate=0.5))
    try:
        rds = client(server)
        codes = {error_code(lambda: rds.reboot_db_instance(DBInstanceIdentifier="aurora-bg-aurora-instance-1"))
                 for _ in range(20)}  # fmt: skip
        assert codes == {"Throttling", "ThrottlingException", "InternalFailure"}
        calls = server.calls()
        assert {c["fault"] for c in calls} == {"throttled", "server-error"}
        assert server.effective_mutating_calls() == [], "a refused call never reaches AWS"
    finally:
        server.stop()
    fresh = started(FaultConfig())
    try:
        instance = client(fresh).describe_db_instances(DBInstanceIdentifier="aurora-bg-aurora-instance-1")
        assert instance["DBInstances"][0]["DBInstanceStatus"] == "available"
    finally:
        fresh.stop()


def test_the_same_seed_meets_the_same_faults() -> None:
    def outcomes(seed: int) -> list[str]:
        server = started(FaultConfig(seed=seed, throttle_rate=0.3, error_rate=0.2))
        try:
            rds = client(server)
            for _ in range(30):
                with contextlib.suppress(botocore.exceptions.ClientError):
                    rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)
            return [c["outcome"] for c in server.calls()]
        finally:
            server.stop()

    first = outcomes(42)
    assert first == outcomes(42)
    assert first != outcomes(43)
    assert 0 < first.count("ok") < 30


def test_denied_operation_answers_access_denied_naming_the_action() -> None:
    server = started(FaultConfig(denied=frozenset({"CreateDBClusterSnapshot"})))
    try:
        rds = client(server)
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier="s1")
        assert raised.value.response["Error"]["Code"] == "AccessDenied"
        assert "rds:CreateDBClusterSnapshot" in raised.value.response["Error"]["Message"]
        assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []
        assert next((c["operation"], c["fault"]) for c in server.calls()) == ("CreateDBClusterSnapshot", "denied")
    finally:
        server.stop()


def test_a_lost_answer_took_effect_but_the_client_never_heard() -> None:
    server = started(FaultConfig(lost_rate=1.0))
    try:
        rds = client(server)
        with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
            rds.reboot_db_instance(DBInstanceIdentifier="aurora-bg-aurora-instance-1")
        [call] = server.calls()
        assert (call["operation"], call["outcome"], call["fault"]) == ("RebootDBInstance", "ok", "lost")
        assert server.effective_mutating_calls() == ["RebootDBInstance"]
    finally:
        server.stop()


def test_a_slow_answer_comes_late() -> None:
    server = started(FaultConfig(slow_rate=1.0, slow_seconds=1.0))
    try:
        began = time.monotonic()
        client(server).describe_db_clusters(DBClusterIdentifier=CLUSTER)
        assert time.monotonic() - began >= 1.0
        assert server.calls()[0]["fault"] == "slow"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("fault", "status"),
    [("provisioning_fails", "PROVISIONING_FAILED"), ("invalid_configuration", "INVALID_CONFIGURATION")],
)
def test_injected_failure_states_of_a_deployment(fault: str, status: str) -> None:
    from aurora_upgrade.sim import scenarios

    data = scenarios.runbook()
    data["faults"] = {fault: True}
    server = SimServer(config=QUICK, scenario=data).start()
    try:
        rds = client(server)
        arn = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]["DBClusterArn"]
        created = rds.create_blue_green_deployment(
            BlueGreenDeploymentName="bg", Source=arn, TargetEngineVersion="15.10"
        )["BlueGreenDeployment"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                found = rds.describe_blue_green_deployments(
                    BlueGreenDeploymentIdentifier=created["BlueGreenDeploymentIdentifier"]
                )["BlueGreenDeployments"][0]
            except botocore.exceptions.ClientError:
                continue
            if found["Status"] == status:
                assert "Creation of blue/green deployment failed" in found["StatusDetails"]
                return
        raise AssertionError(f"the deployment never reached {status}")
    finally:
        server.stop()


def test_unknown_scenario_fault_is_refused() -> None:
    from aurora_upgrade.sim import scenarios

    data = scenarios.runbook()
    data["faults"] = {"meteor_strike": True}
    with pytest.raises(ValueError, match="unknown faults"):
        SimServer(config=QUICK, scenario=data).start()
