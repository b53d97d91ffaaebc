"""The layering STYLE.md asks for: decisions never import boto3 or kopf, the engine never imports
kopf, only the gateway package imports boto3/botocore and only its error classification reads
AWS's error codes, status bookkeeping needs
neither decisions nor the engine, and the operator never imports the simulator or the
development tooling."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import aurora_upgrade
from aurora_upgrade.reasons import Reason

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "operator" / "aurora_upgrade"
STAGES = ("precheck", "reboot", "bluegreen", "switchover", "verify", "cleanup")
# Every decisions module, also those no stage imports (deadlines, pacing).
DECISIONS = sorted(path.stem for path in (PACKAGE / "decisions").glob("*.py") if path.stem != "__init__")
GATEWAY = PACKAGE / "gateway"
CLASSIFICATION = GATEWAY / "errors.py"


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
    assert {*STAGES, "deployment", "deadlines", "pacing"} <= set(DECISIONS)
    loaded = modules_loaded_by("import " + ", ".join(f"aurora_upgrade.decisions.{s}" for s in DECISIONS))
    assert "aurora_upgrade.decisions.cleanup" in loaded
    assert {f"aurora_upgrade.decisions.{m}" for m in ("deployment", "deadlines", "pacing")} <= loaded
    assert not {"boto3", "botocore", "kopf"} & loaded


def test_engine_does_not_import_kopf() -> None:
    loaded = modules_loaded_by("import aurora_upgrade.engine, aurora_upgrade.runner")
    assert "aurora_upgrade.engine" in loaded
    assert "kopf" not in loaded


def test_only_the_gateway_package_imports_boto3_or_botocore() -> None:
    """The simulator is AWS's side, not the operator's: it may use boto3 for its own set-up."""
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.parts[len(PACKAGE.parts)] != "sim" and {"boto3", "botocore"} & imported_roots(path)
    }
    assert {"gateway/rds.py", "gateway/errors.py", "gateway/clients.py"} <= importers
    assert {path for path in importers if not path.startswith("gateway/")} == set()


# AWS's error codes: RDS's faults, and the common ones (AccessDenied, Throttling, ExpiredToken...).
ERROR_CODE = re.compile(r"^[A-Z][A-Za-z]*(Fault|Exception|AlreadyExists)$")


def classified_codes() -> set[str]:
    """The codes errors.classify names in its sets (NOT_FOUND, RETRYABLE, PERMISSION, ...)."""
    codes = set()
    for node in ast.parse(CLASSIFICATION.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Set):
            codes |= {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return codes


def error_codes_in(path: Path, codes: set[str]) -> list[str]:
    """String constants that are AWS error codes, and comparisons of an `.code` with a string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in codes or ERROR_CODE.match(node.value):
                found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Attribute) and side.attr == "code" for side in sides):
                found.append(f"{node.lineno}: compares .code")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target, method = node.func.value, node.func.attr
            if method in ("startswith", "endswith") and isinstance(target, ast.Attribute) and target.attr == "code":
                found.append(f"{node.lineno}: .code.{method}")
    return found


def test_only_the_gateway_reads_aws_error_codes() -> None:
    """Error meaning in one place: gateway/errors.py turns AWS's codes into an ErrorKind; nothing
    else in the operator, the rest of the gateway included, matches a code (the simulator, AWS's
    side, raises them)."""
    codes = classified_codes()
    assert {"AccessDenied", "Throttling", "InvalidBlueGreenDeploymentStateFault", "ExpiredToken"} <= codes
    assert error_codes_in(CLASSIFICATION, codes)  # the check sees the classification's own
    matched = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parts[len(PACKAGE.parts)] != "sim" and path != CLASSIFICATION
        if (found := error_codes_in(path, codes))
    }
    assert matched == {}


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
    assert "aurora_upgrade.gateway.rds" in loaded
    assert sorted(name for name in loaded if name.split(".")[0] == "boto3" or name == "botocore.client") == []


def test_the_design_module_map_names_every_module() -> None:
    """docs/design.md's map lists every module of the operator and of the development tooling
    (a name that two packages use, like cli.py, as often as it is used); sim/behaviour/'s modules
    are listed in docs/simulator.md instead."""
    design = (REPO / "docs" / "design.md").read_text()
    module_map = design.split("```")[1]
    behaviour = PACKAGE / "sim" / "behaviour"
    modules = [
        path
        for root in (PACKAGE, REPO / "tools" / "aurora_upgrade_dev")
        for path in sorted(root.rglob("*.py"))
        if path.name != "__init__.py" and behaviour not in path.parents
    ]
    assert {"metrics.py", "deadlines.py", "pacing.py", "deployment.py", "processes.py"} <= {p.name for p in modules}
    wanted = Counter(path.name for path in modules)
    missing = sorted(name for name, n in wanted.items() if len(re.findall(rf"\b{re.escape(name)}", module_map)) < n)
    assert missing == []
    simulator = (REPO / "docs" / "simulator.md").read_text()
    unlisted = sorted(
        path.name for path in behaviour.glob("*.py") if path.name != "__init__.py" and f"`{path.name}`" not in simulator
    )
    assert unlisted == []


# Where each maker of an outcome or a transition takes its reason, if positionally.
REASON_AT = {"wait": 0, "fail": 0, "advance": 1, "transition": 2}


def test_reasons_come_only_from_the_table() -> None:
    """No decision, the engine or status spells a reason out: each names a member of
    reasons.Reason (outcomes also refuse, when made, a name that is not in the table)."""
    package = Path(aurora_upgrade.__file__).parent
    sources = [*sorted((package / "decisions").glob("*.py")), package / "engine.py", package / "status.py"]
    spelled = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            values = [k.value for k in node.keywords if k.arg == "reason"]
            if name in REASON_AT and len(node.args) > REASON_AT[name]:
                values.append(node.args[REASON_AT[name]])
            spelled += [f"{path.name}:{node.lineno}" for v in values if isinstance(v, (ast.Constant, ast.JoinedStr))]
    names = {reason.value for reason in Reason}
    for path in sources[:-1]:  # status.py names its conditions, one of which is Upgraded
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                spelled.append(f"{path.name}:{node.lineno}: {node.value}")
    assert spelled == []
