"""Issue 18, items 7 and 4, through the engine against the simulator: the pre-switchover snapshot
is the one that precedes the switchover (retaken once it went stale while the gate held), and a
deployment someone deletes right after the switchover does not stop the upgrade."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from aurora_upgrade.clock import parse_time, rfc3339
from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import AuroraUpgradeStatus, parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.sim import SimServer
from aurora_upgrade.upgrade import Upgrade
from support.runbook import runbook_manifest
from support.sim import Recorded, SimFactory

SNAPSHOT = "CreateDBClusterSnapshot"
SWITCHOVER = "SwitchoverBlueGreenDeployment"


def _engine(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    timing = Timing.compressed(0.1 / 30)  # a poll of 0.1 s, every deadline alike
    return Engine(timing=timing, gateways=lambda u: RdsGateway.for_region(u.spec.region))


def _reconcile_until(
    engine: Engine, upgrade: Upgrade, store: Recorded, done: Callable[[Upgrade], bool], seconds: float = 30
) -> Upgrade:
    """Reconcile as the operator's daemon would, until `done` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        upgrade, delay = engine.reconcile(upgrade, store)
        if done(upgrade):
            return upgrade
        if delay is None:
            break
        time.sleep(min(delay, 0.2))
    status = upgrade.status
    raise AssertionError(f"never got there: {status.phase} {status.reason} {status.message}")


def _with_switchover(upgrade: Upgrade, generation: int, **changes: Any) -> Upgrade:
    """The manifest applied again with these spec.switchover fields."""
    switchover = upgrade.spec.switchover.model_copy(update=changes)
    return replace(upgrade, spec=upgrade.spec.model_copy(update={"switchover": switchover}), generation=generation)


def _days_later(status: AuroraUpgradeStatus, days: int) -> AuroraUpgradeStatus:
    """The status as it reads `days` later: every time the snapshot's age may count from moved back."""
    fields = ("phase_started_at", "snapshot_requested_at", "snapshot_available_at")
    earlier = {
        f: rfc3339(parse_time(getattr(status, f)) - timedelta(days=days))
        for f in fields
        if f in AuroraUpgradeStatus.model_fields and getattr(status, f)
    }
    return status.model_copy(update=earlier)


