"""The RDS gateway: every RDS call the engine makes, and the only code that knows the shapes of
RDS's requests.

Every call goes through `RdsGateway._call`, which counts it for metrics and turns a botocore
error into an `RdsError` whose `ErrorKind` (aurora_upgrade.resources) `errors.classify` decides
from AWS's error code. Reads retry with botocore's `adaptive` mode (RDS has one token bucket per
account and Region, shared with every other caller, and the client-side rate limiter is what AWS
recommends for it); writes are sent once (clients.py). Reads are one method per question (the
`RdsReads` protocol) and answer the engine's frozen values (answers.py), never a boto3 shape.

One gateway serves every upgrade of an account and Region (`engine.default_gateways`), so the
describes every upgrade repeats are shared (shared_reads.py): a question about one cluster,
instance list, deployment (by identifier, name or source) or snapshot is answered by one call,
filtered to the resources of the upgrades looking in that read cycle. Writes are one call each,
and the next question about what one changed (or an event is about) is asked of AWS again.
`read_events` is the Region's change feed (event_feed.py, docs/events.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore import xform_name

from aurora_upgrade import metrics
from aurora_upgrade.gateway import answers
from aurora_upgrade.gateway.clients import ClientFactory, default_client_factory
from aurora_upgrade.gateway.errors import classify
from aurora_upgrade.gateway.event_feed import EventFeed
from aurora_upgrade.gateway.shared_reads import Clock, Cycles, Remembered, SharedDescribe
from aurora_upgrade.resources import (
    BlueGreen,
    Cluster,
    EngineVersion,
    ErrorKind,
    GlobalCluster,
    Instance,
    RdsError,
    RdsEvent,
    Reads,
    Snapshot,
    arn_name,
)

# AWS's API reference documents no maximum number of values in one filter (Filter.Values is an
# array of strings), while MaxRecords is at most 100: the gateway sends at most 100 values per
# call, so a chunk of deployments or snapshots fits on one page.
FILTER_VALUES_PER_CALL = 100
# Describe calls under way at once, per gateway: botocore parses an answer whole, and a fleet's
# shared answers are large, so parses at once add up in memory (docs/events.md) while the GIL
# makes them little faster; the threads that wait are looks, which wait for answers anyway.
DESCRIBES_AT_ONCE = 2
# DescribeEvents is not one of them: its pages are small (at most 100 events), and the Region's
# feed, which wakes the looks, must not queue behind the looks' own describes (issue 20).
UNLIMITED_DESCRIBES = frozenset({"DescribeEvents"})
FORGET_AFTER = 3600.0  # a resource nobody asked about for this long is no longer in flight
RESTARTED = "DB instance restarted"  # RDS-EVENT-0006
SWITCHOVER_SIGNS = ("Switchover from", "Switchover canceled", "Switchover completed")


def _to_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _by(name: str, values: list[str]) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": values}]


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), FILTER_VALUES_PER_CALL):
        yield values[start : start + FILTER_VALUES_PER_CALL]


class RdsGateway:
    """Every RDS call the engine makes, for one region (and optionally one assumed role).

    `clock` (seconds) is every clock the gateway keeps time by, for tests; by default the read
    cycles and the feed count time.time() and remembered answers age by time.monotonic()."""

    def __init__(
        self,
        reader: Any,
        writer: Any | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer if writer is not None else reader
        # Never held while waiting for anything else.
        self._describing = threading.BoundedSemaphore(DESCRIBES_AT_ONCE)
        moment = clock or time.time  # what read cycles are counted in
        age = clock or time.monotonic  # what remembered answers age by

        def shared(
            fetch: Callable[[list[str]], Iterator[tuple[str, Any]]], name_of: Callable[[Any], str] | None = None
        ) -> SharedDescribe:
            return SharedDescribe(fetch, FORGET_AFTER, name_of, clock=moment)

        # Unshared until `share_answers`: `aurora-upgrade run` asks each question of AWS.
        self._clusters = shared(self._fetch_clusters)
        self._instances = shared(self._fetch_instances, name_of=lambda i: i.identifier)
        self._deployments = shared(self._fetch_deployments)
        self._snapshots = shared(self._fetch_snapshots)
        # Deployments by name and by source cluster, asked before creation: the names and
        # sources asked about in one cycle go in one call each, not one call per question.
        self._by_name = shared(self._find_by("blue-green-deployment-name", "name"))
        self._by_source = shared(self._find_by("source", "source"))
        # Clusters by resource id: the previous production, whatever it is named now.
        self._by_resource_id = shared(self._fetch_by_resource_id)
        self._shared = (
            self._clusters,
            self._instances,
            self._deployments,
            self._snapshots,
            self._by_name,
            self._by_source,
            self._by_resource_id,
        )
        self._catalog = Remembered(age)  # engine versions: AWS's, changed on release days
        self._parameters = Remembered(age)  # parameter groups' families and values, which people change
        self._feed = EventFeed(moment)

    def share_answers(
        self,
        cycle_of: Cycles,
        forget_after: float,
        events_fresh_for: float = 0.0,
        catalog_fresh_for: float = 0.0,
        parameters_fresh_for: float = 0.0,
    ) -> None:
        """Answer the questions asked in one read cycle (`cycle_of`) with one call per operation,
        questions about events from the feed while it has read within `events_fresh_for`, and
        the prechecks' questions from answers younger than `catalog_fresh_for` (engine versions,
        which AWS changes on release days) and `parameters_fresh_for` (parameter groups' families
        and values, which a person may be fixing after a failed precheck)."""
        for shared in self._shared:
            shared.cycle_of, shared.forget_after = cycle_of, forget_after
        self._feed.fresh_for = events_fresh_for
        self._catalog.fresh_for = catalog_fresh_for
        self._parameters.fresh_for = parameters_fresh_for

    def expect(self, reads: Reads, cycle: int | None = None) -> None:
        """What an upgrade's look in read cycle `cycle` (None: the next call) will ask: that
        cycle's shared calls cover it, so the first upgrade to look in it answers the others."""
        self._clusters.want((c.lower() for c in reads.clusters), cycle)
        self._instances.want((c.lower() for c in reads.instances_of), cycle)
        self._deployments.want(reads.deployments, cycle)
        self._by_name.want(reads.deployment_names, cycle)
        # By their ARNs, which the last answer about the clusters gave.
        self._by_source.want((c.arn for n in reads.sources for c in self._clusters.last(n.lower()) if c.arn), cycle)
        self._snapshots.want((s.lower() for s in reads.snapshots), cycle)
        self._by_resource_id.want(reads.cluster_resource_ids, cycle)

    @classmethod
    def for_region(
        cls,
        region: str,
        role_arn: str | None = None,
        external_id: str | None = None,
        factory: ClientFactory = default_client_factory,
    ) -> RdsGateway:
        try:
            return cls(*factory(region, role_arn, external_id))
        except Exception as error:  # assume-role failures surface here
            raise classify("AssumeRole", error) from error

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        reading = operation.startswith("Describe")
        method = getattr(self._reader if reading else self._writer, _snake(operation))
        try:
            if reading and operation not in UNLIMITED_DESCRIBES:
                with self._describing:
                    response: dict[str, Any] = method(**params)
            else:
                response = method(**params)
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

    # --- the shared describes: one call per chunk of what is due in a cycle ---------------

    def _fetch_clusters(self, identifiers: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(identifiers):
            for c in (
                self._describe_or_none("DescribeDBClusters", "DBClusters", Filters=_by("db-cluster-id", chunk)) or []
            ):
                yield c["DBClusterIdentifier"].lower(), answers.cluster(c)

    def _fetch_instances(self, clusters: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(clusters):
            for i in (
                self._describe_or_none("DescribeDBInstances", "DBInstances", Filters=_by("db-cluster-id", chunk)) or []
            ):
                yield str(i.get("DBClusterIdentifier", "")).lower(), answers.instance(i)

    def _fetch_deployments(self, identifiers: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(identifiers):
            filters = _by("blue-green-deployment-identifier", chunk)
            for b in (
                self._describe_or_none("DescribeBlueGreenDeployments", "BlueGreenDeployments", Filters=filters) or []
            ):
                deployment = answers.blue_green(b)
                if deployment.target and deployment.status == "AVAILABLE":
                    # Green, which its look describes next (and lists the instances of, if it
                    # goes on to RebootingGreen), before status records its name.
                    green = (arn_name(deployment.target),)
                    self.expect(Reads(clusters=green, instances_of=green))
                yield deployment.identifier, deployment

    def _find_by(self, filter_name: str, attribute: str) -> Callable[[list[str]], Iterator[tuple[str, Any]]]:
        """Deployments filtered by `filter_name`, each the answer about the filter value its
        `attribute` is (without case). One AWS matched but whose attribute names no value of
        the call counts for every value of it: seen, the safe side (a precheck refuses it)."""

        def fetch(values: list[str]) -> Iterator[tuple[str, Any]]:
            for chunk in _chunks(values):
                by_value = {v.lower(): v for v in chunk}
                found = self._describe_or_none(
                    "DescribeBlueGreenDeployments", "BlueGreenDeployments", Filters=_by(filter_name, chunk)
                )
                for b in found or []:
                    deployment = answers.blue_green(b)
                    value = by_value.get(str(getattr(deployment, attribute)).lower())
                    for key in [value] if value else chunk:
                        yield key, deployment

        return fetch

    def _fetch_by_resource_id(self, resource_ids: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(resource_ids):
            filters = _by("db-cluster-resource-id", chunk)
            for c in self._describe_or_none("DescribeDBClusters", "DBClusters", Filters=filters) or []:
                yield c.get("DbClusterResourceId", ""), answers.cluster(c)

    def _fetch_snapshots(self, identifiers: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(identifiers):
            filters = _by("db-cluster-snapshot-id", chunk)
            for s in self._describe_or_none("DescribeDBClusterSnapshots", "DBClusterSnapshots", Filters=filters) or []:
                yield s["DBClusterSnapshotIdentifier"].lower(), answers.snapshot(s)

    def describe_cluster(self, identifier: str) -> Cluster | None:
        # Identifiers are stored lower-case; filter values are matched case-sensitively.
        found = self._clusters.get(identifier.lower())
        return found[0] if found else None

    def find_cluster_by_resource_id(self, resource_id: str) -> Cluster | None:
        """The cluster whose DbClusterResourceId is `resource_id`, whatever it is named now
        (AWS's `db-cluster-resource-id` filter)."""
        found = self._by_resource_id.get(resource_id)
        return found[0] if found else None

    def describe_cluster_instances(self, cluster: str) -> list[Instance]:
        return list(self._instances.get(cluster.lower()))

    def cluster_of_instance(self, instance: str) -> str | None:
        """The cluster an instance belonged to when last described (events name instances)."""
        return self._instances.key_of(instance)

    def describe_engine_version(self, engine: str, version: str) -> EngineVersion | None:
        # IncludeAll: without it AWS lists only `available` versions, and a deprecated source
        # (the usual reason to upgrade) would look like a version that does not exist.
        items = self._catalog.get(
            ("DescribeDBEngineVersions", engine, version),
            lambda: self._describe_or_none(
                "DescribeDBEngineVersions", "DBEngineVersions", Engine=engine, EngineVersion=version, IncludeAll=True
            ),
        )
        if not items:
            return None
        return answers.engine_version(items[0], engine, version)

    def cluster_parameter_group_family(self, name: str) -> str | None:
        items = self._parameters.get(
            ("DescribeDBClusterParameterGroups", name),
            lambda: self._describe_or_none(
                "DescribeDBClusterParameterGroups", "DBClusterParameterGroups", DBClusterParameterGroupName=name
            ),
        )
        return items[0].get("DBParameterGroupFamily", "") if items else None

    def parameter_group_family(self, name: str) -> str | None:
        items = self._parameters.get(
            ("DescribeDBParameterGroups", name),
            lambda: self._describe_or_none("DescribeDBParameterGroups", "DBParameterGroups", DBParameterGroupName=name),
        )
        return items[0].get("DBParameterGroupFamily", "") if items else None

    def cluster_parameter(self, group: str, name: str) -> str | None:
        """The value of one parameter of a cluster parameter group (None when unset)."""
        value: str | None = self._parameters.get(
            ("DescribeDBClusterParameters", group, name), lambda: self._parameter_value(group, name)
        )
        return value

    def _parameter_value(self, group: str, name: str) -> str | None:
        for p in self._pages("DescribeDBClusterParameters", "Parameters", DBClusterParameterGroupName=group):
            if p.get("ParameterName") == name:
                value = p.get("ParameterValue")
                return None if value is None else str(value)
        return None

    def describe_global_cluster(self, identifier: str) -> GlobalCluster | None:
        items = self._describe_or_none("DescribeGlobalClusters", "GlobalClusters", GlobalClusterIdentifier=identifier)
        if not items:
            return None
        return answers.global_cluster(items[0], identifier)

    def find_blue_green(self, *, name: str | None = None, source: str | None = None) -> list[BlueGreen]:
        """The Region's deployments named `name`, or made from the cluster whose ARN is `source`
        (AWS's `blue-green-deployment-name` and `source` filters); with both, those named so
        and made from it. Shared, an answer is at most one read cycle old."""
        if name:
            return [b for b in self._by_name.get(name) if not source or b.source.lower() == source.lower()]
        if source:
            return self._by_source.get(source)
        raise TypeError("find_blue_green needs a name or a source")

    def describe_blue_green(self, identifier: str) -> BlueGreen | None:
        found = self._deployments.get(identifier)
        return found[0] if found else None

    def describe_cluster_snapshot(self, identifier: str) -> Snapshot | None:
        found = self._snapshots.get(identifier.lower())
        return found[0] if found else None

    def instance_restarts_since(self, instance: str, since: datetime) -> list[datetime]:
        """Times of "DB instance restarted" events for an instance at or after `since`."""
        # DescribeEvents takes a StartTime; a second of slack covers clock rounding.
        start = since - timedelta(seconds=1)
        logged = self._feed.logged_since(start)
        if logged is not None:
            return [
                e.date
                for e in logged
                if e.source_type == "db-instance" and e.source_identifier == instance and RESTARTED in e.message
            ]
        events = self._pages(
            "DescribeEvents", "Events", SourceType="db-instance", SourceIdentifier=instance, StartTime=start
        )
        return [e["Date"] for e in events if RESTARTED in e.get("Message", "") and e.get("Date") and e["Date"] >= start]

    def instance_restarts_asked(self, instance: str, since: datetime) -> list[datetime]:
        """Evidence of a reboot whose answer was lost, asked of AWS directly (never the feed's
        memory, which misses what AWS lists late): DescribeEvents with SourceType db-instance,
        SourceIdentifier `instance` and StartTime `since` (when the reboot was asked for), and the
        dates of its "DB instance restarted" events. An event dated before `since` is no proof,
        however far the clocks may differ: no slack is given below it."""
        events = self._pages(
            "DescribeEvents", "Events", SourceType="db-instance", SourceIdentifier=instance, StartTime=since
        )
        return [e["Date"] for e in events if RESTARTED in e.get("Message", "") and e.get("Date") and e["Date"] >= since]

    def switchover_signs_since(self, deployment: str, cluster: str, since: datetime) -> list[RdsEvent]:
        """Events saying a switchover of `deployment` (RDS-EVENT-0247/0248/0249) or of its source
        `cluster` (0259/0260/0261) started, completed or was canceled at or after `since`."""
        start = since - timedelta(seconds=1)
        found = []
        for source_type, identifier in (("blue-green-deployment", deployment), ("db-cluster", cluster)):
            for e in self._pages(
                "DescribeEvents", "Events", SourceType=source_type, SourceIdentifier=identifier, StartTime=start
            ):
                event = answers.event(e)
                if event.message.startswith(SWITCHOVER_SIGNS) and event.date >= start:
                    found.append(event)
        return found

    # --- the Region's change feed -------------------------------------------------------

    def read_events(self, now: datetime | None = None) -> list[RdsEvent]:
        """New events of the source types upgrades wait on, for every resource of the Region:
        one DescribeEvents call (and its pages), from shortly before the last event seen. Each
        makes the next question about what it names a call to AWS. The first read starts now:
        what happened before, the upgrades' own first look reads."""
        return self._feed.read(
            lambda start: self._pages("DescribeEvents", "Events", StartTime=start, MaxRecords=100),
            self._forget_about,
            now,
        )

    def heard(self, events: list[RdsEvent]) -> None:
        """Events from elsewhere (the EventBridge queue): the next question about what each
        names is a call to AWS, as for the feed's own events."""
        for event in events:
            self._forget_about(event)

    def _forget_about(self, event: RdsEvent) -> None:
        source = event.source_identifier
        if event.source_type == "db-cluster":
            self._clusters.forget(source.lower())
            self._instances.forget(source.lower())
            self._by_resource_id.forget_all()  # events name clusters, not their resource ids
        elif event.source_type == "db-instance":
            self._forget_instance(source)
        elif event.source_type == "blue-green-deployment":
            self._deployments.forget(source)
        elif event.source_type == "db-cluster-snapshot":
            self._snapshots.forget(source.lower())

    # --- writes ----------------------------------------------------------------------

    def _forget_instance(self, instance: str) -> None:
        cluster = self.cluster_of_instance(instance)
        if cluster:
            self._instances.forget(cluster)

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
        created = answers.blue_green(self._call("CreateBlueGreenDeployment", **params)["BlueGreenDeployment"])
        # A fleet creating in one cycle asks about its names and sources once, not once a creation.
        self._by_name.add(name, created)
        self._by_source.add(source_arn, created)
        self.expect(Reads(deployments=(created.identifier,)))
        return created

    def switchover(self, identifier: str, timeout_seconds: int) -> None:
        self._deployments.forget(identifier)
        self._by_resource_id.forget_all()  # production and green are renamed
        self._call(
            "SwitchoverBlueGreenDeployment",
            BlueGreenDeploymentIdentifier=identifier,
            SwitchoverTimeout=timeout_seconds,
        )

    def delete_blue_green(self, identifier: str, *, delete_target: bool) -> None:
        self._deployments.forget(identifier)
        if delete_target:
            self._by_resource_id.forget_all()
        self._call("DeleteBlueGreenDeployment", BlueGreenDeploymentIdentifier=identifier, DeleteTarget=delete_target)

    def reboot_instance(self, identifier: str) -> None:
        self._forget_instance(identifier)
        self._call("RebootDBInstance", DBInstanceIdentifier=identifier)

    def create_cluster_snapshot(self, identifier: str, cluster: str, tags: dict[str, str]) -> None:
        self._snapshots.forget(identifier.lower())
        self._call(
            "CreateDBClusterSnapshot",
            DBClusterSnapshotIdentifier=identifier,
            DBClusterIdentifier=cluster,
            Tags=_to_tags(tags),
        )

    def delete_cluster_snapshot(self, identifier: str) -> None:
        self._snapshots.forget(identifier.lower())
        self._call("DeleteDBClusterSnapshot", DBClusterSnapshotIdentifier=identifier)

    def disable_deletion_protection(self, cluster: str) -> None:
        self._clusters.forget(cluster.lower())
        self._by_resource_id.forget_all()
        self._call("ModifyDBCluster", DBClusterIdentifier=cluster, DeletionProtection=False, ApplyImmediately=True)

    def delete_instance(self, identifier: str) -> None:
        # Aurora instances have no snapshots of their own: the cluster's final snapshot covers data.
        self._forget_instance(identifier)
        self._call("DeleteDBInstance", DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)

    def delete_cluster(self, identifier: str, final_snapshot: str | None) -> None:
        self._clusters.forget(identifier.lower())
        self._by_resource_id.forget_all()
        params: dict[str, Any] = {"DBClusterIdentifier": identifier}
        if final_snapshot:
            params["FinalDBSnapshotIdentifier"] = final_snapshot
        else:
            params["SkipFinalSnapshot"] = True
        self._call("DeleteDBCluster", **params)


def _snake(operation: str) -> str:
    """'DescribeDBClusters' -> 'describe_db_clusters', the way botocore names methods."""
    return str(xform_name(operation))
