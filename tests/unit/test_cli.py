"""`aurora-upgrade`'s dispatch, run as a user runs it: argparse routes every command, and
`operator`, `sim` and `demo` hand their arguments (--help too) to kopf, the simulator, the demo."""

from __future__ import annotations

import subprocess
import sys

import pytest


def aurora_upgrade(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurora_upgrade.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command() -> None:
    result = aurora_upgrade("--help")
    assert result.returncode == 0, result.stderr
    assert "{operator,run,demo,sim,crd}" in result.stdout
    assert "run one AuroraUpgrade manifest without Kubernetes" in result.stdout


@pytest.mark.parametrize(
    ("command", "usage", "option"),
    [
        ("operator", "Usage: aurora-upgrade operator run", "--liveness"),  # kopf's own help
        ("run", "usage: aurora-upgrade run", "--state"),
        ("sim", "usage: aurora-upgrade sim", "--scenario"),
        ("demo", "usage: aurora-upgrade demo", "--poll"),
        ("crd", "usage: aurora-upgrade crd", "--help"),
    ],
)
def test_each_command_answers_its_own_help(command: str, usage: str, option: str) -> None:
    result = aurora_upgrade(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(usage), result.stdout
    assert option in result.stdout


@pytest.mark.parametrize("command", [["crd"], ["run", "-f", "manifest.yaml"]])
def test_commands_that_take_no_extra_arguments_refuse_them(command: list[str]) -> None:
    result = aurora_upgrade(*command, "--bogus")
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr


def test_arguments_reach_the_simulator_parser() -> None:
    result = aurora_upgrade("sim", "--scenario", "no-such-scenario")
    assert result.returncode == 2
    assert "no-such-scenario" in result.stderr
