"""Events wake, describes confirm (issue 20, item 4), through the engine against the simulator:
an RDS event saying the switchover completed, while DescribeBlueGreenDeployments says the
deployment is still AVAILABLE, moves nothing on production. The looks describe the deployment,
stay in SwitchingOver and send no RebootDBInstance (nor a second switchover)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase
from support.runbook import runbook_manifest
from support.sim import SimFactory, sim_client

from .test_switchover_attempts import Recorded, run_until


def test_a_switchover_completed_event_alone_reboots_nothing(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    timing = Timing.compressed(0.1 / 30)
    engine = Engine(timing=timing, gateways=lambda u: RdsGateway.for_region(u.spec.region))
    manifest = runbook_manifest(switchover={"mode": "Manual", "approved": False, "snapshotBeforeSwitchover": False})
    store = Recorded()
    spec = parse_spec(manifest["spec"])
    upgrade = engine.accept("evented", "default", "5e1f0c2a-0000-4000-8000-00000000e7e1", 1, spec, None, store)
    upgrade = run_until(engine, upgrade, store, "AwaitingApproval")
    deployment = upgrade.status.blue_green_deployment_identifier
    assert deployment is not None

    # A switchover recorded as answered a moment ago, that AWS has not carried out (the
    # deployment stays AVAILABLE), and an event that says it completed.
    now = datetime.now(UTC)
    status = upgrade.status.model_copy(
        update={"phase": Phase.SWITCHING_OVER, "switchover_requested_at": rfc3339(now), "switchover_attempt": 1}
    )
    approved = upgrade.spec.model_copy(
        update={"switchover": upgrade.spec.switchover.model_copy(update={"approved": True})}
    )
    upgrade = replace(upgrade, spec=approved, generation=2, status=status)
    # What AWS's event feed would say, alone (added the way the simulator adds its own).
    backend = sim._home_backend()
    found = backend.sim_deployments[deployment]
    backend.add_sim_event(
        deployment, "blue-green-deployment", found.arn, "Switchover completed on blue/green deployment.", [], now
    )
    told = sim_client(sim).describe_events(SourceIdentifier=deployment, SourceType="blue-green-deployment")
    assert any("Switchover completed" in e["Message"] for e in told["Events"]), told["Events"]
    calls_before = len(sim.calls())

    # Looks woken at once, as the event would wake them.
    for _ in range(3):
        upgrade, _delay = engine.reconcile(upgrade, store)

    operations = [c["operation"] for c in sim.calls()[calls_before:]]
    assert operations.count("DescribeBlueGreenDeployments") >= 3, operations  # each look asked AWS
    assert "RebootDBInstance" not in operations
    assert "SwitchoverBlueGreenDeployment" not in operations
    assert upgrade.status.phase == Phase.SWITCHING_OVER
    assert upgrade.status.reason != "SwitchoverCompleted"
    assert not any("-> RebootingInstances" in e[2] for e in store.events), store.events
