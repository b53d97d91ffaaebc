"""The operator's image, built from the Dockerfile by `make image` and started as the Helm chart
runs it: the chart's container args and environment, and its securityContext translated to
podman (the user the image declares, a read-only root filesystem with only the chart's /tmp
volume writable, no capabilities, no privilege escalation). Against the session's kube-apiserver
and the simulator, it answers /healthz, serves metrics and completes the runbook's upgrade.

podman runs it on the host network, where the kube-apiserver and the simulator listen on
loopback; so the chart's ports become free ones and its 0.0.0.0 listen addresses 127.0.0.1 (in a
pod, the pod's own network namespace is what keeps them private). The test skips only where the
machine cannot run containers at all: `tools/image/image.sh` says so (exit status 3) when podman
or mmdebstrap are missing and cannot be installed.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from operator_fixtures import (
    EXAMPLE_NAME,
    REPO,
    Runner,
    Stack,
    apply_example_and_wait,
    assert_runbook_completed,
)
from prometheus_client.parser import text_string_to_metric_families

from aurora_upgrade.config import METRICS_ADDRESS_ENV, SCALE_ENV
from aurora_upgrade_dev.stack import operator_env

IMAGE = "localhost/aurora-upgrade-operator:e2e"
IMAGE_TOOL = REPO / "tools" / "image" / "image.sh"
CHART = REPO / "charts" / "aurora-upgrade-operator"
KUBECONFIG_IN_CONTAINER = "/etc/aurora-upgrade/kubeconfig"
CANNOT = re.compile(r"^image: cannot run containers on this machine: .*$", re.MULTILINE)

_containers = itertools.count(1)


def podman(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """podman on the image store `make image` builds into."""
    return subprocess.run(
        [str(IMAGE_TOOL), "podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def image() -> str:
    """`make image` of the current sources (unchanged build steps come from the store's cache)."""
    built = subprocess.run(
        ["make", "-C", str(REPO), "image", f"IMAGE={IMAGE}"], capture_output=True, text=True, timeout=1800
    )
    output = built.stdout + built.stderr
    if built.returncode != 0:
        cannot = CANNOT.search(output)
        if cannot:
            pytest.skip(cannot.group(0))
        raise AssertionError(f"make image exited {built.returncode}:\n{output}")
    return IMAGE


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _image_user(image: str) -> str:
    inspected = podman("image", "inspect", "--format", "{{.Config.User}}", image)
    assert inspected.returncode == 0, inspected.stderr
    return inspected.stdout.strip()


class ChartContainer:
    """The chart's operator container for one namespace, as `helm template` renders it."""

    def __init__(self, helm: Runner, namespace: str, metrics_port: int, liveness_port: int) -> None:
        rendered = helm(
            "template", "aurora-upgrade-operator", str(CHART), "--namespace", namespace,
            "--set", f"watchNamespace={namespace}",
            "--set", f"metrics.port={metrics_port}",
            "--set", f"liveness.port={liveness_port}",
            check=True,
        )  # fmt: skip
        documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
        deployment = next(d for d in documents if d["kind"] == "Deployment")
        # Peering is on by default: the chart renders its peering object (and ships kopf's CRDs).
        self.peering = [d for d in documents if d["kind"] in ("KopfPeering", "ClusterKopfPeering")]
        self.pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
        (self.container,) = self.pod["containers"]

    def podman_options(self, image_user: str) -> list[str]:
        """The securityContext and volumes as podman options; anything this does not know how
        to translate fails the test, so a change to the chart is never silently left out."""
        options: list[str] = []
        pod_context = dict(self.pod.get("securityContext") or {})
        # The image's own user runs (no --user): it must be numeric and non-zero, which is what
        # the kubelet checks for runAsNonRoot, and the one the chart asks for.
        assert pod_context.pop("runAsNonRoot", False) is True, "the chart does not ask for runAsNonRoot"
        uid, _, gid = image_user.partition(":")
        assert uid.isdigit() and int(uid) != 0, f"the image's USER {image_user!r} is not a numeric non-root uid"
        if "runAsUser" in pod_context:
            assert str(pod_context.pop("runAsUser")) == uid, f"chart runAsUser differs from the image's {image_user}"
        if "runAsGroup" in pod_context:
            assert str(pod_context.pop("runAsGroup")) == gid, f"chart runAsGroup differs from the image's {image_user}"
        seccomp = pod_context.pop("seccompProfile", {"type": "RuntimeDefault"})
        assert seccomp == {"type": "RuntimeDefault"}, f"translate seccompProfile {seccomp} to podman"  # its default
        assert not pod_context, f"translate the pod securityContext {pod_context} to podman"

        context = dict(self.container.get("securityContext") or {})
        if context.pop("readOnlyRootFilesystem", False):
            # Only the chart's volumes are writable, not podman's usual /tmp, /var/tmp and /run.
            options += ["--read-only", "--read-only-tmpfs=false"]
        if context.pop("allowPrivilegeEscalation", True) is False:
            options.append("--security-opt=no-new-privileges")
        capabilities = context.pop("capabilities", {})
        options += [f"--cap-drop={cap}" for cap in capabilities.pop("drop", [])]
        options += [f"--cap-add={cap}" for cap in capabilities.pop("add", [])]
        assert not capabilities, f"translate capabilities {capabilities} to podman"
        assert not context, f"translate the container securityContext {context} to podman"

        volumes = {volume["name"]: volume for volume in self.pod.get("volumes", [])}
        for mount in self.container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            assert set(volume) == {"name", "emptyDir"}, f"translate volume {volume} to podman"
            size = volume["emptyDir"].get("sizeLimit", "")
            options.append(
                f"--mount=type=tmpfs,destination={mount['mountPath']}"
                + (f",tmpfs-size={size.removesuffix('i').lower()}" if size else "")
            )
        assert "command" not in self.container, "the chart overrides the image's ENTRYPOINT: pass it as --entrypoint"
        return options

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for variable in self.container.get("env", []):
            assert set(variable) == {"name", "value"}, f"translate env {variable} to podman"
            env[variable["name"]] = variable["value"]
        return env

    def args(self) -> list[str]:
        args: list[str] = self.container["args"]
        assert any(arg.startswith("--liveness=http://0.0.0.0:") for arg in args), args
        return [arg.replace("http://0.0.0.0:", "http://127.0.0.1:") for arg in args]


class ImageOperator:
    """An OperatorLauncher running the image with the chart's container spec."""

    def __init__(self, image: str, helm: Runner, kubectl: Runner) -> None:
        self.image = image
        self.helm = helm
        self.kubectl = kubectl
        self.metrics_port = _free_port()
        self.liveness_port = _free_port()
        self.name = f"aurora-upgrade-e2e-{os.getpid()}-{next(_containers)}"
        self.command: list[str] = []

    def __call__(
        self, kubeconfig: Path, rds_endpoint: str, log_path: Path, poll_seconds: float, namespace: str
    ) -> subprocess.Popen[bytes]:
        chart = ChartContainer(self.helm, namespace, self.metrics_port, self.liveness_port)
        # What `helm install` creates besides the Deployment that the operator needs: kopf's peering
        # CRDs (the chart's crds/) and the peering object its `--peering` names. Without them kopf
        # waits for the peering object and never starts handling upgrades.
        assert chart.peering, "the chart renders no peering object: drop this step if peering is off by default"
        self.kubectl("apply", "-f", str(CHART / "crds" / "kopf-peering.yaml"), check=True)
        self.kubectl(
            "wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "crd/clusterkopfpeerings.kopf.dev",
            check=True,
        )  # fmt: skip
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(chart.peering), check=True)
        # The admin kubeconfig, readable by the image's user (the control plane writes it 0600).
        readable = log_path.with_name("kubeconfig-for-image")
        shutil.copyfile(kubeconfig, readable)
        readable.chmod(0o644)
        env = chart.env()
        # What the local operator gets to use the simulator as RDS (only those boto3 variables).
        env.update({k: v for k, v in operator_env(kubeconfig, rds_endpoint, poll_seconds).items()
                    if k.startswith("AWS_") and os.environ.get(k) != v})  # fmt: skip
        env.update({
            SCALE_ENV: str(poll_seconds / 30),  # the e2e tests' compressed time instead of real time
            METRICS_ADDRESS_ENV: "127.0.0.1",
            "KUBECONFIG": KUBECONFIG_IN_CONTAINER,
        })  # fmt: skip
        self.command = [
            str(IMAGE_TOOL), "podman", "run", "--rm", "--name", self.name, "--network=host",
            *chart.podman_options(_image_user(self.image)),
            f"--volume={readable}:{KUBECONFIG_IN_CONTAINER}:ro",
            *(f"--env={key}={value}" for key, value in sorted(env.items())),
            self.image, *chart.args(),
        ]  # fmt: skip
        with log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.command)}\n".encode())
            return subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}{path}"


