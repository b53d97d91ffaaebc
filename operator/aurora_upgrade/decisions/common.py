"""What every decision function returns, the AWS actions it may ask for, and shared helpers.

A decision is a pure function `(upgrade, observation, now, timing) -> Outcome`: it never
calls AWS. The engine carries out at most one action per outcome, saving `intent` to the
status before the call (so a crash right after the call is recognised on resume) and
`changes` after it succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus
from aurora_upgrade.phases import Phase


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Timing:
    """Every wait and timeout derives from the base poll interval (AURORA_UPGRADE_POLL_SECONDS),
    so a shortened interval shortens them all. The small floors are absolute: AWS's eventual
    consistency and a reboot's duration do not shrink with our polling.

    At the default 30 s: grace 2 min, reboot timeout 1 h, verification timeout 20 min."""

    poll: float = 30.0

    @property
    def consistency_grace(self) -> timedelta:
        """How long something we asked AWS to create may stay invisible to describe calls."""
        return timedelta(seconds=max(5.0, 4 * self.poll))

    @property
    def reboot_timeout(self) -> timedelta:
        """A reboot that has not come back by then never will: Failed (RebootTimedOut)."""
        return timedelta(seconds=max(30.0, 120 * self.poll))

    @property
    def verify_timeout(self) -> timedelta:
        """How long production may take to show the target version after switchover."""
        return timedelta(seconds=max(30.0, 40 * self.poll))


@dataclass(frozen=True)
class Upgrade:
    """One AuroraUpgrade as the engine sees it: identity, desired spec, recorded status."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: AuroraUpgradeSpec
    status: AuroraUpgradeStatus

    @property
    def deployment_name(self) -> str:
        return self.spec.blue_green_deployment_name or deployment_name_for(self.name)

    @property
    def snapshot_identifier(self) -> str:
        return f"{self.spec.cluster_identifier}-before-switchover-{self.uid[:8]}"

    @property
    def tags(self) -> dict[str, str]:
        return {"dbupgrade.dev/uid": self.uid, "dbupgrade.dev/name": f"{self.namespace}/{self.name}"}

    def owns(self, tags: Mapping[str, str]) -> bool:
        return tags.get("dbupgrade.dev/uid") == self.uid


def deployment_name_for(resource_name: str) -> str:
    """A valid blue/green deployment name from a Kubernetes name (DNS-1123, maybe with dots)."""
    parts = [p for p in resource_name.replace(".", "-").split("-") if p]
    name = "-".join(parts)
    if not name or not name[0].isalpha():
        name = f"aup-{name}".rstrip("-")
    return name[:60].rstrip("-")


# --- actions: the only mutations a decision can ask for ----------------------------------


@dataclass(frozen=True)
class CreateBlueGreen:
    name: str
    source_arn: str
    target_engine_version: str
    cluster_parameter_group: str | None
    parameter_group: str | None
    tags: Mapping[str, str]
    operation = "CreateBlueGreenDeployment"

    def describe(self) -> str:
        return f"Creating blue/green deployment {self.name} for {self.target_engine_version}"


@dataclass(frozen=True)
class RebootInstance:
    instance: str
    operation = "RebootDBInstance"

    def describe(self) -> str:
        return f"Rebooting DB instance {self.instance}"


@dataclass(frozen=True)
class CreateSnapshot:
    identifier: str
    cluster: str
    tags: Mapping[str, str]
    operation = "CreateDBClusterSnapshot"

    def describe(self) -> str:
        return f"Creating snapshot {self.identifier} of {self.cluster}"


@dataclass(frozen=True)
class Switchover:
    identifier: str
    timeout_seconds: int
    operation = "SwitchoverBlueGreenDeployment"

    def describe(self) -> str:
        return f"Switching over blue/green deployment {self.identifier} (timeout {self.timeout_seconds}s)"


@dataclass(frozen=True)
class DeleteBlueGreen:
    identifier: str
    delete_target: bool
    operation = "DeleteBlueGreenDeployment"

    def describe(self) -> str:
        target = " with its green target" if self.delete_target else ""
        return f"Deleting blue/green deployment {self.identifier}{target}"


@dataclass(frozen=True)
class DisableDeletionProtection:
    cluster: str
    operation = "ModifyDBCluster"

    def describe(self) -> str:
        return f"Turning off deletion protection of {self.cluster}"


@dataclass(frozen=True)
class DeleteInstance:
    instance: str
    operation = "DeleteDBInstance"

    def describe(self) -> str:
        return f"Deleting DB instance {self.instance}"


@dataclass(frozen=True)
class DeleteCluster:
    cluster: str
    final_snapshot: str | None
    operation = "DeleteDBCluster"

    def describe(self) -> str:
        snap = f" (final snapshot {self.final_snapshot})" if self.final_snapshot else " (no final snapshot)"
        return f"Deleting DB cluster {self.cluster}{snap}"


Action = (
    CreateBlueGreen
    | RebootInstance
    | CreateSnapshot
    | Switchover
    | DeleteBlueGreen
    | DisableDeletionProtection
    | DeleteInstance
    | DeleteCluster
)


@dataclass(frozen=True)
class Outcome:
    """What a decision wants: stay or move to `phase`, maybe one action, when to look again."""

    phase: Phase | None = None
    reason: str = ""
    message: str = ""
    intent: Mapping[str, Any] = field(default_factory=dict)  # saved before the action
    changes: Mapping[str, Any] = field(default_factory=dict)  # saved after it succeeded
    action: Action | None = None
    requeue: float = 0.0  # seconds until the next look; 0 = go on at once
    warning: bool = False  # the message deserves a Warning event (unknown AWS state)


def wait(timing: Timing, reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(reason=reason, message=message, changes=changes, requeue=timing.poll)


def fail(reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(phase=Phase.FAILED, reason=reason, message=message, changes=changes)


def advance(to: Phase, reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(phase=to, reason=reason, message=message, changes=changes)


def since(status_time: str | None, now: datetime) -> timedelta:
    """How long ago a recorded time was (zero when none was recorded)."""
    return now - parse_time(status_time) if status_time else timedelta(0)


BLUE_GREEN_FAILED = frozenset({"INVALID_CONFIGURATION", "PROVISIONING_FAILED", "SWITCHOVER_FAILED"})
BLUE_GREEN_KNOWN = frozenset(
    {
        "PROVISIONING",
        "AVAILABLE",
        "SWITCHOVER_IN_PROGRESS",
        "SWITCHOVER_COMPLETED",
        "DELETING",
        *BLUE_GREEN_FAILED,
    }
)


def is_failed_status(status: str) -> bool:
    return status in BLUE_GREEN_FAILED or status.endswith("_FAILED")


def details(status_details: str | None) -> str:
    return status_details or "AWS gave no StatusDetails"
