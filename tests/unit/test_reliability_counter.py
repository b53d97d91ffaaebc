"""The reliability suite's counter (tests/support/reliability.py, `classify`): calls that took effect
are counted (an error answer is no call; an answer lost after the call took effect is one); a
repeat is a duplicate unless one of three documented rules allows it: a green reboot after an
unconfirmed one, a switchover a person authorised again, a snapshot retaken because it went stale.
Fed call records as the simulator writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support import reliability
from support.reliability import (
    GREEN_REBOOT_AGAIN,
    SNAPSHOT_RETAKEN,
    SWITCHOVER_AUTHORISED_AGAIN,
    Authorised,
    Row,
    classify,
    duplicates,
)

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WRITER, READER = "aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2"
GREEN_WRITER = f"{WRITER}-green-abc123"
BGD = "bgd-0123456789abcdef"
SOURCE = "arn:aws:rds:ap-northeast-1:123456789012:cluster:aurora-bg-aurora-cluster"


def call(
    operation: str, second: float = 0, outcome: str = "ok", fault: str | None = None, answer: str | None = None,
    **params: Any,
) -> dict[str, Any]:  # fmt: skip
    """One entry of the simulator's call record."""
    return {
        "operation": operation,
        "params": params,
        "outcome": outcome,
        "access_key_id": "testing",
        "fault": fault,
        "took_effect": outcome == "ok",
        "answer": answer or (outcome if fault != "lost" or outcome != "ok" else "connection closed"),
        "time": (T0 + timedelta(seconds=second)).isoformat(),
    }


def reboot(instance: str, second: float = 0, **kw: Any) -> dict[str, Any]:
    return call("RebootDBInstance", second, DBInstanceIdentifier=instance, **kw)


def create(second: float = 0, **kw: Any) -> dict[str, Any]:
    return call("CreateBlueGreenDeployment", second, Source=SOURCE, TargetEngineVersion="15.10", **kw)


def snapshot(second: float = 0, name: str = "snap-1", **kw: Any) -> dict[str, Any]:
    return call(
        "CreateDBClusterSnapshot", second, DBClusterIdentifier="aurora-bg-aurora-cluster",
        DBClusterSnapshotIdentifier=name, **kw,
    )  # fmt: skip


def switchover(second: float = 0, **kw: Any) -> dict[str, Any]:
    return call("SwitchoverBlueGreenDeployment", second, BlueGreenDeploymentIdentifier=BGD, **kw)


def upgrade(*middle: dict[str, Any]) -> list[dict[str, Any]]:
    """The runbook's calls, with `middle` (more calls) before the switchover."""
    return [
        create(0),
        call("DescribeBlueGreenDeployments", 1, BlueGreenDeploymentIdentifier=BGD),
        reboot(GREEN_WRITER, 10),
        snapshot(20),
        *middle,
        switchover(30),
        reboot(WRITER, 40),
        reboot(READER, 50),
        call("DeleteBlueGreenDeployment", 60, BlueGreenDeploymentIdentifier=BGD),
        call("DeleteDBInstance", 61, DBInstanceIdentifier=f"{WRITER}-old1"),
        call("DeleteDBInstance", 62, DBInstanceIdentifier=f"{READER}-old1"),
        call("DeleteDBCluster", 63, DBClusterIdentifier="aurora-bg-aurora-cluster-old1"),
    ]


def test_each_call_once_is_no_repeat() -> None:
    tally = classify(upgrade())
    assert (tally.effective, tally.allowed, tally.duplicates, tally.missing) == (10, [], [], [])
    assert duplicates(upgrade()) == (0, [])


def test_an_error_answer_is_no_call_and_a_lost_answer_is_one() -> None:
    refused = [
        reboot(WRITER, 41, outcome="InvalidDBInstanceState"),
        call("DeleteDBCluster", 64, outcome="InvalidDBClusterStateFault", DBClusterIdentifier="c-old1"),
    ]
    assert classify(upgrade() + refused).duplicates == []
    throttled = [switchover(29, outcome="ThrottlingException", fault="throttled")]
    assert classify(upgrade(*throttled)).duplicates == []
    # The same switchover, its answer lost, then sent again: the second took effect too.
    lost = [switchover(25, fault="lost")]
    tally = classify(upgrade(*lost))
    assert tally.effective == 11
    assert tally.duplicates == [f"SwitchoverBlueGreenDeployment {BGD.lower()} took effect 2 times in one step"]


def test_a_green_reboot_after_an_unconfirmed_one_is_allowed() -> None:
    calls = upgrade()
    calls[2] = reboot(GREEN_WRITER, 10, fault="lost")  # the answer lost after the reboot took effect
    calls.insert(3, reboot(GREEN_WRITER, 15))
    tally = classify(calls)
    assert tally.allowed == [(GREEN_REBOOT_AGAIN, f"RebootDBInstance {GREEN_WRITER}")]
    assert tally.duplicates == [] and tally.production_reboots_repeated == 0


def test_an_answer_lost_as_a_500_is_unconfirmed_too() -> None:
    calls = upgrade()
    calls[2] = reboot(GREEN_WRITER, 10, fault="lost", answer="InternalFailure")
    calls.insert(3, reboot(GREEN_WRITER, 15))
    assert [rule for rule, _ in classify(calls).allowed] == [GREEN_REBOOT_AGAIN]


def test_a_green_reboot_after_a_confirmed_one_is_a_duplicate() -> None:
    calls = upgrade()
    calls.insert(3, reboot(GREEN_WRITER, 15))
    tally = classify(calls)
    assert tally.allowed == []
    assert tally.duplicates == [f"RebootDBInstance {GREEN_WRITER} took effect 2 times in one step"]
    assert tally.production_reboots_repeated == 0


