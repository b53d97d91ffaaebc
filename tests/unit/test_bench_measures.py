"""The bench's arithmetic (bench/measures.py): what its figures on docs/benchmarks.md mean, held to
hand-made call records; no run, no timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bench import measures

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def call(operation: str, at: float, outcome: str = "ok", **params: Any) -> dict[str, Any]:
    return {
        "operation": operation,
        "params": params,
        "outcome": outcome,
        "took_effect": outcome == "ok",
        "time": (T0 + timedelta(seconds=at)).isoformat(),
    }


def filtered(operation: str, at: float, name: str, *values: str) -> dict[str, Any]:
    params = {"Filters.Filter.1.Name": name}
    params.update({f"Filters.Filter.1.Values.Value.{i}": value for i, value in enumerate(values, 1)})
    return call(operation, at, **params)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert measures.p99(values) == 99.0
    assert measures.p50(values) == 50.5
    assert measures.percentile([3.0], 99) == 3.0


def test_the_examples_minimum_is_eight_writes() -> None:
    assert sum(measures.EXAMPLE_WRITES.values()) == 8


def test_writes_count_every_call_sent_and_duplicates_only_those_carried_out_twice() -> None:
    calls = [
        call("DescribeDBClusters", 0),
        call("CreateBlueGreenDeployment", 1, BlueGreenDeploymentName="bg", Source="arn:c"),
        call("RebootDBInstance", 2, DBInstanceIdentifier="i-1-green-abc123"),
        call("RebootDBInstance", 2, "InvalidDBInstanceState", DBInstanceIdentifier="i-2-green-abc123"),
        call("RebootDBInstance", 3, DBInstanceIdentifier="i-2-green-abc123"),  # the refused one again: no duplicate
        call("RebootDBInstance", 9, DBInstanceIdentifier="I-1"),
        call("RebootDBInstance", 10, DBInstanceIdentifier="i-1"),  # production's instance twice
    ]
    writes, duplicates = measures.rds_writes(calls)
    assert writes == {"CreateBlueGreenDeployment": 1, "RebootDBInstance": 5}
    assert duplicates == ["RebootDBInstance i-1 x2"]


def test_rates_scale_back_by_the_interval_each_operation_follows() -> None:
    # At 0.05 the poll is 1.5 s (x 0.05), the event interval its 1 s floor (real 5 s: x 0.2) and
    # the read cycle 0.5 s (real 5 s: x 0.1).
    real = measures.real_time_rates(
        {"RebootDBInstance": 2.0, "DescribeEvents": 1.0, "DescribeDBInstances": 2.0, "DescribeDBEngineVersions": 1.0},
        0.05,
    )
    assert real == pytest.approx(
        {"RebootDBInstance": 0.1, "DescribeEvents": 0.2, "DescribeDBInstances": 0.2, "DescribeDBEngineVersions": 0.05}
    )
    assert measures.real_time_rates({"DescribeEvents": 0.2}, 1.0) == {"DescribeEvents": 0.2}


def test_describe_events_continuation_pages_also_scale_by_the_events_their_windows_hold() -> None:
    """The feed's windows are real seconds: at 0.05 each holds 20 times the events it would in
    real time, so its continuation pages scale by the event interval's ratio (0.2) and by 0.05."""
    real = measures.real_time_rates({"DescribeEvents": 1.0, measures.EVENT_PAGES: 2.0}, 0.05)
    assert real == pytest.approx({"DescribeEvents": 0.2, measures.EVENT_PAGES: 0.02})
    assert measures.real_time_rates({measures.EVENT_PAGES: 2.0}, 1.0) == {measures.EVENT_PAGES: 2.0}


def test_a_question_is_its_operation_and_filter_and_the_resources_it_names() -> None:
    assert measures.asked_about(call("DescribeDBClusters", 0, DBClusterIdentifier="A")) == (
        "DescribeDBClusters (DBClusterIdentifier)",
        frozenset({"a"}),
    )
    assert measures.asked_about(filtered("DescribeDBInstances", 0, "db-cluster-id", "a", "b")) == (
        "DescribeDBInstances (db-cluster-id)",
        frozenset({"a", "b"}),
    )
    assert measures.asked_about(call("DescribeBlueGreenDeployments", 0)) == (
        "DescribeBlueGreenDeployments",
        frozenset(),
    )


def test_one_call_per_read_cycle_is_one_whatever_the_cycles_phase() -> None:
    # One shared call per 0.5 s cycle, at 0.3 s into each (the operator's own phase), 100 resources.
    names = [f"c{i}" for i in range(100)]
    calls = [filtered("DescribeDBClusters", 0.3 + 0.5 * k, "db-cluster-id", *names) for k in range(10)]
    found = measures.calls_per_cycle(calls, 0.5)
    assert found == {"DescribeDBClusters (db-cluster-id)": (1.0, 1.0, 10)}


