"""What the engine knows of AWS resources: plain frozen values, no boto3.

The RDS gateway (rds.py) builds these from AWS's answers; the decision functions read them.
Keeping them apart keeps boto3 out of every decision module.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClusterMember:
    instance: str
    is_writer: bool
    parameter_status: str  # DBClusterParameterGroupStatus: in-sync / pending-reboot / applying


@dataclass(frozen=True)
class Cluster:
    identifier: str
    arn: str
    engine: str
    engine_version: str
    status: str
    parameter_group: str
    endpoint: str | None
    members: tuple[ClusterMember, ...]
    master_user_secret: bool
    deletion_protection: bool
    resource_id: str = ""  # DbClusterResourceId: survives the renames of a switchover


@dataclass(frozen=True)
class Instance:
    identifier: str
    cluster: str | None
    engine_version: str
    status: str
    parameter_groups: tuple[tuple[str, str], ...]  # (name, ParameterApplyStatus)


@dataclass(frozen=True)
class EngineVersion:
    engine: str
    version: str
    family: str
    valid_targets: tuple[tuple[str, bool], ...]  # (version, IsMajorVersionUpgrade)


@dataclass(frozen=True)
class BlueGreen:
    identifier: str
    name: str
    source: str
    target: str | None
    status: str
    status_details: str | None
    tags: dict[str, str] = field(default_factory=dict)
    tasks: tuple[tuple[str, str], ...] = ()
    switchover_details: tuple[tuple[str, str], ...] = ()  # (SourceMember ARN, Status)


@dataclass(frozen=True)
class Snapshot:
    identifier: str
    cluster: str
    status: str
    percent_progress: int
    tags: dict[str, str] = field(default_factory=dict)


def arn_name(arn: str) -> str:
    """The resource name at the end of an RDS ARN (arn:aws:rds:region:acct:cluster:NAME)."""
    return arn.rsplit(":", 1)[-1]
