"""What the engine knows of AWS: plain frozen values, the errors AWS gives, and the read-only
questions a stage may ask. No boto3.

The AWS gateway (the gateway package) builds these values from AWS's answers and classifies AWS's error
codes into an `ErrorKind`; the stage modules in decisions/ read through `RdsReads` and see
only these types, which keeps boto3 out of every decision module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class ClusterMember:
    instance: str
    parameter_status: str  # DBClusterParameterGroupStatus: in-sync / pending-reboot / applying


@dataclass(frozen=True)
class Cluster:
    identifier: str
    arn: str
    engine: str
    engine_version: str
    status: str
    parameter_group: str
    endpoint: str | None  # the writer endpoint
    members: tuple[ClusterMember, ...]
    master_user_secret: bool
    deletion_protection: bool
    resource_id: str = ""  # DbClusterResourceId: survives the renames of a switchover
    engine_mode: str = "provisioned"  # EngineMode: `serverless` is Aurora Serverless v1
    read_replicas: tuple[str, ...] = ()  # ReadReplicaIdentifiers (ARNs, maybe in other Regions)
    replication_source: str | None = None  # ReplicationSourceIdentifier: this cluster is a replica
    global_cluster: str | None = None  # GlobalClusterIdentifier: a member of a global database
    port: int = 5432  # Port: the writer endpoint's, where validation connects
    iam_database_authentication: bool = False  # IAMDatabaseAuthenticationEnabled


@dataclass(frozen=True)
class GlobalCluster:
    identifier: str
    members: tuple[tuple[str, bool], ...]  # (DBClusterArn, IsWriter)


def arn_region(arn: str) -> str:
    """The Region of an RDS ARN (arn:aws:rds:REGION:acct:cluster:NAME); empty if it is no ARN."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else ""


@dataclass(frozen=True)
class Instance:
    identifier: str
    cluster: str | None
    engine_version: str
    status: str
    parameter_groups: tuple[tuple[str, str], ...]  # (name, ParameterApplyStatus)
    created_at: datetime | None = None  # InstanceCreateTime (AWS's clock)


@dataclass(frozen=True)
class EngineVersion:
    engine: str
    version: str
    family: str
    valid_targets: tuple[tuple[str, bool], ...]  # (version, IsMajorVersionUpgrade)
    status: str = "available"  # available / deprecated


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


@dataclass(frozen=True)
class RdsEvent:
    """One RDS event as DescribeEvents lists it (docs/events.md)."""

    source_identifier: str
    source_type: str  # blue-green-deployment, db-cluster, db-instance, db-cluster-snapshot
    message: str
    date: datetime


def arn_name(arn: str) -> str:
    """The resource name at the end of an RDS ARN (arn:aws:rds:region:acct:cluster:NAME)."""
    return arn.rsplit(":", 1)[-1]


class ErrorKind(StrEnum):
    """What an AWS error means, decided in the gateway from AWS's error code."""

    RETRYABLE = "Retryable"  # try again on the next poll: throttling, 5xx, connection problems
    NOT_FOUND = "NotFound"  # the thing does not exist (describe calls answer None instead)
    INVALID_STATE = "InvalidState"  # AWS refuses the request in the resource's current state
    ALREADY_EXISTS = "AlreadyExists"  # a create found its resource there (an earlier attempt took effect)
    PERMISSION = "Permission"  # IAM does not allow the call: a policy must change
    CREDENTIALS = "Credentials"  # no usable credentials (missing, invalid, expired): configuration must change
    TERMINAL = "Terminal"  # the request itself is wrong; only a spec change can help
    # A quota of the account and Region (`Quota`) is reached: AWS refuses creates until something
    # is deleted or the quota raised; nothing was created.
    QUOTA = "Quota"


