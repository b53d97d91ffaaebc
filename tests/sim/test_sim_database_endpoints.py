"""`aurora-upgrade sim --database-endpoint`: the clusters' endpoints answer real database servers.

The operator's validation connects to the writer endpoint DescribeDBClusters gives
(Endpoint, Port), so tests point the simulated clusters at local servers: blue's at one,
green's at another. Here the servers are two loopback listeners that say which side they are
(the PostgreSQL tiers use real PostgreSQL servers the same way): a client that connects where
the simulator says reaches the server of that side, before and after the switchover.

At switchover AWS "renames the endpoints in the green environment to match the corresponding
endpoints in the blue environment so that application changes aren't required" (Aurora User
Guide, Switching a blue/green deployment): production's name, and its endpoint, then reach
what was green, and the `-old1` cluster what was blue.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.sim import SimServer, rds_client, scenarios
from aurora_upgrade.sim.config import DatabaseEndpoint, DatabaseEndpoints
from support.runbook import CLUSTER, CLUSTER_PARAMETER_GROUP, DB_PARAMETER_GROUP, INSTANCES, OLD_CLUSTER, REGION
from support.sim import QUICK

CLUSTER_ARN = f"arn:aws:rds:{REGION}:{scenarios.RUNBOOK_ACCOUNT_ID}:cluster:{CLUSTER}"
VENV_BIN = Path(sys.executable).parent


class SideServer:
    """A loopback TCP server that answers each connection with its side's name."""

    def __init__(self, side: str) -> None:
        self.side = side
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                connection.sendall(self.side.encode())

    def close(self) -> None:
        self._socket.close()


def reached(host: str, port: int) -> str:
    """Which side's server a client reaches at host:port."""
    with socket.create_connection((host, port), timeout=5) as connection:
        return connection.recv(16).decode()


@pytest.fixture
def servers() -> Iterator[dict[str, SideServer]]:
    started = {side: SideServer(side) for side in ("blue", "green")}
    yield started
    for server in started.values():
        server.close()


@pytest.fixture
def sim(servers: dict[str, SideServer]) -> Iterator[SimServer]:
    databases = DatabaseEndpoints(
        blue=DatabaseEndpoint("127.0.0.1", servers["blue"].port),
        green=DatabaseEndpoint("127.0.0.1", servers["green"].port),
    )
    with SimServer(config=QUICK, scenario="runbook-iam-auth", databases=databases) as server:
        yield server


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s")


def deployment_status(rds: Any, identifier: str, status: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        found = rds.describe_blue_green_deployments(
            Filters=[{"Name": "blue-green-deployment-identifier", "Values": [identifier]}]
        )["BlueGreenDeployments"]
        return found[0] if found and found[0]["Status"] == status else None

    return check


def cluster(rds: Any, identifier: str) -> dict[str, Any]:
    found: dict[str, Any] = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    return found


def instances(rds: Any, cluster_identifier: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = rds.describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [cluster_identifier]}]
    )["DBInstances"]
    return found


def sides(rds: Any, cluster_identifier: str) -> dict[str, str]:
    """Which server the cluster's writer endpoint, reader endpoint and each instance reach."""
    found = cluster(rds, cluster_identifier)
    answer = {
        "writer": reached(found["Endpoint"], found["Port"]),
        "reader": reached(found["ReaderEndpoint"], found["Port"]),
    }
    for instance in instances(rds, cluster_identifier):
        endpoint = instance["Endpoint"]
        answer[instance["DBInstanceIdentifier"]] = reached(endpoint["Address"], endpoint["Port"])
    return answer


