"""AWS's answers as the engine's values (aurora_upgrade.resources): the one place that knows
the shapes of RDS's describe answers, so no decision sees a boto3 dict."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aurora_upgrade.resources import (
    BlueGreen,
    Cluster,
    ClusterMember,
    EngineVersion,
    GlobalCluster,
    Instance,
    RdsEvent,
    Snapshot,
)


def tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def cluster(c: dict[str, Any]) -> Cluster:
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
        port=int(c.get("Port") or 5432),
        iam_database_authentication=bool(c.get("IAMDatabaseAuthenticationEnabled")),
    )


def instance(i: dict[str, Any]) -> Instance:
    return Instance(
        identifier=i["DBInstanceIdentifier"],
        cluster=i.get("DBClusterIdentifier"),
        engine_version=i.get("EngineVersion", ""),
        status=i.get("DBInstanceStatus", ""),
        parameter_groups=tuple(
            (g.get("DBParameterGroupName", ""), g.get("ParameterApplyStatus", "in-sync"))
            for g in i.get("DBParameterGroups", [])
        ),
        created_at=i.get("InstanceCreateTime"),
    )


def engine_version(v: dict[str, Any], engine: str, version: str) -> EngineVersion:
    return EngineVersion(
        engine=v.get("Engine", engine),
        version=v.get("EngineVersion", version),
        family=v.get("DBParameterGroupFamily", ""),
        valid_targets=tuple(
            (t["EngineVersion"], bool(t.get("IsMajorVersionUpgrade"))) for t in v.get("ValidUpgradeTarget", [])
        ),
        status=v.get("Status", "available"),
    )


def global_cluster(g: dict[str, Any], identifier: str) -> GlobalCluster:
    return GlobalCluster(
        identifier=g.get("GlobalClusterIdentifier", identifier),
        members=tuple((m.get("DBClusterArn", ""), bool(m.get("IsWriter"))) for m in g.get("GlobalClusterMembers", [])),
    )


def blue_green(b: dict[str, Any]) -> BlueGreen:
    return BlueGreen(
        identifier=b["BlueGreenDeploymentIdentifier"],
        name=b.get("BlueGreenDeploymentName", ""),
        source=b.get("Source", ""),
        target=b.get("Target"),
        status=b.get("Status", ""),
        status_details=b.get("StatusDetails"),
        tags=tags(b.get("TagList")),
        tasks=tuple((t.get("Name", ""), t.get("Status", "")) for t in b.get("Tasks", [])),
        switchover_details=tuple(
            (d.get("SourceMember", ""), d.get("Status", "")) for d in b.get("SwitchoverDetails", [])
        ),
    )


def snapshot(s: dict[str, Any]) -> Snapshot:
    return Snapshot(
        identifier=s["DBClusterSnapshotIdentifier"],
        cluster=s.get("DBClusterIdentifier", ""),
        status=s.get("Status", ""),
        percent_progress=int(s.get("PercentProgress", 0) or 0),
        tags=tags(s.get("TagList")),
    )


def event(e: dict[str, Any]) -> RdsEvent:
    date = e.get("Date") or datetime.now(UTC)
    return RdsEvent(
        source_identifier=str(e.get("SourceIdentifier", "")),
        source_type=str(e.get("SourceType", "")),
        message=str(e.get("Message", "")),
        date=date if date.tzinfo else date.replace(tzinfo=UTC),
    )
