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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from aurora_upgrade.phases import Phase

GROUP = "dbupgrade.dev"
VERSION = "v1alpha1"
KIND = "AuroraUpgrade"
PLURAL = "auroraupgrades"
SINGULAR = "auroraupgrade"
API_VERSION = f"{GROUP}/{VERSION}"
FINALIZER = f"{GROUP}/finalizer"  # kopf keeps it on an upgrade whose deletion has work (controller)

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
    """Automatic switches over as soon as green is ready; Manual waits for spec.switchover.approved."""

    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class DeletionPolicy(StrEnum):
    """What deleting the resource before switchover does to AWS."""

    ABORT = "Abort"
    ORPHAN = "Orphan"


class Weekday(StrEnum):
    """A day of the week, in the window's time zone."""

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
        default_factory=lambda: list(Weekday), min_length=1, description="Days the window opens on (default: every day)"
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
    """When and how SwitchoverBlueGreenDeployment is called (runbook steps 5-6)."""

    mode: SwitchoverMode = Field(SwitchoverMode.AUTOMATIC, description="Automatic, or Manual (waits for approved)")
    approved: bool = Field(False, description="Releases a Manual switchover gate")
    timeout_seconds: int = Field(
        300, ge=30, le=3600, description="SwitchoverTimeout passed to SwitchoverBlueGreenDeployment"
    )
    snapshot_before_switchover: bool = Field(
        True, description="Snapshot blue and wait until it is available before switching over (runbook step 6.1)"
    )
    window: MaintenanceWindow | None = Field(None, description="Switchover only starts inside this window")
    attempt: int = Field(
        1,
        ge=1,
        description="After the upgrade stopped because AWS did not carry a switchover out "
        "(reason SwitchoverNotCarriedOut), raising this above status.switchoverAttempt authorises exactly one "
        "more SwitchoverBlueGreenDeployment; re-applying the same value authorises nothing",
    )

    @property
    def gated(self) -> bool:
        """Switchover waits for something besides AWS: an approval or a window."""
        return self.mode == SwitchoverMode.MANUAL or self.window is not None


class CleanupSpec(_Model):
    """What is deleted after the upgrade is verified (runbook step 9)."""

    delete_blue_green_deployment: bool = Field(
        True, description="Delete the blue/green deployment; both clusters stay (runbook step 9.1)"
    )
    delete_old_cluster: bool = Field(
        False, description="Also delete the previous production cluster (-old1) and its instances (runbook step 9.2)"
    )
    old_cluster_retention: str = Field(
        "0s", pattern=DURATION_PATTERN, description="Wait this long after switchover, e.g. 24h"
    )
    final_snapshot_of_old_cluster: bool = Field(True, description="Take a final snapshot when deleting -old1")


class AwsSpec(_Model):
    """Credentials: the operator's own (IRSA, Pod Identity), or a role assumed from them."""

    role_arn: str | None = Field(
        None, pattern=ROLE_ARN_PATTERN, description="Assume this role for every RDS call (e.g. another account)"
    )
    external_id: str | None = Field(
        None, min_length=2, max_length=1224, description="ExternalId for AssumeRole, if the role's trust policy asks"
    )


class SecretKeyRef(_Model):
    """A key of a Secret in the AuroraUpgrade's own namespace."""

    name: str = Field(min_length=1, max_length=253, description="The Secret's name, in the upgrade's namespace")
    key: str = Field(min_length=1, max_length=253, description="The key holding the password")


class SslMode(StrEnum):
    """libpq's sslmode. verify-full checks the server's certificate and host name."""

    DISABLE = "disable"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class DatabaseSpec(_Model):
    """How the operator connects to blue's and green's writer endpoints."""

    name: str = Field("postgres", min_length=1, max_length=63, description="The database to connect to")
    user: str = Field(
        "aurora_upgrade",
        min_length=1,
        max_length=63,
        description="The database user; IAM database authentication (GRANT rds_iam) unless passwordSecretRef is set",
    )
    password_secret_ref: SecretKeyRef | None = Field(
        None, description="A password instead of IAM authentication (aurora-upgrade run: PGPASSWORD or ~/.pgpass)"
    )
    ssl_mode: SslMode = Field(SslMode.VERIFY_FULL, description="libpq sslmode")


