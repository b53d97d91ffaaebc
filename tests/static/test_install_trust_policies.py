"""docs/install.md's IAM examples: every ```json block parses, and each trust policy says what
AWS documents for it, for the ServiceAccount the chart creates with install.md's own commands.

- IRSA (EKS User Guide, "Assign IAM roles to Kubernetes service accounts"): the role trusts the
  cluster's OIDC provider (a `Federated` principal, `arn:aws:iam::<account>:oidc-provider/<issuer>`)
  for `sts:AssumeRoleWithWebIdentity`, with `StringEquals` on `<issuer>:sub`
  (`system:serviceaccount:<namespace>:<serviceaccount>`) and `<issuer>:aud` (`sts.amazonaws.com`).
- EKS Pod Identity ("Create IAM role with trust policy required by EKS Pod Identity"): the role
  trusts `pods.eks.amazonaws.com` for `sts:AssumeRole` and `sts:TagSession`; the session tags
  `kubernetes-namespace` and `kubernetes-service-account` restrict it (`aws:RequestTag/...`).
- `spec.aws.roleArn`: the operator's role is allowed `sts:AssumeRole` on the target role, and the
  target role trusts the operator's role with an `sts:ExternalId` condition.

Any block that grants RDS actions must be docs/iam-policy.json itself (install.md links to it
rather than copying it today).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "docs" / "install.md"
POLICY_FILE = REPO / "docs" / "iam-policy.json"
CHART = REPO / "charts" / "aurora-upgrade-operator"
CRD = REPO / "crds" / "auroraupgrades.dbupgrade.dev.yaml"

Policy = dict[str, Any]


@cache
def json_blocks() -> tuple[Policy, ...]:
    """Every ```json block of install.md, parsed (a block that does not parse fails here)."""
    blocks = re.findall(r"^```json\n(.*?)^```$", INSTALL.read_text(), flags=re.MULTILINE | re.DOTALL)
    return tuple(json.loads(block) for block in blocks)


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def statements(policy: Policy) -> list[dict[str, Any]]:
    assert policy["Version"] == "2012-10-17", policy
    return list(policy["Statement"])


def trusting(principal_type: str) -> list[dict[str, Any]]:
    """The trust policies' statements whose principal is of `principal_type` (Federated,
    Service, AWS)."""
    return [s for p in json_blocks() for s in statements(p) if principal_type in s.get("Principal", {})]


def service_account() -> tuple[str, str]:
    """(namespace, name) of the ServiceAccount `helm install` in install.md creates: the chart's
    `serviceAccount.name`, or else its full name (the release name when it contains the chart's
    name, as templates/_helpers.tpl says)."""
    command = re.search(
        r"helm install (\S+) charts/aurora-upgrade-operator \\\n\s+--namespace (\S+)", INSTALL.read_text()
    )
    assert command, "install.md's helm install command"
    release, namespace = command.groups()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())["name"]
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'default (include "aurora-upgrade-operator.fullname" .) .Values.serviceAccount.name' in helpers
    assert "{{- if contains $name .Release.Name }}" in helpers  # the rule applied below
    if values["serviceAccount"]["name"]:
        return namespace, values["serviceAccount"]["name"]
    if values.get("fullnameOverride"):
        return namespace, values["fullnameOverride"]
    name = values.get("nameOverride") or chart
    return namespace, release if name in release else f"{release}-{name}"


def test_every_json_block_parses_and_is_one_this_file_checks() -> None:
    """A trust policy (IRSA, Pod Identity, the target role's), the operator role's
    sts:AssumeRole grant, or docs/iam-policy.json: a block of another kind needs its own check."""
    kinds = []
    for policy in json_blocks():
        principals = {kind for s in statements(policy) for kind in s.get("Principal", {})}
        if policy == json.loads(POLICY_FILE.read_text()):
            kinds.append("iam-policy.json")
        elif principals and all("Principal" in s for s in statements(policy)):
            kinds.append("trust: " + "+".join(sorted(principals)))
        elif all(as_list(s["Action"]) == ["sts:AssumeRole"] for s in statements(policy)):
            kinds.append("sts:AssumeRole grant")
        elif not any(a.startswith("rds:") for s in statements(policy) for a in as_list(s["Action"])):
            raise AssertionError(f"a json block this test does not check: {json.dumps(policy)[:80]}")
    assert sorted(k for k in kinds if k != "iam-policy.json") == [
        "sts:AssumeRole grant",
        "trust: AWS",
        "trust: Federated",
        "trust: Service",
    ], kinds


def test_the_commands_in_install_md_name_the_charts_service_account() -> None:
    namespace, name = service_account()
    assert (namespace, name) == ("aurora-upgrade-system", "aurora-upgrade-operator")
    text = INSTALL.read_text()
    assert f"--namespace {namespace} --service-account {name}" in text  # the pod identity association
    assert f"system:serviceaccount:{namespace}:{name}" in text
    assert f"--role-arn {operator_role()}\n" in text  # the same role as the IRSA annotation


def test_irsa_trusts_the_oidc_provider_for_the_operators_service_account() -> None:
    namespace, name = service_account()
    [statement] = trusting("Federated")
    assert statement["Effect"] == "Allow"
    provider = statement["Principal"]["Federated"]
    found = re.fullmatch(
        r"arn:aws:iam::[0-9]{12}:oidc-provider/(oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/\w+)", provider
    )
    assert found, provider
    issuer = found.group(1)
    assert as_list(statement["Action"]) == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{name}",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }


def test_pod_identity_trusts_the_eks_service_with_session_tags() -> None:
    namespace, name = service_account()
    [statement] = trusting("Service")
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(as_list(statement["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": name,
        }
    }


def operator_role() -> str:
    """The role install.md's IRSA annotation (and pod identity association) names."""
    found = re.search(
        r"eks\\\.amazonaws\\\.com/role-arn=(arn:aws:iam::[0-9]{12}:role/[\w+=,.@-]+)", INSTALL.read_text()
    )
    assert found, "the serviceAccount.annotations role-arn example"
    return found.group(1)


def _assume_role_grants() -> list[dict[str, Any]]:
    return [
        s
        for p in json_blocks()
        for s in statements(p)
        if "Principal" not in s and as_list(s["Action"]) == ["sts:AssumeRole"]
    ]


def test_the_operators_role_may_assume_the_target_role_only() -> None:
    [grant] = _assume_role_grants()
    assert grant["Effect"] == "Allow"
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    pattern = spec["properties"]["aws"]["properties"]["roleArn"]["pattern"]
    assert re.search(pattern, grant["Resource"]), f"{grant['Resource']} is not a spec.aws.roleArn"


def test_the_target_role_trusts_the_operators_role_with_an_external_id() -> None:
    [grant] = _assume_role_grants()
    [statement] = trusting("AWS")
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": operator_role()}
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    external_id = statement["Condition"]["StringEquals"]["sts:ExternalId"]
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    bounds = spec["properties"]["aws"]["properties"]["externalId"]
    assert bounds["minLength"] <= len(external_id) <= bounds["maxLength"], "not a valid spec.aws.externalId"
    target_account = grant["Resource"].split(":")[4]
    assert f"(in account {target_account})" in INSTALL.read_text()
    assert target_account != operator_role().split(":")[4], "the example is about another account"


def test_a_block_granting_rds_actions_is_the_policy_file() -> None:
    for policy in json_blocks():
        actions = [a for s in statements(policy) for a in as_list(s["Action"])]
        if any(a.startswith("rds:") for a in actions):
            assert policy == json.loads(POLICY_FILE.read_text()), "install.md shows a policy other than iam-policy.json"
        else:
            assert all(a.startswith("sts:") for a in actions), actions
