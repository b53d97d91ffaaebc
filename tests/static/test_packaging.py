"""What ships is what runs: the `aurora-upgrade-operator` wheel, built as the image builds it,
carries the operator; moto comes only with the `sim` extra, and the development tooling
(tools/aurora_upgrade_dev: local control plane, demo) not at all. Then the wheel installed in a
fresh virtualenv as a user installs it: the operator's commands run, and `sim` and `demo` say
what to do instead of failing with a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support.runbook import REPO

CRD = REPO / "crds" / "auroraupgrades.dbupgrade.dev.yaml"


def image_build_context() -> list[str]:
    """What `.dockerignore` lets through to the image build (its `!` lines)."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the image's build context alone, so it is what `pip install .` in
    the Dockerfile installs (and proves that context is enough to build it)."""
    context = tmp_path_factory.mktemp("context")
    for name in image_build_context():
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, context / name)
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(context)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    [path] = dist.glob("aurora_upgrade_operator-*.whl")
    return path


def test_the_image_context_is_the_operator_and_what_pip_reads() -> None:
    assert sorted(image_build_context()) == ["README.md", "operator", "pyproject.toml"]


def test_the_wheel_carries_the_operator_and_no_development_tooling(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == {"aurora_upgrade"}
    modules = {name for name in names if name.endswith(".py")}
    assert {"aurora_upgrade/controller.py", "aurora_upgrade/cli.py", "aurora_upgrade/sim/server.py"} <= modules
    tooling = {path.name for path in (REPO / "tools" / "aurora_upgrade_dev").glob("*.py")} - {"__init__.py"}
    assert tooling >= {"controlplane.py", "stack.py", "demo.py"}
    shipped_tooling = [name for name in modules if "devenv" in name or name.rsplit("/", 1)[-1] in tooling]
    assert shipped_tooling == [], shipped_tooling


def test_moto_is_required_only_by_the_sim_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [metadata_name] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]

    def names(extra: str) -> set[str]:
        return {
            canonicalize_name(r.name) for r in requirements if r.marker is None or r.marker.evaluate({"extra": extra})
        }

    runtime = names("")
    assert {"kopf", "boto3"} <= runtime
    assert "moto" not in runtime
    assert "moto" in names("sim")
    tooling = (names("sim") | names("dev")) - runtime
    assert {"moto", "pytest", "ruff", "mypy"} <= tooling
    assert not runtime & tooling


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel and its runtime dependencies from the index, nothing else.
    Yields its bin directory."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    yield venv / "bin"


def run_installed(bin_dir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run from outside the checkout, with nothing of the development environment on the path."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(bin_dir / command[0]), *command[1:]], cwd=bin_dir, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_installed_operator_has_no_simulator_and_no_development_tooling(installed: Path) -> None:
    probe = "import importlib.util as u; print([m for m in ('moto', 'aurora_upgrade_dev') if u.find_spec(m)])"
    found = run_installed(installed, "python", "-c", probe)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
    # What the operator process loads (kopf runs `-m aurora_upgrade.controller`) imports here.
    loads = run_installed(installed, "python", "-c", "import aurora_upgrade.controller")
    assert loads.returncode == 0, loads.stderr


def test_the_installed_commands_run(installed: Path) -> None:
    crd = run_installed(installed, "aurora-upgrade", "crd")
    assert crd.returncode == 0, crd.stderr
    assert crd.stdout == CRD.read_text()
    kopf_help = run_installed(installed, "aurora-upgrade", "operator", "--help")
    assert kopf_help.returncode == 0, kopf_help.stderr
    assert "--liveness" in kopf_help.stdout and "--all-namespaces" in kopf_help.stdout


def test_sim_without_its_extra_says_what_to_install(installed: Path) -> None:
    sim = run_installed(installed, "aurora-upgrade", "sim", "--port", "0")
    assert sim.returncode != 0
    assert "pip install 'aurora-upgrade-operator[sim]'" in sim.stderr
    assert "Traceback" not in sim.stderr


def test_demo_without_the_development_tooling_says_how_to_run_it(installed: Path) -> None:
    demo = run_installed(installed, "aurora-upgrade", "demo")
    assert demo.returncode != 0
    assert "make demo" in demo.stderr
    assert "Traceback" not in demo.stderr
