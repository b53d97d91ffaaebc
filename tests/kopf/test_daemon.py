"""One operator, in this process, driving upgrades of the simulated fleet: the daemon per
unfinished upgrade, what wakes a waiting one, and the finalizer only where deletion has work.

How soon a woken upgrade looks is told by the Region's event feed, which reads once per event
interval (1 s here) for as long as an upgrade waits: a person's wait is looked at again only
every safety interval (30 s here, so some 30 feed reads), and a woken upgrade moves on within a
few reads. The counts, not wall-clock times, are what the tests compare.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kopf.testing import KopfRunner
from kopf_tier import POLL_SECONDS, Sim, Upgrades, fleet_cluster, kopf_runner, standard_streams, wait_for

from aurora_upgrade.config import Timing
from support.runbook import RUNBOOK_PHASES

MANUAL = {"switchover": {"mode": "Manual", "timeoutSeconds": 300, "snapshotBeforeSwitchover": True}}
APPROVE = {"spec": {"switchover": {"approved": True}}}

TIMING = Timing.compressed(POLL_SECONDS / 30)
FEED_READS_PER_SAFETY_INTERVAL = TIMING.safety / TIMING.events  # 30
WOKEN_WITHIN = FEED_READS_PER_SAFETY_INTERVAL / 3  # feed reads: "at once", against a third of the safety net


@pytest.fixture(scope="module")
def operator(operator_env: None, upgrades: Upgrades) -> Iterator[KopfRunner]:
    with standard_streams(), kopf_runner(upgrades.namespace, "--standalone") as runner:
        yield runner
    assert runner.exit_code == 0, runner.output


@pytest.fixture(scope="module")
def held(operator: KopfRunner, upgrades: Upgrades) -> str:
    """A Manual upgrade applied when the module starts; it waits for approval until the
    finalizer test at the module's end gives it."""
    upgrades.apply("held", fleet_cluster(4), **MANUAL)
    return "held"


def test_a_daemon_drives_each_unfinished_upgrade(operator: KopfRunner, upgrades: Upgrades, held: str) -> None:
    upgrades.apply("runbook", fleet_cluster(1))

    done = upgrades.wait_phase("runbook", "Completed", timeout=120)

    assert [entry["phase"] for entry in done["history"]] == RUNBOOK_PHASES, done["history"]
    assert done["observedGeneration"] == 1
    # The other upgrade, applied with it, has its own daemon: it got as far as it may alone.
    upgrades.wait_reason(held, "AwaitingApproval")


def test_an_approval_wakes_an_upgrade_waiting_for_it_at_once(
    operator: KopfRunner, upgrades: Upgrades, sim: Sim
) -> None:
    upgrades.apply("approval", fleet_cluster(2), **MANUAL)
    # Its look has just recorded the wait; the next is a safety interval away.
    upgrades.wait_reason("approval", "AwaitingApproval")
    reads_before = sim.count("DescribeEvents")

    upgrades.patch("approval", APPROVE)
    moved = upgrades.wait_status("approval", "leaves AwaitingSwitchover", lambda s: s["phase"] != "AwaitingSwitchover")

    reads = sim.count("DescribeEvents") - reads_before
    assert reads < WOKEN_WITHIN, (reads, moved)
    assert moved["phase"] in ("Snapshotting", "SwitchingOver", "RebootingInstances"), moved
    upgrades.wait_phase("approval", "Completed", timeout=120)


def test_an_rds_event_wakes_an_upgrade_waiting_on_a_person(operator: KopfRunner, upgrades: Upgrades, sim: Sim) -> None:
    """Someone switches over in the console while the upgrade waits for approval: the events
    of the switchover (RDS-EVENT-0247, 0259) wake it, and it says so."""
    upgrades.apply("console", fleet_cluster(3), **MANUAL)
    waiting = upgrades.wait_reason("console", "AwaitingApproval")
    reads_before = sim.count("DescribeEvents")

    deployment = waiting["blueGreenDeploymentIdentifier"]
    sim.rds().switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=deployment)
    moved = upgrades.wait_status("console", "leaves AwaitingSwitchover", lambda s: s["phase"] != "AwaitingSwitchover")

    reads = sim.count("DescribeEvents") - reads_before
    assert reads < WOKEN_WITHIN, (reads, moved)
    warned = wait_for(
        "a Warning that someone else switched over",
        lambda: [e for e in upgrades.events("console") if e.reason == "SwitchedOverOutsideOperator"],
        timeout=30,
    )
    assert warned[0].type == "Warning", warned


def test_only_an_upgrade_whose_deletion_has_work_carries_the_finalizer(
    operator: KopfRunner, upgrades: Upgrades, held: str
) -> None:
    """Deleting a Completed upgrade changes nothing in AWS: kopf takes the finalizer off the
    moment it completes; one still running keeps it."""
    upgrades.wait_reason(held, "AwaitingApproval")
    assert upgrades.has_finalizer(held)

    upgrades.patch(held, APPROVE)
    upgrades.wait_phase(held, "Completed", timeout=120)
    wait_for("the finalizer to come off the Completed upgrade", lambda: not upgrades.has_finalizer(held), timeout=30)
    assert not upgrades.has_finalizer("runbook")
