"""Describe answers come in pages: RDS returns at most MaxRecords items (100 by default) and a
Marker for the rest. A parameter group has hundreds of parameters, so `rds.logical_replication`
is often on a later page; the gateway must follow every Marker.

The client is a real botocore RDS client whose HTTP answers are supplied by botocore's own
Stubber (which also validates each request against the RDS model, the `stubbed` fixture of
conftest.py): paging is AWS's contract, and the simulator pages only some describes, so this is
where it is checked for all of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.stub import Stubber

from aurora_upgrade.gateway.rds import RdsGateway

from .builders import FakeClock


def filler(n: int) -> list[dict[str, Any]]:
    return [{"ParameterName": f"param_{i}", "ParameterValue": "0"} for i in range(n)]


def test_cluster_parameter_on_a_later_page_is_found(stubbed: tuple[RdsGateway, Stubber]) -> None:
    gateway, stubber = stubbed
    group = "aurora-bg-aurora-pg15-cluster-params"
    stubber.add_response(
        "describe_db_cluster_parameters",
        {"Parameters": filler(100), "Marker": "page-2"},
        {"DBClusterParameterGroupName": group},
    )
    stubber.add_response(
        "describe_db_cluster_parameters",
        {"Parameters": [*filler(3), {"ParameterName": "rds.logical_replication", "ParameterValue": "1"}]},
        {"DBClusterParameterGroupName": group, "Marker": "page-2"},
    )
    assert gateway.cluster_parameter(group, "rds.logical_replication") == "1"
    stubber.assert_no_pending_responses()


def test_instances_of_a_cluster_are_collected_from_every_page(stubbed: tuple[RdsGateway, Stubber]) -> None:
    gateway, stubber = stubbed
    wanted = {"Filters": [{"Name": "db-cluster-id", "Values": ["c"]}]}

    def instance(name: str) -> dict[str, Any]:
        return {"DBInstanceIdentifier": name, "DBClusterIdentifier": "c", "DBInstanceStatus": "available"}

    stubber.add_response("describe_db_instances", {"DBInstances": [instance("c-1")], "Marker": "m"}, wanted)
    stubber.add_response("describe_db_instances", {"DBInstances": [instance("c-2")]}, {**wanted, "Marker": "m"})
    assert [i.identifier for i in gateway.describe_cluster_instances("c")] == ["c-1", "c-2"]
    stubber.assert_no_pending_responses()


def test_restart_event_on_a_later_page_counts(stubbed: tuple[RdsGateway, Stubber]) -> None:
    gateway, stubber = stubbed
    since = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    restarted = datetime(2026, 11, 26, 10, 1, tzinfo=UTC)
    other = {"SourceIdentifier": "i-1", "SourceType": "db-instance", "Message": "DB instance shutdown", "Date": since}
    stubber.add_response("describe_events", {"Events": [other], "Marker": "m"})
    stubber.add_response(
        "describe_events",
        {"Events": [{**other, "Message": "DB instance restarted", "Date": restarted}]},
    )
    assert gateway.instance_restarts_since("i-1", since) == [restarted]
    stubber.assert_no_pending_responses()


def test_not_found_is_none_not_an_error(stubbed: tuple[RdsGateway, Stubber]) -> None:
    gateway, stubber = stubbed
    stubber.add_client_error("describe_db_clusters", service_error_code="DBClusterNotFoundFault", http_status_code=404)
    assert gateway.describe_cluster("missing") is None
    stubber.assert_no_pending_responses()


def test_a_deprecated_source_version_can_be_upgraded(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """Engine-version look-ups include deprecated versions (IncludeAll): without it AWS lists
    only available ones, and a deprecated source would look like a version that does not exist."""
    gateway, stubber = stubbed
    answer = {
        "DBEngineVersions": [
            {
                "Engine": "aurora-postgresql",
                "EngineVersion": "15.6",
                "DBParameterGroupFamily": "aurora-postgresql15",
                "Status": "deprecated",
                "ValidUpgradeTarget": [{"EngineVersion": "15.10", "IsMajorVersionUpgrade": False}],
            }
        ]
    }
    request = {"Engine": "aurora-postgresql", "EngineVersion": "15.6", "IncludeAll": True}
    stubber.add_response("describe_db_engine_versions", answer, request)

    found = gateway.describe_engine_version("aurora-postgresql", "15.6")

    assert found is not None and (found.status, found.valid_targets) == ("deprecated", (("15.10", False),))
    stubber.assert_no_pending_responses()


def test_the_operator_asks_a_fleets_precheck_questions_once_and_never_keeps_what_is_missing(
    stubbed: tuple[RdsGateway, Stubber],
) -> None:
    """With shared reads on (the operator), an engine version and a parameter group's family and
    values are asked once while fresh; a group AWS does not list is asked again (a person may be
    creating it), and an expired answer is asked again. The stubber fails on any extra call."""
    _, stubber = stubbed
    clock = FakeClock(1000.0)
    gateway = RdsGateway(stubber.client, clock=clock)
    gateway.share_answers(lambda _moment: 0, forget_after=60, catalog_fresh_for=300, parameters_fresh_for=5)
    group = "aurora-bg-aurora-pg15-cluster-params"
    family = {
        "DBClusterParameterGroups": [
            {"DBClusterParameterGroupName": group, "DBParameterGroupFamily": "aurora-postgresql15"}
        ]
    }
    stubber.add_response("describe_db_cluster_parameter_groups", family, {"DBClusterParameterGroupName": group})
    stubber.add_response(
        "describe_db_cluster_parameters",
        {"Parameters": [{"ParameterName": "rds.logical_replication", "ParameterValue": "1"}]},
        {"DBClusterParameterGroupName": group},
    )
    missing = "not-created-yet"
    for _ in range(2):
        stubber.add_client_error(
            "describe_db_cluster_parameter_groups",
            "DBClusterParameterGroupNotFound",
            http_status_code=404,
            expected_params={"DBClusterParameterGroupName": missing},
        )

    for _ in range(3):  # three upgrades of one template
        assert gateway.cluster_parameter_group_family(group) == "aurora-postgresql15"
        assert gateway.cluster_parameter(group, "rds.logical_replication") == "1"
    assert gateway.cluster_parameter_group_family(missing) is None
    assert gateway.cluster_parameter_group_family(missing) is None  # asked again: not kept
    stubber.assert_no_pending_responses()

    clock.advance(6)  # past the parameters' freshness: asked again
    stubber.add_response("describe_db_cluster_parameter_groups", family, {"DBClusterParameterGroupName": group})
    assert gateway.cluster_parameter_group_family(group) == "aurora-postgresql15"
    stubber.assert_no_pending_responses()


def test_aurora_upgrade_run_asks_every_question(stubbed: tuple[RdsGateway, Stubber]) -> None:
    """Without shared reads (`aurora-upgrade run`), nothing is kept."""
    gateway, stubber = stubbed
    group = "aurora-bg-aurora-pg15-cluster-params"
    family = {
        "DBClusterParameterGroups": [
            {"DBClusterParameterGroupName": group, "DBParameterGroupFamily": "aurora-postgresql15"}
        ]
    }
    for _ in range(2):
        stubber.add_response("describe_db_cluster_parameter_groups", family, {"DBClusterParameterGroupName": group})
    assert gateway.cluster_parameter_group_family(group) == "aurora-postgresql15"
    assert gateway.cluster_parameter_group_family(group) == "aurora-postgresql15"
    stubber.assert_no_pending_responses()
