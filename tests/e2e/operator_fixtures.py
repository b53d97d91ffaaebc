"""The operator end to end: `aurora-upgrade sim` and `aurora-upgrade operator` as real
processes against the session's kube-apiserver, driven with kubectl as a user types it.

``stack`` (function fixture) starts them: ``stack.start(sim_args=[...])`` runs the simulator
(runbook account) and an operator watching only this test's own namespace, so upgrades left
behind by other tests (namespaces never finish deleting here) are never touched. Both
processes are stopped at teardown, whatever happened. ``stack.diagnose()`` returns what one
needs to debug a failure (operator log, simulator calls, the resources and their Events);
every wait helper puts it in its assertion message.

Why per test and not per module: every test that starts a stack changes the runbook account's one
cluster (or shows that it did not) and asserts the simulator's whole call record and the
cluster's end state, and the simulator has no reset; a shared one would make a test's result
depend on the tests before it. What needs no isolation is shared already: the control plane, the
CRD and kubectl/helm per session; test_chart.py's own API server, the image and the validation
tests' namespace per module.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from aurora_upgrade.models import API_VERSION
from aurora_upgrade.phases import TERMINAL
from aurora_upgrade.sim import rds_client
from aurora_upgrade_dev.controlplane import ControlPlane
from aurora_upgrade_dev.processes import stop_process
from aurora_upgrade_dev.stack import install_crd, start_operator, stop_operator
from support.runbook import (
    CLUSTER,
    EXAMPLE,
    NAME,
    REGION,
    REPO,
    RUNBOOK_CALLS,
    RUNBOOK_SPEC,
    assert_runbook_end_state,
    assert_runbook_status,
)
from support.runner import Runner

EXAMPLE_NAME = NAME

# What the e2e tests import from here; the runbook's data among it is support.runbook's, which
# the other tiers share.
__all__ = [
    "CLUSTER",
    "EXAMPLE",
    "EXAMPLE_NAME",
    "POLL_SECONDS",
    "REGION",
    "REPO",
    "RUNBOOK_CALLS",
    "OperatorLauncher",
    "Runner",
    "SimProcess",
    "Stack",
    "apply_example_and_wait",
    "assert_runbook_completed",
    "crd",
    "free_port",
    "local_operator",
    "manifest",
    "namespace",
    "stack",
    "unique_namespace",
]

POLL_SECONDS = 0.3

T = TypeVar("T")


def free_port() -> int:
    """A loopback port free now, for a server that cannot report the one it picked."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorLauncher(Protocol):
    """Starts the operator for a Stack, watching `namespace`: the returned process runs as long
    as the operator does, and stops it on SIGTERM."""

    def __call__(
        self, kubeconfig: Path, rds_endpoint: str, log_path: Path, poll_seconds: float, namespace: str
    ) -> subprocess.Popen[bytes]: ...


def local_operator(
    kubeconfig: Path, rds_endpoint: str, log_path: Path, poll_seconds: float, namespace: str
) -> subprocess.Popen[bytes]:
    """`aurora-upgrade operator` from this checkout, as a process of its own."""
    return start_operator(kubeconfig, rds_endpoint, log_path, poll_seconds, namespace=namespace)


def _tail(path: Path, lines: int = 150) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<cannot read {path}: {error}>"
    return "\n".join(text.splitlines()[-lines:])


# Seconds instead of the simulator's default minutes; a test's own options come after, and win.
SIM_TIMING = (
    "--provisioning-seconds=2",
    "--switchover-seconds=1",
    "--reboot-seconds=0.5",
    "--snapshot-seconds=0.5",
    "--delete-seconds=0.5",
    "--not-found-after-create-seconds=0.5",
)


