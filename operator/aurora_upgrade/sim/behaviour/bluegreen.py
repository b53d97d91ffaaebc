"""Blue/green deployments of Aurora clusters: create, describe, switch over, delete."""

from __future__ import annotations

import contextlib
import itertools
import random
import re
import string
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from moto.core.utils import utcnow
from moto.rds.exceptions import (
    BlueGreenDeploymentAlreadyExistsFault,
    BlueGreenDeploymentNotFoundFault,
    DBClusterNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
    SourceClusterNotSupportedFault,
)
from moto.rds.models import (
    DBCluster,
    DBClusterParameterGroup,
    DBInstance,
    DBInstanceClustered,
    GlobalCluster,
    RDSBaseModel,
    rds_backends,
)
from moto.utilities.utils import ARN_PARTITION_REGEX, CaseInsensitiveDict

from .. import catalog
from ..config import Happening
from .base import SimBackendBase
from .deletions import SnapshotsAndDeletions
from .errors import cluster_quota_exceeded, deletion_protected, invalid_bg_state
from .instances import SimDBCluster, SimDBInstance
from .simulation import active

# AWS's rule for blue/green deployment names.
_BG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*")
# DescribeBlueGreenDeployments' filter names, and the attribute each one matches.
_BG_FILTERS = {
    "blue-green-deployment-identifier": "blue_green_deployment_identifier",
    "blue-green-deployment-name": "blue_green_deployment_name",
    "source": "source",
    "target": "target",
}
# An invalid source configuration is reported after this share of provisioning_seconds.
INVALID_CONFIGURATION_AFTER = 0.25
# StatusDetails of the injected failures (Faults), in the words of AWS's own failure messages.
_INVALID_CONFIGURATION_FAULT = (
    "Creation of blue/green deployment failed because replication from the blue environment couldn't be "
    "set up. Resolve the issues, then delete and recreate the blue/green deployment."
)
_PROVISIONING_FAILED_FAULT = (
    "Creation of blue/green deployment failed while provisioning the green environment. "
    "Delete the blue/green deployment, then try again."
)
_DOCS_PREPARING_POSTGRES = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
    "blue-green-deployments-creating.html#blue-green-deployments-creating-preparing-postgres"
)
# Provisioning tasks with the share of provisioning time each ends at.
_PROVISIONING_TASKS = (
    ("CREATING_READ_REPLICA_OF_SOURCE", 0.4),
    ("DB_ENGINE_VERSION_UPGRADE", 0.7),
    ("CREATE_DB_INSTANCES_FOR_CLUSTER", 0.9),
    ("CONFIGURE_BACKUPS", 1.0),
)


