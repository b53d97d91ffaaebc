"""The kopf tier: the operator's handlers run in this process (`kopf.testing.KopfRunner`, as
`aurora-upgrade operator` runs them) against a real kube-apiserver + etcd and the simulated RDS
API (`aurora-upgrade sim` as a process), asserting what a user sees: status, Events,
finalizers, and the simulator's record of the calls made.

Shared for the session: the control plane (tools/aurora_upgrade_dev/controlplane.py, the same
as the e2e tier's; the first run builds it, many minutes), the CRDs, and one simulator with a
fleet of the runbook's cluster (`--fleet`), each test upgrading clusters of its own. The RDS
gateways live as long as the process (engine.default_gateways), so every runner of the session
talks to the one simulator. Each module has its own namespace and runners.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import kopf
import pytest
from kopf.testing import KopfRunner
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from aurora_upgrade.models import FINALIZER, GROUP, PLURAL, VERSION
from aurora_upgrade_dev.controlplane import ControlPlane, ensure_binaries, start
from aurora_upgrade_dev.processes import stop_process
from aurora_upgrade_dev.stack import install_crd
from support.runbook import REGION, REPO, runbook_manifest

KOPF_DIR = Path(__file__).parent
PEERING_CRDS = REPO / "charts/aurora-upgrade-operator/crds/kopf-peering.yaml"

# The base poll interval of the runners (time compressed by POLL_SECONDS / 30). At 3 s: a
# person's wait is looked at again every 30 s (Timing.safety), the Region's events are read
# every second (Timing.events), AWS's quick
# steps every second: long enough that a wake-up shows against the safety interval, short
# enough that the runbook finishes in tens of seconds.
POLL_SECONDS = 3.0
FLEET = 9  # the simulator's clusters: aurora-bg-aurora-cluster-0001 ... -0009
# AWS's typical durations times this (sim/config.py): 30 min of provisioning become 1.8 s.
SIM_SCALE = "0.001"
# The simulator's SQS queue that an EventBridge rule fills with its RDS events (`--event-queue`);
# only the runners a test configures with it consume it.
EVENT_QUEUE = "aurora-upgrade-events"

T = TypeVar("T")


def fleet_cluster(index: int) -> str:
    """The simulator's `--fleet` cluster `index` (sim.scenarios.fleet_cluster, which loads moto)."""
    return f"{runbook_manifest()['spec']['clusterIdentifier']}-{index:04d}"


