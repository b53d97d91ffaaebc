"""AWS behaviour moto lacks, as subclasses of moto's RDS backend, models and responses.

Built against moto 5.2.5 (`MOTO_VERSION`); it subclasses `moto.rds.models.RDSBackend`,
`DBCluster`, `DBInstanceClustered` and `moto.rds.responses.RDSResponse`, and relies on
moto's attribute-name based response serializer. This is the only module that reaches into
moto; everything else in the simulator goes through it.

How it is wired: `install()` makes moto's RDS registry (`rds_backends`) build
`SimRDSBackend`s, and `create_backend_app()` routes moto's RDS HTTP endpoint to
`SimRDSResponse`. Every request runs under one lock: first the timeline advances (every
delayed transition that is due takes effect), then moto answers, then the call is
recorded. State therefore advances on read, with no background thread, and every answer
is consistent with the ones before it.

Gaps filled (moto 5.2.5 behaviour -> what AWS documents and this simulator does):

- DescribeDBEngineVersions: not implemented by moto -> aurora-postgresql 15.x/16.x with
  ValidUpgradeTarget (IsMajorVersionUpgrade) and DBParameterGroupFamily (see `catalog`);
  an unknown version gives an empty list.
- CreateBlueGreenDeployment: moto answers PROVISIONING but is AVAILABLE on the next read,
  names green resources `<name>-green-<6 letters>`, checks no prerequisite -> the name is
  validated (AWS's pattern, 1-60 chars) and unique per region; the target version must be a
  valid upgrade target, the target parameter groups must exist and be of the target
  version's family; green cluster `<cluster>-green-<6 lowercase alnum>` and instances
  `<instance>-green-<same 6>` are `creating` at the target version with the target
  parameter groups until PROVISIONING ends (SimConfig.provisioning_seconds); Tasks and
  SwitchoverDetails (one entry per cluster and instance) follow progress; for a short
  window the new deployment is not found by Describe (eventual consistency); a source
  cluster whose parameter group lacks rds.logical_replication=1, or whose writer has
  cluster parameters pending reboot, ends in INVALID_CONFIGURATION after a quarter of the
  provisioning time, with a StatusDetails text in AWS's wording; its green resources stay
  until the deployment is deleted with DeleteTarget; a Secrets-Manager-managed master
  password is refused (SourceClusterNotSupportedFault).
- DescribeBlueGreenDeployments: the not-yet-visible deployment is hidden from filters too;
  unknown filter names are refused.
- SwitchoverBlueGreenDeployment: moto renames only the clusters, at once, and leaves
  instances with their green names -> SWITCHOVER_IN_PROGRESS for
  SimConfig.switchover_seconds, then the green cluster AND its instances take the original
  names, blue ones get `-old1` (`-old2`... if taken); resource ids stay; the production
  endpoint keeps its DNS name. SwitchoverTimeout (30-3600) is honoured: a switchover longer
  than it fails with SWITCHOVER_FAILED and changes nothing. Refused unless AVAILABLE with
  blue and green resources available.
- DeleteBlueGreenDeployment: moto deletes at once and allows DeleteTarget after switchover
  -> DeleteTarget=true is refused once SWITCHOVER_COMPLETED (and while switching over); the
  green instances, then the green cluster, are `deleting` for SimConfig.delete_seconds; the
  deployment shows DELETING, then disappears. A green cluster with deletion protection is
  refused, as AWS documents.
- RebootDBInstance: moto does nothing -> refused unless `available`; `rebooting` for
  SimConfig.reboot_seconds, then
  `available`, pending-reboot parameters become in-sync (DB parameter group and the
  cluster member's DBClusterParameterGroupStatus), and a "DB instance restarted" event.
  ModifyDB(Cluster)ParameterGroup with ApplyMethod pending-reboot marks the instances that
  use the group pending-reboot.
- DescribeEvents: moto ignores StartTime/EndTime/Duration/EventCategories -> honoured, with
  AWS's default of the past hour.
- CreateDBClusterSnapshot: moto is `available` at once -> `creating` for
  SimConfig.snapshot_seconds; refused unless the cluster is available.
- DeleteDBInstance / DeleteDBCluster: moto removes at once -> `deleting` for
  SimConfig.delete_seconds, then gone; DeleteDBCluster is refused while the cluster has
  instances not being deleted, and requires SkipFinalSnapshot or FinalDBSnapshotIdentifier
  (the final snapshot appears). Deletion protection is refused (moto already does).
- Every instance has its own DbiResourceId (moto gives all the same one); a cluster's
  status no longer flips from `creating` to `available` on first read; DescribeDBInstances
  and DescribeDBClusters list in identifier order; DescribeDBClusterParameters honours
  Source.
- Error codes follow botocore's model where moto's differ (InvalidDBInstanceState,
  DBClusterParameterGroupNotFound).
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.core.utils import convert_to_flask_response, utcnow
from moto.moto_server.werkzeug_app import create_backend_app as moto_create_backend_app
from moto.rds import urls as moto_rds_urls
from moto.rds.exceptions import (
    BlueGreenDeploymentAlreadyExistsFault,
    BlueGreenDeploymentNotFoundFault,
    DBClusterNotFoundError,
    DBClusterToBeDeletedHasActiveMembers,
    DBInstanceAlreadyExists,
    DBInstanceNotFoundError,
    InvalidDBClusterStateFault,
    InvalidDBInstanceEngine,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
    SourceClusterNotSupportedFault,
)
from moto.rds.models import (
    DBCluster,
    DBClusterParameterGroup,
    DBClusterSnapshot,
    DBInstance,
    DBInstanceClustered,
    DBParameterGroup,
    Event,
    RDSBackend,
    RDSBaseModel,
    rds_backends,
)
from moto.rds.responses import RDSResponse
from moto.utilities.utils import ARN_PARTITION_REGEX, CaseInsensitiveDict

from . import catalog
from .config import SimConfig
from .recorder import CallRecorder

MOTO_VERSION = "5.2.5"

# AWS's rule for blue/green deployment names.
_BG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*")
# An invalid source configuration is reported after this share of provisioning_seconds.
INVALID_CONFIGURATION_AFTER = 0.25
_DOCS_PREPARING_POSTGRES = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
    "blue-green-deployments-creating.html#blue-green-deployments-creating-preparing-postgres"
)


# --------------------------------------------------------------------------- the simulation


@dataclass
class Faults:
    """Failures a scenario asks for that no request parameter can cause."""

    switchover_fails: bool = False


@dataclass
class Simulation:
    """What the patched backend needs besides moto's state: delays, faults, the record."""

    config: SimConfig
    recorder: CallRecorder
    faults: Faults = field(default_factory=Faults)
    # One lock for every request: moto's models are not thread-safe, and a request must
    # see the timeline advanced exactly up to its own arrival.
    lock: threading.RLock = field(default_factory=threading.RLock)


