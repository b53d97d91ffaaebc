"""The RDS gateway: the only module that calls AWS or knows the shapes of its answers.

Every boto3 call goes through `RdsGateway._call`, which counts it for metrics and turns a
botocore error into an `RdsError` whose `ErrorKind` (see resources.py) is decided here from
AWS's error code, and nowhere else:

* RETRYABLE - try again on the next poll (throttling after botocore's own adaptive
  retries, 5xx answers, connection problems, refused credentials or permissions);
* NOT_FOUND - the thing does not exist (describe calls answer None instead);
* INVALID_STATE - AWS refuses the request in the resource's current state (often transient;
  a stage may give it a meaning of its own, e.g. a refused switchover);
* ALREADY_EXISTS - a create found its resource there: an earlier attempt took effect;
* TERMINAL - the request itself is wrong; only a spec change can help.

Throttling is left to botocore's `adaptive` retry mode: RDS has one token bucket per
account and region shared with every other caller, and the client-side rate limiter is
what AWS recommends for that. Describe results are plain frozen dataclasses so the
decision functions never see a boto3 shape. Reads go through `describe_*` methods with
one call per question (the `RdsReads` protocol), which is where per-region coalescing can
later plug in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.config
import botocore.credentials
import botocore.exceptions
import botocore.session
from botocore import xform_name

from aurora_upgrade import metrics
from aurora_upgrade.resources import (
    BlueGreen,
    Cluster,
    ClusterMember,
    EngineVersion,
    ErrorKind,
    GlobalCluster,
    Instance,
    RdsError,
    Snapshot,
)

_NOT_FOUND = {
    "BlueGreenDeploymentNotFoundFault",
    "DBClusterNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "DBClusterParameterGroupNotFound",
    "DBClusterParameterGroupNotFoundFault",
    "DBParameterGroupNotFound",
    "DBParameterGroupNotFoundFault",
    "GlobalClusterNotFoundFault",
}
_RETRYABLE = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
}
# AWS's common errors: answers about our permissions and credentials, not AWS's availability.
_PERMISSION = {"AccessDenied", "AccessDeniedException", "NotAuthorized", "UnauthorizedOperation"}
_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
}
# botocore finds no usable credentials before any request is sent.
_NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
)
_INVALID_STATE = {
    "InvalidBlueGreenDeploymentStateFault",
    "InvalidDBClusterStateFault",
    "InvalidDBInstanceStateFault",
    "InvalidDBClusterSnapshotStateFault",
}


def classify(operation: str, error: Exception) -> RdsError:
    if isinstance(error, botocore.exceptions.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", "Unknown"))
        message = str(info.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        # An assumed role's credentials are fetched inside the RDS call: name STS's operation.
        operation = "AssumeRole" if getattr(error, "operation_name", None) == "AssumeRole" else operation
        if code in _NOT_FOUND:
            kind = ErrorKind.NOT_FOUND
        elif code in _INVALID_STATE:
            kind = ErrorKind.INVALID_STATE
        elif code.endswith(("AlreadyExistsFault", "AlreadyExists")):
            kind = ErrorKind.ALREADY_EXISTS
        elif code in _PERMISSION:
            kind = ErrorKind.PERMISSION
        elif code in _CREDENTIALS:
            kind = ErrorKind.CREDENTIALS
        elif code in _RETRYABLE or status >= 500:
            kind = ErrorKind.RETRYABLE
        else:
            kind = ErrorKind.TERMINAL
        # A 5xx answer does not tell whether the request took effect.
        return RdsError(kind, code, message, operation, answered=status < 500)
    if isinstance(error, _NO_CREDENTIALS):
        return RdsError(ErrorKind.CREDENTIALS, type(error).__name__, str(error), operation)
    # Connection problems, timeouts and the like: the next poll may succeed.
    return RdsError(ErrorKind.RETRYABLE, type(error).__name__, str(error), operation, answered=False)


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _to_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


ClientFactory = Callable[[str, str | None, str | None], tuple[Any, Any]]


def _session(region: str, role_arn: str | None, external_id: str | None) -> boto3.session.Session:
    """The default credential chain (IRSA, Pod Identity, ...), or a role assumed from it whose
    credentials botocore refreshes before they expire."""
    base = boto3.session.Session(region_name=region)
    if not role_arn:
        return base
    extra: dict[str, Any] = {"RoleSessionName": "aurora-upgrade-operator"}
    if external_id:
        extra["ExternalId"] = external_id
    fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
        client_creator=base._session.create_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args=extra,
    )
    assumed = botocore.session.get_session()
    assumed._credentials = botocore.credentials.DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.session.Session(botocore_session=assumed, region_name=region)


def default_client_factory(region: str, role_arn: str | None, external_id: str | None) -> tuple[Any, Any]:
    """Two RDS clients (AWS_ENDPOINT_URL_RDS is honoured by boto3): reads retry with botocore's
    adaptive mode; writes are sent once, because a retried CreateBlueGreenDeployment or
    SwitchoverBlueGreenDeployment after a timeout could act twice. The engine retries writes
    itself, after checking in AWS whether the first attempt took effect."""
    session = _session(region, role_arn, external_id)
    common: dict[str, Any] = {"connect_timeout": 10, "read_timeout": 30, "user_agent_extra": "aurora-upgrade-operator"}
    reads = botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 8}, **common)
    writes = botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": 1}, **common)
    return session.client("rds", config=reads), session.client("rds", config=writes)


class RdsGateway:
    """Every RDS call the engine makes, for one region (and optionally one assumed role)."""

    def __init__(
        self, reader: Any, writer: Any | None = None, other_region: Callable[[str], RdsGateway] | None = None
    ) -> None:
        self._reader = reader
        self._writer = writer if writer is not None else reader
        # A global database's other Regions are read with the same credentials.
        self._other_region = other_region or RdsGateway.for_region
        self._regions: dict[str, RdsGateway] = {}

    @classmethod
    def for_region(
        cls,
        region: str,
        role_arn: str | None = None,
        external_id: str | None = None,
        factory: ClientFactory = default_client_factory,
    ) -> RdsGateway:
        def other_region(name: str) -> RdsGateway:
            return cls.for_region(name, role_arn, external_id, factory)

        try:
            return cls(*factory(region, role_arn, external_id), other_region=other_region)
        except Exception as error:  # assume-role failures surface here
            raise classify("AssumeRole", error) from error

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        client = self._reader if operation.startswith("Describe") else self._writer
        method = getattr(client, _snake(operation))
        try:
            response: dict[str, Any] = method(**params)
        except Exception as error:
            rds_error = classify(operation, error)
            metrics.RDS_CALLS.labels(operation=operation, outcome=rds_error.code).inc()
            raise rds_error from error
        metrics.RDS_CALLS.labels(operation=operation, outcome="ok").inc()
        return response

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """The items of every page of a describe call, following its Marker."""
        while True:
            page = self._call(operation, **params)
            yield from page.get(key, [])
            if not page.get("Marker"):
                return
            params["Marker"] = page["Marker"]

    def _describe_or_none(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]] | None:
        try:
            return list(self._pages(operation, key, **params))
        except RdsError as error:
            if error.kind == ErrorKind.NOT_FOUND:
                return None
            raise

    # --- reads -----------------------------------------------------------------------

    def describe_cluster(self, identifier: str) -> Cluster | None:
        items = self._describe_or_none("DescribeDBClusters", "DBClusters", DBClusterIdentifier=identifier)
        return self._cluster(items[0]) if items else None

    def find_cluster_by_resource_id(self, resource_id: str) -> Cluster | None:
        """The cluster whose DbClusterResourceId is `resource_id`, whatever it is named now.
        Listed and matched here rather than with a filter, so every RDS endpoint answers alike."""
        for item in self._pages("DescribeDBClusters", "DBClusters", MaxRecords=100):
            if item.get("DbClusterResourceId") == resource_id:
                return self._cluster(item)
        return None

    @staticmethod
    def _cluster(c: dict[str, Any]) -> Cluster:
        return Cluster(
            identifier=c["DBClusterIdentifier"],
            arn=c.get("DBClusterArn", ""),
            engine=c.get("Engine", ""),
            engine_version=c.get("EngineVersion", ""),
            status=c.get("Status", ""),
            parameter_group=c.get("DBClusterParameterGroup", ""),
            endpoint=c.get("Endpoint"),
            members=tuple(
                ClusterMember(
                    instance=m["DBInstanceIdentifier"],
                    parameter_status=m.get("DBClusterParameterGroupStatus", "in-sync"),
                )
                for m in c.get("DBClusterMembers", [])
            ),
            master_user_secret=bool(c.get("MasterUserSecret")),
            deletion_protection=bool(c.get("DeletionProtection")),
            resource_id=c.get("DbClusterResourceId", ""),
            engine_mode=c.get("EngineMode", "provisioned"),
            read_replicas=tuple(c.get("ReadReplicaIdentifiers", [])),
            replication_source=c.get("ReplicationSourceIdentifier"),
            global_cluster=c.get("GlobalClusterIdentifier"),
        )

    def describe_cluster_instances(self, cluster: str) -> list[Instance]:
        items = self._describe_or_none(
            "DescribeDBInstances",
            "DBInstances",
            Filters=[{"Name": "db-cluster-id", "Values": [cluster]}],
        )
        return [self._instance(i) for i in items or []]

    @staticmethod
    def _instance(i: dict[str, Any]) -> Instance:
        return Instance(
            identifier=i["DBInstanceIdentifier"],
            cluster=i.get("DBClusterIdentifier"),
            engine_version=i.get("EngineVersion", ""),
            status=i.get("DBInstanceStatus", ""),
            parameter_groups=tuple(
                (g.get("DBParameterGroupName", ""), g.get("ParameterApplyStatus", "in-sync"))
                for g in i.get("DBParameterGroups", [])
            ),
        )

    def describe_engine_version(self, engine: str, version: str) -> EngineVersion | None:
        # IncludeAll: without it AWS lists only `available` versions, and a deprecated source
        # (the usual reason to upgrade) would look like a version that does not exist.
        items = self._describe_or_none(
            "DescribeDBEngineVersions", "DBEngineVersions", Engine=engine, EngineVersion=version, IncludeAll=True
        )
        if not items:
            return None
        v = items[0]
        return EngineVersion(
            engine=v.get("Engine", engine),
            version=v.get("EngineVersion", version),
            family=v.get("DBParameterGroupFamily", ""),
            valid_targets=tuple(
                (t["EngineVersion"], bool(t.get("IsMajorVersionUpgrade"))) for t in v.get("ValidUpgradeTarget", [])
            ),
            status=v.get("Status", "available"),
        )

    def cluster_parameter_group_family(self, name: str) -> str | None:
        items = self._describe_or_none(
            "DescribeDBClusterParameterGroups", "DBClusterParameterGroups", DBClusterParameterGroupName=name
        )
        return items[0].get("DBParameterGroupFamily", "") if items else None

    def parameter_group_family(self, name: str) -> str | None:
        items = self._describe_or_none("DescribeDBParameterGroups", "DBParameterGroups", DBParameterGroupName=name)
        return items[0].get("DBParameterGroupFamily", "") if items else None

    def cluster_parameter(self, group: str, name: str) -> str | None:
        """The value of one parameter of a cluster parameter group (None when unset)."""
        for p in self._pages("DescribeDBClusterParameters", "Parameters", DBClusterParameterGroupName=group):
            if p.get("ParameterName") == name:
                value = p.get("ParameterValue")
                return None if value is None else str(value)
        return None

    def describe_global_cluster(self, identifier: str) -> GlobalCluster | None:
        items = self._describe_or_none("DescribeGlobalClusters", "GlobalClusters", GlobalClusterIdentifier=identifier)
        if not items:
            return None
        g = items[0]
        return GlobalCluster(
            identifier=g.get("GlobalClusterIdentifier", identifier),
            members=tuple(
                (m.get("DBClusterArn", ""), bool(m.get("IsWriter"))) for m in g.get("GlobalClusterMembers", [])
            ),
        )

    def missing_parameter_groups(
        self, region: str, cluster_groups: Sequence[str], db_groups: Sequence[str]
    ) -> list[str]:
        """The named parameter groups that do not exist in `region` (a global database's other Region)."""
        if region not in self._regions:
            self._regions[region] = self._other_region(region)
        gateway = self._regions[region]
        missing = [g for g in cluster_groups if gateway.cluster_parameter_group_family(g) is None]
        return missing + [g for g in db_groups if gateway.parameter_group_family(g) is None]

    def find_blue_green(self, *, name: str | None = None, source: str | None = None) -> list[BlueGreen]:
        filters = []
        if name:
            filters.append({"Name": "blue-green-deployment-name", "Values": [name]})
        if source:
            filters.append({"Name": "source", "Values": [source]})
        items = self._describe_or_none("DescribeBlueGreenDeployments", "BlueGreenDeployments", Filters=filters)
        return [self._blue_green(b) for b in items or []]

    def describe_blue_green(self, identifier: str) -> BlueGreen | None:
        items = self._describe_or_none(
            "DescribeBlueGreenDeployments", "BlueGreenDeployments", BlueGreenDeploymentIdentifier=identifier
        )
        return self._blue_green(items[0]) if items else None

    @staticmethod
    def _blue_green(b: dict[str, Any]) -> BlueGreen:
        return BlueGreen(
            identifier=b["BlueGreenDeploymentIdentifier"],
            name=b.get("BlueGreenDeploymentName", ""),
            source=b.get("Source", ""),
            target=b.get("Target"),
            status=b.get("Status", ""),
            status_details=b.get("StatusDetails"),
            tags=_tags(b.get("TagList")),
            tasks=tuple((t.get("Name", ""), t.get("Status", "")) for t in b.get("Tasks", [])),
            switchover_details=tuple(
                (d.get("SourceMember", ""), d.get("Status", "")) for d in b.get("SwitchoverDetails", [])
            ),
        )

    def describe_cluster_snapshot(self, identifier: str) -> Snapshot | None:
        items = self._describe_or_none(
            "DescribeDBClusterSnapshots", "DBClusterSnapshots", DBClusterSnapshotIdentifier=identifier
        )
        if not items:
            return None
        s = items[0]
        return Snapshot(
            identifier=s["DBClusterSnapshotIdentifier"],
            cluster=s.get("DBClusterIdentifier", ""),
            status=s.get("Status", ""),
            percent_progress=int(s.get("PercentProgress", 0) or 0),
            tags=_tags(s.get("TagList")),
        )

    def instance_restarts_since(self, instance: str, since: datetime) -> list[datetime]:
        """Times of "DB instance restarted" events for an instance at or after `since`."""
        # DescribeEvents takes a StartTime; a second of slack covers clock rounding.
        start = since - timedelta(seconds=1)
        events = self._pages(
            "DescribeEvents", "Events", SourceType="db-instance", SourceIdentifier=instance, StartTime=start
        )
        return [
            e["Date"]
            for e in events
            if "DB instance restarted" in e.get("Message", "") and e.get("Date") and e["Date"] >= start
        ]

    # --- writes ----------------------------------------------------------------------

    def create_blue_green(
        self,
        *,
        name: str,
        source_arn: str,
        target_engine_version: str,
        cluster_parameter_group: str | None,
        parameter_group: str | None,
        tags: dict[str, str],
    ) -> BlueGreen:
        params: dict[str, Any] = {
            "BlueGreenDeploymentName": name,
            "Source": source_arn,
            "TargetEngineVersion": target_engine_version,
            "Tags": _to_tags(tags),
        }
        if cluster_parameter_group:
            params["TargetDBClusterParameterGroupName"] = cluster_parameter_group
        if parameter_group:
            params["TargetDBParameterGroupName"] = parameter_group
        return self._blue_green(self._call("CreateBlueGreenDeployment", **params)["BlueGreenDeployment"])

    def switchover(self, identifier: str, timeout_seconds: int) -> None:
        self._call(
            "SwitchoverBlueGreenDeployment",
            BlueGreenDeploymentIdentifier=identifier,
            SwitchoverTimeout=timeout_seconds,
        )

    def delete_blue_green(self, identifier: str, *, delete_target: bool) -> None:
        self._call("DeleteBlueGreenDeployment", BlueGreenDeploymentIdentifier=identifier, DeleteTarget=delete_target)

    def reboot_instance(self, identifier: str) -> None:
        self._call("RebootDBInstance", DBInstanceIdentifier=identifier)

    def create_cluster_snapshot(self, identifier: str, cluster: str, tags: dict[str, str]) -> None:
        self._call(
            "CreateDBClusterSnapshot",
            DBClusterSnapshotIdentifier=identifier,
            DBClusterIdentifier=cluster,
            Tags=_to_tags(tags),
        )

    def disable_deletion_protection(self, cluster: str) -> None:
        self._call("ModifyDBCluster", DBClusterIdentifier=cluster, DeletionProtection=False, ApplyImmediately=True)

    def delete_instance(self, identifier: str) -> None:
        # Aurora instances have no snapshots of their own: the cluster's final snapshot covers data.
        self._call("DeleteDBInstance", DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)

    def delete_cluster(self, identifier: str, final_snapshot: str | None) -> None:
        params: dict[str, Any] = {"DBClusterIdentifier": identifier}
        if final_snapshot:
            params["FinalDBSnapshotIdentifier"] = final_snapshot
        else:
            params["SkipFinalSnapshot"] = True
        self._call("DeleteDBCluster", **params)


def _snake(operation: str) -> str:
    """'DescribeDBClusters' -> 'describe_db_clusters', the way botocore names methods."""
    return str(xform_name(operation))
