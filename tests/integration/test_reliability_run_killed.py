"""Reliability: `aurora-upgrade run` SIGKILLed at seeded random moments in every phase, under
20 % throttling and 5 % HTTP 500s, re-run each time as a person would after a crash. Every
upgrade completes, and the simulator's record shows each once-only call taking effect once.

The kills come from the simulator's call hook: while the process is in the middle of a call
(the simulator has carried it out, the answer is not back yet), in the phase its state file
says. Until every phase has been hit twice, each call is a candidate; then kills go on at a
lower rate until there were at least MIN_KILLS."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from aurora_upgrade.sim import SimServer, rds_client
from aurora_upgrade.sim.config import FaultConfig
from aurora_upgrade.sim.recorder import is_mutating
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
from support.runbook import EXAMPLE, RUNBOOK_PHASES, assert_runbook_end_state
from support.sim import QUICK

from .runcli import env_for, run_command

pytestmark = pytest.mark.reliability

SEED = 20261201
KILL_PHASES = RUNBOOK_PHASES[1:-1]  # every phase with work in it (Pending and Completed have none)
MAX_UPGRADES = 10


def phase_in(state: Path) -> str | None:
    try:
        phase: str = json.loads(state.read_text())["status"]["phase"]
    except (OSError, ValueError, KeyError):
        return None
    return phase


class Killer:
    """Decides, on each call the simulator answers, whether to SIGKILL the running process."""

    def __init__(self, rng: random.Random, state: Path, kills: Counter[str]) -> None:
        self.rng = rng
        self.state = state
        self.kills = kills  # per phase, counted across upgrades
        self.process: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    def covered(self) -> bool:
        return kills_cover(self.kills, KILL_PHASES)

    def on_call(self, _entry: dict[str, Any]) -> None:
        with self.lock:
            process = self.process
            if process is None or process.poll() is not None:
                return
            phase = phase_in(self.state)
            if phase not in KILL_PHASES:
                return
            if self.kills[phase] < PER_PHASE:
                chance = 0.3
            elif sum(self.kills.values()) < MIN_KILLS:
                chance = 0.08
            else:
                return
            if self.rng.random() < chance:
                os.kill(process.pid, signal.SIGKILL)
                self.kills[phase] += 1
                self.process = None


def manifest_with_attempt(state: Path, attempt: int) -> Path:
    """The example manifest with the switchover attempt a person authorised (spec.switchover.attempt)."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["spec"].setdefault("switchover", {})["attempt"] = attempt
    path = state.with_suffix(f".attempt-{attempt}.yaml")
    path.write_text(yaml.safe_dump(document))
    return path


def holds_for_a_person(state: Path) -> bool:
    """The upgrade stopped because a switchover it sent may not have been carried out (an HTTP
    500 after the call): a person looks, then raises spec.switchover.attempt."""
    try:
        status = json.loads(state.read_text())["status"]
    except (OSError, ValueError, KeyError):
        return False
    return bool(status.get("reason") == "SwitchoverNotCarriedOut")


def run_once(server: SimServer, state: Path, attempt: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        run_command(manifest_with_attempt(state, attempt), state),
        env=env_for(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_run_killed_at_random_in_every_phase_under_throttling_and_500s(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    totals = Counter[str]()
    runs = completed = faults = extra = authorised = 0
    kills: Counter[str] = Counter()
    for upgrade in range(MAX_UPGRADES):
        state = tmp_path / f"upgrade-{upgrade}.state.json"
        killer = Killer(rng, state, kills)
        server = SimServer(
            config=QUICK,
            faults=FaultConfig(seed=SEED + upgrade, throttle_rate=0.2, error_rate=0.05),
            on_call=killer.on_call,
        ).start()
        attempt = 1
        try:
            deadline = time.monotonic() + 240
            while True:
                assert time.monotonic() < deadline, f"upgrade {upgrade} did not complete: {phase_in(state)}"
                with killer.lock:
                    killer.process = process = run_once(server, state, attempt)
                runs += 1
                while process.poll() is None and time.monotonic() < deadline and not holds_for_a_person(state):
                    time.sleep(0.2)
                if process.poll() is None:  # holding for a person, or past the deadline
                    with killer.lock:
                        killer.process = None
                    process.kill()
                    process.communicate()
                    if holds_for_a_person(state):
                        attempt += 1
                        authorised += 1
                    continue
                output, _ = process.communicate()
                if process.returncode == -signal.SIGKILL:
                    continue
                assert process.returncode == 0, output
                break
            assert phase_in(state) == "Completed"
            assert_runbook_end_state(rds_client(server.endpoint_url))
            calls = server.calls()
            n, problems = duplicates(calls, authorised=Authorised(switchover_attempts=attempt))
            assert n == 0 and not problems, problems
            completed += 1
            faults += faults_in(calls)
            extra += n
            totals.update(c["fault"] for c in calls if c["fault"])
        finally:
            server.stop()
        if killer.covered():
            break

    assert totals["throttled"] > 0 and totals["server-error"] > 0, totals
    record_kills(
        "`run` SIGKILLed in every phase, 20 % throttling, 5 % 500s",
        KILL_PHASES,
        kills,
        runs=runs,
        faults=faults,
        completed=completed,
        extra=extra,
        note=f"{totals['throttled']} throttled, {totals['server-error']} 500s"
        + (f"; {authorised} switchover attempts a person authorised after a 500" if authorised else ""),
    )


def test_run_completes_when_answers_are_lost_after_the_call_took_effect(tmp_path: Path) -> None:
    """10 % of answers lost after AWS carried the call out (the connection closed), 5 % slow:
    the calls an upgrade makes once still take effect once."""
    upgrades, faults, extra = 3, Counter[str](), 0
    lost_writes = 0
    for upgrade in range(upgrades):
        state = tmp_path / f"lost-{upgrade}.state.json"
        server = SimServer(
            config=QUICK,
            faults=FaultConfig(seed=SEED + 100 + upgrade, lost_rate=0.1, slow_rate=0.05, slow_seconds=0.5),
        ).start()
        attempt = 1
        try:
            deadline = time.monotonic() + 240
            while True:
                process = run_once(server, state, attempt)
                while process.poll() is None and time.monotonic() < deadline and not holds_for_a_person(state):
                    time.sleep(0.2)
                if process.poll() is None and holds_for_a_person(state):
                    process.kill()
                    process.communicate()
                    attempt += 1  # a person looked and authorised one more switchover
                    continue
                output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
                assert process.returncode == 0, output
                break
            assert_runbook_end_state(rds_client(server.endpoint_url))
            calls = server.calls()
            n, problems = duplicates(calls, authorised=Authorised(switchover_attempts=attempt))
            assert n == 0 and not problems, problems
            extra += n
            faults.update(c["fault"] for c in calls if c["fault"])
            lost_writes += sum(1 for c in calls if c["fault"] == "lost" and is_mutating(c["operation"]))
        finally:
            server.stop()
    assert faults["lost"] > 0 and faults["slow"] > 0, faults
    record(
        Row(
            "`run` with 10 % of answers lost after the call took effect, 5 % slow",
            runs=upgrades,
            faults_injected=sum(faults.values()),
            upgrades_completed=upgrades,
            duplicate_mutations=extra,
            notes=f"{faults['lost']} answers lost ({lost_writes} of mutating calls), {faults['slow']} slow",
        )
    )