class SimProcess:
    """`aurora-upgrade sim` in its own process; observed and steered through /_sim/*."""

    def __init__(self, log_path: Path, args: Sequence[str] = ()) -> None:
        self.log_path = log_path
        self.args = [*SIM_TIMING, *args]
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint_url = ""

    def start(self, timeout: float = 60.0) -> SimProcess:
        command = [sys.executable, "-m", "aurora_upgrade.cli", "sim", "--port", "0", "--log-calls", *self.args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ)
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"AWS_ENDPOINT_URL_RDS=(\S+)", self.log_path.read_text(errors="replace"))
            if found:
                self.endpoint_url = found.group(1)
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the simulator did not start:\n{_tail(self.log_path)}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.release()  # a held response would keep a request thread waiting
            stop_process(self.process, timeout=15)

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.endpoint_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "/_sim/calls")
        return result

    def mutating_calls(self) -> list[str]:
        from aurora_upgrade.sim.recorder import is_mutating

        return [c["operation"] for c in self.calls() if is_mutating(c["operation"])]

    def hold(self, operation: str) -> None:
        self._control("POST", "/_sim/hold", {"operation": operation})

    def release(self) -> None:
        self._control("POST", "/_sim/release", {})

    def held(self) -> list[str]:
        result: list[str] = self._control("GET", "/_sim/held")["held"]
        return result

    def rds(self) -> Any:
        """A boto3 RDS client against the simulator, as `aws --endpoint-url` would be."""
        return rds_client(self.endpoint_url, REGION)


