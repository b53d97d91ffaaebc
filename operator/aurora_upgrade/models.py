"""The AuroraUpgrade resource as pydantic models: the one source of the CRD schema.

Field names are the camelCase names users write (aliases); Python code uses snake_case.
Constraints that the API server can check (patterns, bounds, enums) live in the schema;
the few it cannot (IANA time zones) are validators here and end in `Failed/InvalidSpec`.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from aurora_upgrade.phases import Phase

GROUP = "dbupgrade.dev"
VERSION = "v1alpha1"
KIND = "AuroraUpgrade"
PLURAL = "auroraupgrades"
SINGULAR = "auroraupgrade"
API_VERSION = f"{GROUP}/{VERSION}"

# AWS's rule for blue/green deployment names (CreateBlueGreenDeployment).
BLUE_GREEN_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$"
# DB cluster identifiers: a letter, then letters, digits and single hyphens, no trailing hyphen.
CLUSTER_ID_PATTERN = r"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$"
PARAMETER_GROUP_PATTERN = r"^[a-zA-Z][a-zA-Z0-9.]*(-[a-zA-Z0-9.]+)*$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
ENGINE_VERSION_PATTERN = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"
DURATION_PATTERN = r"^([0-9]+(s|m|h|d))+$"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """'24h', '1h30m', '0s' -> timedelta (the schema already checked the shape)."""
    seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in re.findall(r"([0-9]+)([smhd])", text))
    return timedelta(seconds=seconds)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class SwitchoverMode(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class DeletionPolicy(StrEnum):
    ABORT = "Abort"
    ORPHAN = "Orphan"


class Weekday(StrEnum):
    MON = "Mon"
    TUE = "Tue"
    WED = "Wed"
    THU = "Thu"
    FRI = "Fri"
    SAT = "Sat"
    SUN = "Sun"


class MaintenanceWindow(_Model):
    """Switchover may only start inside this window. An end before start wraps past midnight."""

    days: list[Weekday] = Field(
        default_factory=lambda: list(Weekday), min_length=1, description="Days the window opens on"
    )
    start: Annotated[str, Field(pattern=CLOCK_PATTERN, description="HH:MM, local to timeZone")]
    end: Annotated[str, Field(pattern=CLOCK_PATTERN, description="HH:MM, local to timeZone")]
    time_zone: str = Field("UTC", description="IANA time zone, e.g. Asia/Tokyo")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class SwitchoverSpec(_Model):
    mode: SwitchoverMode = SwitchoverMode.AUTOMATIC
    approved: bool = Field(False, description="Releases a Manual switchover gate")
    timeout_seconds: int = Field(
        300, ge=30, le=3600, description="SwitchoverTimeout passed to SwitchoverBlueGreenDeployment"
    )
    snapshot_before_switchover: bool = True
    window: MaintenanceWindow | None = None

    @property
    def gated(self) -> bool:
        """Switchover waits for something besides AWS: an approval or a window."""
        return self.mode == SwitchoverMode.MANUAL or self.window is not None


class CleanupSpec(_Model):
    delete_blue_green_deployment: bool = True
    delete_old_cluster: bool = False
    old_cluster_retention: str = Field(
        "0s", pattern=DURATION_PATTERN, description="Wait this long after switchover, e.g. 24h"
    )
    final_snapshot_of_old_cluster: bool = True


class AwsSpec(_Model):
    role_arn: str | None = Field(None, pattern=ROLE_ARN_PATTERN)
    external_id: str | None = Field(None, min_length=2, max_length=1224)


class AuroraUpgradeSpec(_Model):
    region: str = Field(pattern=REGION_PATTERN, description="AWS region, e.g. ap-northeast-1")
    cluster_identifier: str = Field(
        min_length=1, max_length=63, pattern=CLUSTER_ID_PATTERN, description="The blue cluster"
    )
    target_engine_version: str = Field(pattern=ENGINE_VERSION_PATTERN, description="e.g. 15.10")
    expected_source_engine_version: str | None = Field(None, pattern=ENGINE_VERSION_PATTERN)
    allow_major_version_upgrade: bool = False
    target_db_cluster_parameter_group_name: str | None = Field(
        None, alias="targetDBClusterParameterGroupName", max_length=255, pattern=PARAMETER_GROUP_PATTERN
    )
    target_db_parameter_group_name: str | None = Field(
        None, alias="targetDBParameterGroupName", max_length=255, pattern=PARAMETER_GROUP_PATTERN
    )
    blue_green_deployment_name: str | None = Field(None, min_length=1, max_length=60, pattern=BLUE_GREEN_NAME_PATTERN)
    reboot_source_for_pending_parameters: bool = False
    reboot_green_before_switchover: bool = True
    switchover: SwitchoverSpec = Field(default_factory=SwitchoverSpec)
    reboot_after_switchover: bool = True
    cleanup: CleanupSpec = Field(default_factory=CleanupSpec)
    aws: AwsSpec = Field(default_factory=AwsSpec)
    deletion_policy: DeletionPolicy = DeletionPolicy.ABORT
    dry_run: bool = False


# Spec fields the API server refuses to change (CEL self == oldSelf).
IMMUTABLE_FIELDS = (
    "region",
    "clusterIdentifier",
    "targetEngineVersion",
    "expectedSourceEngineVersion",
    "blueGreenDeploymentName",
)
REQUIRED_FIELDS = ("region", "clusterIdentifier", "targetEngineVersion")


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(_Model):
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class HistoryEntry(_Model):
    phase: Phase
    started_at: str
    finished_at: str | None = None
    outcome: Literal["Succeeded", "Failed", "Aborted", "Skipped"] | None = None
    message: str = ""


class RebootStep(_Model):
    """One instance to reboot in a reboot phase, with the intent written before the call."""

    instance: str
    intended_at: str | None = None  # written to status before RebootDBInstance is called
    requested_at: str | None = None  # RebootDBInstance answered (or the reboot was found in AWS)
    rebooting_seen_at: str | None = None  # a describe showed the instance `rebooting`
    done_at: str | None = None


class AuroraUpgradeStatus(_Model):
    """Everything the engine needs to resume; every field is declared in the CRD."""

    phase: Phase = Phase.PENDING
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None
    source_engine_version: str | None = None
    # Blue's parameter groups at precheck: the Completed message names them when they changed.
    source_db_cluster_parameter_group_name: str | None = Field(None, alias="sourceDBClusterParameterGroupName")
    source_db_parameter_group_name: str | None = Field(None, alias="sourceDBParameterGroupName")
    blue_green_deployment_identifier: str | None = None
    green_cluster_identifier: str | None = None
    green_cluster_endpoint: str | None = None
    snapshot_identifier: str | None = None
    old_cluster_identifier: str | None = None
    started_at: str | None = None
    phase_started_at: str | None = None
    completed_at: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    plan: list[str] = Field(default_factory=list)
    # Resumption bookkeeping: what was asked of AWS and when, so a restart neither repeats
    # a call nor forgets one.
    reboots: list[RebootStep] = Field(default_factory=list)
    create_requested_at: str | None = None
    snapshot_requested_at: str | None = None
    source_cluster_resource_id: str | None = None  # blue's DbClusterResourceId, to find it after renames
    switchover_requested_at: str | None = None
    switchover_accepted_at: str | None = None  # AWS answered the switchover call: never call again
    switchover_refused_at: str | None = None  # AWS first refused the switchover for a transient state
    switchover_completed_at: str | None = None
    abort_requested_at: str | None = None  # the finalizer asked AWS to delete the deployment
    waiting_for: str | None = None  # the reason of the current wait (see decisions/deadlines.py)
    waiting_since: str | None = None  # when that wait began: its deadline counts from here
    failed_phase: Phase | None = None


class InvalidManifest(ValueError):
    """The manifest cannot be run: the reason names the first offending field."""


def format_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "spec"
        parts.append(f"spec.{where}: {item['msg']}")
    return "; ".join(parts)


def parse_spec(raw: Any) -> AuroraUpgradeSpec:
    """Validate a spec mapping as users write it; raise InvalidManifest with every problem."""
    if not isinstance(raw, dict):
        raise InvalidManifest("spec: must be a mapping")
    try:
        return AuroraUpgradeSpec.model_validate(raw)
    except ValidationError as error:
        raise InvalidManifest(format_validation_error(error)) from None


def parse_status(raw: Any) -> AuroraUpgradeStatus:
    """Read a stored status; fields another writer added (kopf's own) are ignored."""
    known = {f.alias or name for name, f in AuroraUpgradeStatus.model_fields.items()}
    data = {k: v for k, v in (raw or {}).items() if k in known}
    return AuroraUpgradeStatus.model_validate(data)


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
