"""Prometheus metrics after a real upgrade run in-process against the simulator."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest

from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.runner import run_manifest
from support.runbook import NAME, runbook_manifest
from support.sim import SimFactory


def sample(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_metrics_count_rds_calls_phases_and_durations(
    make_sim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    creates_before = sample("aurora_upgrade_rds_api_calls_total", operation="CreateBlueGreenDeployment", outcome="ok")
    durations_before = sample("aurora_upgrade_phase_duration_seconds_count", phase="SwitchingOver")
    timing = Timing.compressed(0.1 / 30)  # a poll of 0.1 s, every deadline alike
    engine = Engine(timing=timing, gateways=lambda u: RdsGateway.for_region(u.spec.region))
    out = io.StringIO()
    code = run_manifest(runbook_manifest(), tmp_path / "state.json", timing, engine, out)
    assert code == 0, out.getvalue()
    assert (
        sample("aurora_upgrade_rds_api_calls_total", operation="CreateBlueGreenDeployment", outcome="ok")
        == creates_before + 1
    )
    assert sample("aurora_upgrade_phase_duration_seconds_count", phase="SwitchingOver") == durations_before + 1
    assert sample("aurora_upgrade_phase", namespace="default", name=NAME, phase="Completed") == 1
    assert sample("aurora_upgrade_phase", namespace="default", name=NAME, phase="Verifying") == 0
    exposition = generate_latest(REGISTRY).decode()
    assert 'aurora_upgrade_rds_api_calls_total{operation="DescribeBlueGreenDeployments",outcome="ok"}' in exposition