def _log_to_terminal(message: str) -> None:
    print(f"[controlplane] {message}", file=sys.__stderr__, flush=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build (or find) the control plane's binaries before the first test, with progress shown."""
    if any(KOPF_DIR in Path(str(item.path)).parents for item in session.items):
        ensure_binaries(log=_log_to_terminal)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = start(tmp_path_factory.mktemp("controlplane"), ensure_binaries(log=_log_to_terminal), log=_log_to_terminal)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> k8s.ApiClient:
    install_crd(control_plane.kubectl, control_plane.kubeconfig)
    subprocess.run(
        [str(control_plane.kubectl), "--kubeconfig", str(control_plane.kubeconfig), "apply", "-f", str(PEERING_CRDS)],
        check=True,
        capture_output=True,
    )
    return k8s_config.new_client_from_config(config_file=str(control_plane.kubeconfig))


class Sim:
    """`aurora-upgrade sim` in a process of its own; its call record read over /_sim/calls."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        command = [sys.executable, "-m", "aurora_upgrade.cli", "sim", "--port", "0", "--log-calls"]
        command += ["--fleet", str(FLEET), "--scale", SIM_SCALE, "--event-queue", EVENT_QUEUE]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.endpoint_url = wait_for("the simulator to start", self._endpoint, timeout=60, interval=0.1)
        found = re.search(r"AURORA_UPGRADE_EVENT_QUEUE_URL=(\S+)", self.log_path.read_text(errors="replace"))
        assert found, "the simulator names its event queue on its first line"
        self.event_queue_url = found.group(1)

    def _endpoint(self) -> str | None:
        assert self.process.poll() is None, self.log_path.read_text(errors="replace")
        found = re.search(r"AWS_ENDPOINT_URL_RDS=(\S+)", self.log_path.read_text(errors="replace"))
        return found.group(1) if found else None

    def calls(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.endpoint_url}/_sim/calls", timeout=10) as response:
            calls: list[dict[str, Any]] = json.loads(response.read())
        return calls

    def transitions(self) -> list[dict[str, str]]:
        """The delayed state changes AWS made so far ({"label", "time"}), e.g. "bgd-... provisioned"."""
        with urllib.request.urlopen(f"{self.endpoint_url}/_sim/transitions", timeout=10) as response:
            transitions: list[dict[str, str]] = json.loads(response.read())
        return transitions

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls() if call["operation"] == operation)

    def rds(self) -> Any:
        """A boto3 RDS client against the simulator, as a person's `aws rds` would be."""
        from aurora_upgrade.sim import rds_client

        return rds_client(self.endpoint_url, REGION)

    def stop(self) -> None:
        stop_process(self.process, timeout=15)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    simulator = Sim(tmp_path_factory.mktemp("sim") / "sim.log")
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def operator_env(control_plane: ControlPlane, sim: Sim) -> Iterator[None]:
    """What `aurora-upgrade operator` reads from its environment (tools/aurora_upgrade_dev/stack.py
    sets the same for the process the e2e tier starts): the runners read it at start-up."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBECONFIG", str(control_plane.kubeconfig))
        env.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
        env.setenv("AWS_ENDPOINT_URL_STS", sim.endpoint_url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AURORA_UPGRADE_TIME_SCALE", str(POLL_SECONDS / 30))  # every interval and deadline alike
        env.setenv("AURORA_UPGRADE_METRICS_PORT", "0")
        env.setenv("AURORA_UPGRADE_METRICS_ADDRESS", "127.0.0.1")
        yield


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


_namespaces = itertools.count(1)


class Upgrades:
    """The AuroraUpgrades of one namespace, as a user reads and changes them."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self.objects = k8s.CustomObjectsApi(api)
        self.core = k8s.CoreV1Api(api)
        self.namespace = namespace

    def apply(self, name: str, cluster: str, **spec: Any) -> None:
        body = runbook_manifest(self.namespace, name, clusterIdentifier=cluster, **spec)
        self.objects.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)

    def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.objects.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        return obj

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(name).get("status") or {}
        return status

    def patch(self, name: str, patch: dict[str, Any]) -> None:
        self.objects.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name, patch)

    def has_finalizer(self, name: str) -> bool:
        return FINALIZER in (self.get(name)["metadata"].get("finalizers") or [])

    def events(self, name: str) -> list[Any]:
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.kind=AuroraUpgrade,involvedObject.name={name}"
        )
        return list(listed.items)

    def wait_status(
        self, name: str, what: str, check: Callable[[dict[str, Any]], bool], timeout: float = 90.0
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            status = self.status(name)
            assert status.get("phase") not in ("Failed", "Aborted"), status
            return status if check(status) else None

        try:
            return wait_for(f"{self.namespace}/{name}: {what}", probe, timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\nits status: {self.status(name)}") from None

    def wait_phase(self, name: str, phase: str, timeout: float = 90.0) -> dict[str, Any]:
        return self.wait_status(name, f"phase {phase}", lambda status: status.get("phase") == phase, timeout)

    def wait_reason(self, name: str, reason: str, timeout: float = 90.0) -> dict[str, Any]:
        return self.wait_status(name, f"reason {reason}", lambda status: status.get("reason") == reason, timeout)


@pytest.fixture(scope="module")
def upgrades(kube: k8s.ApiClient, request: pytest.FixtureRequest) -> Upgrades:
    """A namespace of the module's own, and its AuroraUpgrades."""
    prefix = re.sub(r"[^a-z0-9]+", "-", request.module.__name__.rsplit(".", 1)[-1].lower()).strip("-")
    namespace = f"{prefix}-{os.getpid()}-{next(_namespaces)}"[:63].rstrip("-")
    k8s.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    return Upgrades(kube, namespace)


def kopf_runner(namespace: str, *options: str, settings: kopf.OperatorSettings | None = None) -> KopfRunner:
    """`aurora-upgrade operator --namespace <namespace> <options>`, in this process."""
    args = ["run", "-m", "aurora_upgrade.controller", "--namespace", namespace, *options]
    return KopfRunner(args, settings=settings, timeout=90)


@contextlib.contextmanager
def standard_streams() -> Iterator[None]:
    """Each KopfRunner swaps sys.stdout/stderr for its own while it runs and puts back what it
    found; runners stopped out of order would leave one of theirs in place."""
    saved = sys.stdin, sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


def calls_since(sim: Sim, start: int, operations: Sequence[str] | None = None) -> list[str]:
    from aurora_upgrade.sim.recorder import is_mutating

    return [
        call["operation"]
        for call in sim.calls()[start:]
        if (call["operation"] in operations if operations is not None else is_mutating(call["operation"]))
    ]