class WebhookCheck(_Model):
    url: str = Field(pattern=r"^https?://.+", max_length=2048, description="POSTed to; a 2xx answer passes")


class ValidationCheck(_Model):
    """One of the user's checks against green: exactly one of sql or webhook."""

    name: str = Field(
        min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description="Unique among the checks"
    )
    sql: str | None = Field(
        None, min_length=1, max_length=10000, description="Run READ ONLY on green; must return one row with one true"
    )
    webhook: WebhookCheck | None = Field(None, description="Called once; a 2xx answer within timeoutSeconds passes")
    timeout_seconds: int = Field(30, ge=1, le=3600, description="How long the check may take")

    @model_validator(mode="after")
    def _one_kind(self) -> ValidationCheck:
        # The CRD says the same with CEL (crd.py); this is for `aurora-upgrade run`.
        if (self.sql is None) == (self.webhook is None):
            raise ValueError(f"check {self.name}: set exactly one of sql or webhook")
        return self


class GuardrailMode(StrEnum):
    """What the operator's own database checks (docs/validation.md) do with a finding."""

    ENFORCE = "Enforce"
    WARN = "Warn"
    OFF = "Off"


class ValidationSpec(_Model):
    """Runbook step 5: check green before the switchover (the Validating phase)."""

    database: DatabaseSpec | None = Field(None, description="Needed for SQL checks and guardrails")
    guardrails: GuardrailMode | None = Field(
        None, description="Enforce (the default when database is set), Warn or Off"
    )
    checks: list[ValidationCheck] = Field(
        default_factory=list, max_length=32, description="Run against green, in order"
    )

    @property
    def guardrail_mode(self) -> GuardrailMode:
        if self.guardrails is not None:
            return self.guardrails
        return GuardrailMode.ENFORCE if self.database is not None else GuardrailMode.OFF

    @model_validator(mode="after")
    def _usable(self) -> ValidationSpec:
        # The CRD's CEL rules (crd.py) say the same; this is for `aurora-upgrade run`.
        names = [c.name for c in self.checks]
        if len(set(names)) != len(names):
            raise ValueError("check names must be unique")
        if not self.checks and self.guardrail_mode == GuardrailMode.OFF:
            raise ValueError("this validation block checks nothing: add checks, or a database with guardrails")
        if self.database is None:
            if any(c.sql is not None for c in self.checks):
                raise ValueError("SQL checks need validation.database (how to connect to green)")
            if self.guardrails not in (None, GuardrailMode.OFF):
                raise ValueError("guardrails need validation.database (how to connect to blue and green)")
        return self


class AuroraUpgradeSpec(_Model):
    region: str = Field(pattern=REGION_PATTERN, description="AWS region, e.g. ap-northeast-1")
    cluster_identifier: str = Field(
        min_length=1, max_length=63, pattern=CLUSTER_ID_PATTERN, description="The blue cluster"
    )
    target_engine_version: str = Field(pattern=ENGINE_VERSION_PATTERN, description="e.g. 15.10")
    expected_source_engine_version: str | None = Field(
        None,
        pattern=ENGINE_VERSION_PATTERN,
        description="Fail before any change if the cluster is not at this version",
    )
    allow_major_version_upgrade: bool = Field(False, description="Needed for a major target, e.g. 15 to 16")
    target_db_cluster_parameter_group_name: str | None = Field(
        None,
        alias="targetDBClusterParameterGroupName",
        max_length=255,
        pattern=PARAMETER_GROUP_PATTERN,
        description="Green's cluster parameter group (default: the cluster's current one)",
    )
    target_db_parameter_group_name: str | None = Field(
        None,
        alias="targetDBParameterGroupName",
        max_length=255,
        pattern=PARAMETER_GROUP_PATTERN,
        description="Green's DB parameter group (default: the instances' current one)",
    )
    blue_green_deployment_name: str | None = Field(
        None,
        min_length=1,
        max_length=60,
        pattern=BLUE_GREEN_NAME_PATTERN,
        description="Name of the blue/green deployment (default: derived from metadata.name)",
    )
    reboot_source_for_pending_parameters: bool = Field(
        False, description="Reboot blue instances whose parameters are pending-reboot (runbook step 2)"
    )
    reboot_green_before_switchover: bool = Field(True, description="Reboot every green instance (runbook step 4)")
    switchover: SwitchoverSpec = Field(default_factory=SwitchoverSpec)
    reboot_after_switchover: bool = Field(
        True, description="Reboot every production instance after switchover (runbook step 7.3)"
    )
    cleanup: CleanupSpec = Field(default_factory=CleanupSpec)
    aws: AwsSpec = Field(default_factory=AwsSpec)
    deletion_policy: DeletionPolicy = Field(
        DeletionPolicy.ABORT,
        description="Deleting the resource before switchover: Abort deletes the deployment and green, "
        "Orphan leaves AWS alone. After switchover has started, deletion never touches AWS",
    )
    dry_run: bool = Field(False, description="Run the prechecks and write the plan to status.plan; change nothing")
    validation: ValidationSpec | None = Field(
        None, description="Check green (and the database guardrails) before switching over; absent: no Validating phase"
    )


