"""The Helm chart: it lints and renders in every mode, and its RBAC is exactly enough.

The runtime tests `helm install` the chart into a kube-apiserver of this module's own, then run
the operator as a local process with the chart's container args and a token of the chart's
ServiceAccount: an upgrade reaching Completed, with no refused call in the operator's log
(kopf only logs a refused Event or namespace listing), proves the chart grants everything the
operator uses; `kubectl auth can-i` proves it grants little else.

Why an API server of its own: the chart's default operator serves every namespace, and on the
session's server other tests leave upgrades of the runbook cluster behind, which it would pick up.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Runner, _runner  # the session fixtures' kubectl/helm runner, here for our own server
from operator_fixtures import EXAMPLE, POLL_SECONDS, REPO, RUNBOOK_CALLS, SimProcess, free_port

from aurora_upgrade_dev.controlplane import ControlPlane, ensure_binaries, start
from aurora_upgrade_dev.stack import start_operator, stop_operator
from support.postgres import PROBE_PASSWORD, PROBE_USER, Servers, postgres_servers  # noqa: F401  (a fixture)
from support.runbook import NAME, OLD_CLUSTER, runbook_manifest

CHART = REPO / "charts" / "aurora-upgrade-operator"
RELEASE_NAMESPACE = "aurora-upgrade-system"
IRSA_ROLE = "arn:aws:iam::123456789012:role/aurora-upgrade-operator"

# What the operator logs when the API server refuses one of its calls. kopf swallows a refused
# Event ("Failed to post an event") and falls back on a refused namespace listing or CRD watch
# ("Not enough permissions"), so an upgrade can complete with RBAC missing: the log tells.
REFUSED = re.compile(r"forbidden|Not enough permissions|Failed to post an event", re.IGNORECASE)


# --- rendering (no API server needed) ----------------------------------------------------------


def helm_binary(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(ensure_binaries().helm), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


def render(*settings: str) -> dict[tuple[str, str], dict[str, Any]]:
    """`helm template` with `--set` settings, keyed by (kind, name)."""
    flags = [flag for setting in settings for flag in ("--set", setting)]
    rendered = helm_binary("template", "aup", str(CHART), "--namespace", RELEASE_NAMESPACE, *flags).stdout
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered) if d}


def rules(objects: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for (kind, _), obj in objects.items() if kind in ("Role", "ClusterRole") for rule in obj["rules"]]


def container(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    deployment = next(obj for (kind, _), obj in objects.items() if kind == "Deployment")
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_chart_lints() -> None:
    helm_binary("lint", "--strict", str(CHART))
    helm_binary("lint", "--strict", str(CHART), "--set", "watchNamespace=team-a", "--set", "peering.enabled=false")


def test_chart_ships_kopfs_peering_crds() -> None:
    """Peering is on by default, so the chart brings the CRDs kopf needs for it (in crds/, which
    Helm installs first, never templates and never deletes)."""
    documents = [d for d in yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text()) if d]
    assert sorted(d["metadata"]["name"] for d in documents) == ["clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
    assert {d["spec"]["scope"] for d in documents} == {"Cluster", "Namespaced"}


def test_default_render_serves_all_namespaces_with_a_cluster_role() -> None:
    objects = render("peering.enabled=false")
    kinds = sorted(kind for kind, _ in objects)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "NetworkPolicy", "ServiceAccount"], kinds
    name = "aup-aurora-upgrade-operator"
    binding = objects[("ClusterRoleBinding", name)]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": RELEASE_NAMESPACE}]
    assert rules(objects) == [
        {"apiGroups": ["dbupgrade.dev"], "resources": ["auroraupgrades"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["dbupgrade.dev"], "resources": ["auroraupgrades/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]},
    ]

    deployment = objects[("Deployment", name)]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name
    assert pod["securityContext"]["runAsNonRoot"] is True
    operator = container(objects)
    assert operator["image"] == "aurora-upgrade-operator:0.1.0"
    assert operator["args"] == ["--all-namespaces", "--standalone", "--liveness=http://0.0.0.0:8080/healthz"]
    assert {"name": "AURORA_UPGRADE_POLL_SECONDS", "value": "30"} in operator["env"]
    assert {"name": "metrics", "containerPort": 8000, "protocol": "TCP"} in operator["ports"]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    security = operator["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert operator["resources"]["requests"] and operator["resources"]["limits"]


def test_default_render_turns_peering_on() -> None:
    objects = render()
    assert objects[("ClusterKopfPeering", "aurora-upgrade-operator")]["apiVersion"] == "kopf.dev/v1"
    args = container(objects)["args"]
    assert args == ["--all-namespaces", "--peering=aurora-upgrade-operator", "--liveness=http://0.0.0.0:8080/healthz"]


def test_watch_namespace_renders_a_role_in_that_namespace_and_only_kopf_reads_cluster_wide() -> None:
    objects = render("watchNamespace=team-a", "peering.enabled=false")
    kinds = sorted(kind for kind, _ in objects)
    assert kinds == [
        "ClusterRole", "ClusterRoleBinding", "Deployment", "NetworkPolicy", "Role", "RoleBinding", "ServiceAccount"
    ], kinds  # fmt: skip
    name = "aup-aurora-upgrade-operator"
    assert objects[("Role", name)]["metadata"]["namespace"] == "team-a"
    assert objects[("RoleBinding", name)]["metadata"]["namespace"] == "team-a"
    assert {group for rule in objects[("Role", name)]["rules"] for group in rule["apiGroups"]} == {"dbupgrade.dev", ""}
    assert objects[("ClusterRole", f"{name}-scanning")]["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]},
    ]
    assert container(objects)["args"][:2] == ["--namespace=team-a", "--standalone"]


@pytest.mark.parametrize(
    ("scope", "peering_kind", "resource"),
    [([], "ClusterKopfPeering", "clusterkopfpeerings"), (["watchNamespace=team-a"], "KopfPeering", "kopfpeerings")],
)
def test_peering_renders_the_peering_object_and_its_rules(scope: list[str], peering_kind: str, resource: str) -> None:
    objects = render(*scope, "peering.enabled=true", "peering.name=aurora-peers")
    peering = objects[(peering_kind, "aurora-peers")]
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert peering["metadata"].get("namespace") == ("team-a" if scope else None)
    assert [rule for rule in rules(objects) if rule["apiGroups"] == ["kopf.dev"]] == [
        {"apiGroups": ["kopf.dev"], "resources": [resource], "verbs": ["list", "watch"]},
        {"apiGroups": ["kopf.dev"], "resources": [resource], "resourceNames": ["aurora-peers"], "verbs": ["patch"]},
    ]
    args = container(objects)["args"]
    assert "--peering=aurora-peers" in args and "--standalone" not in args


def test_irsa_annotation_metrics_service_and_extras() -> None:
    objects = render(
        f"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={IRSA_ROLE}",
        "metrics.service.enabled=true",
        "pollSeconds=5",
        "extraArgs={--verbose}",
    )
    account = objects[("ServiceAccount", "aup-aurora-upgrade-operator")]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": IRSA_ROLE}
    service = objects[("Service", "aup-aurora-upgrade-operator-metrics")]
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8000, "targetPort": "metrics", "protocol": "TCP"}]
    operator = container(objects)
    assert {"name": "AURORA_UPGRADE_POLL_SECONDS", "value": "5"} in operator["env"]
    assert operator["args"][-1] == "--verbose"


# --- installing refuses wrong values (the session's API server: nothing is created) -----------


def test_helm_install_refuses_wrong_values_before_creating_anything(helm: Runner) -> None:
    release = "refused-values"
    result = helm(
        "install", release, str(CHART), "--namespace", RELEASE_NAMESPACE, "--create-namespace",
        "--set", "metrics.port=http",
    )  # fmt: skip
    assert result.returncode != 0
    assert "at '/metrics/port': got string, want integer" in result.stderr, result.stderr
    status = helm("status", release, "--namespace", RELEASE_NAMESPACE)
    assert status.returncode != 0 and "not found" in status.stderr, status.stdout + status.stderr


# --- installed: the operator under the chart's ServiceAccount --------------------------------


@dataclass
class Server:
    plane: ControlPlane
    kubectl: Runner
    helm: Runner


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh kube-apiserver + etcd for this module (see the module docstring), seconds to start."""
    plane = start(tmp_path_factory.mktemp("chart-apiserver"), ensure_binaries())
    try:
        yield Server(plane, _runner(plane.kubectl, plane), _runner(plane.helm, plane))
    finally:
        plane.stop()