class Quota(StrEnum):
    """The account's per-Region RDS quotas a create of ours may reach (AWS's "Quotas in Amazon
    Aurora": 40 DB clusters, 40 DB instances, 100 manual cluster snapshots by default), as
    people find them in Service Quotas."""

    DB_CLUSTERS = "DB clusters"
    DB_INSTANCES = "DB instances"
    STORAGE = "total storage for all DB instances"
    MANUAL_CLUSTER_SNAPSHOTS = "manual DB cluster snapshots"


@dataclass(frozen=True)
class RdsError(Exception):
    kind: ErrorKind
    code: str
    message: str
    operation: str
    answered: bool = True  # AWS answered (so a refused mutation did not happen)
    quota: Quota | None = None  # the quota reached, for ErrorKind.QUOTA

    def __str__(self) -> str:
        return f"{self.operation}: {self.code}: {self.message}"

    @property
    def retryable(self) -> bool:
        """A later attempt may succeed without anyone changing anything."""
        return self.kind in (ErrorKind.RETRYABLE, ErrorKind.INVALID_STATE)


def named(*names: str | None) -> tuple[str, ...]:
    """The names given, without the ones not known yet."""
    return tuple(n for n in names if n)


@dataclass(frozen=True)
class Reads:
    """What a look of a stage asks the shared describes about, by name (its stage declares it
    in its questions, a superset of what one look reads): the Region's call in the read cycle
    the look falls in carries these, so the upgrades looking in one cycle share it, and no call
    carries what no look of that cycle reads. A look that reads more is still answered (its
    question adds the key to the next call), at the cost of that call."""

    clusters: tuple[str, ...] = ()  # DescribeDBClusters, by identifier
    instances_of: tuple[str, ...] = ()  # DescribeDBInstances, by the cluster they belong to
    deployments: tuple[str, ...] = ()  # DescribeBlueGreenDeployments, by identifier
    deployment_names: tuple[str, ...] = ()  # ... by name (before AWS gave an identifier)
    sources: tuple[str, ...] = ()  # ... by source: the clusters whose ARN the look filters by
    snapshots: tuple[str, ...] = ()  # DescribeDBClusterSnapshots, by identifier
    cluster_resource_ids: tuple[str, ...] = ()  # DescribeDBClusters, by resource id

    def __or__(self, other: Reads) -> Reads:
        """Both, field by field, each name once and in order."""
        return Reads(
            **{f.name: tuple(dict.fromkeys((*getattr(self, f.name), *getattr(other, f.name)))) for f in fields(self)}
        )


class RdsReads(Protocol):
    """The read-only questions the stages ask AWS (the gateway answers them)."""

    def describe_cluster(self, identifier: str) -> Cluster | None: ...

    def find_cluster_by_resource_id(self, resource_id: str) -> Cluster | None: ...

    def describe_cluster_instances(self, cluster: str) -> Sequence[Instance]: ...

    def describe_engine_version(self, engine: str, version: str) -> EngineVersion | None: ...

    def cluster_parameter_group_family(self, name: str) -> str | None: ...

    def parameter_group_family(self, name: str) -> str | None: ...

    def cluster_parameter(self, group: str, name: str) -> str | None: ...

    def describe_global_cluster(self, identifier: str) -> GlobalCluster | None: ...

    def find_blue_green(self, *, name: str | None = None, source: str | None = None) -> Sequence[BlueGreen]: ...

    def describe_blue_green(self, identifier: str) -> BlueGreen | None: ...

    def describe_cluster_snapshot(self, identifier: str) -> Snapshot | None: ...

    def instance_restarts_since(self, instance: str, since: datetime) -> Sequence[datetime]: ...

    def instance_restarts_asked(self, instance: str, since: datetime) -> Sequence[datetime]:
        """Evidence asked of AWS itself (never the event feed's memory): the dates of `instance`'s
        "DB instance restarted" events dated at or after `since`."""
        ...

    def switchover_signs_since(self, deployment: str, cluster: str, since: datetime) -> Sequence[RdsEvent]:
        """Events saying a switchover of `deployment` (or of its source `cluster`) started or was
        canceled at or after `since`."""
        ...
