"""Reliability (security): a database password and an IAM authentication token never show.

It extends test_reliability_input_and_secrets.py's rule (nothing secret in the operator's log, Events,
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

from support.postgres import PROBE_PASSWORD, PROBE_USER, Servers, postgres_servers  # noqa: F401  (a fixture)
from support.reliability import Row, record

# In `make test` too: issue 19 asks every validation item, this one included, to be tested there.
pytestmark = [pytest.mark.reliability, pytest.mark.also_in_test]

# What a presigned rds-db token carries (botocore's generate_db_auth_token): any of them in an
# output means the token, or part of it, leaked.
# What blue's server log says of a login whose password (here the token) it refused.
REFUSED = f'password authentication failed for user "{PROBE_USER}"'
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


def start(stack: Stack, servers: Servers, monkeypatch: pytest.MonkeyPatch, *sim_args: str) -> None:
    monkeypatch.setenv("AURORA_UPGRADE_DB_CA_BUNDLE", str(servers.ca_bundle))
    stack.start(
        sim_args=[
            *sim_args,
            "--database-endpoint", f"blue=127.0.0.1:{servers.blue.port}",
            "--database-endpoint", f"green=127.0.0.1:{servers.green.port}",
        ]
    )  # fmt: skip


def test_a_database_password_never_shows(
    stack: Stack,
    postgres_servers: Servers,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(PROBE_PASSWORD) >= 12, "a recognisable password"
    start(stack, postgres_servers, monkeypatch)
    stack.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": stack.namespace},
                "stringData": {"password": PROBE_PASSWORD},
            }
        )
    )
    validation = {
        "database": {"name": "postgres", "user": PROBE_USER, "passwordSecretRef": {"name": "db", "key": "password"}},
        "guardrails": "Warn",  # every guardrail runs (and connects), none holds
        "checks": [{"name": "readable", "sql": "select true", "timeoutSeconds": 30}],
    }
    stack.apply(manifest("pw", stack.namespace, validation=validation))
    status, _ = stack.wait_completed("pw", timeout=180)
    assert {v["name"]: v["result"] for v in status["validation"]}["readable"] == "Passed", status
    seen = outputs(stack, "pw")
    for where, text in seen.items():
        assert PROBE_PASSWORD not in text, f"the database password shows in the {where}"
    record(
        Row(
            "security: a database password (passwordSecretRef) through a whole validated upgrade",
            runs=1, faults_injected=0, upgrades_completed=1, duplicate_mutations=0,
            notes="not in the operator log, Events, status, kubectl describe or metrics",
        )
    )  # fmt: skip


def test_an_iam_token_never_shows(
    stack: Stack,
    postgres_servers: Servers,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_log = postgres_servers.blue.data.parent / "log"
    refused_before = server_log.read_text(errors="replace").count(REFUSED)
    start(stack, postgres_servers, monkeypatch, "--scenario", "runbook-iam-auth")
    validation = {"database": {"name": "postgres", "user": PROBE_USER}, "guardrails": "Enforce"}
    stack.apply(manifest("iam", stack.namespace, validation=validation))

    def unreachable() -> dict[str, Any] | None:
        status = stack.status("iam")
        return status if status.get("reason") == "DatabaseUnreachable" else None

    status = stack.wait_for("the token refused by the local server", unreachable, timeout=120)
    # A guardrail before anything is created: Failed at Prechecking, no mutating call.
    assert status["phase"] == "Failed", status
    assert stack.rds_sim.mutating_calls() == [], stack.rds_sim.mutating_calls()
    # The token was made and sent: blue refused it as a password (scram), as a server without
    # rds_iam does.
    assert server_log.read_text(errors="replace").count(REFUSED) > refused_before
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