@pytest.fixture
def namespace(crd: None) -> str:
    """The example manifest names namespace default; the operator watches only it here."""
    return "default"


@pytest.fixture
def image_operator(image: str, helm: Runner, stack: Stack) -> Iterator[ImageOperator]:
    launcher = ImageOperator(image, helm, stack.kubectl)
    stack.launch_operator = launcher
    try:
        yield launcher
    finally:
        # The podman process stops the container on SIGTERM (Stack.stop); this also covers a
        # podman killed before it could.
        podman("rm", "--force", "--ignore", launcher.name)


def _get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return None


def _process_status(container: str) -> dict[str, str]:
    """/proc/<pid>/status of the container's main process, as the host sees it."""
    inspected = podman("container", "inspect", "--format", "{{.State.Pid}}", container)
    assert inspected.returncode == 0, inspected.stderr
    lines = Path(f"/proc/{inspected.stdout.strip()}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def test_image_runs_the_runbook_as_the_chart_runs_it(stack: Stack, image_operator: ImageOperator) -> None:
    stack.start()
    healthz = stack.wait_for(
        "the container's /healthz", lambda: _get(image_operator.url(image_operator.liveness_port, "/healthz")), 120
    )
    assert healthz[0] == 200, healthz

    # Who runs it and what it may do, as the kernel sees the container's process.
    status = _process_status(image_operator.name)
    uid, _, gid = _image_user(image_operator.image).partition(":")
    assert status["Uid"].split() == [uid] * 4, status["Uid"]
    assert status["Gid"].split() == [gid] * 4, status["Gid"]
    assert status["NoNewPrivs"].strip() == "1", status
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0, status
    # The root filesystem refuses writes even from root in the container; /tmp (the chart's
    # emptyDir) takes them.
    refused = podman("exec", "--user=0", image_operator.name, "touch", "/probe")
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr, refused
    scratch = podman("exec", image_operator.name, "touch", "/tmp/probe")
    assert scratch.returncode == 0, scratch.stderr

    apply_example_and_wait(stack)
    assert_runbook_completed(stack)

    metrics = stack.wait_for(
        "the container's metrics", lambda: _get(image_operator.url(image_operator.metrics_port, "/metrics")), 30
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics[1])
        for sample in family.samples
    }
    completed = (("name", EXAMPLE_NAME), ("namespace", "default"), ("phase", "Completed"))
    assert samples.get(("aurora_upgrade_phase", completed)) == 1.0, metrics[1]
    created = (("operation", "CreateBlueGreenDeployment"), ("outcome", "ok"))
    assert samples.get(("aurora_upgrade_rds_api_calls_total", created)) == 1.0, metrics[1]

    # SIGTERM to `podman run` (what Stack.stop sends) stops the operator and removes the container.
    stack.stop()
    assert stack.operator is not None and stack.operator.returncode == 0, stack.diagnose()
    gone = podman("container", "exists", image_operator.name)
    assert gone.returncode == 1, gone
