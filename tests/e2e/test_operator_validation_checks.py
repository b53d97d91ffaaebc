"""spec.validation end to end: the operator as a process, the simulator's clusters pointing at
real PostgreSQL servers (`aurora-upgrade sim --database-endpoint`), the user's checks run on
green and the guardrails on blue, over verify-full with the test CA
(AURORA_UPGRADE_DB_CA_BUNDLE, what the chart's validation.caBundle sets) and the password from a
Secret in the upgrade's namespace.

The servers are support/postgres.py's session pair. The checks' tests keep the guardrails Off:
the two local servers are not a blue/green pair AWS replicates, and these tests are about the
user's checks; the guardrail test turns them to Enforce on a blue it keeps clean but for the one
condition it makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from operator_fixtures import RUNBOOK_CALLS, Stack, manifest

from support.postgres import (  # noqa: F401  (postgres_servers: a fixture)
    PROBE_PASSWORD,
    PROBE_USER,
    Servers,
    admin,
    postgres_servers,
    updated_table_without_primary_key,
)
from support.runbook import runbook_manifest

CHECKED = "checked"
SECRET_NAME = "orders-db-validation"
HOST = "127.0.0.1"  # the test certificate names it: verify-full holds


@pytest.fixture
def servers(postgres_servers: Servers, monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:  # noqa: F811
    """Green with an `orders` table holding a row and an empty `refunds`, both readable by the
    probe's user; the operator trusts the test CA."""
    with admin(postgres_servers.green) as connection:
        connection.execute("DROP TABLE IF EXISTS orders, refunds")
        connection.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        connection.execute("INSERT INTO orders VALUES (1)")
        connection.execute("CREATE TABLE refunds (id int PRIMARY KEY)")
        connection.execute(f"GRANT SELECT, INSERT ON orders, refunds TO {PROBE_USER}")
    monkeypatch.setenv("AURORA_UPGRADE_DB_CA_BUNDLE", str(postgres_servers.ca_bundle))
    yield postgres_servers
    with admin(postgres_servers.green) as connection:
        connection.execute("DROP TABLE IF EXISTS orders, refunds")


def start(stack: Stack, servers: Servers) -> None:
    stack.start(
        sim_args=[
            "--database-endpoint", f"blue={HOST}:{servers.blue.port}",
            "--database-endpoint", f"green={HOST}:{servers.green.port}",
        ]
    )  # fmt: skip
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": stack.namespace},
        "stringData": {"password": PROBE_PASSWORD},
    }
    stack.apply(json.dumps(secret))


def validation(*checks: dict[str, Any], guardrails: str = "Off") -> dict[str, Any]:
    return {
        "database": {
            "name": "postgres",
            "user": PROBE_USER,
            "passwordSecretRef": {"name": SECRET_NAME, "key": "password"},
            "sslMode": "verify-full",
        },
        "guardrails": guardrails,
        "checks": list(checks),
    }


def test_a_passing_check_lets_the_runbooks_upgrade_complete(stack: Stack, servers: Servers) -> None:
    start(stack, servers)
    check = {"name": "orders-readable", "sql": "select count(*) > 0 from orders", "timeoutSeconds": 30}
    # The runbook's example manifest as it is, with spec.validation added.
    stack.apply(json.dumps(runbook_manifest(stack.namespace, CHECKED, validation=validation(check))))
    status, _ = stack.wait_completed(CHECKED, timeout=180)
    assert [(v["name"], v["on"], v["result"]) for v in status["validation"]] == [("orders-readable", "green", "Passed")]
    phases = [entry["phase"] for entry in status["history"]]
    # Without a Manual gate there is no AwaitingSwitchover: validation comes before the snapshot.
    assert phases.index("RebootingGreen") < phases.index("Validating") < phases.index("Snapshotting"), phases
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    assert any("orders-readable" in e["message"] for e in stack.events(CHECKED)), stack.events(CHECKED)


@pytest.mark.parametrize(
    "check",
    [
        {"name": "refunds-present", "sql": "select count(*) > 0 from refunds", "timeoutSeconds": 30},
        # A check cannot write to green: it runs READ ONLY, so this one fails and writes nothing.
        {"name": "writes-refused", "sql": "insert into orders values (2) returning true", "timeoutSeconds": 30},
    ],
    ids=["false", "a-write"],
)
def test_a_failing_check_holds_in_validating_and_never_switches_over(
    stack: Stack, servers: Servers, check: dict[str, Any]
) -> None:
    start(stack, servers)
    stack.apply(manifest(CHECKED, stack.namespace, validation=validation(check)))

    def held() -> dict[str, Any] | None:
        status = stack.status(CHECKED)
        return status if status.get("reason") == "ValidationFailed" else None

    status = stack.wait_for("the upgrade held by its failed check", held, timeout=180)
    assert status["phase"] == "Validating", status
    assert [(v["name"], v["result"]) for v in status["validation"]] == [(check["name"], "Failed")], status
    if check["sql"].startswith("insert"):
        # The user may insert: what refused it is the check's READ ONLY transaction.
        assert "read-only transaction" in status["validation"][0]["message"], status["validation"]
    warnings = [e for e in stack.events(CHECKED) if e["type"] == "Warning"]
    assert any(check["name"] in e["message"] for e in warnings), warnings
    # A spec change runs the check again; still failing, it still holds, and the upgrade never
    # snapshots nor switches over.
    # The verdict's generation, not checkedAt, tells the run apart: RFC 3339 times in status have
    # whole seconds, and the second run may finish within the first one's second.
    first = status["validatedGeneration"]
    changed = {**check, "timeoutSeconds": check["timeoutSeconds"] + 1}
    stack.apply(manifest(CHECKED, stack.namespace, validation=validation(changed)))

    def checked_again() -> dict[str, Any] | None:
        later = stack.status(CHECKED)
        return later if later.get("validatedGeneration", first) > first else None

    again = stack.wait_for("the check run again", checked_again, timeout=120)
    assert (again["phase"], again["reason"]) == ("Validating", "ValidationFailed"), again
    calls = stack.rds_sim.mutating_calls()
    assert "SwitchoverBlueGreenDeployment" not in calls and "CreateDBClusterSnapshot" not in calls, calls
    assert calls.count("CreateBlueGreenDeployment") == 1, calls
    with admin(servers.green) as connection:
        assert connection.execute("select count(*) from orders").fetchone() == (1,)


def test_an_enforced_guardrail_fails_prechecking_before_any_aws_change(
    stack: Stack,
    servers: Servers,
    updated_table_without_primary_key: str,  # noqa: F811
) -> None:
    """Issue 19: a guardrail found before anything is created is a precheck like the others."""
    start(stack, servers)
    stack.apply(manifest(CHECKED, stack.namespace, validation=validation(guardrails="Enforce")))
    status = stack.wait_phase(CHECKED, "Failed", timeout=120)
    assert status["reason"] == "TablesWithoutPrimaryKey", status
    assert [entry["phase"] for entry in status["history"]][-2] == "Prechecking", status["history"]
    assert "ledger" in status["message"], status  # the table to fix
    assert stack.rds_sim.mutating_calls() == [], stack.rds_sim.mutating_calls()
    warnings = [e for e in stack.events(CHECKED) if e["type"] == "Warning"]
    assert any(e["reason"] == "TablesWithoutPrimaryKey" for e in warnings), warnings
