"""Fixtures of the static tier. ``helm`` runs the cached helm binary without a kubeconfig: the
chart's checks here render and lint it, which needs no API server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aurora_upgrade_dev.controlplane import ensure_helm
from support.runner import Runner


@pytest.fixture(scope="session")
def helm_path() -> Path:
    return ensure_helm()


@pytest.fixture(scope="session")
def helm(helm_path: Path) -> Runner:
    def run(
        *args: str,
        input: str | None = None,
        check: bool = False,
        token: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        assert token is None, "no API server here to present a token to"
        command = [str(helm_path), *args]
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")
        return result

    return run
