"""Fixtures for end-to-end tests against a real kube-apiserver (see tools/aurora_upgrade_dev/controlplane.py).

``control_plane`` (session): etcd + kube-apiserver on loopback, admin kubeconfig at
``control_plane.kubeconfig``. The first run builds kube-apiserver and etcd (many minutes);
later runs start in seconds. There is no controller-manager: no garbage collection, no
namespace finalization, no automatic ServiceAccounts, no pods running.

``kubectl`` / ``helm`` (session): callables running the cached binaries against it, e.g.
``kubectl("get", "ns", check=True)`` or ``kubectl("apply", "-f", "-", input=manifest)``;
they return a text-mode ``subprocess.CompletedProcess``. ``token=`` runs as another identity
(e.g. a ``kubectl create token`` ServiceAccount token).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from operator_fixtures import Runner

from aurora_upgrade_dev.controlplane import ControlPlane, ensure_binaries, start

E2E_DIR = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e carries the ``e2e`` marker (``-m 'not e2e'`` skips them)."""
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


def _log_to_terminal(message: str) -> None:
    print(f"[controlplane] {message}", file=sys.__stderr__, flush=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build (or find) the binaries before the first e2e test, with progress on the terminal:
    some tests reach ensure_binaries() inside captured code, where a first build of several
    minutes would otherwise print nothing."""
    if any(E2E_DIR in Path(str(item.path)).parents for item in session.items):
        ensure_binaries(log=_log_to_terminal)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[ControlPlane]:
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    # Show build progress live: the first build takes many minutes.
    suspended = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with suspended:
        binaries = ensure_binaries(log=_log_to_terminal)
    plane = start(tmp_path_factory.mktemp("controlplane"), binaries, log=_log_to_terminal)
    try:
        yield plane
    finally:
        plane.stop()


def _runner(binary: Path, plane: ControlPlane) -> Runner:
    def run(
        *args: str,
        input: str | None = None,
        check: bool = False,
        token: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        command = [str(binary), "--kubeconfig", str(plane.kubeconfig)]
        if token is not None:
            command += ["--token", token]
        command += list(args)
        result = subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=plane.env(),
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane) -> Runner:
    """Run the cached kubectl with the control plane's admin kubeconfig."""
    return _runner(control_plane.kubectl, control_plane)


@pytest.fixture(scope="session")
def helm(control_plane: ControlPlane) -> Runner:
    """Run the cached helm with the control plane's admin kubeconfig (``token=`` unsupported)."""
    run = _runner(control_plane.helm, control_plane)

    def helm_run(
        *args: str,
        input: str | None = None,
        check: bool = False,
        token: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        if token is not None:
            args = ("--kube-token", token, *args)
        return run(*args, input=input, check=check, timeout=timeout)

    return helm_run


# --- the operator end to end (tests/e2e/test_operator_*.py); see operator_fixtures.py -------

from operator_fixtures import crd, namespace, stack  # noqa: E402, F401


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Keep each phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