_active: Simulation | None = None


def install(simulation: Simulation) -> None:
    """Make moto's RDS registry build simulated backends, starting from empty state.

    moto keeps its state in process-wide registries, so one simulation runs per process.
    """
    global _active
    if _active is not None:
        raise RuntimeError("a simulated RDS is already running in this process (moto's state is global)")
    _active = simulation
    rds_backends.clear()
    rds_backends.backend = SimRDSBackend


def uninstall() -> None:
    """Drop the simulated state and give moto its own RDS backend back."""
    global _active
    rds_backends.clear()
    rds_backends.backend = RDSBackend
    _active = None


def active() -> Simulation:
    if _active is None:
        raise RuntimeError("no simulated RDS is installed")
    return _active


def backend_for(account_id: str, region: str) -> SimRDSBackend:
    backend = rds_backends[account_id][region]
    assert isinstance(backend, SimRDSBackend)
    return backend


def _sim_backends() -> Iterator[SimRDSBackend]:
    # Copies: moto may create a regional backend lazily from another request thread.
    for account in list(rds_backends.values()):
        for backend in list(account.values()):
            if isinstance(backend, SimRDSBackend):
                yield backend


def advance_all() -> None:
    """Apply every delayed transition that is due, in every region."""
    now = time.monotonic()
    for backend in _sim_backends():
        backend.timeline.advance(now)


# ------------------------------------------------------------------------------ the clock


@dataclass(order=True)
class _Due:
    """A transition due at monotonic time `at`; `label` names it for whoever debugs the heap."""

    at: float
    seq: int
    label: str = field(compare=False)
    action: Callable[[datetime], None] = field(compare=False)