def test_production_is_never_rebooted_twice_in_one_step_even_after_a_lost_answer() -> None:
    calls = upgrade()
    calls[5] = reboot(WRITER, 40, fault="lost")
    calls.insert(6, reboot(WRITER, 45))
    tally = classify(calls)
    assert tally.allowed == []
    assert tally.duplicates == [f"RebootDBInstance {WRITER} took effect 2 times in one step"]
    assert tally.production_reboots_repeated == 1
    assert duplicates(calls)[0] == 1


def test_productions_reboots_before_and_after_the_switchover_are_different_steps() -> None:
    """RebootingSource reboots production's writer before the deployment is created; after the
    switchover the same name is green's writer, rebooted in another step."""
    calls = [reboot(WRITER, -10), *upgrade()]
    tally = classify(calls)
    assert tally.duplicates == [] and tally.production_reboots_repeated == 0


def test_a_switchover_a_person_authorised_again_is_allowed_only_up_to_the_attempt() -> None:
    calls = upgrade(switchover(25))  # a first switchover AWS rolled back, then a second
    assert classify(calls).duplicates == [
        f"SwitchoverBlueGreenDeployment {BGD.lower()} took effect 2 times in one step"
    ]
    tally = classify(calls, authorised=Authorised(switchover_attempts=2))
    assert tally.allowed == [(SWITCHOVER_AUTHORISED_AGAIN, f"SwitchoverBlueGreenDeployment {BGD.lower()}")]
    assert tally.duplicates == []
    third = upgrade(switchover(24), switchover(25))
    tally = classify(third, authorised=Authorised(switchover_attempts=2))
    assert len(tally.allowed) == 1 and len(tally.duplicates) == 1


def test_a_snapshot_retaken_because_it_went_stale_is_allowed() -> None:
    calls = upgrade(snapshot(20 + 7200, name="snap-2"))
    assert len(classify(calls).duplicates) == 1, "no bound documented: a second snapshot is a duplicate"
    tally = classify(calls, authorised=Authorised(snapshot_max_age_seconds=3600))
    assert tally.allowed == [(SNAPSHOT_RETAKEN, "CreateDBClusterSnapshot aurora-bg-aurora-cluster")]
    fresh = upgrade(snapshot(25, name="snap-2"))
    assert len(classify(fresh, authorised=Authorised(snapshot_max_age_seconds=3600)).duplicates) == 1


def test_every_other_repeat_is_a_duplicate() -> None:
    calls = [
        *upgrade(),
        create(70),
        call("DeleteBlueGreenDeployment", 71, BlueGreenDeploymentIdentifier=BGD),
        call("DeleteDBInstance", 72, DBInstanceIdentifier=f"{WRITER}-old1"),
        call("DeleteDBCluster", 73, DBClusterIdentifier="aurora-bg-aurora-cluster-old1"),
    ]
    tally = classify(calls)
    assert [d.split(" took")[0] for d in tally.duplicates] == [
        f"CreateBlueGreenDeployment {SOURCE.lower()} 15.10",
        f"DeleteBlueGreenDeployment {BGD.lower()}",
        f"DeleteDBInstance {WRITER}-old1",
        "DeleteDBCluster aurora-bg-aurora-cluster-old1",
    ]


def test_a_missing_once_only_call_is_a_problem_not_a_duplicate() -> None:
    calls = [c for c in upgrade() if c["operation"] != "CreateDBClusterSnapshot"]
    extra, problems = duplicates(calls)
    assert extra == 0
    assert problems == ["CreateDBClusterSnapshot took effect 0 times for 1 upgrade(s)"]


def test_a_fleet_of_upgrades_counts_each_resource_apart() -> None:
    def of(n: int) -> list[dict[str, Any]]:
        source, bgd = f"{SOURCE}-{n}", f"bgd-{n}"
        return [
            call("CreateBlueGreenDeployment", n, Source=source, TargetEngineVersion="15.10"),
            call("CreateDBClusterSnapshot", n + 1, DBClusterIdentifier=f"c-{n}"),
            call("SwitchoverBlueGreenDeployment", n + 2, BlueGreenDeploymentIdentifier=bgd),
            reboot(f"c-{n}-instance-1", n + 3),
        ]

    calls = [c for n in range(3) for c in of(n)]
    assert duplicates(calls, upgrades=3) == (0, [])


def test_records_without_took_effect_read_the_outcome() -> None:
    """Records written before the field existed (an older simulator's JSON) still count."""
    calls = [{k: v for k, v in c.items() if k not in ("took_effect", "answer")} for c in upgrade()]
    assert classify(calls).effective == 10


def test_the_report_has_a_column_of_allowed_repeats(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(reliability, "RESULTS", tmp_path / "results.jsonl")
    reliability.record(
        Row("s", runs=1, faults_injected=2, upgrades_completed=1, duplicate_mutations=0, allowed_repeats=1)
    )
    reliability.record(Row("s", runs=1, faults_injected=1, upgrades_completed=1, duplicate_mutations=1))
    (tmp_path / "results.jsonl").open("a").write(
        '{"scenario": "old", "runs": 1, "faults_injected": 0, "upgrades_completed": 1, "duplicate_mutations": 0, '
        '"bad_inputs_refused": 0, "notes": ""}\n'
    )
    rows = reliability.load()
    assert [(r.scenario, r.runs, r.duplicate_mutations, r.allowed_repeats) for r in rows] == [
        ("old", 1, 0, 0),
        ("s", 2, 1, 1),
    ]
    text = reliability.render(rows)
    assert "| duplicate mutations | allowed repeats | bad inputs refused |" in text
    assert "| s | 2 | 3 | 2 | 1 | 1 | 0 |  |" in text
    assert "| **total** | 3 | 3 | 3 | 1 | 1 | 0 | |" in text
