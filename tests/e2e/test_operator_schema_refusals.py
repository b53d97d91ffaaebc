"""What the API server itself refuses, from the generated CRD's schema and CEL rules: no
operator is needed for any of it (none runs here), and nothing reaches AWS. (spec.validation,
runbook step 5's checks, is one of the specs refused here; this file is about the schema.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from operator_fixtures import Runner, manifest, unique_namespace


@pytest.fixture(scope="module")
def namespace(kubectl: Runner, crd: None) -> Iterator[str]:
    name = unique_namespace(kubectl, "refusals")
    yield name
    # No operator ran here, so no finalizer holds them: leave nothing for a later operator.
    kubectl("-n", name, "delete", "aup", "--all", "--wait=false")


def apply(kubectl: Runner, namespace: str, name: str, **spec: Any) -> subprocess.CompletedProcess[str]:
    return kubectl("-n", namespace, "apply", "-f", "-", input=manifest(name, namespace, **spec))


def refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, f"the API server accepted it:\n{result.stdout}"
    assert "is invalid" in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def test_target_engine_version_is_immutable(kubectl: Runner, namespace: str) -> None:
    assert apply(kubectl, namespace, "immutable").returncode == 0
    result = apply(kubectl, namespace, "immutable", targetEngineVersion="15.12")
    refused(result, "spec.targetEngineVersion", "targetEngineVersion is immutable")
    # kubectl patch is refused the same way; the stored object keeps its target.
    patched = kubectl(
        "-n", namespace, "patch", "aup", "immutable", "--type", "merge",
        "-p", json.dumps({"spec": {"targetEngineVersion": "16.4"}}),
    )  # fmt: skip
    refused(patched, "targetEngineVersion is immutable")
    stored = kubectl("-n", namespace, "get", "aup", "immutable", "-o", "jsonpath={.spec.targetEngineVersion}")
    assert stored.stdout == "15.10"
    # A mutable field may still change.
    assert apply(kubectl, namespace, "immutable", switchover={"timeoutSeconds": 600}).returncode == 0


def test_blue_green_deployment_name_cannot_be_added_later(kubectl: Runner, namespace: str) -> None:
    assert apply(kubectl, namespace, "late-name").returncode == 0
    result = apply(kubectl, namespace, "late-name", blueGreenDeploymentName="my-deployment")
    refused(result, "blueGreenDeploymentName is immutable (it cannot be added or removed after creation)")
    # Nor changed or removed once set.
    assert apply(kubectl, namespace, "named", blueGreenDeploymentName="first-name").returncode == 0
    refused(
        apply(kubectl, namespace, "named", blueGreenDeploymentName="second-name"),
        "blueGreenDeploymentName is immutable",
    )
    removal = '[{"op": "remove", "path": "/spec/blueGreenDeploymentName"}]'
    removed = kubectl("-n", namespace, "patch", "aup", "named", "--type", "json", "-p", removal)
    refused(removed, "blueGreenDeploymentName is immutable")


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (29, "should be greater than or equal to 30"),
        (3601, "should be less than or equal to 3600"),
    ],
)
def test_switchover_timeout_out_of_range(kubectl: Runner, namespace: str, timeout: int, message: str) -> None:
    result = apply(kubectl, namespace, f"timeout-{timeout}", switchover={"timeoutSeconds": timeout})
    refused(result, "spec.switchover.timeoutSeconds", message)
    # The bounds themselves are accepted.
    for edge in (30, 3600):
        assert apply(kubectl, namespace, f"timeout-ok-{edge}", switchover={"timeoutSeconds": edge}).returncode == 0


@pytest.mark.parametrize("bad", ["1starts-with-digit", "double--hyphen", "trailing-", "under_score", "x" * 61])
def test_invalid_blue_green_deployment_name(kubectl: Runner, namespace: str, bad: str) -> None:
    result = apply(kubectl, namespace, "bad-name", blueGreenDeploymentName=bad)
    refused(result, "spec.blueGreenDeploymentName")
    if len(bad) > 60:
        assert "may not be more than 60" in result.stderr or "Too long" in result.stderr, result.stderr
    else:
        assert "should match" in result.stderr, result.stderr


@pytest.mark.parametrize("missing", ["region", "clusterIdentifier", "targetEngineVersion"])
def test_missing_required_field(kubectl: Runner, namespace: str, missing: str) -> None:
    result = apply(kubectl, namespace, f"no-{missing.lower()}", **{missing: None})
    refused(result, f"spec.{missing}", "Required value")


@pytest.mark.parametrize(
    ("spec", "path", "allowed"),
    [
        ({"switchover": {"mode": "Automatically"}}, "spec.switchover.mode", '"Automatic", "Manual"'),
        ({"deletionPolicy": "Delete"}, "spec.deletionPolicy", '"Abort", "Orphan"'),
    ],
)
def test_unknown_enum_value(kubectl: Runner, namespace: str, spec: dict[str, Any], path: str, allowed: str) -> None:
    result = apply(kubectl, namespace, "bad-enum", **spec)
    refused(result, path, "Unsupported value", allowed)


SQL_CHECK = {"name": "orders-readable", "sql": "select count(*) > 0 from orders"}
WEBHOOK_CHECK = {"name": "smoke-tests", "webhook": {"url": "https://smoke.internal/run"}}
DATABASE = {"name": "app"}


@pytest.mark.parametrize(
    ("validation", "fragments"),
    [
        pytest.param({}, ["this validation block checks nothing"], id="empty"),
        pytest.param(
            {"database": DATABASE, "guardrails": "Off"}, ["this validation block checks nothing"], id="nothing-on"
        ),
        pytest.param(
            {"database": DATABASE, "checks": [{**SQL_CHECK, "webhook": WEBHOOK_CHECK["webhook"]}]},
            ["a check sets exactly one of sql or webhook"],
            id="sql-and-webhook",
        ),
        pytest.param(
            {"database": DATABASE, "checks": [{"name": "nothing"}]},
            ["a check sets exactly one of sql or webhook"],
            id="neither",
        ),
        pytest.param(
            {"database": DATABASE, "checks": [SQL_CHECK, {**WEBHOOK_CHECK, "name": SQL_CHECK["name"]}]},
            ["spec.validation.checks[1]", "Duplicate value"],
            id="duplicate-names",
        ),
        pytest.param({"checks": [SQL_CHECK]}, ["SQL checks need validation.database"], id="sql-without-database"),
        pytest.param(
            {"guardrails": "Enforce", "checks": [WEBHOOK_CHECK]},
            ["guardrails need validation.database"],
            id="guardrails-without-database",
        ),
        pytest.param(
            {"database": DATABASE, "guardrails": "Strict"},
            ["spec.validation.guardrails", "Unsupported value", '"Enforce", "Warn", "Off"'],
            id="unknown-mode",
        ),
        pytest.param(
            {"checks": [{**WEBHOOK_CHECK, "timeoutSeconds": 0}]},
            ["spec.validation.checks[0].timeoutSeconds", "should be greater than or equal to 1"],
            id="zero-timeout",
        ),
        pytest.param(
            {"checks": [{**WEBHOOK_CHECK, "webhook": {"url": "smoke.internal"}}]},
            ["spec.validation.checks[0].webhook.url", "should match"],
            id="not-a-url",
        ),
        pytest.param(
            {"database": {**DATABASE, "sslMode": "prefer"}},
            ["spec.validation.database.sslMode", "Unsupported value"],
            id="weak-ssl-mode",
        ),
    ],
)
def test_unusable_validation_is_refused(
    kubectl: Runner, namespace: str, validation: dict[str, Any], fragments: list[str]
) -> None:
    refused(apply(kubectl, namespace, "bad-validation", validation=validation), *fragments)


def test_a_usable_validation_is_accepted(kubectl: Runner, namespace: str) -> None:
    for name, validation in {
        "checks-and-guardrails": {"database": DATABASE, "checks": [SQL_CHECK, WEBHOOK_CHECK]},
        "guardrails-only": {"database": DATABASE},
        "webhook-only": {"checks": [WEBHOOK_CHECK]},
    }.items():
        result = apply(kubectl, namespace, name, validation=validation)
        assert result.returncode == 0, result.stderr


def test_nothing_refused_was_stored(kubectl: Runner, namespace: str) -> None:
    for name in ("bad-enum", "no-region", "bad-name", "timeout-29", "bad-validation"):
        result = kubectl("-n", namespace, "get", "aup", name)
        assert result.returncode != 0 and "NotFound" in result.stderr, result.stdout
