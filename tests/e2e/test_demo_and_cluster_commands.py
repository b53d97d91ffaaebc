"""The README's first command and `make cluster-up`/`cluster-down`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from aurora_upgrade_dev.postgres import PROBE_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_the_runbook_upgrade_to_completed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aurora_upgrade.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Demo complete: the upgrade is Completed." in out
    for phase in ("ProvisioningGreen", "RebootingGreen", "Snapshotting", "SwitchingOver", "Completed"):
        assert f"] {phase}" in out, f"{phase} was not shown live:\n{out}"
    assert "engine_version 15.6 -> 15.10" in out
    # Runbook 7.1 and 7.2, as the runbook prints them.
    cluster_table = out.split("runbook 7.1")[1].split("runbook 7.2")[0]
    rows = [line.strip("| ").strip() for line in cluster_table.splitlines() if line.startswith("|  ")]
    assert rows == ["DescribeDBClusters", "aurora-bg-aurora-cluster", "15.10", "available"], cluster_table
    tables = out.split("runbook 7.2")[1]
    for instance in ("aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2"):
        assert f"|  {instance} |  15.10 |  available |" in tables, tables


def test_demo_validate_checks_the_databases_before_switching_over() -> None:
    """`aurora-upgrade demo --validate`: two local PostgreSQL servers behind blue and green, the
    guardrails and one SQL check pass, and the upgrade completes (PostgreSQL from `make postgresql`)."""
    result = subprocess.run(
        [sys.executable, "-m", "aurora_upgrade.cli", "demo", "--validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Demo complete: the upgrade is Completed." in out
    assert "] Validating" in out, out
    assert out.index("] Validating") < out.index("] SwitchingOver"), out
    validation = out.split("runbook step 5")[1].split("runbook 7.1")[0]
    # The table's rows, not its title: four cells each.
    cells = [
        [cell.strip() for cell in line.split("|")[1:-1]] for line in validation.splitlines() if line.startswith("|")
    ]
    rows = sorted(row[:3] for row in cells if len(row) == 4)
    assert rows == [["Guardrails", "blue", "Passed"], ["orders-readable", "green", "Passed"]], validation
    assert PROBE_PASSWORD not in out + result.stderr


def test_cluster_up_and_down_leave_nothing_running(tmp_path: Path) -> None:
    workdir = tmp_path / "local"
    command = [sys.executable, "-m", "aurora_upgrade_dev.controlplane"]
    up = subprocess.run([*command, "up", "--workdir", str(workdir)], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((workdir / "controlplane.json").read_text())
    kubeconfig = workdir / "kubeconfig"
    try:
        namespaces = subprocess.run(
            [state["kubectl"], "get", "namespaces", "-o", "name"],
            env=dict(os.environ, KUBECONFIG=str(kubeconfig)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert namespaces.returncode == 0, namespaces.stderr
        assert "namespace/default" in namespaces.stdout
    finally:
        down = subprocess.run(
            [*command, "down", "--workdir", str(workdir)], capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0, down.stdout + down.stderr
    for pid in (state["etcdPid"], state["apiserverPid"]):
        deadline = time.monotonic() + 10
        while not gone_or_zombie(pid):
            assert time.monotonic() < deadline, f"process {pid} still runs after cluster-down"
            time.sleep(0.2)


def gone_or_zombie(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return True
