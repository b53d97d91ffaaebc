"""Reliability (security): a database password and an IAM authentication token never show.

NOT COLLECTED YET (the file name does not start with `test_`): it needs the validation engine
and the PostgreSQL fixture (tests/support/postgres.py, `postgres_pair`), merged separately.
After the merge, `git mv` it to tests/e2e/test_reliability_validation_secrets.py. It extends
test_reliability_input_and_secrets.py's rule (nothing secret in the operator's log, Events,
status, `kubectl describe`) to spec.validation's credentials, and adds the metrics.

- The password: the servers' password, given as spec.validation.database.passwordSecretRef,
  read from a Secret in the upgrade's namespace; the upgrade completes, so the password was
  used for every check and guardrail.
- The IAM token: without passwordSecretRef on a cluster with IAM database authentication the
  operator signs a token with botocore for each connection. The local servers cannot verify a
  token (only RDS can), so the connection is refused and the guardrail reports
  DatabaseUnreachable; the token was still made and sent, and none of its parts shows anywhere.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest
from operator_fixtures import Stack, manifest
from test_prometheus_scrape import metrics_address

from support.postgres import postgres_pair  # noqa: F401  (a fixture)
from support.reliability import Row, record

pytestmark = pytest.mark.reliability

# What a presigned rds-db token carries (botocore's generate_db_auth_token): any of them in an
# output means the token, or part of it, leaked.
TOKEN_PARTS = ("X-Amz-Signature", "X-Amz-Credential", "Action=connect", "DBUser=")


def outputs(stack: Stack, name: str) -> dict[str, str]:
    with urllib.request.urlopen(f"http://{metrics_address(stack)}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    return {
        "operator log": stack.operator_log.read_text(errors="replace"),
        "Events": json.dumps(stack.events(name)),
        "status": json.dumps(stack.status(name)),
        "kubectl describe": stack.k("describe", "aup", name).stdout,
        "metrics": metrics,
    }


def start(stack: Stack, blue: Any, green: Any, monkeypatch: pytest.MonkeyPatch, *sim_args: str) -> None:
    monkeypatch.setenv("AURORA_UPGRADE_DB_CA_BUNDLE", str(blue.ca_file))
    stack.start(
        sim_args=[
            *sim_args,
            "--database-endpoint", f"blue={blue.host}:{blue.port}",
            "--database-endpoint", f"green={green.host}:{green.port}",
        ]
    )  # fmt: skip


def test_a_database_password_never_shows(
    stack: Stack,
    postgres_pair: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blue, green = postgres_pair
    assert blue.password == green.password and len(blue.password) >= 12, "a recognisable password"
    start(stack, blue, green, monkeypatch)
    stack.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": stack.namespace},
                "stringData": {"password": blue.password},
            }
        )
    )
    validation = {
        "database": {"name": "postgres", "user": blue.user, "passwordSecretRef": {"name": "db", "key": "password"}},
        "guardrails": "Warn",  # every guardrail runs (and connects), none holds
        "checks": [{"name": "readable", "sql": "select true", "timeoutSeconds": 30}],
    }
    stack.apply(manifest("pw", stack.namespace, validation=validation))
    status, _ = stack.wait_completed("pw", timeout=180)
    assert {v["name"]: v["result"] for v in status["validation"]}["readable"] == "Passed", status
    seen = outputs(stack, "pw")
    for where, text in seen.items():
        assert blue.password not in text, f"the database password shows in the {where}"
    record(
        Row(
            "security: a database password (passwordSecretRef) through a whole validated upgrade",
            runs=1, faults_injected=0, upgrades_completed=1, duplicate_mutations=0,
            notes="not in the operator log, Events, status, kubectl describe or metrics",
        )
    )  # fmt: skip


def test_an_iam_token_never_shows(stack: Stack, postgres_pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    blue, green = postgres_pair
    start(stack, blue, green, monkeypatch, "--scenario", "runbook-iam-auth")
    validation = {"database": {"name": "postgres", "user": blue.user}, "guardrails": "Enforce"}
    stack.apply(manifest("iam", stack.namespace, validation=validation))

    def unreachable() -> dict[str, Any] | None:
        status = stack.status("iam")
        return status if status.get("reason") == "DatabaseUnreachable" else None

    status = stack.wait_for("the token refused by the local server", unreachable, timeout=120)
    # A guardrail before anything is created: Failed at Prechecking, no mutating call.
    assert status["phase"] == "Failed", status
    assert stack.rds_sim.mutating_calls() == [], stack.rds_sim.mutating_calls()
    seen = outputs(stack, "iam")
    for where, text in seen.items():
        for part in TOKEN_PARTS:
            assert part not in text, f"{part} (an IAM token) shows in the {where}"
        assert not re.search(r"[?&]X-Amz-", text), where
    record(
        Row(
            "security: an IAM database authentication token the server refused",
            runs=1, faults_injected=0, upgrades_completed=0, duplicate_mutations=0,
            notes="no part of the token in the operator log, Events, status, kubectl describe or metrics",
        )
    )  # fmt: skip
