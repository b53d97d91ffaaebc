"""The bench's page (bench/report.py): a row for every target of issue 20's, measured or saying
what did not run, and the still target judged on the SQS runs alone; no run, no chart."""

from __future__ import annotations

from bench import report
from bench.runs import Held

# Issue 20's Targets section, each target as its row begins (the page's own wording).
TARGETS = (
    "RDS writes per upgrade = the spec's minimum",
    "Reads per Region ≤ 1 call/s",
    "Describes shared per read cycle ≤ 1.2",
    "With SQS, ≤ 0.1 RDS calls/s while no AWS resource of an upgrade changes",
    "Status writes ≤ 18 in the runbook case",
    "Status lag p99 ≤ event interval + 2 s",
    "Status lag p99 ≤ 10 s at N=500",
    "B1: added time per AWS change ≤ half the event interval + 0.5 s",
    "B1: start to first call ≤ 2 s",
    "B1: fewer RDS calls than the runbook's script with the SQS source",
    "Peak RSS ≤ 200 MB at N=500",
    "Idle RSS ≤ 100 MB",
    "First reconcile ≤ 5 s after start",
    "`make test` keeps count checks",
)


def results(held: list[Held]) -> report.Results:
    return report.Results(
        command="python -m bench --only B4",
        machine={"cpus": "2"},
        b1_factor=0.02,
        b2_factor=0.05,
        runbook=None,
        operator=None,
        fleet=[],
        fleet_cap_seconds=480,
        idle=[],
        first_reconcile_seconds=None,
        total_seconds=60,
        foreign_modules=[],
        held=held,
    )


def held(source: str, calls: dict[str, int], changes: int = 0) -> Held:
    return Held(n=10, source=source, scale=0.2, window_seconds=60, calls=calls, receives=3, changes=changes, held=10,
                reach_seconds=30)  # fmt: skip


def rows(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("| ") and not line.startswith("| target |")]


def test_every_target_has_a_row_even_when_its_benchmark_did_not_run() -> None:
    found = rows(report._targets(results([])))
    for target in TARGETS:
        matching = [row for row in found if row.startswith(f"| {target}")]
        assert len(matching) == 1, (target, found)
    assert sum("**not measured**" in row for row in found) == len(TARGETS) - 1  # all but make test's


def test_the_still_target_is_judged_on_the_sqs_runs_scaled_back_to_real_time() -> None:
    # 6 RDS calls in 60 s at 0.2: 0.02 calls/s in real time; the feed's 60 at 0.2: 0.2 calls/s.
    quiet = [held("DescribeEvents", {"DescribeEvents": 60}), held("SQS", {"DescribeDBClusters": 6})]
    row = report._held_target(quiet)
    assert "N=10, SQS: 0.020 calls/s" in row and "N=10, DescribeEvents: 0.200 calls/s" in row
    assert row.endswith("| **met** |")
    busy = [held("SQS", {"DescribeDBClusters": 31})]  # 0.103 calls/s
    assert report._held_target(busy).endswith("| **missed** |")


def test_a_window_in_which_aws_changed_something_does_not_meet_the_still_target() -> None:
    row = report._held_target([held("SQS", {}, changes=1)])
    assert "not still: 1 AWS changes" in row and row.endswith("| **missed** |")


def test_the_page_has_a_section_for_the_held_upgrades() -> None:
    lines = report._b4(results([held("DescribeEvents", {"DescribeEvents": 60}), held("SQS", {})]))
    table = [line for line in lines if line.startswith("| 10 |")]
    assert table == [
        "| 10 | DescribeEvents | 300 | 60 | DescribeEvents 60 | 0 | 0.200 | 3 | 0 |",
        "| 10 | SQS | 300 | 0 | none | 0 | 0.000 | 3 | 0 |",
    ]
