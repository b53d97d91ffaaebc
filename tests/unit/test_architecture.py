"""The layering STYLE.md asks for: decisions never import boto3, the engine never imports kopf,
the operator never imports the simulator or the development tooling."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_decisions_do_not_import_boto3() -> None:
    loaded = modules_loaded_by(
        "import aurora_upgrade.decisions.precheck, aurora_upgrade.decisions.bluegreen, "
        "aurora_upgrade.decisions.reboot, aurora_upgrade.decisions.switchover, "
        "aurora_upgrade.decisions.verify, aurora_upgrade.decisions.cleanup"
    )
    assert "aurora_upgrade.decisions.cleanup" in loaded
    assert not {"boto3", "botocore"} & loaded


def test_engine_does_not_import_kopf() -> None:
    loaded = modules_loaded_by("import aurora_upgrade.engine, aurora_upgrade.runner")
    assert "aurora_upgrade.engine" in loaded
    assert "kopf" not in loaded


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