class Stack:
    """One test's simulator + operator, in the test's own namespace."""

    def __init__(self, plane: ControlPlane, kubectl: Runner, namespace: str, workdir: Path) -> None:
        self.plane = plane
        self.kubectl = kubectl
        self.namespace = namespace
        self.workdir = workdir
        self.operator_log = workdir / "operator.log"
        self.sim: SimProcess | None = None
        self.operator: subprocess.Popen[bytes] | None = None
        self.operator_starts = 0
        self.operator_should_run = False
        self.launch_operator: OperatorLauncher = local_operator

    # --- processes -------------------------------------------------------------------------

    def start(self, sim_args: Sequence[str] = ()) -> Stack:
        self.sim = SimProcess(self.workdir / "sim.log", sim_args).start()
        self.start_operator()
        return self

    def start_operator(self) -> subprocess.Popen[bytes]:
        assert self.sim is not None, "start the simulator first"
        assert self.operator is None or self.operator.poll() is not None, "the operator is already running"
        self.operator_starts += 1
        with self.operator_log.open("a") as log:
            log.write(f"\n===== operator start #{self.operator_starts} =====\n")
        self.operator = self.launch_operator(
            self.plane.kubeconfig, self.sim.endpoint_url, self.operator_log, POLL_SECONDS, self.namespace
        )
        self.operator_should_run = True
        return self.operator

    def kill_operator(self, sig: int = signal.SIGKILL) -> None:
        assert self.operator is not None
        pid = self.operator.pid
        self.operator_should_run = False
        stop_operator(self.operator, sig)
        with self.operator_log.open("a") as log:
            log.write(f"\n===== operator pid {pid} stopped with {signal.Signals(sig).name} =====\n")

    def stop(self) -> None:
        self.operator_should_run = False
        try:
            if self.operator is not None:
                stop_operator(self.operator)
        finally:
            if self.sim is not None:
                self.sim.stop()

    def remove_upgrades(self) -> None:
        """Delete this test's AuroraUpgrades, dropping the finalizer its stopped operator can no
        longer remove, so no later operator (e.g. one serving every namespace) picks them up."""
        listed = self.k("get", "aup", "-o", "name")
        for ref in listed.stdout.split():
            self.k("patch", ref, "--type", "merge", "-p", '{"metadata": {"finalizers": null}}')
        if listed.stdout.strip():
            self.k("delete", "aup", "--all", "--wait=false")

    @property
    def rds_sim(self) -> SimProcess:
        assert self.sim is not None
        return self.sim

    # --- kubectl -----------------------------------------------------------------------------

    def k(self, *args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        """kubectl in this test's namespace."""
        return self.kubectl("-n", self.namespace, *args, input=input, check=check)

    def apply(self, manifest: str) -> subprocess.CompletedProcess[str]:
        result = self.k("apply", "-f", "-", input=manifest)
        assert result.returncode == 0, f"kubectl apply failed:\n{result.stderr}\n{self.diagnose()}"
        return result

    def get(self, name: str) -> dict[str, Any]:
        result = self.k("get", "aup", name, "-o", "json", check=True)
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(name).get("status", {})
        return status

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.2) -> T:
        """Poll `probe` until it returns something truthy; fail with the diagnosis."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnose()}")
            if self.operator_should_run and self.operator is not None and self.operator.poll() is not None:
                raise AssertionError(
                    f"the operator exited ({self.operator.returncode}) while waiting for {what}\n{self.diagnose()}"
                )
            time.sleep(interval)

    def wait_phase(self, name: str, phases: str | Sequence[str], timeout: float = 60.0) -> dict[str, Any]:
        wanted = (phases,) if isinstance(phases, str) else tuple(phases)

        def probe() -> dict[str, Any] | None:
            status = self.status(name)
            if status.get("phase") in wanted:
                return status
            if status.get("phase") in TERMINAL and status.get("phase") not in wanted:
                raise AssertionError(
                    f"{name} ended {status.get('phase')} ({status.get('reason')}: {status.get('message')}) "
                    f"while waiting for {wanted}\n{self.diagnose()}"
                )
            return None

        return self.wait_for(f"{self.namespace}/{name} to reach {' or '.join(wanted)}", probe, timeout)

    def authorise_switchover_if_asked(self, name: str) -> int:
        """As a person would: when the operator holds because a switchover it sent may not have
        been carried out (an HTTP 500 after the call: SwitchoverNotCarriedOut), raise
        spec.switchover.attempt. Returns the attempt now authorised (1 while nobody was asked)."""
        status = self.status(name)
        recorded = int(status.get("switchoverAttempt") or 1)
        if status.get("reason") != "SwitchoverNotCarriedOut":
            return recorded
        patch = {"spec": {"switchover": {"attempt": recorded + 1}}}
        self.k("patch", "aup", name, "--type", "merge", "-p", json.dumps(patch), check=True)
        return recorded + 1

    def wait_completed(self, name: str, timeout: float) -> tuple[dict[str, Any], int]:
        """wait_phase(name, "Completed") with a person authorising switchover attempts when asked;
        the status and the highest attempt authorised."""
        authorised = [1]

        def probe() -> dict[str, Any] | None:
            authorised.append(self.authorise_switchover_if_asked(name))
            status = self.status(name)
            if status.get("phase") in TERMINAL and status.get("phase") != "Completed":
                raise AssertionError(f"{name} ended {status.get('phase')} ({status.get('reason')})\n{self.diagnose()}")
            return status if status.get("phase") == "Completed" else None

        status = self.wait_for(f"{self.namespace}/{name} to complete", probe, timeout, interval=0.5)
        return status, max(authorised)

    def events(self, name: str) -> list[dict[str, Any]]:
        result = self.k(
            "get", "events", "--field-selector", f"involvedObject.kind=AuroraUpgrade,involvedObject.name={name}",
            "-o", "json",
        )  # fmt: skip
        if result.returncode != 0:
            return []
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return sorted(items, key=lambda e: e.get("firstTimestamp") or e.get("eventTime") or "")

    # --- diagnosis ---------------------------------------------------------------------------

    def diagnose(self) -> str:
        parts = [f"===== operator log ({self.operator_log}) =====", _tail(self.operator_log, 200)]
        if self.sim is not None:
            parts += [f"===== simulator log ({self.sim.log_path}) =====", _tail(self.sim.log_path, 60)]
        objects = self.kubectl("-n", self.namespace, "get", "aup", "-o", "yaml", timeout=30)
        parts += [f"===== kubectl -n {self.namespace} get aup -o yaml =====", objects.stdout or objects.stderr]
        events = self.kubectl(
            "-n", self.namespace, "get", "events", "--sort-by=.lastTimestamp",
            "-o", "custom-columns=TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message",
            timeout=30,
        )  # fmt: skip
        parts += [f"===== events in {self.namespace} =====", events.stdout or events.stderr]
        return "\n".join(parts)


_names = itertools.count(1)


def unique_namespace(kubectl: Runner, prefix: str) -> str:
    name = f"{prefix}-{os.getpid()}-{next(_names)}"[:63].rstrip("-")
    kubectl("create", "namespace", name, check=True)
    return name


@pytest.fixture(scope="session")
def crd(control_plane: ControlPlane) -> None:
    """The generated AuroraUpgrade CRD, installed and served."""
    install_crd(control_plane.kubectl, control_plane.kubeconfig)


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kubectl: Runner, crd: None) -> str:
    """A fresh namespace for this test (it never finishes deleting here; that is fine)."""
    prefix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40].strip("-")
    return unique_namespace(kubectl, prefix or "e2e")


@pytest.fixture
def stack(
    control_plane: ControlPlane, kubectl: Runner, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """A not-yet-started simulator + operator for this test's namespace; stopped at teardown."""
    stack = Stack(control_plane, kubectl, namespace, tmp_path)
    try:
        yield stack
    finally:
        stack.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(f"\n----- e2e diagnosis for {request.node.nodeid} -----\n{stack.diagnose()}", file=sys.stderr)
        stack.remove_upgrades()