def helm_install(server: Server, release: str, *settings: str) -> dict[str, Any]:
    """Install the chart (CRD included) and return the Deployment it created."""
    flags = [flag for setting in (f"pollSeconds={POLL_SECONDS}", *settings) for flag in ("--set", setting)]
    server.helm(
        "install", release, str(CHART), "--namespace", RELEASE_NAMESPACE, "--create-namespace", *flags, check=True
    )
    server.kubectl(
        "wait", "--for=condition=Established", "crd/auroraupgrades.dbupgrade.dev", "--timeout=60s", check=True
    )
    deadline = time.monotonic() + 30
    while server.kubectl("get", "aup", "-A").returncode != 0:  # discovery lags Established
        assert time.monotonic() < deadline, "the AuroraUpgrade CRD installed by the chart is not served"
        time.sleep(0.5)
    selector = f"app.kubernetes.io/instance={release}"
    found = server.kubectl("-n", RELEASE_NAMESPACE, "get", "deployment", "-l", selector, "-o", "json", check=True)
    items: list[dict[str, Any]] = json.loads(found.stdout)["items"]
    assert len(items) == 1, items
    return items[0]


def token_kubeconfig(plane: ControlPlane, token: str, path: Path) -> Path:
    """The admin kubeconfig's server and CA, with the token as the only user."""
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["users"] = [{"name": "operator", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class ChartOperator:
    token: str
    log: Path
    liveness_url: str
    sim: SimProcess
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def refused_calls(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if REFUSED.search(line)]


@contextlib.contextmanager
def chart_operator(
    server: Server, deployment: dict[str, Any], workdir: Path, sim_args: Sequence[str] = ()
) -> Iterator[ChartOperator]:
    """The simulator (with `sim_args`), and the operator with the Deployment's args under its
    ServiceAccount."""
    pod = deployment["spec"]["template"]["spec"]
    account = pod["serviceAccountName"]
    token = server.kubectl("-n", RELEASE_NAMESPACE, "create", "token", account, check=True).stdout.strip()
    whoami = server.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", token=token, check=True)
    assert whoami.stdout == f"system:serviceaccount:{RELEASE_NAMESPACE}:{account}"
    kubeconfig = token_kubeconfig(server.plane, token, workdir / "operator.kubeconfig")

    liveness_url = f"http://127.0.0.1:{free_port()}/healthz"  # the pod's 0.0.0.0:8080, on loopback
    args = [f"--liveness={liveness_url}" if a.startswith("--liveness=") else a for a in pod["containers"][0]["args"]]
    sim = SimProcess(workdir / "sim.log", sim_args).start()
    log = workdir / "operator.log"
    process = start_operator(kubeconfig, sim.endpoint_url, log, POLL_SECONDS, args=args)
    try:
        yield ChartOperator(token, log, liveness_url, sim, process)
    finally:
        try:
            stop_operator(process)
        finally:
            sim.stop()


def wait_ready(server: Server, operator: ChartOperator, namespace: str) -> dict[str, Any]:
    waited = server.kubectl("-n", namespace, "wait", "--for=condition=Ready", f"aup/{NAME}", "--timeout=120s")
    status: dict[str, Any] = json.loads(
        server.kubectl("-n", namespace, "get", "aup", NAME, "-o", "json", check=True).stdout
    ).get("status", {})
    assert waited.returncode == 0, (
        f"{waited.stderr}\nstatus: {json.dumps(status, indent=1)}\n"
        f"operator log:\n{operator.log_text()[-8000:]}\nsimulator log:\n{operator.sim.log_path.read_text()[-3000:]}"
    )
    return status


def apply_example(server: Server, namespace: str) -> None:
    server.kubectl("apply", "-f", "-", input=json.dumps(runbook_manifest(namespace)), check=True)


def assert_runbook_upgrade_completed(server: Server, operator: ChartOperator, namespace: str) -> None:
    status = wait_ready(server, operator, namespace)
    assert status["phase"] == "Completed", status
    assert status["oldClusterIdentifier"] == OLD_CLUSTER, status
    assert operator.sim.mutating_calls() == RUNBOOK_CALLS

    def completed_event_posted() -> bool:
        found = server.kubectl(
            "-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={NAME}", "-o", "json",
            check=True,
        )  # fmt: skip
        return any("-> Completed" in event["message"] for event in json.loads(found.stdout)["items"])

    deadline = time.monotonic() + 20
    while not completed_event_posted():  # kopf posts Events from a queue
        assert time.monotonic() < deadline, f"no Event for Completed\n{operator.log_text()[-5000:]}"
        time.sleep(0.3)


def can_i(server: Server, token: str, verb: str, resource: str, *scope: str) -> bool:
    result = server.kubectl("auth", "can-i", verb, resource, *scope, token=token)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


def test_cluster_wide_chart_rbac_is_enough_for_the_runbook_upgrade_and_no_more(server: Server, tmp_path: Path) -> None:
    deployment = helm_install(server, "aurora-upgrade-operator")
    assert deployment["metadata"]["name"] == "aurora-upgrade-operator"

    with chart_operator(server, deployment, tmp_path) as operator:
        server.kubectl("apply", "-f", str(EXAMPLE), check=True)  # as the README says, into default
        assert_runbook_upgrade_completed(server, operator, "default")
        with urllib.request.urlopen(operator.liveness_url, timeout=5) as response:  # the liveness probe's target
            assert response.status == 200

        # Deleting runs the finalizer, under the same ServiceAccount.
        server.kubectl("-n", "default", "delete", "aup", NAME, "--wait=false", check=True)
        gone = server.kubectl("-n", "default", "wait", "--for=delete", f"aup/{NAME}", "--timeout=60s")
        assert gone.returncode == 0, f"{gone.stderr}\n{operator.log_text()[-5000:]}"
        assert operator.process.poll() is None, operator.log_text()[-5000:]
        assert operator.refused_calls() == [], operator.log_text()[-8000:]

        token = operator.token
        for verb, resource, *scope in [
            ("watch", "auroraupgrades.dbupgrade.dev", "-A"),
            ("patch", "auroraupgrades.dbupgrade.dev", "-n", "team-x"),
            ("patch", "auroraupgrades.dbupgrade.dev", "--subresource=status", "-n", "team-x"),
            ("create", "events", "-n", "team-x"),
            ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
            ("list", "clusterkopfpeerings.kopf.dev"),  # peering is on by default
            ("patch", "clusterkopfpeerings.kopf.dev/aurora-upgrade-operator"),
        ]:
            assert can_i(server, token, verb, resource, *scope), f"the operator cannot {verb} {resource}"
        for verb, resource, *scope in [
            ("get", "secrets", "-n", RELEASE_NAMESPACE),
            ("list", "secrets", "-A"),
            ("get", "configmaps", "-n", "default"),
            ("create", "pods", "-n", "default"),
            ("create", "serviceaccounts", "--subresource=token", "-n", RELEASE_NAMESPACE),
            ("create", "auroraupgrades.dbupgrade.dev", "-n", "default"),
            ("delete", "auroraupgrades.dbupgrade.dev", "-n", "default"),
            ("update", "customresourcedefinitions.apiextensions.k8s.io"),
            ("list", "namespaces"),
            ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
            ("patch", "clusterkopfpeerings.kopf.dev/someone-else"),
            ("delete", "events", "-n", "default"),
        ]:
            assert not can_i(server, token, verb, resource, *scope), f"the operator can {verb} {resource}"


def test_watch_namespace_chart_rbac_is_enough_in_that_namespace_only(server: Server, tmp_path: Path) -> None:
    team = "team-a"
    server.kubectl("create", "namespace", team, check=True)
    deployment = helm_install(server, "team-a-upgrades", f"watchNamespace={team}")

    with chart_operator(server, deployment, tmp_path) as operator:
        apply_example(server, team)
        assert_runbook_upgrade_completed(server, operator, team)
        assert operator.refused_calls() == [], operator.log_text()[-8000:]

        token = operator.token
        assert can_i(server, token, "watch", "auroraupgrades.dbupgrade.dev", "-n", team)
        assert can_i(server, token, "watch", "namespaces")  # kopf's lookup of the namespaces it serves
        for verb, resource, *scope in [
            ("list", "auroraupgrades.dbupgrade.dev", "-A"),
            ("list", "auroraupgrades.dbupgrade.dev", "-n", "default"),
            ("create", "events", "-n", "default"),
            ("get", f"namespaces/{team}"),
            ("get", "secrets", "-n", team),
            ("create", "pods", "-n", team),
        ]:
            assert not can_i(server, token, verb, resource, *scope), f"the operator can {verb} {resource} {scope}"


def test_validation_secret_namespaces_let_the_operator_read_a_password_there_only(
    server: Server,
    tmp_path: Path,
    postgres_servers: Servers,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """spec.validation's passwordSecretRef under the chart's RBAC: with validation.secretNamespaces
    the operator reads the Secret in the upgrade's namespace, its check logs in on the real green
    server with it, and the upgrade completes; it can read Secrets nowhere else."""
    team = "team-v"
    server.kubectl("create", "namespace", team, check=True)
    deployment = helm_install(
        server, "team-v-upgrades", f"watchNamespace={team}", f"validation.secretNamespaces={{{team}}}"
    )
    server.kubectl(
        "-n", team, "create", "secret", "generic", "orders-db", f"--from-literal=password={PROBE_PASSWORD}", check=True
    )  # fmt: skip
    # The chart mounts validation.caBundle at this variable's path; here the operator runs on the host.
    monkeypatch.setenv("AURORA_UPGRADE_DB_CA_BUNDLE", str(postgres_servers.ca_bundle))
    databases = [
        f"--database-endpoint=blue=127.0.0.1:{postgres_servers.blue.port}",
        f"--database-endpoint=green=127.0.0.1:{postgres_servers.green.port}",
    ]
    upgrade = runbook_manifest(team)
    upgrade["spec"]["validation"] = {
        "database": {"user": PROBE_USER, "passwordSecretRef": {"name": "orders-db", "key": "password"}},
        "checks": [{"name": "logged-in-as-the-user", "sql": f"select current_user = '{PROBE_USER}'"}],
    }

    with chart_operator(server, deployment, tmp_path, databases) as operator:
        server.kubectl("apply", "-f", "-", input=json.dumps(upgrade), check=True)
        assert_runbook_upgrade_completed(server, operator, team)
        status = json.loads(server.kubectl("-n", team, "get", "aup", NAME, "-o", "json", check=True).stdout)["status"]
        # The guardrails (Enforce, the default) ran over the same connection settings and passed.
        results = {v["name"]: v["result"] for v in status["validation"]}
        assert results == {"Guardrails": "Passed", "logged-in-as-the-user": "Passed"}, status["validation"]
        assert operator.refused_calls() == [], operator.log_text()[-8000:]
        assert PROBE_PASSWORD not in operator.log_text()

        token = operator.token
        assert can_i(server, token, "get", "secrets/orders-db", "-n", team)
        for verb, resource, *scope in [
            ("list", "secrets", "-n", team),
            ("watch", "secrets", "-n", team),
            ("get", "secrets", "-n", "default"),
            ("get", "secrets", "-n", RELEASE_NAMESPACE),
        ]:
            assert not can_i(server, token, verb, resource, *scope), f"the operator can {verb} {resource} {scope}"


def test_peering_chart_rbac_lets_the_operator_join_its_peering(server: Server, tmp_path: Path) -> None:
    team = "team-peered"
    server.kubectl("create", "namespace", team, check=True)
    deployment = helm_install(server, "peered", "peering.enabled=true", "peering.name=aurora-peers")
    # kopf's peering CRDs came with the chart (crds/), or with an earlier release of it.
    server.kubectl(
        "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "crd/kopfpeerings.kopf.dev",
        "--timeout=60s", check=True,
    )  # fmt: skip

    with chart_operator(server, deployment, tmp_path) as operator:
        # Mandatory peering keeps kopf paused until it has seen its peering object: completing
        # proves it could watch it.
        apply_example(server, team)
        assert_runbook_upgrade_completed(server, operator, team)
        peering = server.kubectl("get", "clusterkopfpeering", "aurora-peers", "-o", "json", check=True)
        peers = list(json.loads(peering.stdout).get("status", {}))
        assert len(peers) == 1, peers  # its keep-alive patch went through
        assert operator.refused_calls() == [], operator.log_text()[-8000:]
        assert not can_i(server, operator.token, "patch", "clusterkopfpeerings.kopf.dev/someone-else")
