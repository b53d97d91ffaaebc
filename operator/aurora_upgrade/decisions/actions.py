"""The AWS actions a decision may ask for: the only mutations the operator ever makes.

Each names its RDS operation (for Events, metrics and the IAM policy) and says in a sentence
what it does; the engine's `act` turns it into one gateway call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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
    supersedes: str | None = None  # a retake: the stale snapshot this one replaces (kept)
    operation = "CreateDBClusterSnapshot"

    def describe(self) -> str:
        retake = f" (retaken: {self.supersedes} went stale before the switchover; kept)" if self.supersedes else ""
        return f"Creating snapshot {self.identifier} of {self.cluster}{retake}"


@dataclass(frozen=True)
class DeleteSnapshot:
    identifier: str
    operation = "DeleteDBClusterSnapshot"

    def describe(self) -> str:
        return f"Deleting superseded pre-switchover snapshot {self.identifier}"


@dataclass(frozen=True)
class Switchover:
    identifier: str
    timeout_seconds: int
    attempt: int = 1  # spec.switchover.attempt: one call per number
    operation = "SwitchoverBlueGreenDeployment"

    def describe(self) -> str:
        return (
            f"Switching over blue/green deployment {self.identifier} (timeout {self.timeout_seconds}s, "
            f"attempt {self.attempt})"
        )


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
    | DeleteSnapshot
    | Switchover
    | DeleteBlueGreen
    | DisableDeletionProtection
    | DeleteInstance
    | DeleteCluster
)