class SimBlueGreenDeployment(RDSBaseModel):
    """A blue/green deployment of an Aurora cluster, as DescribeBlueGreenDeployments shows it.

    It keeps references to the blue and green resources rather than their names, so Source,
    Target and SwitchoverDetails follow the renames of a switchover.
    """

    resource_type = "deployment"

    def __init__(
        self,
        backend: SimBackendBase,
        name: str,
        blue: SimDBCluster,
        green: SimDBCluster,
        member_pairs: list[tuple[DBInstance, DBInstance]],
        upgrades_engine: bool,
        tags: list[dict[str, str]],
    ) -> None:
        super().__init__(backend)
        config = active().config
        self.sim_backend = backend
        self.blue_green_deployment_identifier = "bgd-" + _random_suffix(16)
        self.blue_green_deployment_name = name
        self.blue = blue
        self.green = green
        self.member_pairs = member_pairs
        self.status = "PROVISIONING"
        self.status_details: str | None = None
        self.create_time = utcnow() + active().aws.offset  # on AWS's clock
        self.delete_time: datetime | None = None
        self.tags = tags
        self._started = time.monotonic()
        self._provisioning_seconds = config.seconds("provisioning", blue.db_cluster_identifier)
        self._visible_at = self._started + config.not_found_after_create_seconds
        self._failed_at: float | None = None
        self._status_before_delete = self.status
        self._tasks = [
            (task, end) for task, end in _PROVISIONING_TASKS if upgrades_engine or task != "DB_ENGINE_VERSION_UPGRADE"
        ]

    @property
    def provisioning_seconds(self) -> float:
        """How long this deployment provisions (SimConfig.seconds, per blue cluster)."""
        return self._provisioning_seconds

    @property
    def resource_id(self) -> str:
        return self.blue_green_deployment_identifier

    @property
    def source(self) -> str:
        return self.blue.arn

    @property
    def target(self) -> str:
        return self.green.arn

    def visible(self, now: float) -> bool:
        return now >= self._visible_at

    @property
    def tasks(self) -> list[dict[str, str]]:
        if self.status == "PROVISIONING":
            elapsed = time.monotonic() - self._started
            progress = elapsed / self._provisioning_seconds if self._provisioning_seconds else 1.0
        elif self._failed_at is not None:
            progress = self._failed_at
        else:
            progress = 1.0
        result = []
        start = 0.0
        for task, end in self._tasks:
            if progress >= end:
                status = "COMPLETED"
            elif progress >= start:
                status = "FAILED" if self._failed_at is not None else "IN_PROGRESS"
            else:
                status = "PENDING"
            result.append({"Name": task, "Status": status})
            start = end
        return result

    @property
    def switchover_details(self) -> list[dict[str, str]]:
        status = self._status_before_delete if self.status == "DELETING" else self.status
        if status in ("INVALID_CONFIGURATION", "PROVISIONING_FAILED"):
            status = "PROVISIONING"
        pairs: list[tuple[RDSBaseModel, RDSBaseModel]] = [(self.blue, self.green), *self.member_pairs]
        details = []
        for source, target in pairs:
            member_status = status
            if not self.sim_backend.holds(source):
                member_status = "MISSING_SOURCE"
            elif not self.sim_backend.holds(target):
                member_status = "MISSING_TARGET"
            details.append({"SourceMember": source.arn, "TargetMember": target.arn, "Status": member_status})
        return details

    def fail_configuration(self, reason: str, status: str = "INVALID_CONFIGURATION") -> None:
        self._failed_at = INVALID_CONFIGURATION_AFTER
        self.status = status
        self.status_details = reason

    def mark_deleting(self) -> None:
        self._status_before_delete = self.status
        self.status = "DELETING"
        self.delete_time = utcnow() + active().aws.offset


