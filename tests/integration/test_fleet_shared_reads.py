"""N upgrades of one Region share their describe calls (issue 8): counted in the simulator's
call log, not timed.

The upgrades run in this process through the operator's own parts: one Engine, one gateway per
Region with its reads shared (`RdsGateway.share_answers`), looks aligned to the Region's read
cycle (`fleet.aligned`) and woken by the Region's RDS event feed (`read_events`,
`fleet.woken_by`). Only the kopf daemon around them is replaced by the loop below, which does
what the daemons do, one look after another, and status is kept in memory (`Recorded`; in the
operator it is the API server, which this tier does not run). The simulator is real (moto
behind HTTP)."""

from __future__ import annotations

import copy
import math
import time
import uuid
from collections import Counter
from typing import Any

from aurora_upgrade import fleet
from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.sim.scenarios import RUNBOOK_CLUSTER, runbook
from aurora_upgrade.upgrade import Upgrade
from support.runbook import RUNBOOK_MANIFEST
from support.sim import Recorded, SimFactory

SHARED = ("DescribeDBClusters", "DescribeDBInstances", "DescribeBlueGreenDeployments", "DescribeDBClusterSnapshots")
# What every upgrade's precheck asks about the engine versions and parameter groups, which the
# upgrades of one cluster template share.
PRECHECK = (
    "DescribeDBEngineVersions",
    "DescribeDBClusterParameterGroups",
    "DescribeDBParameterGroups",
    "DescribeDBClusterParameters",
)
# Short waits, so the runbook's upgrade takes seconds against the simulator's QUICK delays.
TIMING = Timing.compressed(0.6 / 30)  # a poll of 0.6 s


def fleet_scenario(n: int) -> dict[str, Any]:
    """The runbook's account with n copies of its cluster (cluster-0 .. cluster-{n-1})."""
    scenario = runbook()
    template = scenario["db_clusters"][0]
    clusters = []
    for i in range(n):
        cluster = copy.deepcopy(template)
        cluster["identifier"] = f"{RUNBOOK_CLUSTER}-{i}"
        for instance in cluster["instances"]:
            instance["identifier"] = f"{instance['identifier']}-c{i}"
        clusters.append(cluster)
    scenario["db_clusters"] = clusters
    return scenario


def upgrade_fleet(make_sim: SimFactory, monkeypatch: Any, n: int) -> tuple[Counter[str], int]:
    """Upgrade n clusters of one Region at once; the describe calls by operation, and the looks."""
    sim = make_sim(scenario=fleet_scenario(n))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    gateway = RdsGateway.for_region(RUNBOOK_MANIFEST["spec"]["region"])
    # The loop's rounds are the read cycles, so how slow a look is on a busy machine does not
    # change the count: every look of one round shares one cycle, and an upgrade says which
    # round it looks in next, as the operator's daemon says which cycle.
    cycle = [0]
    fleet.share_reads(gateway, TIMING, lambda _moment: cycle[0])
    engine = Engine(timing=TIMING, gateways=lambda _u: gateway)
    upgrades: dict[str, tuple[Upgrade, Recorded]] = {}
    for i in range(n):
        spec = {**RUNBOOK_MANIFEST["spec"], "clusterIdentifier": f"{RUNBOOK_CLUSTER}-{i}"}
        store = Recorded()
        ref = f"default/upgrade-{i}"
        upgrade = engine.accept(f"upgrade-{i}", "default", str(uuid.uuid4()), 1, parse_spec(spec), None, store)
        upgrades[ref] = (upgrade, store)
        fleet.expect(gateway, fleet.resources_of(upgrade), 1)  # as the operator's daemons do on start
    # The round each upgrade looks in next; all look in the first.
    due = dict.fromkeys(upgrades, 1)
    gateway.read_events()  # the feed starts now, as the operator's does
    next_feed, looks, deadline = time.time() + TIMING.events, 0, time.time() + 120
    while due:
        assert time.time() < deadline, {ref: u.status.phase for ref, (u, _s) in upgrades.items()}
        cycle[0] += 1
        began = time.time()
        if began >= next_feed:  # at the start of a cycle, as the Region's ticks put it
            interest = {ref: fleet.resources_of(upgrades[ref][0]).names for ref in due}
            for ref in fleet.woken_by(gateway.read_events(), interest, gateway.cluster_of_instance):
                fleet.expect(gateway, fleet.resources_of(upgrades[ref][0]))  # as the operator's feed does
                due[ref] = cycle[0]
            next_feed = began + TIMING.events
        for ref in [ref for ref, when in due.items() if when <= cycle[0]]:
            upgrade, store = upgrades[ref]
            upgrade, delay = engine.reconcile(upgrade, store)
            upgrades[ref] = (upgrade, store)
            looks += 1
            if delay is None:
                del due[ref]
                continue
            # As the operator's daemon does after a look: its next look is in the first cycle
            # after `delay` (at least the next one), and that cycle's call asks about its resources.
            due[ref] = cycle[0] + max(1, math.ceil(delay / fleet.tick(TIMING)))
            fleet.expect(gateway, fleet.resources_of(upgrade), due[ref])
        time.sleep(max(0.0, began + fleet.tick(TIMING) - time.time()))
    assert {u.status.phase for u, _s in upgrades.values()} == {Phase.COMPLETED}
    # Every describe counts: those filtered to what is in flight, and the listings of every
    # deployment (asked by name or source before creation) and every cluster (the previous
    # production, found by its resource id after switchover).
    calls = Counter(c["operation"] for c in sim.calls() if c["operation"] in SHARED)
    calls["DescribeEvents"] = sum(c["operation"] == "DescribeEvents" for c in sim.calls())
    for operation in PRECHECK:
        calls[operation] = sum(c["operation"] == operation for c in sim.calls())
    # And the filter values they carried: the resources asked about, summed over the calls.
    for c in sim.calls():
        if c["operation"] in SHARED:
            calls[f"{c['operation']} values"] += sum(
                1 for key in c["params"] if key.startswith("Filters.Filter.1.Values")
            )
    sim.stop()  # one simulator per process: the next fleet gets a fresh account
    return calls, looks


def test_ten_upgrades_of_one_region_share_their_describe_calls(make_sim: SimFactory, monkeypatch: Any) -> None:
    one, looks_one = upgrade_fleet(make_sim, monkeypatch, 1)
    ten, looks_ten = upgrade_fleet(make_sim, monkeypatch, 10)
    print(f"describe calls, N=1 ({looks_one} looks): {dict(one)}; N=10 ({looks_ten} looks): {dict(ten)}")

    # Ten times the looks, not ten times the calls: one call per operation answers every upgrade
    # looking in the same read cycle (unshared, each look would make its own).
    assert looks_ten >= 6 * looks_one, (looks_one, looks_ten)
    for operation in SHARED:
        assert one[operation] > 0, one
        assert ten[operation] <= 3 * one[operation], (operation, dict(one), dict(ten))
    # The prechecks of ten clusters made from one template ask AWS what one precheck asks.
    for operation in PRECHECK:
        assert 0 < ten[operation] <= one[operation], (operation, dict(one), dict(ten))
    # One RDS event feed for the Region, whatever the number of upgrades.
    assert ten["DescribeEvents"] <= 5 * one["DescribeEvents"], (dict(one), dict(ten))
