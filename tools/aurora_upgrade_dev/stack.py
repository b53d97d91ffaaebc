"""The pieces of a local run, shared by `aurora-upgrade demo` and the tests: the runbook's
example manifest, the operator as a real process against a kubeconfig and an RDS endpoint, and
the CRD installed with kubectl.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aurora_upgrade.crd import render
from aurora_upgrade_dev.processes import stop_process

# The runbook's AuroraUpgrade as the README applies it, relative to the repository root.
EXAMPLE = Path("examples/aurora-bg-upgrade-15-10.yaml")


def operator_env(kubeconfig: Path, rds_endpoint: str, poll_seconds: float) -> dict[str, str]:
    """What a real deployment sets, with RDS pointed at the simulator through boto3's own
    endpoint variable (the product has no code path of its own for it)."""
    env = dict(os.environ)
    env.update(
        KUBECONFIG=str(kubeconfig),
        AWS_ENDPOINT_URL_RDS=rds_endpoint,
        AWS_ENDPOINT_URL_STS=rds_endpoint,  # the simulator serves STS too (spec.aws.roleArn)
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="ap-northeast-1",
        # One scale for every interval and deadline: a poll of `poll_seconds` instead of 30 s.
        AURORA_UPGRADE_TIME_SCALE=str(poll_seconds / 30),
        # Metrics on a free loopback port: several operators may run side by side here.
        AURORA_UPGRADE_METRICS_PORT="0",
        AURORA_UPGRADE_METRICS_ADDRESS="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("AWS_PROFILE", None)
    return env


def start_operator(
    kubeconfig: Path,
    rds_endpoint: str,
    log_path: Path,
    poll_seconds: float = 1.0,
    namespace: str | None = None,
    args: Sequence[str] | None = None,
    python: str = sys.executable,
) -> subprocess.Popen[bytes]:
    """`args` replaces the default kopf options (standalone, and `namespace` or all of them),
    e.g. with the Helm chart's container args; `python` is the interpreter of the environment the
    operator runs from (the benchmarks' holds only the operator's runtime dependencies)."""
    if args is None:
        args = ["--standalone", *(["--namespace", namespace] if namespace else ["--all-namespaces"])]
    command = [python, "-m", "aurora_upgrade.cli", "operator", *args]
    log = log_path.open("ab")
    return subprocess.Popen(
        command,
        env=operator_env(kubeconfig, rds_endpoint, poll_seconds),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_operator(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """SIGTERM by default, as a pod's termination does, so kopf finishes what it is doing."""
    stop_process(process, sig, timeout)


def install_crd(kubectl: Path, kubeconfig: Path, timeout: float = 60.0) -> None:
    """Apply the generated CRD and wait until the API server serves it."""
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    subprocess.run([str(kubectl), "apply", "-f", "-"], input=render().encode(), env=env, check=True)
    subprocess.run(
        [
            str(kubectl),
            "wait",
            "--for=condition=Established",
            "crd/auroraupgrades.dbupgrade.dev",
            f"--timeout={int(timeout)}s",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run([str(kubectl), "get", "aup", "-A"], env=env, capture_output=True)
        if probe.returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("the AuroraUpgrade CRD is not served")