class Timeline:
    """Delayed transitions, applied in due order when a request arrives.

    An action receives the wall-clock time it was due, so events carry the time the change
    happened rather than the time somebody looked.
    """

    def __init__(self) -> None:
        self._due: list[_Due] = []
        self._seq = itertools.count()

    def after(self, seconds: float, label: str, action: Callable[[datetime], None]) -> None:
        heapq.heappush(self._due, _Due(time.monotonic() + seconds, next(self._seq), label, action))

    def advance(self, now: float) -> None:
        wall_now = datetime.now(UTC)
        while self._due and self._due[0].at <= now:
            item = heapq.heappop(self._due)
            item.action(wall_now - timedelta(seconds=now - item.at))


# ----------------------------------------------------------------------------- errors


def _invalid_instance_state(message: str) -> RDSClientError:
    # moto's InvalidDBInstanceStateFault uses a code botocore does not know.
    return RDSClientError("InvalidDBInstanceState", message)


def _invalid_bg_state(message: str) -> RDSClientError:
    # moto's InvalidBlueGreenDeploymentStateFault always blames an invalid configuration.
    return RDSClientError("InvalidBlueGreenDeploymentStateFault", message)


def _random_suffix(length: int) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=length))


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# ----------------------------------------------------------------------------- models


class SimEvent(Event):
    """An RDS event the simulator emits itself (moto's Event only knows a fixed table)."""

    def __init__(
        self,
        source_identifier: str,
        source_type: str,
        source_arn: str,
        message: str,
        categories: list[str],
        date: datetime,
    ) -> None:
        self.source_identifier = source_identifier
        self.source_type = source_type
        self.source_arn = source_arn
        self.message = message
        self.event_categories = categories
        self.date = date


class SimDBCluster(DBCluster):
    """A cluster whose status is what the simulator sets, with per-member parameter status."""

    @property
    def status(self) -> str:
        # moto reports `creating` once and then `available`; here status is plain state.
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

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
        backend: SimRDSBackend,
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
        self.create_time = utcnow()
        self.delete_time: datetime | None = None
        self.tags = tags
        self._started = time.monotonic()
        self._provisioning_seconds = config.provisioning_seconds
        self._visible_at = self._started + config.not_found_after_create_seconds
        self._failed_at: float | None = None
        self._status_before_delete = self.status
        self._tasks = [
            (task, end) for task, end in _PROVISIONING_TASKS if upgrades_engine or task != "DB_ENGINE_VERSION_UPGRADE"
        ]

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
        if status == "INVALID_CONFIGURATION":
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

    def fail_configuration(self, reason: str) -> None:
        self._failed_at = INVALID_CONFIGURATION_AFTER
        self.status = "INVALID_CONFIGURATION"
        self.status_details = reason

    def mark_deleting(self) -> None:
        self._status_before_delete = self.status
        self.status = "DELETING"
        self.delete_time = utcnow()


# ---------------------------------------------------------------------------- backend


