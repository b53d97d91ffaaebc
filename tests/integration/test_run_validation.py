"""`aurora-upgrade run` with spec.validation against the simulator whose clusters answer two real
PostgreSQL servers (support/postgres.py; the simulator's `--database-endpoint`), as a person runs
it outside Kubernetes: the password from libpq's own PGPASSWORD, verify-full with the test CA.

Asserted is what that person sees: the exit code, the lines printed (a `!` marks a Warning), the
state file's status, and the calls the simulator answered."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.sim import SimServer
from aurora_upgrade.sim.config import DatabaseEndpoint, DatabaseEndpoints
from support.postgres import (  # noqa: F401  (postgres_servers: a fixture)
    PROBE_PASSWORD,
    PROBE_USER,
    Servers,
    admin,
    postgres_servers,
    updated_table_without_primary_key,
)
from support.runbook import RUNBOOK_CALLS
from support.sim import FAST

from .runcli import env_for, run_command, write_manifest

HOST = "127.0.0.1"  # the test certificate names it: verify-full holds


@pytest.fixture
def sim(postgres_servers: Servers) -> Iterator[SimServer]:  # noqa: F811
    databases = DatabaseEndpoints(
        blue=DatabaseEndpoint(HOST, postgres_servers.blue.port),
        green=DatabaseEndpoint(HOST, postgres_servers.green.port),
    )
    server = SimServer(config=FAST, scenario="runbook", port=0, databases=databases).start()
    yield server
    server.stop()


@pytest.fixture
def orders_on_green(postgres_servers: Servers) -> Iterator[None]:  # noqa: F811
    with admin(postgres_servers.green) as connection:
        connection.execute("CREATE TABLE run_orders (id int PRIMARY KEY)")
        connection.execute("INSERT INTO run_orders VALUES (1)")
        connection.execute(f"GRANT SELECT ON run_orders TO {PROBE_USER}")
    yield
    with admin(postgres_servers.green) as connection:
        connection.execute("DROP TABLE run_orders")


def run(
    sim: SimServer, servers: Servers, tmp_path: Path, guardrails: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    validation = {
        "database": {
            "user": PROBE_USER,
            # Read from PGPASSWORD here: `run` has no Kubernetes Secret to read.
            "passwordSecretRef": {"name": "unused-by-run", "key": "password"},
            "sslMode": "verify-full",
        },
        "guardrails": guardrails,
        "checks": [{"name": "orders-readable", "sql": "select count(*) > 0 from run_orders", "timeoutSeconds": 30}],
    }
    manifest = write_manifest(tmp_path, {"validation": validation})
    state = tmp_path / "state.json"
    env = dict(env_for(sim), PGPASSWORD=PROBE_PASSWORD, AURORA_UPGRADE_DB_CA_BUNDLE=str(servers.ca_bundle))
    env.pop("PGPASSFILE", None)
    result = subprocess.run(run_command(manifest, state), env=env, capture_output=True, text=True, timeout=180)
    return result, json.loads(state.read_text())["status"]


def test_a_passing_check_with_pgpassword_completes(
    sim: SimServer,
    postgres_servers: Servers,  # noqa: F811
    orders_on_green: None,
    tmp_path: Path,
) -> None:
    result, status = run(sim, postgres_servers, tmp_path, guardrails="Off")
    assert result.returncode == 0, result.stdout + result.stderr
    assert status["phase"] == "Completed", status
    assert [(v["name"], v["on"], v["result"]) for v in status["validation"]] == [("orders-readable", "green", "Passed")]
    assert "Check orders-readable passed on green" in result.stdout, result.stdout
    assert sim.mutating_calls() == RUNBOOK_CALLS
    assert PROBE_PASSWORD not in result.stdout + result.stderr + json.dumps(status)


def test_under_warn_a_guardrail_finding_is_a_warning_and_the_upgrade_goes_on(
    sim: SimServer,
    postgres_servers: Servers,  # noqa: F811
    orders_on_green: None,
    updated_table_without_primary_key: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    result, status = run(sim, postgres_servers, tmp_path, guardrails="Warn")
    assert result.returncode == 0, result.stdout + result.stderr
    assert status["phase"] == "Completed", status
    warnings = [line for line in result.stdout.splitlines() if " ! TablesWithoutPrimaryKey: " in line]
    assert warnings and all("ledger" in line for line in warnings), result.stdout
    assert sim.mutating_calls() == RUNBOOK_CALLS
