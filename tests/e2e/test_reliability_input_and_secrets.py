"""Reliability: bad input the API server refuses (the CRD's schema and CEL rules), nothing in
a manifest that can point the operator at another endpoint than RDS, and a recognisable secret
in the operator's environment that never shows in its log, its Events or the status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from operator_fixtures import Runner, Stack, manifest
from test_chart import RELEASE_NAMESPACE, Server, can_i, helm_install, server  # noqa: F401  (server: a fixture)

from support.reliability import Row, record

pytestmark = pytest.mark.reliability

WINDOW = {"days": ["Sat"], "start": "01:00", "end": "03:00"}
BAD_NAME_61 = "a" * 61

# (id, spec changes (None drops the field), a fragment of the API server's refusal)
SCHEMA_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no-region", {"region": None}, "spec.region: Required value"),
    ("no-cluster", {"clusterIdentifier": None}, "spec.clusterIdentifier: Required value"),
    ("no-target-version", {"targetEngineVersion": None}, "spec.targetEngineVersion: Required value"),
    ("region-is-a-host", {"region": "ap-northeast-1.evil.example"}, "spec.region"),
    ("region-is-a-url", {"region": "http://127.0.0.1:9/"}, "spec.region"),
    ("cluster-with-slash", {"clusterIdentifier": "a/../b"}, "spec.clusterIdentifier"),
    ("cluster-too-long", {"clusterIdentifier": "a" * 64}, "spec.clusterIdentifier"),
    ("cluster-starts-with-digit", {"clusterIdentifier": "1cluster"}, "spec.clusterIdentifier"),
    ("target-version-word", {"targetEngineVersion": "latest"}, "spec.targetEngineVersion"),
    ("expected-version-word", {"expectedSourceEngineVersion": "fifteen"}, "spec.expectedSourceEngineVersion"),
    ("parameter-group-with-space", {"targetDBClusterParameterGroupName": "my group"},
     "spec.targetDBClusterParameterGroupName"),
    ("instance-group-too-long", {"targetDBParameterGroupName": "a" * 256}, "spec.targetDBParameterGroupName"),
    ("bg-name-digit-first", {"blueGreenDeploymentName": "1bg"}, "spec.blueGreenDeploymentName"),
    ("bg-name-double-hyphen", {"blueGreenDeploymentName": "a--b"}, "spec.blueGreenDeploymentName"),
    ("bg-name-trailing-hyphen", {"blueGreenDeploymentName": "ab-"}, "spec.blueGreenDeploymentName"),
    ("bg-name-61-chars", {"blueGreenDeploymentName": BAD_NAME_61}, "spec.blueGreenDeploymentName"),
    ("switchover-mode", {"switchover": {"mode": "Sometimes"}}, "spec.switchover.mode"),
    ("switchover-timeout-low", {"switchover": {"timeoutSeconds": 10}}, "spec.switchover.timeoutSeconds"),
    ("switchover-timeout-high", {"switchover": {"timeoutSeconds": 4000}}, "spec.switchover.timeoutSeconds"),
    ("window-day", {"switchover": {"window": {**WINDOW, "days": ["Funday"]}}}, "spec.switchover.window.days"),
    ("window-start", {"switchover": {"window": {**WINDOW, "start": "25:00"}}}, "spec.switchover.window.start"),
    ("window-end", {"switchover": {"window": {**WINDOW, "end": "3am"}}}, "spec.switchover.window.end"),
    ("retention-word", {"cleanup": {"oldClusterRetention": "forever"}}, "spec.cleanup.oldClusterRetention"),
    ("deletion-policy", {"deletionPolicy": "Destroy"}, "spec.deletionPolicy"),
    ("role-not-an-arn", {"aws": {"roleArn": "https://sts.evil.example/role"}}, "spec.aws.roleArn"),
    ("external-id-short", {"aws": {"roleArn": "arn:aws:iam::123456789012:role/x", "externalId": "x"}},
     "spec.aws.externalId"),
    ("dry-run-string", {"dryRun": "yes"}, "spec.dryRun"),
    ("reboot-string", {"rebootAfterSwitchover": "maybe"}, "spec.rebootAfterSwitchover"),
    ("endpoint-field", {"endpointUrl": "http://127.0.0.1:9"}, 'unknown field "spec.endpointUrl"'),
    ("aws-endpoint-field", {"aws": {"endpoint": "http://127.0.0.1:9"}}, 'unknown field "spec.aws.endpoint"'),
]  # fmt: skip


@pytest.fixture
def ns(kubectl: Runner, crd: None) -> str:
    from operator_fixtures import unique_namespace

    return unique_namespace(kubectl, "rel-schema")


@pytest.mark.parametrize(("spec", "fragment"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_api_server_refuses_bad_input(kubectl: Runner, ns: str, spec: dict[str, Any], fragment: str) -> None:
    result = kubectl("-n", ns, "apply", "-f", "-", input=manifest("bad", ns, **spec))
    assert result.returncode != 0, f"accepted: {spec}"
    assert fragment in result.stderr, result.stderr
    assert kubectl("-n", ns, "get", "aup", "-o", "name", check=True).stdout == "", "nothing refused is stored"
    record(
        Row(
            "bad input the API server refuses (CRD schema): nothing stored, so no call",
            runs=1, faults_injected=0, upgrades_completed=0, duplicate_mutations=0, bad_inputs_refused=1,
        )
    )  # fmt: skip


def test_no_manifest_field_can_name_an_endpoint(kubectl: Runner, ns: str) -> None:
    """Past a client that skips validation, the API server prunes a field it does not know: the
    stored object has no endpoint in it, so the operator can only reach RDS through boto3's own
    configuration (the region's endpoint, or AWS_ENDPOINT_URL_RDS in its environment)."""
    document = manifest("pruned", ns, endpointUrl="http://127.0.0.1:9", aws={"endpoint": "http://127.0.0.1:9"})
    result = kubectl("-n", ns, "create", "--validate=false", "-f", "-", input=document)
    assert result.returncode == 0, result.stderr
    stored = json.loads(kubectl("-n", ns, "get", "aup", "pruned", "-o", "json", check=True).stdout)
    assert "127.0.0.1:9" not in json.dumps(stored), stored["spec"]
    crd = json.loads(kubectl("get", "crd", "auroraupgrades.dbupgrade.dev", "-o", "json", check=True).stdout)
    schema = json.dumps(crd["spec"]["versions"][0]["schema"])
    assert "x-kubernetes-preserve-unknown-fields" not in schema.split('"status"')[0], (
        "spec must not keep unknown fields"
    )
    for word in ("endpoint", "url", "host"):
        assert word not in json.dumps(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
                                      ["properties"]).lower().replace("clusterendpoint", ""), word  # fmt: skip


SECRET = "RELIABILITY-SECRET-7f3a9c1e"


def test_a_secret_in_the_environment_never_shows(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator runs with a session token and an unrelated password in its environment,
    meets throttling and a refused permission (so it logs errors and posts Warnings), and none
    of its log, Events or status contains either."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET)
    monkeypatch.setenv("PGPASSWORD", SECRET)
    stack.start(sim_args=["--seed", "5", "--throttle-rate", "0.2", "--deny", "CreateBlueGreenDeployment"])
    stack.apply(manifest("secret", stack.namespace))
    status = stack.wait_phase("secret", "Failed", timeout=120)
    assert status["reason"] == "PermissionDenied", status
    stack.wait_for("a Warning Event", lambda: any(e["type"] == "Warning" for e in stack.events("secret")), timeout=30)
    seen = {
        "operator log": stack.operator_log.read_text(errors="replace"),
        "Events": json.dumps(stack.events("secret")),
        "status": json.dumps(stack.status("secret")),
        "kubectl describe": stack.k("describe", "aup", "secret").stdout,
    }
    assert "rds:CreateBlueGreenDeployment" in seen["status"], seen["status"]
    for where, text in seen.items():
        assert SECRET not in text, f"the secret shows in the {where}"
    record(
        Row(
            "security: a secret in the environment, under throttling and a refused permission",
            runs=1, faults_injected=sum(1 for c in stack.rds_sim.calls() if c.get("fault")), upgrades_completed=0,
            duplicate_mutations=0, notes="not in the operator log, Events, status or kubectl describe",
        )
    )  # fmt: skip


def test_the_charts_service_account_cannot_read_secrets(server: Server) -> None:  # noqa: F811  (the fixture)
    """With the token of the ServiceAccount the chart creates (both scopes of the chart), the API
    server answers no to every way of reading a Secret; yes to what the operator needs."""
    refusals = 0
    for release, settings in (("rel-all", ()), ("rel-team", ("watchNamespace=rel-team",))):
        if settings:
            server.kubectl("create", "namespace", "rel-team", check=True)
        deployment = helm_install(server, release, *settings)
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        token = server.kubectl("-n", RELEASE_NAMESPACE, "create", "token", account, check=True).stdout.strip()
        assert can_i(server, token, "patch", "auroraupgrades.dbupgrade.dev", "--subresource=status", "-n", "rel-team")
        for verb, scope in [
            ("get", ("-n", RELEASE_NAMESPACE)),
            ("list", ("-n", RELEASE_NAMESPACE)),
            ("watch", ("-n", RELEASE_NAMESPACE)),
            ("get", ("-n", "rel-team")),
            ("list", ("-A",)),
            ("watch", ("-A",)),
        ]:
            assert not can_i(server, token, verb, "secrets", *scope), f"{release} can {verb} secrets {scope}"
            refusals += 1
    record(
        Row(
            "security: the chart's ServiceAccount cannot read Secrets (kubectl auth can-i with its token)",
            runs=2, faults_injected=0, upgrades_completed=0, duplicate_mutations=0,
            notes=f"{refusals} can-i questions answered no, cluster-wide and one-namespace releases",
        )
    )  # fmt: skip