# Spec fields the API server refuses to change (CEL self == oldSelf).
IMMUTABLE_FIELDS = (
    "region",
    "clusterIdentifier",
    "targetEngineVersion",
    "expectedSourceEngineVersion",
    "blueGreenDeploymentName",
)
REQUIRED_FIELDS = ("region", "clusterIdentifier", "targetEngineVersion")
# status.observedGeneration before the operator has acted on any generation (the CRD's default).
UNOBSERVED = 0


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(_Model):
    """A Kubernetes condition; lastTransitionTime changes only when status flips."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class HistoryEntry(_Model):
    """One phase of the upgrade: when it started and ended, and how."""

    phase: Phase
    started_at: str
    finished_at: str | None = None
    outcome: Literal["Succeeded", "Failed", "Aborted", "Skipped"] | None = None
    message: str = ""


class RebootStep(_Model):
    """One instance to reboot in a reboot phase, with the intent written before the call."""

    instance: str
    intended_at: str | None = Field(None, description="Written to status before RebootDBInstance is called")
    requested_at: str | None = Field(None, description="RebootDBInstance answered, or the reboot was found in AWS")
    rebooting_seen_at: str | None = Field(None, description="A describe showed the instance rebooting")
    done_at: str | None = None
    unconfirmed_at: str | None = Field(
        None,
        description="After switchover, RebootDBInstance's answer was lost and AWS showed no sign of the reboot: "
        "production's instance is never rebooted twice, so the step ended unconfirmed",
    )
    skipped_at: str | None = Field(
        None, description="After switchover, the instance was gone (scaled in or deleted): its step was skipped"
    )


class ValidationResult(_Model):
    """One check's or guardrail's latest result."""

    name: str
    on: Literal["blue", "green"]
    result: Literal["Passed", "Failed", "Error"]
    message: str = ""
    checked_at: str


class AuroraUpgradeStatus(_Model):
    """Everything the engine needs to resume; every field is declared in the CRD."""

    phase: Phase = Field(Phase.PENDING, description="Where the upgrade stands")
    reason: str | None = Field(
        None,
        description="Machine reason (CamelCase) of the latest transition or wait: one of the reasons "
        "docs/operations.md lists (Troubleshooting), each with its meaning and what to do",
    )
    message: str | None = Field(None, description="The same for people")
    observed_generation: int | None = Field(None, description="metadata.generation last acted on")
    source_engine_version: str | None = Field(None, description="The cluster's version found at precheck")
    source_db_cluster_parameter_group_name: str | None = Field(
        None,
        alias="sourceDBClusterParameterGroupName",
        description="Blue's cluster parameter group at precheck (the Completed message names it when it changed)",
    )
    source_db_parameter_group_name: str | None = Field(
        None, alias="sourceDBParameterGroupName", description="Blue's DB parameter group(s) at precheck"
    )
    blue_green_deployment_identifier: str | None = Field(None, description="bgd-... of the deployment")
    green_cluster_identifier: str | None = Field(None, description="The green cluster, <cluster>-green-<random>")
    green_cluster_endpoint: str | None = Field(
        None, description="Green's writer endpoint once green is available, to validate against (runbook step 5)"
    )
    snapshot_identifier: str | None = Field(
        None, description="The pre-switchover snapshot of blue: the latest one taken, the rollback point"
    )
    superseded_snapshot_identifier: str | None = Field(
        None,
        description="The pre-switchover snapshot a retake replaced, kept (at most one: an older one is deleted "
        "before the next retake)",
    )
    snapshot_retakes: int | None = Field(
        None, description="How often the pre-switchover snapshot was retaken because it went stale before the call"
    )
    old_cluster_identifier: str | None = Field(None, description="The previous production cluster, e.g. ...-old1")
    started_at: str | None = Field(None, description="RFC 3339, like every time in status")
    phase_started_at: str | None = None
    completed_at: str | None = Field(None, description="When a terminal phase was reached")
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Reconciling, Stalled (kstatus polarity) and Upgraded"
    )
    history: list[HistoryEntry] = Field(default_factory=list, description="One entry per phase, in order")
    plan: list[str] = Field(default_factory=list, description="With dryRun: the steps a real run would take")
    # Resumption bookkeeping: what was asked of AWS and when, so a restart neither repeats
    # a call nor forgets one.
    reboots: list[RebootStep] = Field(default_factory=list, description="The current reboot phase's instances")
    unconfirmed_reboots: list[str] = Field(
        default_factory=list,
        description="Production instances whose reboot after switchover AWS never confirmed (RebootDBInstance's "
        "answer was lost); never rebooted again, named in the Completed message",
    )
    create_requested_at: str | None = None
    snapshot_requested_at: str | None = None
    snapshot_available_at: str | None = Field(
        None, description="When the current pre-switchover snapshot was seen available: its age counts from here"
    )
    snapshot_before_switchover: bool | None = Field(
        None,
        description="spec.switchover.snapshotBeforeSwitchover when the first switchover call was sent; a later "
        "change is ignored (with a Warning)",
    )
    ignored_snapshot_setting: bool | None = Field(
        None, description="A snapshotBeforeSwitchover set after the switchover call, ignored with a Warning"
    )
    source_cluster_resource_id: str | None = Field(
        None, description="Blue's DbClusterResourceId, to find it again after switchover renames it"
    )
    switchover_requested_at: str | None = Field(
        None, description="SwitchoverBlueGreenDeployment was about to be sent (written before the call)"
    )
    switchover_attempt: int | None = Field(
        None,
        description="The spec.switchover.attempt of the latest switchover call that may have reached AWS "
        "(one call per number; a call AWS answered with an error is not recorded)",
    )
    switchover_accepted_at: str | None = Field(
        None, description="AWS answered the latest switchover call (attempt switchoverAttempt)"
    )
    switchover_refused_at: str | None = Field(
        None,
        description="When AWS first refused the switchover for a transient state since the gate last opened",
    )
    switchover_completed_at: str | None = None
    deployment_delete_requested_at: str | None = Field(
        None, description="CleaningUp asked AWS to delete the deployment (written before the call)"
    )
    deployment_deleted_elsewhere_at: str | None = Field(
        None, description="When the deployment was found deleted by someone else after the switchover"
    )
    abort_requested_at: str | None = Field(
        None, description="The finalizer asked AWS to delete the deployment (deletionPolicy Abort)"
    )
    call_in_flight: str | None = Field(
        None, description="The AWS operation sent and not yet answered (another writer waits for it)"
    )
    call_sent_at: str | None = Field(None, description="When that call was sent")
    waiting_for: str | None = Field(
        None, description="The reason of the current wait (every wait on AWS has a deadline)"
    )
    waiting_since: str | None = Field(None, description="When that wait began: its deadline counts from here")
    failed_phase: Phase | None = Field(None, description="The phase the upgrade failed in")
    validation: list[ValidationResult] = Field(
        default_factory=list, description="One entry per check and guardrail: the latest result"
    )
    blue_catalog_fingerprint: str | None = Field(
        None,
        description="Blue's catalog fingerprint taken at precheck: DDL or DCL on blue since then degrades replication",
    )
    validated_generation: int | None = Field(
        None, description="The generation the checks last ran to a verdict for: a new one runs them again"
    )
    validation_held: str | None = Field(
        None, description="The reason the checks' verdict for validatedGeneration holds the switchover with, if any"
    )
    validated_at: str | None = Field(
        None, description="When every check last passed; older than the maximum age, they run again before switchover"
    )
    validated_spec: str | None = Field(
        None,
        description="A digest of spec.validation the verdict of validatedGeneration was given for: checks added or "
        "changed since run again before switchover",
    )


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
