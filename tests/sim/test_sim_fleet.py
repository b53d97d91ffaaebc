"""The simulator's fleet (many runbook clusters in one account, for benchmarks) and its record of
when each delayed state change happened (`GET /_sim/transitions`)."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime

from aurora_upgrade.sim import SimConfig, SimServer, rds_client
from aurora_upgrade.sim.scenarios import fleet


def test_fleet_has_n_runbook_clusters_with_two_instances_each() -> None:
    with SimServer(config=SimConfig(), scenario=fleet(3), port=0) as server:
        rds = rds_client(server.endpoint_url)
        clusters = rds.describe_db_clusters()["DBClusters"]
        assert sorted((c["DBClusterIdentifier"], c["EngineVersion"]) for c in clusters) == [
            (f"aurora-bg-aurora-cluster-000{i}", "15.6") for i in (1, 2, 3)
        ]
        members = rds.describe_db_instances(
            Filters=[{"Name": "db-cluster-id", "Values": ["aurora-bg-aurora-cluster-0002"]}]
        )["DBInstances"]
        assert sorted(i["DBInstanceIdentifier"] for i in members) == [
            "aurora-bg-aurora-cluster-0002-instance-1",
            "aurora-bg-aurora-cluster-0002-instance-2",
        ]


def test_transitions_record_when_a_state_changed_not_when_it_was_seen() -> None:
    with SimServer(config=SimConfig(reboot_seconds=0.5), scenario=fleet(1), port=0) as server:
        rds = rds_client(server.endpoint_url)
        instance = "aurora-bg-aurora-cluster-0001-instance-1"
        asked = time.time()
        rds.reboot_db_instance(DBInstanceIdentifier=instance)
        time.sleep(1.5)
        # Nothing looked in between: the change is applied now, dated when it was due.
        assert rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["DBInstanceStatus"] == (
            "available"
        )
        with urllib.request.urlopen(server.endpoint_url + "/_sim/transitions", timeout=10) as response:
            transitions = json.loads(response.read())
        assert [t["label"] for t in transitions] == [f"reboot {instance}"]
        due = datetime.fromisoformat(transitions[0]["time"]).timestamp()
        assert asked + 0.4 < due < asked + 1.0, (asked, due)