class BlueGreenDeployments(SnapshotsAndDeletions):
    """Blue/green deployments with AWS's prerequisites, provisioning time, switchover and deletion."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        # moto's ARN pattern does not know blue/green deployments, so tags could not reach them.
        self.arn_regex = re.compile(
            ARN_PARTITION_REGEX + r":rds:.*:[0-9]*:(db|cluster|es|og|pg|ri|secgrp|snapshot|cluster-snapshot|subgrp"
            r"|db-proxy|cluster-pg|deployment):.*$"
        )
        # Our deployments live apart from moto's, whose model this simulator replaces.
        self.sim_deployments: MutableMapping[str, SimBlueGreenDeployment] = CaseInsensitiveDict()
        self.resource_map[SimBlueGreenDeployment] = self.sim_deployments

    def create_blue_green_deployment(self, bg_kwargs: dict[str, Any]) -> SimBlueGreenDeployment:  # type: ignore[override]
        name = bg_kwargs.get("blue_green_deployment_name") or ""
        if not (1 <= len(name) <= 60 and _BG_NAME.fullmatch(name)):
            raise InvalidParameterValue(
                f"The parameter BlueGreenDeploymentName is not valid: {name!r}. It must be 1 to 60 "
                "alphanumeric characters or hyphens, begin with a letter, and not end with a hyphen "
                "or contain two consecutive hyphens."
            )
        for existing in self.sim_deployments.values():
            if existing.blue_green_deployment_name == name:
                raise BlueGreenDeploymentAlreadyExistsFault(name)
        blue = self._source_cluster(bg_kwargs.get("source") or "")
        self._check_source_free(blue)
        target_version = bg_kwargs.get("target_engine_version") or blue.engine_version
        upgrades_engine = target_version != blue.engine_version
        if upgrades_engine and catalog.is_valid_upgrade(blue.engine_version, target_version) is None:
            raise InvalidParameterCombination(
                f"Cannot upgrade {blue.engine} from {blue.engine_version} to {target_version}."
            )
        family = catalog.family_of(target_version)
        cluster_group = self._target_cluster_parameter_group(
            bg_kwargs.get("target_db_cluster_parameter_group_name") or blue.db_cluster_parameter_group, family
        )
        instance_group = bg_kwargs.get("target_db_parameter_group_name")
        db_groups = (
            [instance_group]
            if instance_group
            else sorted({m.db_parameter_group_name for m in blue.members if m.db_parameter_group_name})
        )
        for group_name in db_groups:
            self._target_db_parameter_group(group_name, family)
        self._check_groups_in_other_regions(blue, cluster_group.name, db_groups)
        problem = self._logical_replication_problem(blue)
        if problem is None and active().faults.invalid_configuration:
            problem = _INVALID_CONFIGURATION_FAULT
        quota = active().cluster_quota
        if quota is not None and len(self.clusters) + 1 > quota:
            raise cluster_quota_exceeded(quota)

        suffix = _random_suffix(6)
        green = self._create_green_cluster(blue, f"{blue.db_cluster_identifier}-green-{suffix}", target_version)
        green.parameter_group = cluster_group.name
        pairs: list[tuple[DBInstance, DBInstance]] = []
        for member in blue.members:
            pairs.append((member, self._create_green_instance(member, green, suffix, instance_group)))
        tags = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in bg_kwargs.get("tags") or []]
        deployment = SimBlueGreenDeployment(self, name, blue, green, pairs, upgrades_engine, tags)
        self.sim_deployments[deployment.blue_green_deployment_identifier] = deployment

        if problem:
            self.timeline.after(
                deployment.provisioning_seconds * INVALID_CONFIGURATION_AFTER,
                f"{deployment.resource_id} invalid configuration",
                lambda at: self._provisioning_failed(deployment, problem, at),
            )
        elif active().faults.provisioning_fails:
            self.timeline.after(
                deployment.provisioning_seconds,
                f"{deployment.resource_id} provisioning failed",
                lambda at: self._provisioning_failed(deployment, _PROVISIONING_FAILED_FAULT, at, "PROVISIONING_FAILED"),
            )
        else:
            self.timeline.after(
                deployment.provisioning_seconds,
                f"{deployment.resource_id} provisioned",
                lambda at: self._provisioned(deployment, at),
            )
        return deployment

    def describe_blue_green_deployments(  # type: ignore[override]
        self,
        blue_green_deployment_identifier: str | None = None,
        filters: dict[str, list[str]] | None = None,
    ) -> list[SimBlueGreenDeployment]:
        now = time.monotonic()
        deployments = [d for d in self.sim_deployments.values() if d.visible(now)]
        if blue_green_deployment_identifier:
            wanted = blue_green_deployment_identifier.lower()
            deployments = [d for d in deployments if d.blue_green_deployment_identifier == wanted]
            if not deployments:
                raise BlueGreenDeploymentNotFoundFault(blue_green_deployment_identifier)
        for filter_name, values in (filters or {}).items():
            attribute = _BG_FILTERS.get(filter_name)
            if attribute is None:
                raise InvalidParameterValue(f"Unrecognized filter name: {filter_name}")
            deployments = [d for d in deployments if getattr(d, attribute) in values]
        return deployments

    def switchover_blue_green_deployment(  # type: ignore[override]
        self, blue_green_deployment_identifier: str, switchover_timeout: int | None = 300
    ) -> SimBlueGreenDeployment:
        deployment = self._deployment(blue_green_deployment_identifier)
        timeout = 300 if switchover_timeout is None else int(switchover_timeout)
        if not 30 <= timeout <= 3600:
            raise InvalidParameterValue(f"SwitchoverTimeout must be between 30 and 3600 seconds, got {timeout}.")
        if deployment.status != "AVAILABLE":
            raise invalid_bg_state(
                f"The blue/green deployment {deployment.resource_id} can't be switched over "
                f"because its status is {deployment.status}."
            )
        resources: list[DBCluster | DBInstance] = [
            deployment.blue,
            deployment.green,
            *itertools.chain(*deployment.member_pairs),
        ]
        not_ready = [resource for resource in resources if resource.status != "available"]
        if not_ready:
            raise invalid_bg_state(
                f"The blue/green deployment {deployment.resource_id} can't be switched over because "
                f"{_name(not_ready[0])} is {not_ready[0].status}."
            )
        deployment.status = "SWITCHOVER_IN_PROGRESS"
        blue, green = deployment.blue.db_cluster_identifier, deployment.green.db_cluster_identifier
        started = datetime.now(UTC)
        self._deployment_event(deployment, f"Switchover from {blue} to {green} started.", ["notification"], started)
        self.add_sim_event(
            blue,
            "db-cluster",
            deployment.blue.arn,
            f"Switchover from DB cluster {blue} to {green} started.",
            ["notification"],
            started,
        )
        duration = self.config.seconds("switchover", blue)
        if active().faults.switchover_fails or duration > timeout:
            self.timeline.after(
                min(duration, timeout),
                f"{deployment.resource_id} switchover failed",
                lambda at: self._switchover_failed(deployment, timeout, at),
            )
        elif active().aws.take_rollback():
            self.timeline.after(
                min(duration, active().aws.config.switchover_rollback_seconds),
                f"{deployment.resource_id} switchover rolled back",
                lambda at: self._switchover_rolled_back(deployment, at),
            )
        else:
            self.timeline.after(
                duration,
                f"{deployment.resource_id} switched over",
                lambda at: self._switched_over(deployment, at),
            )
        return deployment

    def delete_blue_green_deployment(  # type: ignore[override]
        self, blue_green_deployment_identifier: str, delete_target: bool = False
    ) -> SimBlueGreenDeployment:
        deployment = self._deployment(blue_green_deployment_identifier)
        status = deployment.status
        if status == "DELETING":
            raise invalid_bg_state(f"The blue/green deployment {deployment.resource_id} is already being deleted.")
        if status == "SWITCHOVER_IN_PROGRESS":
            raise invalid_bg_state(
                f"The blue/green deployment {deployment.resource_id} can't be deleted during a switchover."
            )
        if delete_target and status == "SWITCHOVER_COMPLETED":
            raise invalid_bg_state(
                f"You can't specify DeleteTarget for blue/green deployment {deployment.resource_id} "
                "because its status is SWITCHOVER_COMPLETED."
            )
        green = deployment.green
        delete_green = bool(delete_target) and self.holds(green)
        if delete_green and green.deletion_protection:
            raise deletion_protected(f"Cluster {green.db_cluster_identifier}")
        deployment.mark_deleting()
        delay = self.config.seconds("delete", deployment.blue.db_cluster_identifier)
        if delete_green:
            for member in green.members:
                if member.status != "deleting":
                    self._start_deleting_instance(member)
            self._start_deleting_cluster(green, 2 * delay)
            delay *= 2

        def gone(at: datetime) -> None:
            self.sim_deployments.pop(deployment.resource_id, None)
            self._deployment_event(deployment, "Blue/green deployment deleted.", ["deletion"], at)

        self.timeline.after(delay, f"{deployment.resource_id} deleted", gone)
        return deployment

    def _deployment(self, identifier: str) -> SimBlueGreenDeployment:
        deployment = self.sim_deployments.get(identifier)
        if deployment is None:
            raise BlueGreenDeploymentNotFoundFault(identifier)
        return deployment

    def _source_cluster(self, source_arn: str) -> SimDBCluster:
        match = re.fullmatch(r"arn:[\w-]+:rds:([\w-]+):(\d{12}):(cluster|db):(.+)", source_arn)
        if match is None:
            raise InvalidParameterValue(f"The parameter Source is not a valid ARN: {source_arn}")
        region, account, kind, identifier = match.groups()
        if kind != "cluster":
            raise RDSClientError(
                "SourceDatabaseNotSupportedFault",
                f"The simulator only supports Aurora DB clusters as a blue/green source: {source_arn}",
            )
        if (region, account) != (self.region_name, self.account_id):
            raise DBClusterNotFoundError(identifier)
        cluster = self._cluster(identifier)
        if cluster.manage_master_user_password:
            raise SourceClusterNotSupportedFault(cluster.arn)
        unsupported = self._unsupported_source(cluster)
        if unsupported:
            raise RDSClientError("SourceClusterNotSupportedFault", unsupported)
        if cluster.status != "available":
            raise InvalidDBClusterStateFault(f"DB cluster {identifier} is not in the available state.")
        return cluster

    def _unsupported_source(self, cluster: SimDBCluster) -> str | None:
        """Why AWS's limitations page rules this source out (Serverless v1, cross-Region read
        replicas, a version below the blue/green minimum, a global database secondary), or None."""
        if cluster.engine_mode == "serverless":
            return f"Blue/green deployments aren't supported for Aurora Serverless v1 DB cluster {cluster.arn}."
        if cluster.read_replica_identifiers or cluster.replication_source_identifier:
            return (
                f"Blue/green deployments aren't supported for DB cluster {cluster.arn} with cross-Region read replicas."
            )
        if not catalog.supports_blue_green(cluster.engine_version):
            return (
                f"Blue/green deployments aren't supported for {cluster.engine} version {cluster.engine_version}; "
                f"the minimum is {catalog.blue_green_minimum(cluster.engine_version)}."
            )
        global_cluster = self._global_cluster_of(cluster)
        if global_cluster is not None and not cluster.is_writer:
            return (
                f"DB cluster {cluster.arn} is a secondary cluster of global database "
                f"{global_cluster.global_cluster_identifier}; create the blue/green deployment from its primary."
            )
        return None

    def all_global_clusters(self) -> list[GlobalCluster]:
        """The account's global clusters, whichever Region's backend holds them."""
        return [g for backend in list(rds_backends[self.account_id].values()) for g in backend.global_clusters.values()]

    def remove_from_global_cluster(self, global_cluster_identifier: str, db_cluster_identifier: str) -> GlobalCluster:
        """The cluster (by ARN, as AWS takes it) leaves the global database and stands alone: it no
        longer shows a GlobalClusterIdentifier (moto keeps it, and looks in this Region only)."""
        wanted = global_cluster_identifier.lower()
        found = next((g for g in self.all_global_clusters() if g.global_cluster_identifier == wanted), None)
        if found is None:
            raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {global_cluster_identifier} not found.")
        member = next((c for c in found.members if db_cluster_identifier in (c.arn, c.db_cluster_identifier)), None)
        if member is None:
            raise DBClusterNotFoundError(db_cluster_identifier)
        found.members.remove(member)
        member.global_cluster_identifier = None
        return found

    def _global_cluster_of(self, cluster: SimDBCluster) -> GlobalCluster | None:
        wanted = cluster.global_cluster_identifier
        return next((g for g in self.all_global_clusters() if wanted and g.global_cluster_identifier == wanted), None)

    def _check_groups_in_other_regions(self, blue: SimDBCluster, cluster_group: str, db_groups: list[str]) -> None:
        """A global database's green environment needs its parameter groups in every Region."""
        global_cluster = self._global_cluster_of(blue)
        for member in global_cluster.members if global_cluster else []:
            region = member.db_cluster_arn.split(":")[3]
            if region == self.region_name:
                continue
            backend = rds_backends[self.account_id][region]
            if cluster_group not in backend.db_cluster_parameter_groups:
                raise RDSClientError(
                    "DBClusterParameterGroupNotFound", f"DBClusterParameterGroup not found in {region}: {cluster_group}"
                )
            for group in db_groups:
                if group not in backend.db_parameter_groups:
                    raise RDSClientError(
                        "DBParameterGroupNotFound", f"DB Parameter Group {group} not found in {region}."
                    )

    def _check_source_free(self, cluster: SimDBCluster) -> None:
        for deployment in self.sim_deployments.values():
            if deployment.status == "DELETING":
                continue
            if deployment.blue is cluster:
                raise InvalidDBClusterStateFault(
                    f"DB cluster {cluster.db_cluster_identifier} is already the source of blue/green "
                    f"deployment {deployment.resource_id}."
                )
            if deployment.green is cluster and deployment.status != "SWITCHOVER_COMPLETED":
                raise InvalidDBClusterStateFault(
                    f"DB cluster {cluster.db_cluster_identifier} is the green environment of blue/green "
                    f"deployment {deployment.resource_id}."
                )

    def _target_cluster_parameter_group(self, name: str, family: str | None) -> DBClusterParameterGroup:
        group = self.db_cluster_parameter_groups.get(name)
        if group is None:
            raise RDSClientError("DBClusterParameterGroupNotFound", f"DBClusterParameterGroup not found: {name}")
        _check_family("DB cluster parameter group", name, group.db_parameter_group_family, family)
        return group

    def _target_db_parameter_group(self, name: str, family: str | None) -> None:
        group = self.db_parameter_groups.get(name)
        if group is None:
            if name.startswith("default."):
                return
            raise RDSClientError("DBParameterGroupNotFound", f"DB Parameter Group {name} not found.")
        _check_family("DB parameter group", name, group.family, family)

    def _logical_replication_problem(self, cluster: SimDBCluster) -> str | None:
        """AWS's StatusDetails when the source can't feed a green environment, else None."""
        group = self.db_cluster_parameter_groups.get(cluster.db_cluster_parameter_group)
        value = group.parameters.get("rds.logical_replication", {}).get("ParameterValue") if group else None
        if value != "1":
            return (
                "Creation of blue/green deployment failed due to incompatible parameter(s): "
                f"[rds.logical_replication] .See {_DOCS_PREPARING_POSTGRES} to help resolve the issues, "
                "then delete and recreate the blue/green deployment."
            )
        writer = cluster.writer
        if isinstance(writer, SimDBInstance) and writer.cluster_parameter_apply_status != "in-sync":
            return (
                "Creation of blue/green deployment failed because the writer DB instance "
                f"{writer.db_instance_identifier} isn't in sync with the DB cluster parameter group "
                f"{cluster.db_cluster_parameter_group}. Reboot the writer DB instance, then delete and "
                "recreate the blue/green deployment."
            )
        return None

    def _create_green_cluster(self, blue: SimDBCluster, identifier: str, engine_version: str) -> SimDBCluster:
        green = self.create_db_cluster(
            {
                "db_cluster_identifier": identifier,
                "engine": blue.engine,
                "engine_version": engine_version,
                "master_username": blue.master_username,
                "master_user_password": blue._master_user_password,
                "database_name": blue.database_name,
                "port": blue.port,
                "deletion_protection": blue.deletion_protection,
                "storage_encrypted": blue.storage_encrypted,
                "kms_key_id": blue.kms_key_id,
                "backup_retention_period": blue.backup_retention_period,
                "preferred_backup_window": blue.preferred_backup_window,
                "preferred_maintenance_window": blue.preferred_maintenance_window,
                "db_subnet_group_name": blue.db_subnet_group_name,
                "vpc_security_group_ids": list(blue.vpc_security_group_ids),
                "availability_zones": list(blue.availability_zones or []),
                "copy_tags_to_snapshot": blue.copy_tags_to_snapshot,
                "enable_cloudwatch_logs_exports": list(blue.enabled_cloudwatch_logs_exports),
                "tags": [dict(tag) for tag in blue.tags],
                "enable_iam_database_authentication": bool(blue.iam_auth),
            }
        )
        assert isinstance(green, SimDBCluster)
        green.status = "creating"
        green.database_side = "green"
        return green

    def _create_green_instance(
        self, blue_member: DBInstance, green: SimDBCluster, suffix: str, parameter_group: str | None
    ) -> DBInstance:
        kwargs: dict[str, Any] = {
            "db_instance_identifier": f"{blue_member.db_instance_identifier}-green-{suffix}",
            "db_instance_class": blue_member.db_instance_class,
            "engine": blue_member.engine,
            "db_cluster_identifier": green.db_cluster_identifier,
            "promotion_tier": getattr(blue_member, "promotion_tier", 1),
            "availability_zone": blue_member.availability_zone,
            "publicly_accessible": blue_member.publicly_accessible,
            "tags": [dict(tag) for tag in blue_member.tags],
        }
        if parameter_group or blue_member.db_parameter_group_name:
            kwargs["db_parameter_group_name"] = parameter_group or blue_member.db_parameter_group_name
        member = self.create_db_instance(kwargs)
        if isinstance(member, DBInstanceClustered) and isinstance(blue_member, DBInstanceClustered):
            member.is_cluster_writer = blue_member.is_cluster_writer
        member.status = "creating"
        return member

    def _end_provisioning(self, deployment: SimBlueGreenDeployment) -> bool:
        """Make the green resources available; False if provisioning had already ended."""
        if deployment.status != "PROVISIONING":
            return False
        green: list[DBCluster | DBInstance] = [deployment.green, *(g for _blue, g in deployment.member_pairs)]
        for resource in green:
            if resource.status == "creating":
                resource.status = "available"
        return True

    def _provisioned(self, deployment: SimBlueGreenDeployment, at: datetime) -> None:
        if not self._end_provisioning(deployment):
            return
        deployment.status = "AVAILABLE"
        self._deployment_event(
            deployment,
            "Blue/green deployment tasks completed. You can make more modifications to the green "
            "environment databases or switch over the deployment.",
            ["creation"],
            at,
        )

    def _provisioning_failed(
        self, deployment: SimBlueGreenDeployment, reason: str, at: datetime, status: str = "INVALID_CONFIGURATION"
    ) -> None:
        if not self._end_provisioning(deployment):
            return
        deployment.fail_configuration(reason, status)
        self._deployment_event(deployment, reason, ["failure"], at)

    def _switchover_failed(self, deployment: SimBlueGreenDeployment, timeout: int, at: datetime) -> None:
        if deployment.status != "SWITCHOVER_IN_PROGRESS":
            return
        deployment.status = "SWITCHOVER_FAILED"
        deployment.status_details = (
            f"Switchover didn't complete within the switchover timeout of {timeout} seconds. "
            "Changes were rolled back, and no changes were made to the environments."
        )
        self._deployment_event(deployment, deployment.status_details, ["failure"], at)
        self._switchover_canceled(deployment, f"the switchover timeout of {timeout} seconds.", at)

    def _switchover_rolled_back(self, deployment: SimBlueGreenDeployment, at: datetime) -> None:
        """AWS canceled a switchover it had started (FaultConfig.switchover_rollbacks): nothing
        renamed, the deployment AVAILABLE again, RDS-EVENT-0249 and 0261 emitted."""
        if deployment.status != "SWITCHOVER_IN_PROGRESS":
            return
        deployment.status = "AVAILABLE"
        self._switchover_canceled(deployment, "replica lag on the green environment. Changes were rolled back.", at)

    def _switchover_canceled(self, deployment: SimBlueGreenDeployment, reason: str, at: datetime) -> None:
        """RDS-EVENT-0249 for the deployment and, for the cluster, RDS-EVENT-0261 with `reason`."""
        self._deployment_event(deployment, "Switchover canceled on blue/green deployment.", ["failure"], at)
        blue, green = deployment.blue.db_cluster_identifier, deployment.green.db_cluster_identifier
        self.add_sim_event(
            blue,
            "db-cluster",
            deployment.blue.arn,
            f"Switchover from DB cluster {blue} to {green} was canceled due to {reason}",
            ["failure"],
            at,
        )

    def happen(self, happening: Happening, at: datetime) -> None:
        """What someone else does at a chosen moment (FaultConfig.happenings)."""
        cluster = happening.cluster or active().aws.default_cluster or ""
        active().aws.count(happening.kind)
        if happening.kind == "delete-deployment":
            # Runbook step 9.1 done by hand in the console: DeleteBlueGreenDeployment, no target.
            for deployment in list(self.sim_deployments.values()):
                with contextlib.suppress(RDSClientError):
                    self.delete_blue_green_deployment(deployment.resource_id, delete_target=False)
        elif happening.kind == "add-reader":
            self.autoscaling_adds_reader(cluster)
        elif happening.kind == "remove-reader":
            self.reader_removed(cluster)
        else:
            super().happen(happening, at)

    def _switched_over(self, deployment: SimBlueGreenDeployment, at: datetime) -> None:
        if deployment.status != "SWITCHOVER_IN_PROGRESS":
            return
        blue, green = deployment.blue, deployment.green
        production_name, green_name = blue.db_cluster_identifier, green.db_cluster_identifier
        instance_names = [(b, g, b.db_instance_identifier) for b, g in deployment.member_pairs]
        # Blue first, so its names are free when green takes them.
        self._rename_cluster(blue, self._old_name(production_name, self.clusters))
        for blue_member, _green, name in instance_names:
            if self.holds(blue_member):
                self._rename_instance(blue_member, self._old_name(name, self.databases))
        self._rename_cluster(green, production_name)
        for _blue, green_member, name in instance_names:
            if self.holds(green_member):
                self._rename_instance(green_member, name)
        # The endpoints move with the names: production keeps its DNS name.
        blue.url_identifier, green.url_identifier = green.url_identifier, blue.url_identifier
        deployment.status = "SWITCHOVER_COMPLETED"
        # RDS-EVENT-0260 for the cluster (under the names it had), RDS-EVENT-0248 for the deployment.
        message = (
            f"Switchover from DB cluster {production_name} to {green_name} completed. "
            f"Renamed {production_name} to {blue.db_cluster_identifier} and {green_name} to {production_name}."
        )
        self.add_sim_event(production_name, "db-cluster", green.arn, message, ["notification"], at)
        self._deployment_event(deployment, "Switchover completed on blue/green deployment.", ["notification"], at)

    @staticmethod
    def _old_name(name: str, taken: Any) -> str:
        for n in itertools.count(1):
            candidate = f"{name}-old{n}"
            if candidate not in taken:
                return candidate
        raise AssertionError("unreachable")

    def _deployment_event(
        self, deployment: SimBlueGreenDeployment, message: str, categories: list[str], at: datetime
    ) -> None:
        self.add_sim_event(deployment.resource_id, "blue-green-deployment", deployment.arn, message, categories, at)


def _name(resource: Any) -> str:
    if isinstance(resource, DBCluster):
        return f"DB cluster {resource.db_cluster_identifier}"
    return f"DB instance {resource.db_instance_identifier}"


def _check_family(kind: str, name: str, group_family: str | None, family: str | None) -> None:
    if family and group_family != family:
        raise InvalidParameterCombination(
            f"The {kind} {name} has family {group_family}, "
            f"which is not compatible with the target engine version (family {family})."
        )


def _random_suffix(length: int) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=length))