# The example's required fields: what manifest() starts from, every optional field left to its default.
MINIMAL_SPEC = (
    "region",
    "clusterIdentifier",
    "expectedSourceEngineVersion",
    "targetEngineVersion",
    "targetDBClusterParameterGroupName",
    "targetDBParameterGroupName",
)


def manifest(name: str, namespace: str, **spec: Any) -> str:
    """An AuroraUpgrade for the runbook's cluster (the example's required fields, its options
    left to their defaults); keyword arguments override spec fields (camelCase keys, nested
    dicts merge one level deep)."""
    body: dict[str, Any] = {key: RUNBOOK_SPEC[key] for key in MINIMAL_SPEC}
    for key, value in spec.items():
        if value is None:
            body.pop(key, None)
        elif isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    document = {
        "apiVersion": API_VERSION,
        "kind": "AuroraUpgrade",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }
    return json.dumps(document)


# --- the runbook's case (examples/aurora-bg-upgrade-15-10.yaml, namespace default) -------------


def apply_example_and_wait(stack: Stack, timeout: int = 120) -> None:
    """`kubectl apply -f examples/...` then `kubectl wait --for=condition=Ready`, as the runbook's user."""
    applied = stack.kubectl("apply", "-f", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr
    assert f"auroraupgrade.dbupgrade.dev/{EXAMPLE_NAME} created" in applied.stdout
    waited = stack.kubectl(
        "-n", "default", "wait", "--for=condition=Ready", f"aup/{EXAMPLE_NAME}", f"--timeout={timeout}s",
        timeout=timeout + 30,
    )  # fmt: skip
    assert waited.returncode == 0, f"kubectl wait failed: {waited.stderr}\n{stack.diagnose()}"
    assert f"auroraupgrade.dbupgrade.dev/{EXAMPLE_NAME} condition met" in waited.stdout


def assert_runbook_completed(stack: Stack) -> dict[str, Any]:
    """The example's status in full, and AWS in the runbook's end state after exactly the
    runbook's mutating calls. Returns the status."""
    status = stack.status(EXAMPLE_NAME)
    assert_runbook_status(status)

    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    assert_runbook_end_state(stack.rds_sim.rds())
    return status