def test_endpoints_reach_blue_then_green_under_productions_name(sim: SimServer) -> None:
    rds = rds_client(sim.endpoint_url, REGION)
    assert sides(rds, CLUSTER) == {"writer": "blue", "reader": "blue", **dict.fromkeys(INSTANCES, "blue")}
    assert cluster(rds, CLUSTER)["IAMDatabaseAuthenticationEnabled"] is True

    created = rds.create_blue_green_deployment(
        BlueGreenDeploymentName="aurora-bg-upgrade-15-10",
        Source=CLUSTER_ARN,
        TargetEngineVersion="15.10",
        TargetDBClusterParameterGroupName=CLUSTER_PARAMETER_GROUP,
        TargetDBParameterGroupName=DB_PARAMETER_GROUP,
    )["BlueGreenDeployment"]
    identifier = created["BlueGreenDeploymentIdentifier"]
    green_name = created["Target"].rsplit(":", 1)[1]
    wait_until(deployment_status(rds, identifier, "AVAILABLE"))
    green = cluster(rds, green_name)
    # Green is a copy of blue: IAM database authentication too (rds-db:connect then needs
    # green's cluster resource id as well as blue's).
    assert green["IAMDatabaseAuthenticationEnabled"] is True
    assert green["DbClusterResourceId"] != cluster(rds, CLUSTER)["DbClusterResourceId"]
    assert {i["IAMDatabaseAuthenticationEnabled"] for i in instances(rds, green_name)} == {True}
    assert set(sides(rds, green_name).values()) == {"green"}
    assert set(sides(rds, CLUSTER).values()) == {"blue"}

    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=300)
    wait_until(deployment_status(rds, identifier, "SWITCHOVER_COMPLETED"))

    assert sides(rds, CLUSTER) == {"writer": "green", "reader": "green", **dict.fromkeys(INSTANCES, "green")}
    assert cluster(rds, CLUSTER)["DbClusterResourceId"] == green["DbClusterResourceId"]
    assert set(sides(rds, OLD_CLUSTER).values()) == {"blue"}
    assert sim.mutating_calls() == ["CreateBlueGreenDeployment", "SwitchoverBlueGreenDeployment"]


def test_without_the_option_endpoints_are_awss_names_on_the_default_port() -> None:
    with SimServer(config=QUICK, scenario="runbook") as sim:
        rds = rds_client(sim.endpoint_url, REGION)
        found = cluster(rds, CLUSTER)
        assert found["Endpoint"].startswith(f"{CLUSTER}.cluster-")
        assert found["Endpoint"].endswith(f".{REGION}.rds.amazonaws.com")
        assert found["Port"] == 5432
        assert found["IAMDatabaseAuthenticationEnabled"] is False
        assert {i["Endpoint"]["Port"] for i in instances(rds, CLUSTER)} == {5432}


def test_iam_database_authentication_follows_modify_db_cluster() -> None:
    with SimServer(config=QUICK, scenario="runbook") as sim:
        rds = rds_client(sim.endpoint_url, REGION)
        rds.modify_db_cluster(DBClusterIdentifier=CLUSTER, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
        assert cluster(rds, CLUSTER)["IAMDatabaseAuthenticationEnabled"] is True
        assert {i["IAMDatabaseAuthenticationEnabled"] for i in instances(rds, CLUSTER)} == {True}
        rds.modify_db_cluster(DBClusterIdentifier=CLUSTER, EnableIAMDatabaseAuthentication=False, ApplyImmediately=True)
        assert cluster(rds, CLUSTER)["IAMDatabaseAuthenticationEnabled"] is False


def test_the_command_line_option_sets_the_endpoints(servers: dict[str, SideServer]) -> None:
    command = [
        str(VENV_BIN / "aurora-upgrade"), "sim", "--port", "0",
        "--database-endpoint", f"blue=127.0.0.1:{servers['blue'].port}",
        "--database-endpoint", f"green=127.0.0.1:{servers['green'].port}",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            url = first.split("AWS_ENDPOINT_URL_RDS=", 1)[1].split()[0]
            assert sides(rds_client(url, REGION), CLUSTER)["writer"] == "blue"
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("purple=127.0.0.1:5433", "SIDE one of blue, green"),
        ("blue=127.0.0.1", "wants SIDE=HOST:PORT"),
        ("blue=127.0.0.1:99999", "between 1 and 65535"),
        ("green=:5434", "needs a host"),
    ],
)
def test_a_malformed_database_endpoint_is_refused(option: str, says: str) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "aurora-upgrade"), "sim", "--database-endpoint", option],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert says in result.stderr
