"""Reliability of `aurora-upgrade operator` against a real kube-apiserver: SIGKILLed at seeded
random moments in every phase under 20 % throttling and 5 % 500s, and AWS's failure states.

Phases are read from the resource's status (kubectl, as a user sees them); a kill comes a
seeded random moment after the upgrade is seen in a phase that still needs kills."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from operator_fixtures import CLUSTER, Runner, Stack, manifest, unique_namespace

from aurora_upgrade.phases import TERMINAL
from aurora_upgrade_dev.controlplane import ControlPlane
from support.reliability import (
    MIN_KILLS,
    PER_PHASE,
    Authorised,
    Row,
    duplicates,
    faults_in,
    kills_cover,
    record,
    record_kills,
)
from support.runbook import RUNBOOK_PHASES, assert_runbook_end_state

pytestmark = pytest.mark.reliability

SEED = 20261201
KILL_PHASES = RUNBOOK_PHASES[1:-1]
MAX_UPGRADES = 8
MIN_LIFE = 1.5  # seconds an operator runs, once kopf is up, before it may be killed: it resumes and acts


def settle(stack: Stack) -> None:
    """Wait until the operator just started has logged in to the API server, then MIN_LIFE."""
    started = stack.operator_starts
    stack.wait_for(
        "the operator to start",
        lambda: (
            stack.operator_log.read_text(errors="replace")
            .split(f"===== operator start #{started} =====")[-1]
            .count("Initial authentication has finished")
        ),
        timeout=60,
    )
    time.sleep(MIN_LIFE)


# AWS's states last long enough to be seen between two kubectl reads on a busy machine; slow
# answers stretch the phases that are only calls (Prechecking, Verifying).
FAULTY_SIM = [
    "--provisioning-seconds", "3", "--reboot-seconds", "1.5", "--snapshot-seconds", "1.5",
    "--switchover-seconds", "2", "--delete-seconds", "1.5", "--not-found-after-create-seconds", "0.5",
    "--throttle-rate", "0.2", "--error-rate", "0.05", "--slow-rate", "0.1", "--slow-seconds", "0.4",
]  # fmt: skip


def test_operator_killed_at_random_in_every_phase_under_throttling_and_500s(
    control_plane: ControlPlane, kubectl: Runner, crd: None, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    kills: Counter[str] = Counter()
    completed = faults = extra = starts = 0
    for upgrade in range(MAX_UPGRADES):
        workdir = tmp_path / f"upgrade-{upgrade}"
        workdir.mkdir()
        stack = Stack(control_plane, kubectl, unique_namespace(kubectl, "rel-kill"), workdir)
        try:
            stack.start(sim_args=[*FAULTY_SIM, "--seed", str(SEED + upgrade)])
            settle(stack)  # kopf is watching before the upgrade arrives: Prechecking can be hit too
            stack.apply(manifest("killed", stack.namespace))
            deadline = time.monotonic() + 300
            authorised = 1
            while True:
                assert time.monotonic() < deadline, f"upgrade {upgrade} did not complete\n{stack.diagnose()}"
                phase = stack.status("killed").get("phase")
                # While a phase needs kills, watch for it; then a kill at a random moment of a life.
                end_of_life = time.monotonic() + rng.uniform(0.0, 6.0)
                while phase not in TERMINAL and time.monotonic() < deadline:
                    if phase in KILL_PHASES and kills[phase] < PER_PHASE:
                        break
                    if time.monotonic() >= end_of_life and phase in KILL_PHASES and sum(kills.values()) < MIN_KILLS:
                        break
                    time.sleep(0.05)
                    phase = stack.status("killed").get("phase")
                    authorised = max(authorised, stack.authorise_switchover_if_asked("killed"))
                if phase in TERMINAL:
                    break
                time.sleep(rng.uniform(0.0, 0.3))
                stack.kill_operator()
                killed_in = stack.status("killed").get("phase")  # what the killed process had saved
                if killed_in in KILL_PHASES:
                    kills[killed_in] += 1
                stack.start_operator()
                settle(stack)  # each operator starts, resumes and acts before the next kill
            status, asked = stack.wait_completed("killed", timeout=10)
            authorised = max(authorised, asked)
            assert status["reason"] == "Completed", status
            assert_runbook_end_state(stack.rds_sim.rds())
            calls = stack.rds_sim.calls()
            n, problems = duplicates(calls, authorised=Authorised(switchover_attempts=authorised))
            assert n == 0 and not problems, f"{problems}\n{stack.diagnose()}"
            completed += 1
            faults += faults_in(calls)
            starts += stack.operator_starts
        finally:
            stack.stop()
            stack.remove_upgrades()
        if kills_cover(kills, KILL_PHASES):
            break
    record_kills(
        "operator SIGKILLed in every phase, 20 % throttling, 5 % 500s, 10 % slow",
        KILL_PHASES,
        kills,
        runs=starts,
        faults=faults,
        completed=completed,
        extra=extra,
    )


def blue_unchanged(stack: Stack) -> None:
    cluster = stack.rds_sim.rds().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert (cluster["DBClusterIdentifier"], cluster["EngineVersion"]) == (CLUSTER, "15.6"), cluster


FAILURE_STATES = [
    # (id, sim arguments, spec changes, reason, words of AWS's message in status.message)
    ("invalid-configuration", ["--fault", "invalid-configuration"], {}, "BlueGreenInvalidConfiguration",
     "replication from the blue environment couldn't be set up"),
    ("provisioning-failed", ["--fault", "provisioning-fails"], {}, "BlueGreenProvisioningFailed",
     "while provisioning the green environment"),
    ("switchover-failed", ["--fault", "switchover-fails"], {}, "BlueGreenSwitchoverFailed",
     "Changes were rolled back"),
    ("reboot-never-returns", ["--fault", "reboot-hangs"], {}, "RebootTimedOut", "rebooting"),
    ("snapshot-stuck-creating", ["--fault", "snapshot-hangs"], {}, "WaitingForSnapshotTimedOut", "creating"),
]  # fmt: skip


@pytest.mark.parametrize(("sim_args", "spec", "reason", "words"), [f[1:] for f in FAILURE_STATES],
                         ids=[f[0] for f in FAILURE_STATES])  # fmt: skip
def test_aws_failure_state_fails_with_its_reason_and_leaves_blue_alone(
    stack: Stack, sim_args: list[str], spec: dict[str, Any], reason: str, words: str
) -> None:
    stack.start(sim_args=sim_args)
    stack.apply(manifest("failing", stack.namespace, **spec))
    status = stack.wait_phase("failing", "Failed", timeout=240)
    assert status["reason"] == reason, f"{status}\n{stack.diagnose()}"
    assert words in status["message"], status["message"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Stalled"] == "True" and conditions["Ready"] == "False", conditions
    stack.wait_for(
        f"a Warning Event {reason}",
        lambda: any(e["type"] == "Warning" and e["reason"] == reason for e in stack.events("failing")),
        timeout=30,
    )
    blue_unchanged(stack)
    calls = stack.rds_sim.calls()
    record(
        Row(
            f"AWS failure state: {FAILURE_STATES[[f[3] for f in FAILURE_STATES].index(reason)][0]}",
            runs=1,
            faults_injected=1,
            upgrades_completed=0,
            duplicate_mutations=duplicates_before_failure(calls),
            notes=f"Failed {reason}, Stalled=True, Warning Event, blue {CLUSTER} still 15.6",
        )
    )


def duplicates_before_failure(calls: list[dict[str, Any]]) -> int:
    """Once-only calls that took effect more than once in an upgrade that failed part-way."""
    counts = Counter(c["operation"] for c in calls if c["outcome"] == "ok")
    return sum(max(0, counts[op] - 1) for op in ("CreateBlueGreenDeployment", "CreateDBClusterSnapshot",
                                                   "SwitchoverBlueGreenDeployment"))  # fmt: skip
