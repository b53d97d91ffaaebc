"""Running `aurora-upgrade run` as a real process against a simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from aurora_upgrade.sim import SimServer
from support.runbook import REGION, runbook_manifest


def env_for(server: SimServer) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL_RDS=server.endpoint_url,
        AWS_ENDPOINT_URL_STS=server.endpoint_url,  # for spec.aws.roleArn
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AURORA_UPGRADE_TIME_SCALE=str(0.1 / 30),  # a poll of 0.1 s, every deadline alike
    )
    return env


def run_command(manifest: Path, state: Path) -> list[str]:
    """`aurora-upgrade run -f <manifest> --state <state>` from this interpreter."""
    return [sys.executable, "-m", "aurora_upgrade.cli", "run", "-f", str(manifest), "--state", str(state)]


def run_cli(server: SimServer, manifest: Path, state: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        run_command(manifest, state),
        env=env_for(server),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_manifest(tmp_path: Path, spec_changes: dict[str, object], drop: tuple[str, ...] = ()) -> Path:
    doc = runbook_manifest()
    for key in drop:
        doc["spec"].pop(key)
    doc["spec"].update(spec_changes)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path
