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
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class Row:
    scenario: str
    runs: int
    faults_injected: int
    upgrades_completed: int
    duplicate_mutations: int
    bad_inputs_refused: int = 0
    notes: str = ""


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


def duplicates(calls: Sequence[Mapping[str, Any]], upgrades: int = 1) -> tuple[int, list[str]]:
    """Mutating calls that took effect more often than `upgrades` upgrades of different clusters
    allow: each of ONCE once per upgrade, each RebootDBInstance identifier once (an instance is
    rebooted once per reboot step, and green's instances have other names than production's).
    Returns the count of extra calls and a description of each problem (a missing call too)."""
    effective = [c for c in calls if c["outcome"] == "ok"]
    problems: list[str] = []
    extra = 0
    counts = Counter(c["operation"] for c in effective)
    for operation in ONCE:
        if counts[operation] != upgrades:
            problems.append(f"{operation} took effect {counts[operation]} times for {upgrades} upgrade(s)")
            extra += max(0, counts[operation] - upgrades)
    reboots = Counter(
        c["params"].get("DBInstanceIdentifier") for c in effective if c["operation"] == "RebootDBInstance"
    )
    for instance, n in reboots.items():
        if n != 1:
            problems.append(f"RebootDBInstance {instance} took effect {n} times")
            extra += n - 1
    return extra, problems


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
        "A *duplicate mutation* is a mutating call that took effect more often than one upgrade allows",
        "(per upgrade: one CreateBlueGreenDeployment, one CreateDBClusterSnapshot, one",
        "SwitchoverBlueGreenDeployment, one RebootDBInstance per instance per reboot step), counted",
        "from the simulator's call record, where every injected fault is marked.",
        "",
        "| scenario | runs | faults injected | upgrades completed | duplicate mutations | bad inputs refused | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.runs} | {row.faults_injected} | {row.upgrades_completed} | "
            f"{row.duplicate_mutations} | {row.bad_inputs_refused} | {row.notes} |"
        )
    total = Row(
        "**total**",
        sum(r.runs for r in rows),
        sum(r.faults_injected for r in rows),
        sum(r.upgrades_completed for r in rows),
        sum(r.duplicate_mutations for r in rows),
        sum(r.bad_inputs_refused for r in rows),
    )
    lines.append(
        f"| {total.scenario} | {total.runs} | {total.faults_injected} | {total.upgrades_completed} | "
        f"{total.duplicate_mutations} | {total.bad_inputs_refused} | |"
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
            )
        merged[row.scenario] = row
    return sorted(merged.values(), key=lambda r: r.scenario)


if __name__ == "__main__":
    rows = load()
    if not rows:
        sys.exit(f"no reliability results in {RESULTS}: run the suite first")
    REPORT.write_text(render(rows))
    print(f"wrote {REPORT} ({len(rows)} scenarios)")
