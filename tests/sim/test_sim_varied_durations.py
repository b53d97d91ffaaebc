"""`aurora-upgrade sim --vary-durations SEED`: each resource takes its own seeded duration, so a
fleet's changes do not all land in one instant; without it every resource takes the same."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime

import pytest

from aurora_upgrade.sim import SimConfig, SimServer, rds_client
from aurora_upgrade.sim.cli import build_parser, config_from
from aurora_upgrade.sim.scenarios import fleet, fleet_cluster

OPERATIONS = ("provisioning", "switchover", "reboot", "snapshot", "delete")
CLUSTERS = [fleet_cluster(i) for i in range(1, 21)]


def test_the_same_seed_gives_the_same_durations() -> None:
    first, again = SimConfig(vary_seed=7), SimConfig(vary_seed=7)
    for operation in OPERATIONS:
        assert [first.seconds(operation, c) for c in CLUSTERS] == [again.seconds(operation, c) for c in CLUSTERS]


def test_clusters_differ_within_the_spread_and_seeds_differ() -> None:
    config = SimConfig(vary_seed=7, vary_spread=0.5)
    for operation in OPERATIONS:
        base = getattr(config, f"{operation}_seconds")
        drawn = [config.seconds(operation, c) for c in CLUSTERS]
        assert len(set(drawn)) == len(CLUSTERS), (operation, drawn)
        assert all(0.5 * base <= seconds <= 1.5 * base for seconds in drawn), (operation, drawn)
        # Spread over the range, not bunched at the base: some below 0.8x, some above 1.2x.
        assert min(drawn) < 0.8 * base and max(drawn) > 1.2 * base, (operation, drawn)
    other = SimConfig(vary_seed=8)
    assert [other.seconds("provisioning", c) for c in CLUSTERS] != [config.seconds("provisioning", c) for c in CLUSTERS]


def test_a_resource_keeps_its_durations_across_the_renames_of_a_deployment() -> None:
    config = SimConfig(vary_seed=3)
    instance = "aurora-bg-aurora-cluster-0001-instance-1"
    assert config.seconds("reboot", instance + "-green-a1b2c3") == config.seconds("reboot", instance)
    assert config.seconds("reboot", instance + "-old1") == config.seconds("reboot", instance)
    assert config.seconds("reboot", instance.upper()) == config.seconds("reboot", instance)


def test_without_the_option_every_resource_takes_the_configured_delay() -> None:
    config = config_from(build_parser().parse_args(["--scale", "0.1"]))
    assert config.vary_seed is None
    for operation in OPERATIONS:
        assert {config.seconds(operation, c) for c in CLUSTERS} == {getattr(config, f"{operation}_seconds")}
    assert config == SimConfig.scaled(0.1)


def test_the_command_line_sets_seed_and_spread() -> None:
    config = config_from(
        build_parser().parse_args(["--scale", "0.1", "--vary-durations", "5", "--duration-spread", "0.2"])
    )
    assert (config.vary_seed, config.vary_spread) == (5, 0.2)
    assert config.provisioning_seconds == SimConfig.scaled(0.1).provisioning_seconds
    with pytest.raises(ValueError, match="vary_spread"):
        SimConfig(vary_seed=1, vary_spread=1.0)


def _transitions(server: SimServer) -> dict[str, float]:
    with urllib.request.urlopen(server.endpoint_url + "/_sim/transitions", timeout=10) as response:
        return {t["label"]: datetime.fromisoformat(t["time"]).timestamp() for t in json.loads(response.read())}


@pytest.mark.parametrize("seed", [None, 11])
def test_the_simulator_applies_each_instances_and_clusters_own_duration(seed: int | None) -> None:
    """Reboots and snapshots asked at once complete at their own times when durations vary, all at
    the same time when they do not (the transitions are dated when they were due)."""
    config = SimConfig(reboot_seconds=0.6, snapshot_seconds=0.6, vary_seed=seed, vary_spread=0.5)
    clusters = [fleet_cluster(i) for i in range(1, 5)]
    with SimServer(config=config, scenario=fleet(len(clusters)), port=0) as server:
        rds = rds_client(server.endpoint_url)
        asked = {}
        for cluster in clusters:
            asked[f"reboot {cluster}-instance-1"] = time.time()
            rds.reboot_db_instance(DBInstanceIdentifier=f"{cluster}-instance-1")
            asked[f"snapshot {cluster}-snap"] = time.time()
            rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=f"{cluster}-snap")
        time.sleep(1.2)
        rds.describe_db_instances()  # applies what is due
        due = _transitions(server)
    assert set(asked) <= set(due), due
    expected = {label: config.seconds(label.split()[0], label.split()[1].removesuffix("-snap")) for label in asked}
    for label, at in asked.items():
        assert at - 0.05 <= due[label] - expected[label] <= at + 0.25, (label, due[label] - at, expected[label])
    distinct = len({round(seconds, 6) for seconds in expected.values()})
    assert distinct == (1 if seed is None else len(asked)), expected
