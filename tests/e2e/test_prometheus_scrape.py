"""A real Prometheus (Debian's package) scrapes the operator during the runbook's upgrade, loads
the alert rules the chart renders, and answers PromQL about the upgrade: its phase while
switchover is under way (the simulator holds AWS's answer to SwitchoverBlueGreenDeployment, so
the phase lasts long enough to be scraped), the chart's Stalled alert firing for it, and its
phase once Completed; and, for a Manual switchover, the reason it waits and the approval alert."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from operator_fixtures import RUNBOOK_CALLS, Runner, Stack, free_port, manifest

from aurora_upgrade_dev.processes import stop_process
from support.chart import write_rule_file
from support.runbook import NAME, OLD_CLUSTER, runbook_manifest

SCRAPE = "1s"
SHORT = "3s"  # an alert's threshold short enough to see it fire here


@dataclass
class Prometheus:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=promql)["result"]
        return result

    def wait_for(self, what: str, probe: Any, stack: Stack, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := probe()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Prometheus: timed out waiting for {what}\n"
                    f"{self.log.read_text(errors='replace')[-3000:]}\n{stack.diagnose()}"
                )
            time.sleep(0.5)
        return value


def metrics_address(stack: Stack) -> str:
    """The operator picks a free metrics port (AURORA_UPGRADE_METRICS_PORT=0) and logs it."""

    def logged() -> str | None:
        found = re.search(r"Serving Prometheus metrics on http://([\d.]+:\d+)/metrics", stack.operator_log.read_text())
        return found.group(1) if found else None

    address: str = stack.wait_for("the operator to log its metrics address", logged, timeout=60)
    return address


@contextlib.contextmanager
def prometheus_scraping(stack: Stack, helm: Runner, workdir: Path, alerts: dict[str, Any]) -> Iterator[Prometheus]:
    """Prometheus on loopback scraping the started stack's operator, with the chart's rules
    rendered with `alerts` (prometheusRule values); stopped on leaving, whatever happened."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make prometheus` installs Debian's prometheus package"
    write_rule_file(helm, workdir / "rules.yaml", {"prometheusRule": alerts})
    config = {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
        "rule_files": ["rules.yaml"],
        "scrape_configs": [
            {
                "job_name": "aurora-upgrade-operator",
                "honor_labels": True,  # as the chart's ServiceMonitor: namespace/name are the upgrade's
                "static_configs": [{"targets": [metrics_address(stack)]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Prometheus(f"http://{address}", log, process)
    try:

        def target_up() -> bool:
            try:
                targets = server.api("targets")["activeTargets"]
            except OSError:
                assert process.poll() is None, log.read_text(errors="replace")[-3000:]
                return False
            return [t["health"] for t in targets] == ["up"]

        server.wait_for("the operator's metrics target to be up", target_up, stack)
        yield server
    finally:
        stop_process(process, timeout=20)


def upgrade_phase(prometheus: Prometheus, namespace: str) -> list[str]:
    """PromQL for the upgrade's phase: the phase series at 1."""
    found = prometheus.query(f'aurora_upgrade_phase{{namespace="{namespace}",name="{NAME}"}} == 1')
    return [series["metric"]["phase"] for series in found]


def test_prometheus_scrapes_the_runbook_upgrade_and_answers_for_its_phase(
    stack: Stack, helm: Runner, tmp_path: Path
) -> None:
    stack.start()
    stack.rds_sim.hold("SwitchoverBlueGreenDeployment")
    with prometheus_scraping(stack, helm, tmp_path, {"upgradeStalled": {"for": SHORT}}) as prometheus:
        run_the_runbook_case(stack, prometheus)


def run_the_runbook_case(stack: Stack, prometheus: Prometheus) -> None:
    stack.apply(json.dumps(runbook_manifest(stack.namespace)))

    stack.wait_for(
        "the switchover's answer to be held",
        lambda: "SwitchoverBlueGreenDeployment" in stack.rds_sim.held(),
        timeout=120,
    )
    prometheus.wait_for(
        "PromQL to answer SwitchingOver",
        lambda: upgrade_phase(prometheus, stack.namespace) == ["SwitchingOver"],
        stack,
    )

    # The chart's own rule, evaluated by this Prometheus on the operator's real series.
    def stalled() -> list[dict[str, Any]]:
        return prometheus.query(f'ALERTS{{alertname="AuroraUpgradeStalled",alertstate="firing",name="{NAME}"}}')

    (alert,) = prometheus.wait_for("AuroraUpgradeStalled to fire", stalled, stack)
    assert alert["metric"]["namespace"] == stack.namespace and alert["metric"]["phase"] == "SwitchingOver", alert
    assert alert["metric"]["severity"] == "critical", alert
    rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    assert len(rules) == 6 and {rule["health"] for rule in rules} == {"ok"}, rules

    stack.rds_sim.release()
    stack.wait_phase(NAME, "Completed", timeout=120)
    prometheus.wait_for(
        "PromQL to answer Completed",
        lambda: upgrade_phase(prometheus, stack.namespace) == ["Completed"],
        stack,
    )
    creates = prometheus.query(
        'sum(aurora_upgrade_rds_api_calls_total{operation="CreateBlueGreenDeployment",outcome="ok"})'
    )
    assert [float(series["value"][1]) for series in creates] == [1.0], creates
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    assert stack.status(NAME)["oldClusterIdentifier"] == OLD_CLUSTER


def test_prometheus_sees_a_manual_switchover_wait_for_approval(stack: Stack, helm: Runner, tmp_path: Path) -> None:
    stack.start()
    with prometheus_scraping(stack, helm, tmp_path, {"awaitingApproval": {"for": SHORT}}) as prometheus:
        stack.apply(manifest("manual", stack.namespace, switchover={"mode": "Manual"}))
        stack.wait_phase("manual", "AwaitingSwitchover", timeout=120)
        # AwaitingSwitchover is entered with the reboot's reason (InstancesRebooted); the next
        # look at the approval gate writes AwaitingApproval.
        stack.wait_for(
            "the upgrade to report AwaitingApproval",
            lambda: stack.status("manual").get("reason") == "AwaitingApproval",
            timeout=30,
        )
        query = f'aurora_upgrade_reason{{namespace="{stack.namespace}",name="manual"}} == 1'
        prometheus.wait_for(
            "the upgrade's reason AwaitingApproval to be scraped",
            lambda: [series["metric"]["reason"] for series in prometheus.query(query)] == ["AwaitingApproval"],
            stack,
            timeout=20,
        )

        def approval_alert() -> list[dict[str, Any]]:
            return prometheus.query('ALERTS{alertname="AuroraUpgradeAwaitingApproval",alertstate="firing"}')

        (alert,) = prometheus.wait_for("AuroraUpgradeAwaitingApproval to fire", approval_alert, stack)
        assert (alert["metric"]["namespace"], alert["metric"]["name"]) == (stack.namespace, "manual"), alert
