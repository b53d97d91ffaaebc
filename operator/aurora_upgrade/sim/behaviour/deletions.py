"""Cluster snapshots and deletions of instances and clusters, which take time as on AWS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from moto.rds.exceptions import (
    DBClusterToBeDeletedHasActiveMembers,
    DBInstanceNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
)
from moto.rds.models import DBCluster, DBClusterSnapshot, DBInstance

from .errors import deletion_protected, invalid_instance_state
from .instances import InstancesAndReboots, SimDBCluster, SimDBInstance
from .simulation import active


class SnapshotsAndDeletions(InstancesAndReboots):
    """Snapshots that are `creating` for a while; instances and clusters `deleting`, then gone."""

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
            raise deletion_protected("DB Instance")
        if database.status == "deleting":
            raise invalid_instance_state(f"DB instance {db_instance_identifier} is already being deleted.")
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
            raise deletion_protected("Cluster")
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
        self._start_deleting_cluster(cluster, self.config.seconds("delete", cluster.db_cluster_identifier))
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
            snapshot.created += active().aws.offset  # SnapshotCreateTime, on AWS's clock
            snapshot.status = "creating"
            snapshot.percent_progress = 0
            # RDS-EVENT-0074 and RDS-EVENT-0075, source type db-cluster-snapshot.
            arn = snapshot.db_cluster_snapshot_arn
            self.add_sim_event(
                db_cluster_snapshot_identifier,
                "db-cluster-snapshot",
                arn,
                "Creating manual cluster snapshot.",
                ["backup"],
                datetime.now(UTC),
            )

            def completed(at: datetime) -> None:
                if snapshot.status == "creating":
                    snapshot.status = "available"
                    snapshot.percent_progress = 100
                    self.add_sim_event(
                        db_cluster_snapshot_identifier,
                        "db-cluster-snapshot",
                        arn,
                        "Manual cluster snapshot created.",
                        ["backup"],
                        at,
                    )

            if not active().faults.snapshot_hangs:
                self.timeline.after(
                    self.config.seconds("snapshot", db_cluster_identifier),
                    f"snapshot {db_cluster_snapshot_identifier}",
                    completed,
                )
        return snapshot

    def autoscaling_adds_reader(self, cluster_identifier: str) -> DBInstance | None:
        """Aurora Auto Scaling adds a reader: `application-autoscaling-<uuid>`, the writer's
        instance class and parameter group, promotion tier 15; `creating` for `reboot_seconds`."""
        cluster = self.clusters.get(cluster_identifier)
        if cluster is None or not cluster.members:
            return None
        writer = next((m for m in cluster.members if m.is_cluster_writer), cluster.members[0])
        identifier = f"application-autoscaling-{uuid.uuid4()}"
        kwargs: dict[str, Any] = {
            "db_instance_identifier": identifier,
            "db_instance_class": writer.db_instance_class,
            "engine": writer.engine,
            "db_cluster_identifier": cluster.db_cluster_identifier,
            "promotion_tier": 15,
        }
        if writer.db_parameter_group_name:
            kwargs["db_parameter_group_name"] = writer.db_parameter_group_name
        reader = self.create_db_instance(kwargs)
        reader.status = "creating"

        def created(at: datetime) -> None:
            if self.holds(reader) and reader.status == "creating":
                reader.status = "available"

        self.timeline.after(self.config.reboot_seconds, f"created {identifier}", created)
        return reader

    def reader_removed(self, cluster_identifier: str) -> DBInstance | None:
        """A reader of the cluster goes (`deleting`, then gone): one Aurora Auto Scaling added if
        any (it removes only those), else the last by name, as a person would remove it."""
        cluster = self.clusters.get(cluster_identifier)
        readers = sorted(
            (m for m in (cluster.members if cluster else []) if not m.is_cluster_writer and m.status != "deleting"),
            key=lambda m: (m.db_instance_identifier.startswith("application-autoscaling-"), m.db_instance_identifier),
        )
        if not readers:
            return None
        self._start_deleting_instance(readers[-1])
        return readers[-1]

    def _start_deleting_instance(self, database: DBInstance) -> None:
        database.status = "deleting"

        def gone(at: datetime) -> None:
            if self.holds(database):
                del self.databases[database.db_instance_identifier]

        self.timeline.after(
            self.config.seconds("delete", database.db_instance_identifier),
            f"delete {database.db_instance_identifier}",
            gone,
        )

    def _start_deleting_cluster(self, cluster: SimDBCluster, delay: float) -> None:
        cluster.status = "deleting"

        def gone(at: datetime) -> None:
            if not self.holds(cluster):
                return
            if cluster.members:
                # Instances first: look again once they are gone.
                self.timeline.after(
                    self.config.seconds("delete", cluster.db_cluster_identifier),
                    f"delete {cluster.db_cluster_identifier}",
                    gone,
                )
                return
            del self.clusters[cluster.db_cluster_identifier]
            for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
                if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_arn == cluster.arn:
                    del self.cluster_snapshots[snapshot_id]

        self.timeline.after(delay, f"delete {cluster.db_cluster_identifier}", gone)
