"""tools/gitops checked with Go's own tools: the Argo CD health table (health_test.yaml over the
objects captured from the operator by tests/e2e/test_gitops_status.py) run in gopher-lua as
Argo CD runs it, and the Go sources gofmt- and vet-clean. Go fetches the modules pinned in
go.mod and go.sum from the module proxy the first time."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "tools" / "gitops"
HEALTH_TEST = REPO / "docs/argocd/resource_customizations/dbupgrade.dev/AuroraUpgrade/health_test.yaml"


def go(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["go", *args], cwd=GITOPS, capture_output=True, text=True, timeout=900)


def test_argocd_health_table_passes_in_gopher_lua() -> None:
    result = go("test", "-count=1", "-v", "./...")
    assert result.returncode == 0, result.stdout + result.stderr
    passed = set(re.findall(r"--- PASS: TestLuaHealthScript/(\S+)", result.stdout))
    inputs = [t["inputPath"] for t in yaml.safe_load(HEALTH_TEST.read_text())["tests"]]
    # Each case, with Argo CD's standard libraries open and as an argocd-cm customization.
    expected = {f"dbupgrade.dev/AuroraUpgrade/{i}{mode}" for i in inputs for mode in ("", "/argocd-cm")}
    assert passed == expected, result.stdout


def test_go_sources_are_formatted_and_vetted() -> None:
    formatted = subprocess.run(["gofmt", "-l", "."], cwd=GITOPS, capture_output=True, text=True, timeout=60)
    assert formatted.returncode == 0 and formatted.stdout == "", formatted.stdout + formatted.stderr
    vetted = go("vet", "./...")
    assert vetted.returncode == 0, vetted.stderr
