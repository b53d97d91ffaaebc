"""spec.validation end to end: the operator as a process, the simulator's clusters pointing at
real PostgreSQL servers (`aurora-upgrade sim --database-endpoint`), your checks run on green.

Needs the validation engine and the PostgreSQL fixture (tests/support/postgres.py:
`postgres_pair`, a blue and a green server on loopback with TLS from a test CA, each with
host, port, user, password, ca_file and connect()). The guardrails are Off here: these tests are
about the user's checks, and the two local servers are not a blue/green pair AWS replicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from operator_fixtures import RUNBOOK_CALLS, Stack, manifest

from support.postgres import postgres_pair  # noqa: F401  (a fixture)

CHECKED = "checked"
SECRET_NAME = "orders-db-validation"


@pytest.fixture
def servers(postgres_pair: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:  # noqa: F811
    """Blue and green, green with an `orders` table holding a row and an empty `refunds`; the
    operator trusts the test CA (what the chart's validation.caBundle sets)."""
    blue, green = postgres_pair
    with green.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS orders, refunds")
        connection.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        connection.execute("INSERT INTO orders VALUES (1)")
        connection.execute("CREATE TABLE refunds (id int PRIMARY KEY)")
    monkeypatch.setenv("AURORA_UPGRADE_DB_CA_BUNDLE", str(blue.ca_file))
    yield blue, green


def start(stack: Stack, blue: Any, green: Any) -> None:
    stack.start(
        sim_args=[
            "--database-endpoint", f"blue={blue.host}:{blue.port}",
            "--database-endpoint", f"green={green.host}:{green.port}",
        ]
    )  # fmt: skip
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": stack.namespace},
        "stringData": {"password": green.password},
    }
    stack.apply(json.dumps(secret))


def validation(*checks: dict[str, Any], user: str) -> dict[str, Any]:
    return {
        "database": {
            "name": "postgres",
            "user": user,
            "passwordSecretRef": {"name": SECRET_NAME, "key": "password"},
            "sslMode": "verify-full",
        },
        "guardrails": "Off",
        "checks": list(checks),
    }


def test_a_passing_check_lets_the_runbooks_upgrade_complete(stack: Stack, servers: tuple[Any, Any]) -> None:
    blue, green = servers
    start(stack, blue, green)
    check = {"name": "orders-readable", "sql": "select count(*) > 0 from orders", "timeoutSeconds": 30}
    stack.apply(manifest(CHECKED, stack.namespace, validation=validation(check, user=green.user)))
    status, _ = stack.wait_completed(CHECKED, timeout=180)
    assert [(v["name"], v["on"], v["result"]) for v in status["validation"]] == [("orders-readable", "green", "Passed")]
    phases = [entry["phase"] for entry in status["history"]]
    assert phases.index("Validating") < phases.index("AwaitingSwitchover"), phases
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
    stack: Stack, servers: tuple[Any, Any], check: dict[str, Any]
) -> None:
    blue, green = servers
    start(stack, blue, green)
    stack.apply(manifest(CHECKED, stack.namespace, validation=validation(check, user=green.user)))

    def held() -> dict[str, Any] | None:
        status = stack.status(CHECKED)
        return status if status.get("reason") == "ValidationFailed" else None

    status = stack.wait_for("the upgrade held by its failed check", held, timeout=180)
    assert status["phase"] == "Validating", status
    assert [(v["name"], v["result"]) for v in status["validation"]] == [(check["name"], "Failed")], status
    warnings = [e for e in stack.events(CHECKED) if e["type"] == "Warning"]
    assert any(check["name"] in e["message"] for e in warnings), warnings
    # A spec change runs the check again; still failing, it still holds, and the upgrade never
    # snapshots nor switches over.
    first = status["validation"][0]["checkedAt"]
    changed = {**check, "timeoutSeconds": check["timeoutSeconds"] + 1}
    stack.apply(manifest(CHECKED, stack.namespace, validation=validation(changed, user=green.user)))

    def checked_again() -> dict[str, Any] | None:
        later = stack.status(CHECKED)
        return later if later["validation"][0]["checkedAt"] != first else None

    assert stack.wait_for("the check run again", checked_again, timeout=120)["phase"] == "Validating"
    calls = stack.rds_sim.mutating_calls()
    assert "SwitchoverBlueGreenDeployment" not in calls and "CreateDBClusterSnapshot" not in calls, calls
    assert calls.count("CreateBlueGreenDeployment") == 1, calls
    with green.connect() as connection:
        assert connection.execute("select count(*) from orders").fetchone() == (1,)
