"""The chart's PrometheusRule: `helm template` renders it, promtool checks its rules and runs the
unit tests in alerts.test.yaml against them (series in which each alert fires, and series in
which it must not)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support.chart import FULLNAME, render, write_rule_file
from support.runner import Runner

ALERT_TESTS = Path(__file__).with_name("alerts.test.yaml")
ALERTS = [
    "AuroraUpgradeFailed",
    "AuroraUpgradeStalled",
    "AuroraUpgradeNeedsDecision",
    "AuroraUpgradeAwaitingApproval",
    "AuroraUpgradeReconcileErrors",
    "AuroraUpgradeRDSThrottled",
]


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: `make prometheus` installs Debian's prometheus package"
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_promtool_checks_the_rendered_rules(helm: Runner, tmp_path: Path) -> None:
    rules = write_rule_file(helm, tmp_path / "rules.yaml")
    result = promtool("check", "rules", rules.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout, result.stdout


def test_each_alert_fires_and_stays_quiet_as_its_unit_tests_say(helm: Runner, tmp_path: Path) -> None:
    write_rule_file(helm, tmp_path / "rules.yaml")  # the name alerts.test.yaml loads
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    result = promtool("test", "rules", ALERT_TESTS.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout
    tested = ALERT_TESTS.read_text()
    assert all(f"alertname: {alert}\n" in tested for alert in ALERTS), "an alert without a unit test"


def test_thresholds_severities_and_labels_come_from_values(helm: Runner) -> None:
    rule = render(
        helm,
        {
            "prometheusRule": {
                "enabled": True,
                "labels": {"release": "kube-prometheus-stack"},
                "alertLabels": {"team": "platform"},
                "upgradeStalled": {"for": "1h30m", "severity": "page"},
                "needsDecision": {"for": "2m", "severity": "page"},
                "awaitingApproval": {"enabled": False},
                "reconcileErrors": {"window": "1h", "threshold": 3},
                "rdsThrottling": {"errorCodes": ["Throttling"]},
            }
        },
    )[("PrometheusRule", FULLNAME)]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert sorted(alerts) == sorted(set(ALERTS) - {"AuroraUpgradeAwaitingApproval"})
    assert alerts["AuroraUpgradeStalled"]["for"] == "1h30m"
    assert alerts["AuroraUpgradeStalled"]["labels"] == {"severity": "page", "team": "platform"}
    assert "1h30m" in alerts["AuroraUpgradeStalled"]["annotations"]["summary"]
    assert alerts["AuroraUpgradeFailed"]["labels"] == {"severity": "warning", "team": "platform"}
    assert alerts["AuroraUpgradeNeedsDecision"]["for"] == "2m"
    assert alerts["AuroraUpgradeNeedsDecision"]["labels"] == {"severity": "page", "team": "platform"}
    errors = alerts["AuroraUpgradeReconcileErrors"]["expr"]
    assert "offset 1h" in errors and "[1h]" in errors and errors.rstrip().endswith("> 3"), errors
    throttled = alerts["AuroraUpgradeRDSThrottled"]["expr"]
    assert 'outcome=~"Throttling"' in throttled and "ThrottlingException" not in throttled, throttled