class SimRDSBackend(RDSBackend):
    """moto's RDS backend with AWS's timing and the blue/green behaviour of Aurora."""

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
        self.timeline = Timeline()

    @property
    def _url_module(self) -> Any:
        # moto looks for the URL table next to the backend class's module; it is moto's own.
        return moto_rds_urls

    @property
    def config(self) -> SimConfig:
        return active().config

    def holds(self, resource: RDSBaseModel) -> bool:
        """Whether `resource` still exists here (under whatever name it has now)."""
        if isinstance(resource, DBCluster):
            return self.clusters.get(resource.db_cluster_identifier) is resource
        if isinstance(resource, DBInstance):
            return self.databases.get(resource.db_instance_identifier) is resource
        return False

    def add_sim_event(
        self, resource_id: str, source_type: str, arn: str, message: str, categories: list[str], at: datetime
    ) -> None:
        self.events.append(SimEvent(resource_id, source_type, arn, message, categories, at))

    # ---- clusters and instances

    def create_db_cluster(self, kwargs: dict[str, Any]) -> DBCluster:
        cluster_id = kwargs["db_cluster_identifier"]
        if cluster_id in self.clusters:
            raise RDSClientError("DBClusterAlreadyExistsFault", f"DB Cluster {cluster_id} already exists")
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

    def describe_db_instances(self, db_instance_identifier: str | None = None, filters: Any = None) -> list[DBInstance]:
        found = super().describe_db_instances(db_instance_identifier, filters)
        return sorted(found, key=lambda db: db.db_instance_identifier)

    def describe_db_clusters(self, db_cluster_identifier: str | None = None, filters: Any = None) -> list[DBCluster]:
        found = super().describe_db_clusters(db_cluster_identifier, filters)
        return sorted(found, key=lambda cluster: cluster.db_cluster_identifier)

    def modify_db_cluster(self, kwargs: dict[str, Any]) -> DBCluster:
        cluster = self._cluster(kwargs["db_cluster_identifier"])
        new_identifier = kwargs.get("new_db_cluster_identifier")
        changes = {k: v for k, v in kwargs.items() if k != "new_db_cluster_identifier"}
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
            raise _invalid_instance_state(f"DB instance {db_instance_identifier} is not in available state.")
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

        self.timeline.after(self.config.reboot_seconds, f"reboot {db_instance_identifier}", rebooted)
        return database

    def delete_db_instance(
        self,
        db_instance_identifier: str,
        final_db_snapshot_identifier: str | None = None,
        skip_final_snapshot: bool | None = False,
        delete_automated_backups: bool | None = True,
    ) -> DBInstance:
        self._validate_db_identifier(db_instance_identifier)
        database = self.databases.get(db_instance_identifier)
        if database is None:
            raise DBInstanceNotFoundError(db_instance_identifier)
        if not isinstance(database, SimDBInstance):
            return super().delete_db_instance(
                db_instance_identifier, final_db_snapshot_identifier, skip_final_snapshot, delete_automated_backups
            )
        if database.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try again."
            )
        if database.status == "deleting":
            raise _invalid_instance_state(f"DB instance {db_instance_identifier} is already being deleted.")
        self._start_deleting_instance(database)
        return database

    def delete_db_cluster(
        self,
        cluster_identifier: str,
        snapshot_name: str | None = None,
        skip_final_snapshot: bool = False,
    ) -> DBCluster:
        cluster = self._cluster(cluster_identifier)
        if cluster.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected Cluster, please disable deletion protection and try again."
            )
        if cluster.status == "deleting":
            raise InvalidDBClusterStateFault(f"DB cluster {cluster_identifier} is already being deleted.")
        if any(member.status != "deleting" for member in cluster.members):
            raise DBClusterToBeDeletedHasActiveMembers()
        if skip_final_snapshot and snapshot_name:
            raise InvalidParameterCombination("FinalDBSnapshotIdentifier can't be specified with SkipFinalSnapshot.")
        if not skip_final_snapshot and not snapshot_name:
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
            )
        if snapshot_name:
            self.create_db_cluster_snapshot(cluster.db_cluster_identifier, snapshot_name)
        self._start_deleting_cluster(cluster, self.config.delete_seconds)
        return cluster

    def create_db_cluster_snapshot(
        self,
        db_cluster_identifier: str,
        db_cluster_snapshot_identifier: str,
        snapshot_type: str = "manual",
        tags: list[dict[str, str]] | None = None,
    ) -> DBClusterSnapshot:
        manual = snapshot_type == "manual"
        if manual:
            cluster = self._cluster(db_cluster_identifier)
            if cluster.status != "available":
                raise InvalidDBClusterStateFault(
                    f"DB cluster {db_cluster_identifier} is not in the available state (it is {cluster.status})."
                )
        snapshot = super().create_db_cluster_snapshot(
            db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags
        )
        if manual:
            snapshot.status = "creating"
            snapshot.percent_progress = 0

            def completed(at: datetime) -> None:
                if snapshot.status == "creating":
                    snapshot.status = "available"
                    snapshot.percent_progress = 100

            self.timeline.after(self.config.snapshot_seconds, f"snapshot {db_cluster_snapshot_identifier}", completed)
        return snapshot

    # ---- parameters

    def modify_db_cluster_parameter_group(
        self,
        db_cluster_parameter_group_name: str,
        db_cluster_parameter_group_parameters: Iterable[dict[str, Any]],
    ) -> DBClusterParameterGroup:
        parameters = [{"Source": "user", **p} for p in db_cluster_parameter_group_parameters]
        group = super().modify_db_cluster_parameter_group(db_cluster_parameter_group_name, parameters)
        if any(p.get("ApplyMethod") == "pending-reboot" for p in parameters):
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
        parameters = [{"Source": "user", **p} for p in db_parameter_group_parameters]
        group = super().modify_db_parameter_group(db_parameter_group_name, parameters)
        if any(p.get("ApplyMethod") == "pending-reboot" for p in parameters):
            for database in self.databases.values():
                if isinstance(database, SimDBInstance) and database.db_parameter_group_name == group.name:
                    database.parameter_apply_status = "pending-reboot"
        return group

    # ---- events

    def describe_events(
        self,
        source_identifier: str | None = None,
        source_type: str | None = None,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        duration: int | None = None,
        event_categories: list[str] | None = None,
        **_: Any,
    ) -> list[Event]:
        events = super().describe_events(source_identifier=source_identifier, source_type=source_type)
        now = datetime.now(UTC)
        start = _parse_time(start_time)
        end = _parse_time(end_time)
        if start is not None and end is None and duration is not None:
            end = start + timedelta(minutes=int(duration))
        if start is None:
            start = (end or now) - timedelta(minutes=int(duration) if duration is not None else 60)
        end = end or now
        selected = [
            event
            for event in events
            if start <= _as_utc(event.date) <= end
            and (not event_categories or set(event.event_categories) & set(event_categories))
        ]
        return sorted(selected, key=lambda event: _as_utc(event.date))

    # ---- blue/green deployments

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
        if instance_group:
            self._target_db_parameter_group(instance_group, family)
        else:
            for member in blue.members:
                if member.db_parameter_group_name:
                    self._target_db_parameter_group(member.db_parameter_group_name, family)
        problem = self._logical_replication_problem(blue)

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
                self.config.provisioning_seconds * INVALID_CONFIGURATION_AFTER,
                f"{deployment.resource_id} invalid configuration",
                lambda at: self._provisioning_failed(deployment, problem, at),
            )
        else:
            self.timeline.after(
                self.config.provisioning_seconds,
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
            raise _invalid_bg_state(
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
            raise _invalid_bg_state(
                f"The blue/green deployment {deployment.resource_id} can't be switched over because "
                f"{_name(not_ready[0])} is {not_ready[0].status}."
            )
        deployment.status = "SWITCHOVER_IN_PROGRESS"
        duration = self.config.switchover_seconds
        if active().faults.switchover_fails or duration > timeout:
            self.timeline.after(
                min(duration, timeout),
                f"{deployment.resource_id} switchover failed",
                lambda at: self._switchover_failed(deployment, timeout, at),
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
            raise _invalid_bg_state(f"The blue/green deployment {deployment.resource_id} is already being deleted.")
        if status == "SWITCHOVER_IN_PROGRESS":
            raise _invalid_bg_state(
                f"The blue/green deployment {deployment.resource_id} can't be deleted during a switchover."
            )
        if delete_target and status == "SWITCHOVER_COMPLETED":
            raise _invalid_bg_state(
                f"You can't specify DeleteTarget for blue/green deployment {deployment.resource_id} "
                "because its status is SWITCHOVER_COMPLETED."
            )
        green = deployment.green
        delete_green = bool(delete_target) and self.holds(green)
        if delete_green and green.deletion_protection:
            raise InvalidParameterCombination(
                f"Cannot delete protected Cluster {green.db_cluster_identifier}, please disable deletion "
                "protection and try again."
            )
        deployment.mark_deleting()
        delay = self.config.delete_seconds
        if delete_green:
            for member in green.members:
                if member.status != "deleting":
                    self._start_deleting_instance(member)
            self._start_deleting_cluster(green, 2 * delay)
            delay *= 2

        def gone(at: datetime) -> None:
            self.sim_deployments.pop(deployment.resource_id, None)

        self.timeline.after(delay, f"{deployment.resource_id} deleted", gone)
        return deployment

    # ---- helpers

    def _deployment(self, identifier: str) -> SimBlueGreenDeployment:
        deployment = self.sim_deployments.get(identifier)
        if deployment is None:
            raise BlueGreenDeploymentNotFoundFault(identifier)
        return deployment

    def _cluster(self, identifier: str) -> SimDBCluster:
        cluster = self.clusters.get(identifier)
        if not isinstance(cluster, SimDBCluster):
            raise DBClusterNotFoundError(identifier)
        return cluster

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
        if cluster.status != "available":
            raise InvalidDBClusterStateFault(f"DB cluster {identifier} is not in the available state.")
        return cluster

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
        if family and group.db_parameter_group_family != family:
            raise InvalidParameterCombination(
                f"The DB cluster parameter group {name} has family {group.db_parameter_group_family}, "
                f"which is not compatible with the target engine version (family {family})."
            )
        return group

    def _target_db_parameter_group(self, name: str, family: str | None) -> None:
        group = self.db_parameter_groups.get(name)
        if group is None:
            if name.startswith("default."):
                return
            raise RDSClientError("DBParameterGroupNotFound", f"DB Parameter Group {name} not found.")
        if family and group.family != family:
            raise InvalidParameterCombination(
                f"The DB parameter group {name} has family {group.family}, "
                f"which is not compatible with the target engine version (family {family})."
            )

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
            }
        )
        assert isinstance(green, SimDBCluster)
        green.status = "creating"
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

    def _green_resources(self, deployment: SimBlueGreenDeployment) -> list[Any]:
        return [deployment.green, *(green for _blue, green in deployment.member_pairs)]

    def _provisioned(self, deployment: SimBlueGreenDeployment, at: datetime) -> None:
        if deployment.status != "PROVISIONING":
            return
        for resource in self._green_resources(deployment):
            if resource.status == "creating":
                resource.status = "available"
        deployment.status = "AVAILABLE"
        self.add_sim_event(
            deployment.resource_id,
            "blue-green-deployment",
            deployment.arn,
            "Blue/green deployment tasks completed. You can make more modifications to the green "
            "environment databases or switch over the deployment.",
            ["creation"],
            at,
        )

    def _provisioning_failed(self, deployment: SimBlueGreenDeployment, reason: str, at: datetime) -> None:
        if deployment.status != "PROVISIONING":
            return
        for resource in self._green_resources(deployment):
            if resource.status == "creating":
                resource.status = "available"
        deployment.fail_configuration(reason)
        self.add_sim_event(deployment.resource_id, "blue-green-deployment", deployment.arn, reason, ["failure"], at)

    def _switchover_failed(self, deployment: SimBlueGreenDeployment, timeout: int, at: datetime) -> None:
        if deployment.status != "SWITCHOVER_IN_PROGRESS":
            return
        deployment.status = "SWITCHOVER_FAILED"
        deployment.status_details = (
            f"Switchover didn't complete within the switchover timeout of {timeout} seconds. "
            "Changes were rolled back, and no changes were made to the environments."
        )
        self.add_sim_event(
            deployment.resource_id,
            "blue-green-deployment",
            deployment.arn,
            deployment.status_details,
            ["failure"],
            at,
        )

    def _switched_over(self, deployment: SimBlueGreenDeployment, at: datetime) -> None:
        if deployment.status != "SWITCHOVER_IN_PROGRESS":
            return
        blue, green = deployment.blue, deployment.green
        production_name = blue.db_cluster_identifier
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
        message = (
            f"Switchover from DB cluster {blue.db_cluster_identifier} to {green.db_cluster_identifier} was completed."
        )
        self.add_sim_event(deployment.resource_id, "blue-green-deployment", deployment.arn, message, [], at)
        self.add_sim_event(production_name, "db-cluster", green.arn, message, ["notification"], at)

    @staticmethod
    def _old_name(name: str, taken: Any) -> str:
        for n in itertools.count(1):
            candidate = f"{name}-old{n}"
            if candidate not in taken:
                return candidate
        raise AssertionError("unreachable")

    def _rename_cluster(self, cluster: DBCluster, new_identifier: str) -> None:
        if new_identifier.lower() != cluster.db_cluster_identifier and new_identifier in self.clusters:
            raise RDSClientError("DBClusterAlreadyExistsFault", f"DB Cluster {new_identifier} already exists")
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

    def _start_deleting_instance(self, database: DBInstance) -> None:
        database.status = "deleting"

        def gone(at: datetime) -> None:
            if self.holds(database):
                del self.databases[database.db_instance_identifier]

        self.timeline.after(self.config.delete_seconds, f"delete {database.db_instance_identifier}", gone)

    def _start_deleting_cluster(self, cluster: SimDBCluster, delay: float) -> None:
        cluster.status = "deleting"

        def gone(at: datetime) -> None:
            if not self.holds(cluster):
                return
            if cluster.members:
                # Instances first: look again once they are gone.
                self.timeline.after(self.config.delete_seconds, f"delete {cluster.db_cluster_identifier}", gone)
                return
            del self.clusters[cluster.db_cluster_identifier]
            for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
                if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_arn == cluster.arn:
                    del self.cluster_snapshots[snapshot_id]

        self.timeline.after(delay, f"delete {cluster.db_cluster_identifier}", gone)


_BG_FILTERS = {
    "blue-green-deployment-identifier": "blue_green_deployment_identifier",
    "blue-green-deployment-name": "blue_green_deployment_name",
    "source": "source",
    "target": "target",
}


def _name(resource: Any) -> str:
    if isinstance(resource, DBCluster):
        return f"DB cluster {resource.db_cluster_identifier}"
    return f"DB instance {resource.db_instance_identifier}"


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


# --------------------------------------------------------------------------- responses


class SimRDSResponse(RDSResponse):
    """moto's RDS responses, serialized under the simulation lock and recorded."""

    def call_action(self) -> TYPE_RESPONSE:
        simulation = active()
        with simulation.lock:
            advance_all()
            operation = self._get_action()
            params = {
                key: values[0] if len(values) == 1 else values
                for key, values in self.querystring.items()
                if key not in ("Action", "Version")
            }
            try:
                status, headers, body = super().call_action()
            except NotImplementedError:
                simulation.recorder.record(operation, params, "NotImplemented")
                raise
            simulation.recorder.record(operation, params, _outcome(status, body))
        return status, headers, body

    def describe_db_engine_versions(self) -> ActionResult:
        versions = catalog.describe(
            engine=self.params.get("Engine"),
            engine_version=self.params.get("EngineVersion"),
            family=self.params.get("DBParameterGroupFamily"),
            default_only=bool(self.params.get("DefaultOnly")),
        )
        return ActionResult({"DBEngineVersions": versions})

    def describe_db_cluster_parameters(self) -> ActionResult:
        parameters = self.backend.describe_db_cluster_parameters(self.params.get("DBClusterParameterGroupName"))
        source = self.params.get("Source")
        if source:
            parameters = [p for p in parameters if p.get("Source", "user") == source]
        return ActionResult({"Parameters": parameters})

    def delete_db_cluster(self) -> ActionResult:
        backend = self.backend
        assert isinstance(backend, SimRDSBackend)
        cluster = backend.delete_db_cluster(
            cluster_identifier=self.params.get("DBClusterIdentifier"),
            snapshot_name=self.params.get("FinalDBSnapshotIdentifier"),
            skip_final_snapshot=bool(self.params.get("SkipFinalSnapshot")),
        )
        return ActionResult({"DBCluster": cluster})

    def describe_blue_green_deployments(self) -> ActionResult:
        backend = self.backend
        assert isinstance(backend, SimRDSBackend)
        filters = {f["Name"]: list(f["Values"]) for f in self.params.get("Filters", [])}
        deployments = backend.describe_blue_green_deployments(self.params.get("BlueGreenDeploymentIdentifier"), filters)
        return ActionResult({"BlueGreenDeployments": deployments})


def _outcome(status: int, body: Any) -> str:
    if status < 400:
        return "ok"
    text = body.decode() if isinstance(body, bytes) else str(body)
    match = re.search(r"<Code>([^<]+)</Code>", text)
    return match.group(1) if match else f"HTTP{status}"


def create_backend_app(service: str) -> Flask:
    """moto's Flask app for `service`, with RDS answered by SimRDSResponse."""
    app = moto_create_backend_app(service)  # type: ignore[arg-type]
    if service == "rds":
        endpoint = "RDSResponse.dispatch"
        if endpoint not in app.view_functions:
            raise RuntimeError(f"moto {MOTO_VERSION}'s RDS route {endpoint!r} not found; check the moto version")
        app.view_functions[endpoint] = convert_to_flask_response(SimRDSResponse.dispatch)
    return app
