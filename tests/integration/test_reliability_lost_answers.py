"""Reliability: `aurora-upgrade run` with the answer to one mutating call lost after the call took
effect (the connection closed, or an HTTP 500), while AWS drops RDS events, as its Aurora events
page says it may ("on a best effort basis", "might be out of sequence or missing"). Each of the
upgrade's mutating calls loses its answer once (the deployment's creation, green's reboot and
production's, the snapshot, the switchover, the deletions of the deployment and of `-old1`), under
100 % and under 50 % dropped events (issue 18, "The simulator and the proof"). Then what AWS or
someone else does besides: a switchover AWS cancels after its answer was lost, the deployment
deleted by hand right after the switchover, a reader added or removed while production reboots,
AWS's clock a minute behind the operator's.

Asserted for every run, from the simulator's call record (tests/support/reliability.py,
`classify`): no duplicate mutation (a repeat no documented rule allows), production never
rebooted twice in one step, and no upgrade that switched over ends `Failed`. The row is recorded
before the assertions, so docs/reliability.md shows what the operator did.

The cases that fail against today's operator are marked xfail(strict=True) with the issue item
they need; once a fix lands they XPASS and `make reliability` fails until the mark goes.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aurora_upgrade.sim import SimServer, rds_client
from aurora_upgrade.sim.config import EventRule, FaultConfig, Happening, LostAnswer
from support.reliability import Authorised, Row, classify, faults_in, record
from support.runbook import CLUSTER, runbook_manifest
from support.sim import QUICK

from .runcli import env_for, run_command

pytestmark = pytest.mark.reliability

SEED = 20261207
RUN_TIMEOUT = 90  # seconds; an upgrade here takes about ten
MAX_ATTEMPTS = 3  # switchover attempts a person authorises at most in one run
WRITER, READER = "aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2"
TARGET_VERSION = "15.10"

# The upgrade's mutating calls, each with the resource whose answer is lost (a glob).
TARGETS = {
    "create": LostAnswer("CreateBlueGreenDeployment"),
    "green-reboot": LostAnswer("RebootDBInstance", f"{WRITER}-green-*"),
    "snapshot": LostAnswer("CreateDBClusterSnapshot"),
    "switchover": LostAnswer("SwitchoverBlueGreenDeployment"),
    "production-reboot": LostAnswer("RebootDBInstance", WRITER),
    "delete-deployment": LostAnswer("DeleteBlueGreenDeployment"),
    "delete-instance": LostAnswer("DeleteDBInstance", f"{WRITER}-old1"),
    "delete-cluster": LostAnswer("DeleteDBCluster", f"{CLUSTER}-old1"),
}
# (share of RDS events dropped, how the answer is lost, the targets)
CONDITIONS: dict[str, tuple[float, str, tuple[str, ...]]] = {
    "drop100": (1.0, "reset", tuple(TARGETS)),
    "drop50": (0.5, "reset", tuple(TARGETS)),
    # An HTTP 500 after the fact: the gateway takes it as unanswered, as a closed connection.
    "drop50-500": (0.5, "500", ("create", "green-reboot", "switchover", "production-reboot")),
}
SCENARIOS = {
    "drop100": "`run`, each mutating call's answer lost once (connection closed), 100 % of RDS events dropped",
    "drop50": "`run`, each mutating call's answer lost once (connection closed), 50 % of RDS events dropped",
    "drop50-500": "`run`, four mutating calls' answers lost once (HTTP 500), 50 % of RDS events dropped",
}

# The cases that failed against the operator before issue 18's fixes, marked xfail(strict) while
# they did, with the item that fixes each; none is left.
XFAIL: dict[str, str] = {}


def manifest(tmp_path: Path, attempt: int = 1) -> Path:
    """The runbook's upgrade, deleting the deployment and `-old1` too (every mutating call), with
    the switchover attempt a person authorised."""
    document = runbook_manifest(
        cleanup={"deleteBlueGreenDeployment": True, "deleteOldCluster": True, "oldClusterRetention": "0s"}
    )
    document["spec"].setdefault("switchover", {})["attempt"] = attempt
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@dataclass
class Run:
    phase: str | None  # where the upgrade ended (or stood when the run was stopped)
    reason: str | None
    calls: list[dict[str, Any]]
    aws_faults: dict[str, int]  # what AWS's own faults did (events dropped, ...)
    production_version: str  # the engine version of the cluster with production's name
    output: str
    attempts: int = 1  # the switchover attempts a person authorised (spec.switchover.attempt)

    @property
    def faults(self) -> int:
        """Faults injected: answers, events dropped or late, what someone else did, a clock offset."""
        return faults_in(self.calls) + sum(self.aws_faults.values())


def status_in(state: Path) -> dict[str, Any]:
    try:
        status: dict[str, Any] = json.loads(state.read_text())["status"]
    except (OSError, ValueError, KeyError):
        return {}
    return status


def run_upgrade(tmp_path: Path, faults: FaultConfig, timeout: float = RUN_TIMEOUT) -> Run:
    """`aurora-upgrade run` of the runbook's upgrade against a simulator with `faults`, stopped
    after `timeout` seconds if it has not ended (an upgrade waiting for a person). When it holds
    because a switchover may not have been carried out (SwitchoverNotCarriedOut), a person
    stops it, raises spec.switchover.attempt and runs it again, as docs/operations.md says."""
    state = tmp_path / "state.json"
    server = SimServer(config=QUICK, faults=faults).start()
    try:
        attempts, output = 1, ""
        deadline = time.monotonic() + timeout
        while True:
            process = subprocess.Popen(
                run_command(manifest(tmp_path, attempts), state),
                env=env_for(server),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            held = wait_for_end_or_hold(process, state, deadline)
            if held:
                process.kill()
            output += process.communicate()[0]
            if not held:
                break
            attempts += 1
        production = rds_client(server.endpoint_url).describe_db_clusters(DBClusterIdentifier=CLUSTER)
        status = status_in(state)
        met = server.aws_faults_met() | ({"clock offset": 1} if faults.clock_offset_seconds else {})
        return Run(
            status.get("phase"),
            status.get("reason"),
            server.calls(),
            met,
            production["DBClusters"][0]["EngineVersion"],
            output,
            attempts,
        )
    finally:
        server.stop()


def wait_for_end_or_hold(process: subprocess.Popen[str], state: Path, deadline: float) -> bool:
    """Whether the run holds for a person to authorise another switchover attempt (False: it
    ended, or the deadline passed)."""
    while process.poll() is None and time.monotonic() < deadline:
        status = status_in(state)
        recorded = status.get("switchoverAttempt") or 1
        if status.get("reason") == "SwitchoverNotCarriedOut" and recorded < MAX_ATTEMPTS:
            return True
        time.sleep(0.2)
    return False


def check_and_record(run: Run, scenario: str, note: str, *, must_complete: bool = True) -> None:
    """Record the run's row, then assert: no duplicate mutation, production never rebooted twice
    in one step, and an upgrade that switched over (production runs the target) not `Failed`."""
    tally = classify(run.calls, authorised=Authorised(switchover_attempts=run.attempts))
    found = [*tally.duplicates]
    if run.phase != "Completed":
        found.append(f"ended {run.phase} {run.reason}")
    record(
        Row(
            scenario,
            runs=1,
            faults_injected=run.faults,
            upgrades_completed=int(run.phase == "Completed"),
            duplicate_mutations=len(tally.duplicates),
            allowed_repeats=len(tally.allowed),
            notes=f"{note}: {'; '.join(found)}" if found else "",
        )
    )
    tail = run.output[-3000:]
    assert tally.production_reboots_repeated == 0, f"{tally.duplicates}\n{tail}"
    assert tally.duplicates == [], f"{tally.duplicates}\n{tail}"
    switched = run.production_version == TARGET_VERSION
    assert not (switched and run.phase == "Failed"), f"switched over, then Failed:\n{tail}"
    if must_complete:
        assert run.phase == "Completed", f"ended {run.phase}:\n{tail}"


def lost_answer_cases() -> list[Any]:
    params = []
    for condition, (_rate, _kind, targets) in CONDITIONS.items():
        for target in targets:
            case = f"{target}-{condition}"
            reason = XFAIL.get(case)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(target, condition, id=case, marks=marks))
    return params


@pytest.mark.parametrize(("target", "condition"), lost_answer_cases())
def test_an_answer_lost_once_under_dropped_events(tmp_path: Path, target: str, condition: str) -> None:
    drop_rate, kind, _targets = CONDITIONS[condition]
    lost = TARGETS[target]
    seed = SEED + sorted(TARGETS).index(target) + 100 * sorted(CONDITIONS).index(condition)
    faults = FaultConfig(
        seed=seed,
        event_drops=(EventRule(drop_rate),),
        lost_answers=(LostAnswer(lost.operation, lost.resource, kind=kind),),
    )
    run = run_upgrade(tmp_path, faults)
    assert [c["operation"] for c in run.calls if c["fault"] == "lost"] == [lost.operation], "lost once"
    check_and_record(run, SCENARIOS[condition], f"{target} ({kind})")


# What AWS or someone else does besides answering: (faults, whether the upgrade must complete, xfail).
OTHERS: dict[str, tuple[str, FaultConfig, bool, str | None]] = {
    "switchover-canceled": (
        "`run`, the switchover's answer lost and AWS cancels it, 100 % of RDS events dropped",
        FaultConfig(
            seed=SEED,
            event_drops=(EventRule(1.0),),
            lost_answers=(LostAnswer("SwitchoverBlueGreenDeployment"),),
            switchover_rollbacks=1,
        ),
        True,  # with no proof, it holds for a person, who raises spec.switchover.attempt once
        None,
    ),
    "deployment-deleted": (
        "`run`, someone deletes the deployment right after the switchover",
        FaultConfig(seed=SEED, happenings=(Happening("delete-deployment", "switched-over"),)),
        True,
        None,
    ),
    "reader-added": (
        "`run`, Aurora Auto Scaling adds a reader while production reboots",
        FaultConfig(seed=SEED, happenings=(Happening("add-reader", "RebootDBInstance", nth=3),)),
        True,
        None,
    ),
    "reader-removed": (
        "`run`, a production reader is removed while production reboots",
        FaultConfig(seed=SEED, happenings=(Happening("remove-reader", "RebootDBInstance", nth=3),)),
        True,
        None,
    ),
    "clock-behind": (
        "`run`, AWS's clock 60 s behind the operator's, production reboot's answer lost",
        FaultConfig(seed=SEED, clock_offset_seconds=-60, lost_answers=(LostAnswer("RebootDBInstance", WRITER),)),
        True,
        None,
    ),
}


def other_cases() -> list[Any]:
    params = []
    for case, (_scenario, _faults, _complete, reason) in OTHERS.items():
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=case, marks=marks))
    return params


@pytest.mark.parametrize("case", other_cases())
def test_what_aws_or_someone_else_does(tmp_path: Path, case: str) -> None:
    scenario, faults, must_complete, _reason = OTHERS[case]
    run = run_upgrade(tmp_path, faults, timeout=RUN_TIMEOUT if must_complete else 30)
    check_and_record(run, scenario, case, must_complete=must_complete)
