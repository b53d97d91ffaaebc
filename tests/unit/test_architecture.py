"""The layering STYLE.md asks for: decisions never import boto3 or kopf, the engine never imports
kopf, only the gateway imports boto3, status bookkeeping needs neither decisions nor the engine,
and the operator never imports the simulator or the development tooling."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "aurora_upgrade"
STAGES = ("precheck", "reboot", "bluegreen", "switchover", "verify", "cleanup")


def modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def imported_roots(path: Path) -> set[str]:
    """The top-level packages a module imports, read from its source."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_decisions_import_neither_boto3_nor_kopf() -> None:
    loaded = modules_loaded_by("import " + ", ".join(f"aurora_upgrade.decisions.{s}" for s in STAGES))
    assert "aurora_upgrade.decisions.cleanup" in loaded
    assert not {"boto3", "botocore", "kopf"} & loaded


def test_engine_does_not_import_kopf() -> None:
    loaded = modules_loaded_by("import aurora_upgrade.engine, aurora_upgrade.runner")
    assert "aurora_upgrade.engine" in loaded
    assert "kopf" not in loaded


def test_only_the_gateway_imports_boto3() -> None:
    """The simulator is AWS's side, not the operator's: it may use boto3 for its own set-up."""
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.parts[len(PACKAGE.parts)] != "sim" and {"boto3", "botocore"} & imported_roots(path)
    }
    assert importers == {"rds.py"}


def test_status_and_store_need_neither_decisions_nor_the_engine() -> None:
    loaded = modules_loaded_by("import aurora_upgrade.status, aurora_upgrade.store")
    assert "aurora_upgrade.store" in loaded
    assert not {m for m in loaded if m.startswith(("aurora_upgrade.decisions", "aurora_upgrade.engine"))}


@pytest.mark.parametrize("module", ["aurora_upgrade.controller", "aurora_upgrade.cli"])
def test_the_operator_process_loads_neither_the_simulator_nor_the_development_tooling(module: str) -> None:
    """`aurora-upgrade operator` is the CLI running kopf on the controller: what ships in the
    image (no moto) must be all it needs."""
    loaded = modules_loaded_by(f"import {module}")
    assert module in loaded
    unwanted = sorted(
        name
        for name in loaded
        if name.split(".")[0] in ("moto", "aurora_upgrade_dev") or name.startswith("aurora_upgrade.sim")
    )
    assert unwanted == []


def test_an_operator_with_no_upgrade_yet_does_not_carry_boto3() -> None:
    """boto3 and botocore's clients load with the first gateway, not with the operator: idle
    RSS (issue 8's target 100 MB) is what kopf and the kubernetes client take."""
    loaded = modules_loaded_by("import aurora_upgrade.controller")
    assert "aurora_upgrade.rds" in loaded
    assert sorted(name for name in loaded if name.split(".")[0] == "boto3" or name == "botocore.client") == []
