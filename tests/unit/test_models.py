"""models: what a user may write in spec, and the names derived from it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from aurora_upgrade.models import (
    BLUE_GREEN_NAME_PATTERN,
    DeletionPolicy,
    InvalidManifest,
    SwitchoverMode,
    dump,
    parse_duration,
    parse_spec,
)
from aurora_upgrade.upgrade import deployment_name_for
from support.runbook import RUNBOOK_MANIFEST, RUNBOOK_SPEC

from .builders import merged, spec_dict


def test_runbook_example_is_accepted_with_its_values_and_the_defaults() -> None:
    spec = parse_spec(RUNBOOK_SPEC)

    assert RUNBOOK_MANIFEST["kind"] == "AuroraUpgrade"
    assert (spec.region, spec.cluster_identifier) == ("ap-northeast-1", "aurora-bg-aurora-cluster")
    assert (spec.expected_source_engine_version, spec.target_engine_version) == ("15.6", "15.10")
    assert spec.target_db_cluster_parameter_group_name == "aurora-bg-aurora-pg15-cluster-params"
    assert spec.target_db_parameter_group_name == "aurora-bg-aurora-pg15-params"
    assert spec.switchover.mode == SwitchoverMode.AUTOMATIC
    assert spec.switchover.timeout_seconds == 300
    assert spec.switchover.snapshot_before_switchover is True
    assert spec.switchover.window is None
    assert spec.reboot_green_before_switchover and spec.reboot_after_switchover
    assert spec.cleanup.delete_blue_green_deployment is True
    assert spec.cleanup.delete_old_cluster is False
    # Defaults the example does not spell out.
    assert spec.allow_major_version_upgrade is False
    assert spec.reboot_source_for_pending_parameters is False
    assert spec.switchover.approved is False
    assert spec.cleanup.old_cluster_retention == "0s"
    assert spec.cleanup.final_snapshot_of_old_cluster is True
    assert spec.deletion_policy == DeletionPolicy.ABORT
    assert spec.dry_run is False
    assert spec.blue_green_deployment_name is None


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"switchover": {"timeoutSeconds": 30}}, id="timeout-lower-bound"),
        pytest.param({"switchover": {"timeoutSeconds": 3600}}, id="timeout-upper-bound"),
        pytest.param({"blueGreenDeploymentName": "a" * 60}, id="deployment-name-60-chars"),
        pytest.param({"blueGreenDeploymentName": "Upgrade-15-10"}, id="deployment-name-upper-case"),
        pytest.param({"region": "us-gov-west-1"}, id="region-three-parts"),
        pytest.param({"targetEngineVersion": "16.6.1"}, id="version-three-parts"),
        pytest.param(
            {"switchover": {"window": {"days": ["Sat"], "start": "22:00", "end": "02:00", "timeZone": "Asia/Tokyo"}}},
            id="window-wrapping-in-tokyo",
        ),
        pytest.param({"cleanup": {"oldClusterRetention": "1d12h30m"}}, id="compound-retention"),
        pytest.param({"aws": {"roleArn": "arn:aws:iam::123456789012:role/upgrader"}}, id="role-arn"),
        pytest.param({"deletionPolicy": "Orphan", "dryRun": True}, id="orphan-dry-run"),
    ],
)
def test_valid_variants_are_accepted(overrides: dict[str, Any]) -> None:
    spec = parse_spec(spec_dict(**overrides))

    # Every value written is kept, under the name the user wrote it with.
    as_written = dump(spec)
    assert merged(as_written, overrides) == as_written


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in RUNBOOK_SPEC.items() if k != key}


WINDOW = {"start": "22:00", "end": "02:00"}


@pytest.mark.parametrize(
    ("raw", "field", "detail"),
    [
        pytest.param(
            spec_dict(switchover={"timeoutSeconds": 29}), "spec.switchover.timeoutSeconds", "30", id="timeout-29"
        ),
        pytest.param(
            spec_dict(switchover={"timeoutSeconds": 3601}), "spec.switchover.timeoutSeconds", "3600", id="timeout-3601"
        ),
        pytest.param(
            spec_dict(blueGreenDeploymentName="1upgrade"), "spec.blueGreenDeploymentName", "pattern", id="name-digit"
        ),
        pytest.param(
            spec_dict(blueGreenDeploymentName="up--grade"),
            "spec.blueGreenDeploymentName",
            "pattern",
            id="name-double-hyphen",
        ),
        pytest.param(
            spec_dict(blueGreenDeploymentName="upgrade-"),
            "spec.blueGreenDeploymentName",
            "pattern",
            id="name-trailing-hyphen",
        ),
        pytest.param(
            spec_dict(blueGreenDeploymentName="a" * 61),
            "spec.blueGreenDeploymentName",
            "at most 60",
            id="name-61-chars",
        ),
        pytest.param(spec_dict(region="Tokyo"), "spec.region", "pattern", id="region-word"),
        pytest.param(spec_dict(region="ap-northeast"), "spec.region", "pattern", id="region-without-number"),
        pytest.param(
            spec_dict(targetEngineVersion="15"), "spec.targetEngineVersion", "pattern", id="version-major-only"
        ),
        pytest.param(
            spec_dict(expectedSourceEngineVersion="v15.6"),
            "spec.expectedSourceEngineVersion",
            "pattern",
            id="source-version-prefixed",
        ),
        pytest.param(
            spec_dict(switchover={"window": {**WINDOW, "timeZone": "Mars/Olympus_Mons"}}),
            "spec.switchover.window.timeZone",
            "unknown IANA time zone 'Mars/Olympus_Mons'",
            id="unknown-time-zone",
        ),
        pytest.param(
            spec_dict(switchover={"window": {"start": "25:00", "end": "02:00"}}),
            "spec.switchover.window.start",
            "pattern",
            id="window-start-25h",
        ),
        pytest.param(
            spec_dict(switchover={"window": {"start": "22:00", "end": "2:00"}}),
            "spec.switchover.window.end",
            "pattern",
            id="window-end-one-digit-hour",
        ),
        pytest.param(
            spec_dict(switchover={"window": {**WINDOW, "days": ["Friday"]}}),
            "spec.switchover.window.days.0",
            "'Mon'",
            id="window-day-long-name",
        ),
        pytest.param(
            spec_dict(cleanup={"oldClusterRetention": "1w"}),
            "spec.cleanup.oldClusterRetention",
            "pattern",
            id="duration-1w",
        ),
        pytest.param(
            spec_dict(cleanup={"oldClusterRetention": "24"}),
            "spec.cleanup.oldClusterRetention",
            "pattern",
            id="duration-no-unit",
        ),
        pytest.param(
            spec_dict(switchover={"mode": "Scheduled"}),
            "spec.switchover.mode",
            "'Automatic' or 'Manual'",
            id="unknown-mode",
        ),
        pytest.param(
            spec_dict(deletionPolicy="Retain"),
            "spec.deletionPolicy",
            "'Abort' or 'Orphan'",
            id="unknown-deletion-policy",
        ),
        pytest.param(_without("region"), "spec.region", "Field required", id="missing-region"),
        pytest.param(_without("clusterIdentifier"), "spec.clusterIdentifier", "Field required", id="missing-cluster"),
        pytest.param(
            _without("targetEngineVersion"), "spec.targetEngineVersion", "Field required", id="missing-target-version"
        ),
        pytest.param(
            spec_dict(targetVersion="15.10"), "spec.targetVersion", "Extra inputs are not permitted", id="unknown-field"
        ),
        pytest.param(
            spec_dict(switchover={"approve": True}),
            "spec.switchover.approve",
            "Extra inputs are not permitted",
            id="unknown-nested-field",
        ),
        pytest.param(
            spec_dict(aws={"roleArn": "arn:aws:iam::1234:role/upgrader"}),
            "spec.aws.roleArn",
            "pattern",
            id="role-arn-short-account",
        ),
        pytest.param(
            spec_dict(aws={"roleArn": "arn:aws:iam::123456789012:user/bob"}),
            "spec.aws.roleArn",
            "pattern",
            id="role-arn-user",
        ),
        pytest.param(
            spec_dict(clusterIdentifier="aurora_cluster"), "spec.clusterIdentifier", "pattern", id="cluster-underscore"
        ),
        pytest.param(
            spec_dict(targetDBClusterParameterGroupName="-params"),
            "spec.targetDBClusterParameterGroupName",
            "pattern",
            id="cluster-parameter-group-leading-hyphen",
        ),
        pytest.param(["region", "ap-northeast-1"], "spec", "must be a mapping", id="spec-is-a-list"),
        pytest.param(None, "spec", "must be a mapping", id="spec-missing"),
        pytest.param("region: ap-northeast-1", "spec", "must be a mapping", id="spec-is-a-string"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(raw: Any, field: str, detail: str) -> None:
    with pytest.raises(InvalidManifest) as caught:
        parse_spec(raw)

    message = str(caught.value)
    assert message.startswith(f"{field}:"), message
    assert detail in message


def test_every_problem_is_reported_at_once() -> None:
    raw = spec_dict(region="Tokyo", switchover={"timeoutSeconds": 5})

    with pytest.raises(InvalidManifest) as caught:
        parse_spec(raw)

    assert "spec.region:" in str(caught.value)
    assert "spec.switchover.timeoutSeconds:" in str(caught.value)


def test_a_window_without_days_is_refused() -> None:
    with pytest.raises(InvalidManifest, match=r"spec\.switchover\.window\.days"):
        parse_spec(spec_dict(switchover={"window": {**WINDOW, "days": []}}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0s", timedelta(0), id="zero"),
        pytest.param("45s", timedelta(seconds=45), id="seconds"),
        pytest.param("90m", timedelta(minutes=90), id="minutes"),
        pytest.param("24h", timedelta(hours=24), id="hours"),
        pytest.param("7d", timedelta(days=7), id="days"),
        pytest.param("1h30m", timedelta(hours=1, minutes=30), id="hours-and-minutes"),
        pytest.param("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4), id="every-unit"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("resource_name", "expected"),
    [
        pytest.param("aurora-bg-upgrade-15-10", "aurora-bg-upgrade-15-10", id="already-valid"),
        pytest.param("upgrade.v15.10", "upgrade-v15-10", id="dots-become-hyphens"),
        pytest.param("prod..db", "prod-db", id="no-double-hyphen-from-dots"),
        pytest.param("15-10-upgrade", "aup-15-10-upgrade", id="leading-digit-prefixed"),
        pytest.param("a" * 61, "a" * 60, id="61-chars-truncated"),
        pytest.param("a" * 59 + "-b" * 5, "a" * 59, id="no-trailing-hyphen-after-cut"),
        pytest.param("1" * 70, "aup-" + "1" * 56, id="prefix-then-cut"),
    ],
)
def test_deployment_name_for(resource_name: str, expected: str) -> None:
    name = deployment_name_for(resource_name)

    assert name == expected
    assert 1 <= len(name) <= 60
    assert re.fullmatch(BLUE_GREEN_NAME_PATTERN, name)


SQL_CHECK = {"name": "orders-readable", "sql": "select count(*) > 0 from orders"}
WEBHOOK_CHECK = {"name": "smoke-tests", "webhook": {"url": "https://smoke.internal/run"}}


@pytest.mark.parametrize(
    ("validation", "detail"),
    [
        pytest.param({}, "this validation block checks nothing", id="empty"),
        pytest.param({"database": {}, "guardrails": "Off"}, "checks nothing", id="nothing-on"),
        pytest.param(
            {"checks": [{**WEBHOOK_CHECK, "sql": "select true"}]}, "set exactly one of sql or webhook", id="both"
        ),
        pytest.param({"checks": [{"name": "x"}]}, "set exactly one of sql or webhook", id="neither"),
        pytest.param({"checks": [WEBHOOK_CHECK, WEBHOOK_CHECK]}, "check names must be unique", id="duplicates"),
        pytest.param({"checks": [SQL_CHECK]}, "SQL checks need validation.database", id="sql-without-database"),
        pytest.param(
            {"checks": [WEBHOOK_CHECK], "guardrails": "Warn"}, "guardrails need validation.database", id="guardrails"
        ),
    ],
)
def test_an_unusable_validation_block_is_refused_as_the_crd_refuses_it(validation: dict[str, Any], detail: str) -> None:
    """`aurora-upgrade run` has no API server: the models refuse what the CRD's CEL rules do."""
    with pytest.raises(InvalidManifest, match=r"spec\.validation") as caught:
        parse_spec(spec_dict(validation=validation))
    assert detail in str(caught.value)


@pytest.mark.parametrize(
    ("validation", "mode"),
    [
        pytest.param({"database": {}}, "Enforce", id="database-set-enforces"),
        pytest.param({"checks": [WEBHOOK_CHECK]}, "Off", id="no-database-no-guardrails"),
        pytest.param({"database": {}, "guardrails": "Warn", "checks": [SQL_CHECK]}, "Warn", id="chosen"),
    ],
)
def test_the_guardrail_mode_defaults_to_enforce_when_a_database_is_set(validation: dict[str, Any], mode: str) -> None:
    spec = parse_spec(spec_dict(validation=validation))
    assert spec.validation is not None and spec.validation.guardrail_mode == mode