def test_calls_per_cycle_allow_a_page_per_100_resources_and_count_the_extra_calls() -> None:
    first = [f"c{i}" for i in range(100)]
    second = [f"c{i}" for i in range(100, 150)]
    calls = [
        # Cycle 0: 150 resources in two calls (two pages' worth): 2 / ceil(150/100) = 1.
        filtered("DescribeDBClusters", 0.1, "db-cluster-id", *first),
        filtered("DescribeDBClusters", 0.2, "db-cluster-id", *second),
        # Cycle 1: three calls about 3 resources, one call each: 3 / 1.
        filtered("DescribeDBClusters", 1.1, "db-cluster-id", "a"),
        filtered("DescribeDBClusters", 1.15, "db-cluster-id", "b"),
        filtered("DescribeDBClusters", 1.2, "db-cluster-id", "c"),
        # Not a shared describe: not counted.
        call("DescribeEvents", 1.1),
    ]
    assert measures.calls_per_cycle(calls, 1.0) == {"DescribeDBClusters (db-cluster-id)": (2.0, 3.0, 2)}


def test_status_writes_are_the_changes_of_status_a_watch_saw() -> None:
    crd_default = {"phase": "Pending", "observedGeneration": 0}
    pending = {"phase": "Pending", "observedGeneration": 1}
    checking = {"phase": "Prechecking", "observedGeneration": 1}
    # The CRD's default is no write; a metadata-only event (the finalizer) repeats the status.
    assert measures.status_writes([None, crd_default, pending, pending, checking, checking]) == 2


def test_the_api_servers_requests_are_summed_over_codes_for_one_resource_and_verb() -> None:
    text = "\n".join(
        [
            "# HELP apiserver_request_total Counter",
            'apiserver_request_total{code="200",component="apiserver",group="dbupgrade.dev",resource="auroraupgrades",'
            'scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 40',
            'apiserver_request_total{code="409",component="apiserver",group="dbupgrade.dev",resource="auroraupgrades",'
            'scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2',
            'apiserver_request_total{code="200",component="apiserver",group="dbupgrade.dev",resource="auroraupgrades",'
            'scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 5',
            'apiserver_request_total{code="200",component="apiserver",group="",resource="events",'
            'scope="resource",subresource="",verb="POST",version="v1"} 9',
        ]
    )
    assert measures.apiserver_requests(text, "auroraupgrades", "PATCH", "status") == 42
    assert measures.apiserver_requests(text, "auroraupgrades", "PATCH") == 5


def test_added_time_per_change_and_its_extrapolation_to_real_durations() -> None:
    assert measures.added_per_change(70.0, 63.0) == pytest.approx(1.0)
    # At 0.02 the event interval is its 1 s floor: target 0.5 + 0.5; at real durations 2.5 + 0.5.
    assert measures.added_per_change_target(0.02) == pytest.approx(1.0)
    assert measures.added_per_change_target(1.0) == pytest.approx(3.0)
    # 1.0 s measured = 0.5 s waiting for the next look + 0.5 s of the operator's own: at real
    # durations 2.5 s of waiting + the same 0.5 s.
    assert measures.extrapolated_added_per_change(1.0, 0.02) == pytest.approx(3.0)


def test_held_runs_use_a_scale_at_which_every_interval_compresses_alike() -> None:
    # At 0.2 the event interval is 1 s (real 5 s) and the read cycle 1 s (real 5 s): no floor bites.
    assert measures.compresses_uniformly(0.2)
    assert measures.compresses_uniformly(1.0)
    # At 0.05 the 1 s floor of the event interval compresses it by 0.2, not 0.05.
    assert not measures.compresses_uniformly(0.05)


def test_calls_in_a_window_by_operation_and_their_real_time_rate() -> None:
    calls = [call("DescribeEvents", 0.5), call("DescribeDBClusters", 2), call("DescribeEvents", 3), call("X", 70)]
    start = T0.timestamp()
    found = measures.calls_in(calls, start + 1, start + 61)
    assert found == {"DescribeDBClusters": 1, "DescribeEvents": 1}
    # 2 calls in 60 s at scale 0.2 are 2 calls in 300 s of real time.
    assert measures.real_time_rate(found, 60, 0.2) == pytest.approx(2 / 300)
    assert measures.real_time_rate({}, 60, 0.2) == 0.0
