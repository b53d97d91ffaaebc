"""How the simulator answers over HTTP.

Each request runs under the simulation lock: the timeline advances, moto answers, the call
is recorded. The handlers here are those moto lacks (DescribeDBEngineVersions) or whose
parameters the simulated backend takes otherwise (Source of DescribeDBClusterParameters,
SkipFinalSnapshot of DeleteDBCluster, the identifier and filters of DescribeBlueGreenDeployments).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.core.utils import convert_to_flask_response
from moto.moto_server.werkzeug_app import create_backend_app as moto_create_backend_app
from moto.rds.exceptions import RDSClientError
from moto.rds.responses import RDSResponse
from moto.sqs.responses import SQSResponse

from .. import catalog
from .backend import SimRDSBackend, advance_all
from .calls import record_call, record_queue_call
from .simulation import active
from .sts import SimTokenResponse

MOTO_VERSION = "5.2.5"


class SimRDSResponse(RDSResponse):
    """moto's RDS responses, serialized under the simulation lock and recorded."""

    def call_action(self) -> TYPE_RESPONSE:
        with active().lock:
            advance_all()
            if self._get_action() not in ("DescribeDBClusters", "DescribeDBInstances"):
                return record_call(self, super().call_action)
            with self._sim_backend.reading():
                return record_call(self, super().call_action)

    @property
    def _sim_backend(self) -> SimRDSBackend:
        backend = self.backend
        assert isinstance(backend, SimRDSBackend)
        return backend

    def describe_db_engine_versions(self) -> ActionResult:
        versions = catalog.describe(
            engine=self.params.get("Engine"),
            engine_version=self.params.get("EngineVersion"),
            family=self.params.get("DBParameterGroupFamily"),
            default_only=_flag(self.params.get("DefaultOnly")),
            include_all=_flag(self.params.get("IncludeAll")),
        )
        return ActionResult({"DBEngineVersions": versions})

    def describe_db_cluster_parameters(self) -> ActionResult:
        parameters = self.backend.describe_db_cluster_parameters(self.params.get("DBClusterParameterGroupName"))
        source = self.params.get("Source")
        if source:
            parameters = [p for p in parameters if p.get("Source", "user") == source]
        return ActionResult({"Parameters": parameters})

    def delete_db_cluster(self) -> ActionResult:
        cluster = self._sim_backend.delete_db_cluster(
            cluster_identifier=self.params.get("DBClusterIdentifier"),
            snapshot_name=self.params.get("FinalDBSnapshotIdentifier"),
            skip_final_snapshot=bool(self.params.get("SkipFinalSnapshot")),
        )
        return ActionResult({"DBCluster": cluster})

    def describe_global_clusters(self) -> ActionResult:
        # moto lists every global cluster of one Region whatever the identifier asked for.
        wanted = self.params.get("GlobalClusterIdentifier")
        found = [
            g
            for g in self._sim_backend.all_global_clusters()
            if not wanted or g.global_cluster_identifier == wanted.lower()
        ]
        if wanted and not found:
            raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {wanted} not found.")
        return ActionResult({"GlobalClusters": found})

    def describe_blue_green_deployments(self) -> ActionResult:
        deployments = self._sim_backend.describe_blue_green_deployments(
            self.params.get("BlueGreenDeploymentIdentifier"), self._filters()
        )
        return self._page("BlueGreenDeployments", deployments)

    # moto answers these three whole; AWS pages them as it does the others.
    def describe_db_clusters(self) -> ActionResult:
        clusters = self._sim_backend.describe_db_clusters(self.params.get("DBClusterIdentifier"), self._filters())
        return self._page("DBClusters", list(clusters))

    def describe_db_cluster_snapshots(self) -> ActionResult:
        snapshots = self.backend.describe_db_cluster_snapshots(
            self.params.get("DBClusterIdentifier"),
            self.params.get("DBClusterSnapshotIdentifier"),
            self.params.get("SnapshotType"),
            self._filters(),
        )
        return self._page("DBClusterSnapshots", list(snapshots))

    def describe_events(self) -> ActionResult:
        return self._page("Events", list(self.backend.describe_events(**self.params)))

    def _filters(self) -> dict[str, list[str]]:
        """The request's Filters as moto's backends take them: name -> values."""
        return {f["Name"]: list(f["Values"]) for f in self.params.get("Filters", [])}

    def _page(self, key: str, items: list[Any]) -> ActionResult:
        """AWS pages a describe's answer (botocore's RDS model: MaxRecords "Default: 100.
        Constraints: Minimum 20, maximum 100."), the rest after a Marker."""
        size = int(self.params.get("MaxRecords") or 100)
        if not 20 <= size <= 100:
            raise RDSClientError("InvalidParameterValue", f"MaxRecords must be between 20 and 100, not {size}.")
        start = int(self.params.get("Marker") or 0)
        page: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            page["Marker"] = str(start + size)
        return ActionResult(page)


class SimSQSResponse(SQSResponse):
    """moto's SQS responses, recorded; outside the simulation lock, which a long poll (up to
    20 s) would hold against every RDS call."""

    def call_action(self) -> TYPE_RESPONSE:
        return record_queue_call(self, super().call_action)


def _flag(value: Any) -> bool:
    """A boolean query parameter: botocore sends `true` / `false`."""
    return str(value).lower() == "true"


def create_backend_app(service: str) -> Flask:
    """moto's Flask app for `service`, with RDS answered by SimRDSResponse, STS by
    SimTokenResponse and SQS by SimSQSResponse."""
    app = moto_create_backend_app(service)  # type: ignore[arg-type]
    ours = {
        "rds": ("RDSResponse.dispatch", SimRDSResponse),
        "sts": ("TokenResponse.dispatch", SimTokenResponse),
        "sqs": ("SQSResponse.dispatch", SimSQSResponse),
    }
    if service in ours:
        endpoint, response = ours[service]
        if endpoint not in app.view_functions:
            raise RuntimeError(f"moto {MOTO_VERSION}'s {service} route {endpoint!r} not found; check the moto version")
        app.view_functions[endpoint] = convert_to_flask_response(response.dispatch)
    return app
