"""Issue 20 item 6 through the engine against the simulator: AWS refusing CreateBlueGreenDeployment
for the Region's quota of DB clusters (`aurora-upgrade sim --cluster-quota N`,
DBClusterQuotaExceededFault) is a wait that names the quota, not a failure and not a loop of
creates; once a cluster is freed the create is tried again and succeeds, exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.sim import SimServer, rds_client
from aurora_upgrade.sim.scenarios import fleet, fleet_cluster
from aurora_upgrade.upgrade import Upgrade
from support.runbook import REGION, runbook_manifest
from support.sim import QUICK, Recorded

CREATE = "CreateBlueGreenDeployment"
TIMING = Timing.compressed(0.1 / 30)  # a poll of 0.1 s, every deadline alike: the quota's retry every 1 s


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """Two clusters of the runbook's in an account whose quota is two DB clusters: green has no room."""
    server = SimServer(config=QUICK, scenario=fleet(2), cluster_quota=2).start()
    try:
        yield server
    finally:
        server.stop()


def reconcile_until(engine: Engine, upgrade: Upgrade, store: Recorded, done: Callable[[Upgrade], bool]) -> Upgrade:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        upgrade, delay = engine.reconcile(upgrade, store)
        if done(upgrade):
            return upgrade
        assert delay is not None, upgrade.status
        time.sleep(min(delay, 0.2))
    raise AssertionError(f"never got there: {upgrade.status.phase} {upgrade.status.reason} {upgrade.status.message}")


def creates(sim: SimServer) -> list[str]:
    return [call["outcome"] for call in sim.calls() if call["operation"] == CREATE]


def test_a_create_refused_for_the_cluster_quota_waits_then_succeeds_once_a_cluster_is_freed(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    engine = Engine(timing=TIMING, gateways=lambda u: RdsGateway.for_region(u.spec.region))
    store = Recorded()
    spec = parse_spec(runbook_manifest(clusterIdentifier=fleet_cluster(1))["spec"])
    upgrade = engine.accept("quota", "default", "5e1f0c2a-0000-4000-8000-0000000000a1", 1, spec, None, store)

    upgrade = reconcile_until(engine, upgrade, store, lambda u: u.status.reason == "DBClusterQuotaReached")

    status = upgrade.status
    assert status.phase == Phase.CREATING_BLUE_GREEN, status
    assert "quota of DB clusters" in status.message and "DBClusterQuotaExceededFault" in status.message, status
    assert status.blue_green_deployment_identifier is None
    assert creates(sim) == ["DBClusterQuotaExceededFault"]
    warnings = [e for e in store.events if e[1] == "DBClusterQuotaReached"]
    assert warnings and warnings[0][0] == "Warning", store.events
    # Still a wait a few retries later: each retry a create AWS refuses, none taking effect.
    upgrade = reconcile_until(engine, upgrade, store, lambda u: len(creates(sim)) >= 2)
    assert upgrade.status.reason == "DBClusterQuotaReached"
    assert set(creates(sim)) == {"DBClusterQuotaExceededFault"}
    assert [c for c in sim.effective_mutating_calls() if c != "AddTagsToResource"] == []

    # A person frees a cluster of the Region.
    rds = rds_client(sim.endpoint_url, REGION)
    freed = fleet_cluster(2)
    for instance in ("instance-1", "instance-2"):
        rds.delete_db_instance(DBInstanceIdentifier=f"{freed}-{instance}", SkipFinalSnapshot=True)
    rds.delete_db_cluster(DBClusterIdentifier=freed, SkipFinalSnapshot=True)

    upgrade = reconcile_until(engine, upgrade, store, lambda u: u.status.phase == Phase.COMPLETED)

    outcomes = creates(sim)
    assert outcomes[-1] == "ok" and outcomes.count("ok") == 1, outcomes
    assert set(outcomes[:-1]) == {"DBClusterQuotaExceededFault"}, outcomes
    assert sim.effective_mutating_calls().count(CREATE) == 1
