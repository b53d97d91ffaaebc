"""The reliability suite's figures: each scenario records one row; `make reliability` then
writes docs/reliability.md from them (`python tests/support/reliability.py`).

Rows go to a JSON-lines file under .local/ (AURORA_UPGRADE_RELIABILITY_RESULTS overrides it),
which `make reliability` empties first, so the table is that run's and nothing else.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("AURORA_UPGRADE_RELIABILITY_RESULTS", REPO / ".local" / "reliability" / "results.jsonl"))
REPORT = REPO / "docs" / "reliability.md"

# The SIGKILL scenarios (`run` and the operator): a kill in every phase with work in it (Pending
# and Completed have none), at least PER_PHASE each and MIN_KILLS in all.
PER_PHASE = 2
MIN_KILLS = 30

# The calls an upgrade makes once, however often it is interrupted (runbook 3, 6.1, 6.2).
ONCE = ("CreateBlueGreenDeployment", "CreateDBClusterSnapshot", "SwitchoverBlueGreenDeployment")
# The simulator's mutating operations (aurora_upgrade.sim.recorder.MUTATING_PREFIXES; the unit
# tier never imports the simulator, which loads moto).
MUTATING_PREFIXES = ("Add", "Create", "Delete", "Failover", "Modify", "Promote", "Reboot", "Remove", "Restore",
                     "Start", "Stop", "Switchover")  # fmt: skip


@dataclass(frozen=True)
class Row:
    scenario: str
    runs: int
    faults_injected: int
    upgrades_completed: int
    duplicate_mutations: int
    bad_inputs_refused: int = 0
    notes: str = ""
    allowed_repeats: int = 0


def record(row: Row) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(asdict(row)) + "\n")


def kills_cover(kills: Mapping[str, int], phases: Sequence[str]) -> bool:
    return all(kills.get(p, 0) >= PER_PHASE for p in phases) and sum(kills.values()) >= MIN_KILLS


def record_kills(
    scenario: str,
    phases: Sequence[str],
    kills: Mapping[str, int],
    *,
    runs: int,
    faults: int,
    completed: int,
    extra: int,
    note: str = "",
) -> None:
    """Check that the kills covered every phase, then record the scenario's row (the kills
    count as injected faults)."""
    assert all(kills.get(p, 0) >= PER_PHASE for p in phases), kills
    assert sum(kills.values()) >= MIN_KILLS, kills
    covered = f"{sum(kills.values())} SIGKILLs over {len(phases)} phases (min {min(kills[p] for p in phases)} each)"
    record(
        Row(
            scenario,
            runs=runs,
            faults_injected=faults + sum(kills.values()),
            upgrades_completed=completed,
            duplicate_mutations=extra,
            notes=f"{covered}; {note}" if note else covered,
        )
    )


def faults_in(calls: Iterable[Mapping[str, Any]]) -> int:
    """How many answers of a call record were injected faults."""
    return sum(1 for call in calls if call.get("fault"))


# Repeats a documented rule allows (issue 18); each is reported apart, never as a duplicate.
GREEN_REBOOT_AGAIN = "green reboot after an unconfirmed one"
SWITCHOVER_AUTHORISED_AGAIN = "switchover a person authorised again"
SNAPSHOT_RETAKEN = "snapshot retaken because it went stale"
# Green's instances carry this until the switchover gives them production's names (AWS names
# them `<instance>-green-<6 characters>`).
GREEN_MARK = "-green-"
# The parameters naming what each mutating call acts on: a call repeated on the same thing, in
# the same step, is a repeat. Others are keyed by their first identifier parameter.
_KEYS: dict[str, tuple[str, ...]] = {
    "CreateBlueGreenDeployment": ("Source", "TargetEngineVersion"),
    "SwitchoverBlueGreenDeployment": ("BlueGreenDeploymentIdentifier",),
    "DeleteBlueGreenDeployment": ("BlueGreenDeploymentIdentifier",),
    "CreateDBClusterSnapshot": ("DBClusterIdentifier",),
    "RebootDBInstance": ("DBInstanceIdentifier",),
}
_IDENTIFIERS = ("BlueGreenDeploymentIdentifier", "DBInstanceIdentifier", "DBClusterSnapshotIdentifier",
                "DBClusterIdentifier", "ResourceName")  # fmt: skip


@dataclass(frozen=True)
class Authorised:
    """What the run's people and documented bounds allow beyond one call per step.

    switchover_attempts: the highest spec.switchover.attempt a person set (each attempt number
        authorises one SwitchoverBlueGreenDeployment of the deployment).
    snapshot_max_age_seconds: the operator's documented bound: a pre-switchover snapshot older
        than this when the switchover is about to be sent may be retaken (None: never).
    """

    switchover_attempts: int = 1
    snapshot_max_age_seconds: float | None = None


@dataclass
class Tally:
    """The mutating calls of a record that took effect, sorted: allowed repeats by rule, and
    duplicates (every other repeat), with what is missing."""

    effective: int = 0
    allowed: list[tuple[str, str]] = field(default_factory=list)  # (rule, the call)
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    production_reboots_repeated: int = 0  # repeats of a production instance's reboot in one step

    @property
    def problems(self) -> list[str]:
        return self.duplicates + self.missing


def took_effect(call: Mapping[str, Any]) -> bool:
    """A call AWS carried out (an answer lost afterwards included); an error answer is no call."""
    return bool(call.get("took_effect", call["outcome"] == "ok"))


def unconfirmed(call: Mapping[str, Any]) -> bool:
    """A call that took effect without its caller hearing so (the answer lost after the fact)."""
    return took_effect(call) and (call.get("fault") == "lost" or call.get("answer", "ok") != "ok")


def is_mutating(operation: str) -> bool:
    return operation.startswith(MUTATING_PREFIXES)


def classify(calls: Sequence[Mapping[str, Any]], upgrades: int = 1, authorised: Authorised | None = None) -> Tally:
    """Sort the mutating calls of a record that took effect. A call repeating an earlier one on
    the same resource in the same step (the step: how many switchovers took effect before it,
    so production's reboots before and after a switchover are different steps) is allowed by
    one of three rules, else a duplicate:

    - GREEN_REBOOT_AGAIN: a reboot of a green instance (`-green-` in its name) whose previous
      reboot in the step was unconfirmed (its answer lost). Production's never.
    - SWITCHOVER_AUTHORISED_AGAIN: the Nth switchover of a deployment with N <=
      authorised.switchover_attempts.
    - SNAPSHOT_RETAKEN: a pre-switchover snapshot of the cluster taken while the previous one
      was older than authorised.snapshot_max_age_seconds.

    Each of ONCE must also have taken effect at least `upgrades` times (else: missing)."""
    authorised = authorised or Authorised()
    tally = Tally()
    step = 0
    earlier: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for call in calls:
        operation = call["operation"]
        if not is_mutating(operation) or not took_effect(call):
            continue
        tally.effective += 1
        params = call.get("params", {})
        names = _KEYS.get(operation) or next(((k,) for k in _IDENTIFIERS if k in params), ())
        resource = tuple(str(params.get(name, "")).lower() for name in names)
        # One deployment is created, and switched over, once per upgrade whatever the step.
        once = operation in ("CreateBlueGreenDeployment", "SwitchoverBlueGreenDeployment")
        key = (operation, *resource) if once else (operation, *resource, step)
        before = earlier.setdefault(key, [])
        what = f"{operation} {' '.join(resource)}".strip()
        if before:
            rule = _allowed_by(operation, resource, call, before, authorised)
            if rule is not None:
                tally.allowed.append((rule, what))
            else:
                tally.duplicates.append(f"{what} took effect {len(before) + 1} times in one step")
                if operation == "RebootDBInstance" and GREEN_MARK not in resource[0]:
                    tally.production_reboots_repeated += 1
        before.append(call)
        if operation == "SwitchoverBlueGreenDeployment":
            step += 1
    counts = Counter(c["operation"] for c in calls if took_effect(c))
    for operation in ONCE:
        if counts[operation] < upgrades:
            tally.missing.append(f"{operation} took effect {counts[operation]} times for {upgrades} upgrade(s)")
    return tally


def _allowed_by(
    operation: str,
    resource: tuple[str, ...],
    call: Mapping[str, Any],
    before: Sequence[Mapping[str, Any]],
    authorised: Authorised,
) -> str | None:
    if operation == "RebootDBInstance":
        return GREEN_REBOOT_AGAIN if GREEN_MARK in resource[0] and unconfirmed(before[-1]) else None
    if operation == "SwitchoverBlueGreenDeployment":
        return SWITCHOVER_AUTHORISED_AGAIN if len(before) + 1 <= authorised.switchover_attempts else None
    if operation == "CreateDBClusterSnapshot" and authorised.snapshot_max_age_seconds is not None:
        age = datetime.fromisoformat(call["time"]) - datetime.fromisoformat(before[-1]["time"])
        return SNAPSHOT_RETAKEN if age.total_seconds() > authorised.snapshot_max_age_seconds else None
    return None


def duplicates(
    calls: Sequence[Mapping[str, Any]], upgrades: int = 1, authorised: Authorised | None = None
) -> tuple[int, list[str]]:
    """How many mutating calls that took effect repeated one without a rule allowing it, and a
    description of each problem (a missing call too); see classify()."""
    tally = classify(calls, upgrades, authorised)
    return len(tally.duplicates), tally.problems


def render(rows: Sequence[Row]) -> str:
    lines = [
        "# Reliability: the figures",
        "",
        "Written by `make reliability` (tests marked `reliability` under tests/integration and tests/e2e,",
        "then `python tests/support/reliability.py`); do not edit by hand. Every scenario is seeded, so",
        "a re-run meets the same faults. How each scenario works and what it asserts: the docstrings of",
        "`tests/integration/test_reliability_*.py` and `tests/e2e/test_reliability_*.py`; the simulator's",
        "fault options: [simulator.md](simulator.md#injected-faults-faultconfig---seed).",
        "",
        "A *duplicate mutation* is a mutating call that took effect (an error answer is no call; an",
        "answer lost after the call took effect is one) repeating an earlier call on the same resource",
        "in the same step (per upgrade: one CreateBlueGreenDeployment, one CreateDBClusterSnapshot, one",
        "SwitchoverBlueGreenDeployment, one RebootDBInstance per instance per reboot step, one deletion",
        "of each resource), without a documented rule allowing it, counted from the simulator's call",
        "record, where every injected fault is marked. *Allowed repeats* are those the rules allow: a",
        "reboot of a green instance after an unconfirmed one (its answer lost), a switchover a person",
        "authorised again (a raised `spec.switchover.attempt`), a snapshot retaken because it went stale",
        "(`tests/support/reliability.py`, `classify`). A production instance is never rebooted twice",
        "in one step.",
        "",
        "| scenario | runs | faults injected | upgrades completed | duplicate mutations | allowed repeats | "
        "bad inputs refused | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.runs} | {row.faults_injected} | {row.upgrades_completed} | "
            f"{row.duplicate_mutations} | {row.allowed_repeats} | {row.bad_inputs_refused} | {row.notes} |"
        )
    total = Row(
        "**total**",
        sum(r.runs for r in rows),
        sum(r.faults_injected for r in rows),
        sum(r.upgrades_completed for r in rows),
        sum(r.duplicate_mutations for r in rows),
        sum(r.bad_inputs_refused for r in rows),
        allowed_repeats=sum(r.allowed_repeats for r in rows),
    )
    lines.append(
        f"| {total.scenario} | {total.runs} | {total.faults_injected} | {total.upgrades_completed} | "
        f"{total.duplicate_mutations} | {total.allowed_repeats} | {total.bad_inputs_refused} | |"
    )
    lines += [
        "",
        f"Run on {datetime.now(UTC).strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}.",
        "",
    ]
    return "\n".join(lines)


def load() -> list[Row]:
    """The recorded rows, those of one scenario (e.g. one per parametrized case) added up."""
    if not RESULTS.exists():
        return []
    merged: dict[str, Row] = {}
    for line in RESULTS.read_text().splitlines():
        if not line.strip():
            continue
        row = Row(**json.loads(line))
        seen = merged.get(row.scenario)
        if seen is not None:
            notes = seen.notes if row.notes in seen.notes else "; ".join(n for n in (seen.notes, row.notes) if n)
            row = Row(
                row.scenario,
                seen.runs + row.runs,
                seen.faults_injected + row.faults_injected,
                seen.upgrades_completed + row.upgrades_completed,
                seen.duplicate_mutations + row.duplicate_mutations,
                seen.bad_inputs_refused + row.bad_inputs_refused,
                notes,
                seen.allowed_repeats + row.allowed_repeats,
            )
        merged[row.scenario] = row
    return sorted(merged.values(), key=lambda r: r.scenario)


if __name__ == "__main__":
    rows = load()
    if not rows:
        sys.exit(f"no reliability results in {RESULTS}: run the suite first")
    REPORT.write_text(render(rows))
    print(f"wrote {REPORT} ({len(rows)} scenarios)")