def test_a_snapshot_gone_stale_while_the_gate_held_is_retaken_before_the_switchover(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Approved, the snapshot asked for, then the approval withdrawn for two days: the switchover
    runs, once approved again, with a snapshot taken right before it, not the two-day-old one
    (which is kept)."""
    sim = make_sim()
    engine = _engine(sim, monkeypatch)
    store = Recorded()
    spec = parse_spec(runbook_manifest(switchover={"mode": "Manual", "approved": True})["spec"])
    upgrade = engine.accept("stale-snap", "default", "5e1f0c2a-0000-4000-8000-00000000c7a1", 1, spec, None, store)
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.snapshot_requested_at is not None)
    first = upgrade.status.snapshot_identifier

    upgrade = _with_switchover(upgrade, 2, approved=False)
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.reason == "AwaitingApproval")
    assert upgrade.status.phase in (Phase.SNAPSHOTTING, Phase.SWITCHING_OVER)
    assert SWITCHOVER not in sim.mutating_calls()

    upgrade = _with_switchover(replace(upgrade, status=_days_later(upgrade.status, 2)), 3, approved=True)
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.phase == Phase.COMPLETED)

    calls = [c for c in sim.calls() if c["outcome"] == "ok" and c["operation"] in (SNAPSHOT, SWITCHOVER)]
    taken = [c["params"]["DBClusterSnapshotIdentifier"] for c in calls if c["operation"] == SNAPSHOT]
    assert taken == [first, f"{first}-2"], "retaken once, under its own name"
    assert calls[-1]["operation"] == SWITCHOVER, "the retake precedes the switchover"
    status = upgrade.status
    assert (status.snapshot_identifier, status.superseded_snapshot_identifier) == (f"{first}-2", first)
    assert status.snapshot_retakes == 1
    assert any(e[1] == SNAPSHOT and "retaken" in e[2] and first in e[2] for e in store.events)


def test_someone_deleting_the_deployment_right_after_switchover_is_not_a_failure(
    make_sim: SimFactory, client_for: Callable[[SimServer], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runbook step 9.1 done by hand in the console the moment AWS completed the switchover,
    before the operator looked again: production's instances are still rebooted and verified,
    the upgrade completes, and a Warning says someone else deleted the deployment."""
    sim = make_sim()
    engine = _engine(sim, monkeypatch)
    rds = client_for(sim)
    store = Recorded()
    spec = parse_spec(runbook_manifest()["spec"])
    upgrade = engine.accept("hand-deleted", "default", "5e1f0c2a-0000-4000-8000-00000000d9e1", 1, spec, None, store)
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.switchover_attempt is not None)
    ident = upgrade.status.blue_green_deployment_identifier

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=ident)["BlueGreenDeployments"]
        if found[0]["Status"] == "SWITCHOVER_COMPLETED":
            break
        time.sleep(0.05)
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=ident)

    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.phase in (Phase.COMPLETED, Phase.FAILED))
    assert upgrade.status.phase == Phase.COMPLETED, upgrade.status.message
    phases = [h.phase for h in upgrade.status.history]
    assert Phase.REBOOTING_INSTANCES in phases and Phase.VERIFYING in phases
    warned = [e for e in store.events if e[0] == "Warning" and e[1] == "BlueGreenDeploymentDeletedElsewhere"]
    assert len(warned) == 1 and "deleted by someone else" in warned[0][2]
    production = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    reboots = [c["params"]["DBInstanceIdentifier"] for c in sim.calls() if c["operation"] == "RebootDBInstance"]
    assert sorted(r for r in reboots if "green" not in r and r in production) == [
        "aurora-bg-aurora-instance-1",
        "aurora-bg-aurora-instance-2",
    ]
    assert [c["operation"] for c in sim.calls()].count("DeleteBlueGreenDeployment") == 1, "only the person's"
    assert upgrade.status.old_cluster_identifier == "aurora-bg-aurora-cluster-old1"


def test_turning_the_snapshot_on_in_switching_over_takes_it_before_the_call(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """snapshotBeforeSwitchover off until the upgrade held at the gate in SwitchingOver, then
    turned on with the approval: the snapshot is taken before the call, not waited for until
    SwitchoverNotSafe's deadline fails the upgrade."""
    sim = make_sim()
    engine = _engine(sim, monkeypatch)
    store = Recorded()
    manifest = runbook_manifest(switchover={"mode": "Manual", "approved": False, "snapshotBeforeSwitchover": False})
    upgrade = engine.accept(
        "late-snap", "default", "5e1f0c2a-0000-4000-8000-00000000e5b1", 1, parse_spec(manifest["spec"]), None, store
    )
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.reason == "AwaitingApproval")
    # Held at the gate right before the call (approval withdrawn there).
    upgrade = replace(upgrade, status=upgrade.status.model_copy(update={"phase": Phase.SWITCHING_OVER}))
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.reason == "AwaitingApproval")

    upgrade = _with_switchover(upgrade, 2, approved=True, snapshot_before_switchover=True)
    upgrade = _reconcile_until(engine, upgrade, store, lambda u: u.status.phase in (Phase.COMPLETED, Phase.FAILED))

    assert upgrade.status.phase == Phase.COMPLETED, upgrade.status.message
    done = [c["operation"] for c in sim.calls() if c["outcome"] == "ok" and c["operation"] in (SNAPSHOT, SWITCHOVER)]
    assert done == [SNAPSHOT, SWITCHOVER]
    assert upgrade.status.snapshot_identifier and upgrade.status.snapshot_before_switchover is True
