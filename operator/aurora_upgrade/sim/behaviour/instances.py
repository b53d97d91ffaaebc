"""Clusters and instances: creation, listing order, renames, reboots, parameter apply status."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBInstanceAlreadyExists,
    DBInstanceNotFoundError,
    InvalidDBInstanceEngine,
)
from moto.rds.models import DBCluster, DBClusterParameterGroup, DBInstance, DBInstanceClustered, DBParameterGroup

from .base import SimBackendBase
from .errors import cluster_already_exists, invalid_instance_state
from .simulation import active, database_endpoint


class SimDBCluster(DBCluster):
    """A cluster whose status is what the simulator sets, with per-member parameter status, and
    whose endpoint answers the database server of its side where the simulation names one."""

    # blue: made by the scenario or CreateDBCluster; green: made by a blue/green deployment.
    database_side = "blue"

    @property
    def endpoint(self) -> str:
        server = database_endpoint(self.database_side)
        return server.host if server else super().endpoint

    @property
    def reader_endpoint(self) -> str:
        server = database_endpoint(self.database_side)
        return server.host if server else super().reader_endpoint

    @property
    def port(self) -> int:
        server = database_endpoint(self.database_side)
        return server.port if server else self._port

    @port.setter
    def port(self, value: int) -> None:
        self._port = value

    @property
    def status(self) -> str:
        # moto reports `creating` once and then `available`; here status is plain state.
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    @property
    def _members(self) -> list[DBInstanceClustered]:
        index = getattr(self.backend, "members_index", None)
        if index is None:
            return super()._members
        return list(index.get(self.resource_id.lower(), ()))

    @property
    def db_cluster_members(self) -> list[dict[str, Any]]:
        return [
            {
                "DBInstanceIdentifier": member.db_instance_identifier,
                "IsClusterWriter": member.is_cluster_writer,
                "DBClusterParameterGroupStatus": getattr(member, "cluster_parameter_apply_status", "in-sync"),
                "PromotionTier": member.promotion_tier,
            }
            for member in self.members
        ]


class SimDBInstance(DBInstanceClustered):
    """An Aurora instance with its own resource id and parameter apply statuses."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dbi_resource_id = "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))
        # DBParameterGroups[].ParameterApplyStatus, and DBClusterMembers[] status of the
        # cluster parameter group: in-sync, pending-reboot.
        self.parameter_apply_status = "in-sync"
        self.cluster_parameter_apply_status = "in-sync"

    @property
    def db_parameter_group_status_list(self) -> list[dict[str, str]]:
        return [
            {"DBParameterGroupName": group.name, "ParameterApplyStatus": self.parameter_apply_status}
            for group in self.db_parameter_groups()
        ]

    # An Aurora instance's endpoint reaches the same database as its cluster's (one server per
    # side here), and IAM database authentication is the cluster's setting.

    @property
    def address(self) -> str:
        server = database_endpoint(self._side)
        return server.host if server else super().address

    @property
    def port(self) -> int:
        server = database_endpoint(self._side)
        return server.port if server else self._port

    @port.setter
    def port(self, value: int) -> None:
        self._port = value

    @property
    def iam_database_authentication_enabled(self) -> bool:
        return bool(getattr(self._cluster, "iam_auth", False))

    @property
    def _cluster(self) -> DBCluster | None:
        # moto's DBInstance.__init__ reads the port before DBInstanceClustered sets `cluster`.
        return getattr(self, "cluster", None)

    @property
    def _side(self) -> str:
        return getattr(self._cluster, "database_side", "blue")


