"""The local control plane is a real Kubernetes API server: version, RBAC, CEL validation."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aurora_upgrade_dev.controlplane import KUBE_VERSION, ControlPlane

Runner = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.e2e

NAMESPACE = "cp-e2e"

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.e2e.dbupgrade.dev
spec:
  group: e2e.dbupgrade.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [region]
              properties:
                region:
                  type: string
                  x-kubernetes-validations:
                    - rule: self == oldSelf
                      message: region is immutable
                size:
                  type: integer
"""


def widget(region: str, size: int) -> str:
    return f"""
apiVersion: e2e.dbupgrade.dev/v1
kind: Widget
metadata: {{name: w1, namespace: {NAMESPACE}}}
spec: {{region: {region}, size: {size}}}
"""


@pytest.fixture(scope="module")
def namespace(kubectl: Runner) -> str:
    kubectl("create", "namespace", NAMESPACE, check=True)
    return NAMESPACE


def test_server_version_is_the_built_kube_apiserver(control_plane: ControlPlane, kubectl: Runner) -> None:
    assert control_plane.server.startswith("https://127.0.0.1:")
    result = kubectl("version", "-o", "json", check=True)
    versions = json.loads(result.stdout)
    assert versions["serverVersion"]["gitVersion"] == KUBE_VERSION
    assert versions["serverVersion"]["major"] == "1"
    assert versions["serverVersion"]["minor"] == "36"
    assert versions["clientVersion"]["minor"] == "36"


def test_rbac_service_account_token_vs_admin(kubectl: Runner, namespace: str) -> None:
    kubectl("-n", namespace, "create", "serviceaccount", "probe", check=True)
    token = kubectl("-n", namespace, "create", "token", "probe", check=True).stdout.strip()

    whoami = kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", token=token, check=True)
    assert whoami.stdout == f"system:serviceaccount:{namespace}:probe"

    def can_i(verb: str, resource: str, *, as_sa: bool, ns: str = namespace) -> bool:
        result = kubectl("auth", "can-i", verb, resource, "-n", ns, token=token if as_sa else None)
        assert result.stdout.strip() in ("yes", "no"), result.stderr
        return result.stdout.strip() == "yes"

    # Admin (system:masters) can do anything; a fresh ServiceAccount can do nothing.
    assert can_i("list", "secrets", as_sa=False)
    assert can_i("create", "configmaps", as_sa=False)
    assert not can_i("list", "secrets", as_sa=True)
    assert not can_i("list", "configmaps", as_sa=True)
    denied = kubectl("-n", namespace, "get", "configmaps", token=token)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()

    # A namespaced Role grants exactly what it names, in its namespace only.
    kubectl(
        "-n", namespace, "create", "role", "cm-reader", "--verb=get,list,watch", "--resource=configmaps",
        check=True,
    )  # fmt: skip
    kubectl(
        "-n", namespace, "create", "rolebinding", "probe-cm-reader", "--role=cm-reader",
        f"--serviceaccount={namespace}:probe",
        check=True,
    )  # fmt: skip
    # The RBAC authorizer reads bindings from informer caches: a new binding takes a moment.
    deadline = time.monotonic() + 15
    while not can_i("list", "configmaps", as_sa=True):
        assert time.monotonic() < deadline, "the new RoleBinding never took effect"
        time.sleep(0.2)
    assert not can_i("create", "configmaps", as_sa=True)
    assert not can_i("list", "secrets", as_sa=True)
    assert not can_i("list", "configmaps", as_sa=True, ns="default")
    assert kubectl("-n", namespace, "get", "configmaps", token=token).returncode == 0


def test_crd_cel_immutability_rule_is_enforced_by_the_api_server(kubectl: Runner, namespace: str) -> None:
    kubectl("apply", "-f", "-", input=CRD, check=True)
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/widgets.e2e.dbupgrade.dev", check=True)
    # Discovery can lag the Established condition by a moment.
    deadline = time.monotonic() + 30
    while True:
        created = kubectl("apply", "-f", "-", input=widget("ap-northeast-1", 1))
        if created.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert created.returncode == 0, created.stderr

    # A mutable field may change.
    kubectl("apply", "-f", "-", input=widget("ap-northeast-1", 2), check=True)

    # The immutable one may not: the API server rejects it with the rule's message.
    rejected = kubectl("apply", "-f", "-", input=widget("us-east-1", 2))
    assert rejected.returncode != 0
    assert "region is immutable" in rejected.stderr
    assert "spec.region" in rejected.stderr

    stored = kubectl("-n", namespace, "get", "widget", "w1", "-o", "jsonpath={.spec.region}/{.spec.size}")
    assert stored.stdout == "ap-northeast-1/2"


def test_helm_installs_a_chart(helm: Runner, kubectl: Runner, namespace: str, tmp_path: Path) -> None:
    chart = tmp_path / "smoke"
    helm("create", str(chart), check=True)
    helm("install", "smoke", str(chart), "-n", namespace, "--set", "service.type=ClusterIP", check=True)
    listed = helm("list", "-n", namespace, "-o", "json", check=True)
    assert [release["name"] for release in json.loads(listed.stdout)] == ["smoke"]
    # No kubelet or controller-manager: the Deployment is stored, nothing runs it.
    deployment = kubectl("-n", namespace, "get", "deployment", "smoke", "-o", "name", check=True)
    assert deployment.stdout.strip() == "deployment.apps/smoke"
    helm("uninstall", "smoke", "-n", namespace, check=True)