class InstancesAndReboots(SimBackendBase):
    """Aurora clusters and their instances: state that only the simulator changes, and reboots."""

    def create_db_cluster(self, kwargs: dict[str, Any]) -> DBCluster:
        cluster_id = kwargs["db_cluster_identifier"]
        if cluster_id in self.clusters:
            raise cluster_already_exists(cluster_id)
        cluster = SimDBCluster(self, **kwargs)
        cluster.status = "available"
        self.clusters[cluster_id] = cluster
        cluster.save_automated_backup()
        return cluster

    def create_db_instance(self, db_kwargs: dict[str, Any]) -> DBInstance:
        if db_kwargs.get("db_cluster_identifier") is None:
            return super().create_db_instance(db_kwargs)
        database_id = db_kwargs["db_instance_identifier"]
        if database_id in self.databases:
            raise DBInstanceAlreadyExists()
        self._validate_db_identifier(database_id)
        # moto's CloudFormation hooks are abstract on its models and unused here.
        database = SimDBInstance(backend=self, **db_kwargs)  # type: ignore[abstract]
        if database.engine != database.cluster.engine:
            raise InvalidDBInstanceEngine(str(database.engine), str(database.cluster.engine))
        self.databases[database_id] = database
        database.add_event("DB_INSTANCE_CREATE")
        database.save_automated_backup()
        return database

    # moto finds even one resource by scanning the Region's; a fleet's describes asked by
    # identifier or by cluster identifier are looked up instead, with moto's own matching
    # (case-insensitive identifiers). Anything else (ARNs, other filters) goes to moto.

    def describe_db_instances(self, db_instance_identifier: str | None = None, filters: Any = None) -> list[DBInstance]:
        if db_instance_identifier and not filters:
            database = self.databases.get(db_instance_identifier)
            if database is None:
                raise DBInstanceNotFoundError(db_instance_identifier)
            return [database]
        values = _plain_values(filters, "db-cluster-id")
        if db_instance_identifier is None and values is not None:
            members = self.members_index if self.members_index is not None else self.group_members()
            found: list[DBInstance] = [i for value in values for i in members.get(value, ())]
        else:
            found = super().describe_db_instances(db_instance_identifier, filters)
        return sorted(found, key=lambda db: db.db_instance_identifier)

    def describe_db_clusters(self, db_cluster_identifier: str | None = None, filters: Any = None) -> list[DBCluster]:
        # AWS's db-cluster-resource-id filter, which moto lacks: matched here, the rest by moto.
        filters = dict(filters or {})
        resource_ids = filters.pop("db-cluster-resource-id", None)
        values = _plain_values(filters, "db-cluster-id")
        if db_cluster_identifier is None and values is not None:
            found = [c for c in (self.clusters.get(v) for v in values) if c is not None]
        elif db_cluster_identifier is None and not filters and resource_ids is not None:
            found = list(self.clusters.values())
        else:
            found = super().describe_db_clusters(db_cluster_identifier, filters or None)
        if resource_ids is not None:
            found = [c for c in found if c.db_cluster_resource_id in resource_ids]
        return sorted(found, key=lambda cluster: cluster.db_cluster_identifier)

    def modify_db_cluster(self, kwargs: dict[str, Any]) -> DBCluster:
        cluster = self._cluster(kwargs["db_cluster_identifier"])
        new_identifier = kwargs.get("new_db_cluster_identifier")
        changes = {k: v for k, v in kwargs.items() if k != "new_db_cluster_identifier"}
        # moto stores EnableIAMDatabaseAuthentication where IAMDatabaseAuthenticationEnabled is not read.
        iam_auth = changes.pop("enable_iam_database_authentication", None)
        if iam_auth is not None:
            cluster.iam_auth = bool(iam_auth)
        status = cluster.status
        result = super().modify_db_cluster(changes)
        # moto sets `available` whatever the cluster was doing.
        cluster.status = status
        if new_identifier:
            self._rename_cluster(cluster, new_identifier)
        return result

    def reboot_db_instance(self, db_instance_identifier: str) -> DBInstance:
        database = self.describe_db_instances(db_instance_identifier)[0]
        if database.status != "available":
            raise invalid_instance_state(f"DB instance {db_instance_identifier} is not in available state.")
        database.status = "rebooting"

        def rebooted(at: datetime) -> None:
            if not self.holds(database) or database.status != "rebooting":
                return
            database.status = "available"
            if isinstance(database, SimDBInstance):
                database.parameter_apply_status = "in-sync"
                database.cluster_parameter_apply_status = "in-sync"
            self.add_sim_event(
                database.db_instance_identifier,
                "db-instance",
                database.arn,
                "DB instance restarted",
                ["availability"],
                at,
            )

        if not active().faults.reboot_hangs:
            self.timeline.after(
                self.config.seconds("reboot", db_instance_identifier), f"reboot {db_instance_identifier}", rebooted
            )
        return database

    def modify_db_cluster_parameter_group(
        self,
        db_cluster_parameter_group_name: str,
        db_cluster_parameter_group_parameters: Iterable[dict[str, Any]],
    ) -> DBClusterParameterGroup:
        parameters, pending_reboot = _user_parameters(db_cluster_parameter_group_parameters)
        group = super().modify_db_cluster_parameter_group(db_cluster_parameter_group_name, parameters)
        if pending_reboot:
            for cluster in self.clusters.values():
                if cluster.db_cluster_parameter_group == group.name:
                    for member in cluster.members:
                        if isinstance(member, SimDBInstance):
                            member.cluster_parameter_apply_status = "pending-reboot"
        return group

    def modify_db_parameter_group(
        self,
        db_parameter_group_name: str,
        db_parameter_group_parameters: Iterable[dict[str, Any]],
    ) -> DBParameterGroup:
        parameters, pending_reboot = _user_parameters(db_parameter_group_parameters)
        group = super().modify_db_parameter_group(db_parameter_group_name, parameters)
        if pending_reboot:
            for database in self.databases.values():
                if isinstance(database, SimDBInstance) and database.db_parameter_group_name == group.name:
                    database.parameter_apply_status = "pending-reboot"
        return group

    def _cluster(self, identifier: str) -> SimDBCluster:
        cluster = self.clusters.get(identifier)
        if not isinstance(cluster, SimDBCluster):
            raise DBClusterNotFoundError(identifier)
        return cluster

    def _rename_cluster(self, cluster: DBCluster, new_identifier: str) -> None:
        if new_identifier.lower() != cluster.db_cluster_identifier and new_identifier in self.clusters:
            raise cluster_already_exists(new_identifier)
        members = list(cluster.members)
        del self.clusters[cluster.db_cluster_identifier]
        cluster.db_cluster_identifier = new_identifier
        self.clusters[cluster.db_cluster_identifier] = cluster
        for member in members:
            member.db_cluster_identifier = cluster.db_cluster_identifier

    def _rename_instance(self, database: DBInstance, new_identifier: str) -> None:
        del self.databases[database.db_instance_identifier]
        database.db_instance_identifier = new_identifier
        self.databases[database.db_instance_identifier] = database


def _user_parameters(parameters: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """The parameters with the Source AWS gives what a user set, and whether any waits for a reboot."""
    listed = [{"Source": "user", **p} for p in parameters]
    return listed, any(p.get("ApplyMethod") == "pending-reboot" for p in listed)


def _plain_values(filters: Any, name: str) -> list[str] | None:
    """The lower-cased, distinct values of `filters` when it is only `name` with plain
    identifiers (no ARN), else None."""
    if not filters or set(filters) != {name}:
        return None
    values = list(dict.fromkeys(str(v).lower() for v in filters[name]))
    return None if any(v.startswith("arn:") for v in values) else values
