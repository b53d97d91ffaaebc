"""Starting states of the simulated AWS account, as plain data.

A scenario is a dict (or the same shape in YAML): region, account id, parameter groups with
their parameters, clusters with their instances and per-instance parameter apply status,
and `faults` the simulator should inject. `runbook()` builds the runbook's account with
options for the failure cases; `SCENARIOS` names the useful variants for the CLI and for
tests that start the simulator as a separate process.

`apply()` loads a scenario straight into the simulated backend, without HTTP, so its setup
never shows in the call record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from moto.rds.models import DBCluster, GlobalCluster

from . import behaviour

RUNBOOK_REGION = "ap-northeast-1"
RUNBOOK_ACCOUNT_ID = "123456789012"
RUNBOOK_CLUSTER = "aurora-bg-aurora-cluster"
RUNBOOK_INSTANCES = ("aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2")
RUNBOOK_CLUSTER_PARAMETER_GROUP = "aurora-bg-aurora-pg15-cluster-params"
RUNBOOK_DB_PARAMETER_GROUP = "aurora-bg-aurora-pg15-params"
# Parameter groups of the next major, so a 15 -> 16 upgrade can be tried in the same account.
PG16_CLUSTER_PARAMETER_GROUP = "aurora-bg-aurora-pg16-cluster-params"
PG16_DB_PARAMETER_GROUP = "aurora-bg-aurora-pg16-params"
# Where the runbook cluster's cross-Region replica or global database secondary lives.
OTHER_REGION = "us-west-2"
GLOBAL_CLUSTER = "aurora-bg-global"


def _static(value: str) -> dict[str, str]:
    return {"ParameterValue": value, "ApplyType": "static", "ApplyMethod": "pending-reboot"}


def _dynamic(value: str) -> dict[str, str]:
    return {"ParameterValue": value, "ApplyType": "dynamic", "ApplyMethod": "immediate"}


def _cluster_parameters(logical_replication: int) -> dict[str, dict[str, str]]:
    # The parameters AWS's Aurora PostgreSQL blue/green prerequisites name.
    return {
        "rds.logical_replication": _static(str(logical_replication)),
        "max_replication_slots": _static("20"),
        "max_logical_replication_workers": _static("10"),
        "max_worker_processes": _static("20"),
        "synchronous_commit": _dynamic("on"),
    }


def runbook(
    *,
    engine_version: str = "15.6",
    logical_replication: int = 1,
    pending_reboot: bool = False,
    managed_master_password: bool = False,
    deletion_protection: bool = False,
    switchover_fails: bool = False,
    pg16_parameter_groups: bool = True,
    engine_mode: str = "provisioned",
    cross_region_replica: bool = False,
    global_database: str | None = None,
    parameter_groups_in_every_region: bool = True,
    iam_database_authentication: bool = False,
) -> dict[str, Any]:
    """The runbook's account: `aurora-bg-aurora-cluster` (15.6) with a writer and a reader.

    logical_replication: rds.logical_replication in the cluster parameter group (0 makes
        CreateBlueGreenDeployment end in INVALID_CONFIGURATION).
    pending_reboot: the instances have not been rebooted since the parameter groups changed
        (runbook step 2's situation).
    managed_master_password: master password managed in Secrets Manager (MasterUserSecret),
        which blue/green deployments do not support.
    deletion_protection: on the cluster (and so on the green copy and the -old1 cluster).
    switchover_fails: the switchover ends in SWITCHOVER_FAILED.
    pg16_parameter_groups: also create aurora-postgresql16 parameter groups.
    engine_mode: `serverless` makes it Aurora Serverless v1 (no instances).
    cross_region_replica: the cluster has a read replica cluster in us-west-2.
    global_database: `primary` or `secondary`: the cluster is that member of global database
        `aurora-bg-global`, whose other member is in us-west-2.
    parameter_groups_in_every_region: with global_database, us-west-2 has parameter groups of
        the same names too (AWS needs them for a global database's green environment).
    iam_database_authentication: IAM database authentication enabled on the cluster (and so on
        its green copy), which spec.validation.database's IAM authentication needs.
    """
    apply_status = "pending-reboot" if pending_reboot else "in-sync"
    cluster_parameter_groups = [
        {
            "name": RUNBOOK_CLUSTER_PARAMETER_GROUP,
            "family": "aurora-postgresql15",
            "description": "Aurora PostgreSQL 15 cluster parameters with logical replication",
            "parameters": _cluster_parameters(logical_replication),
        }
    ]
    db_parameter_groups = [
        {
            "name": RUNBOOK_DB_PARAMETER_GROUP,
            "family": "aurora-postgresql15",
            "description": "Aurora PostgreSQL 15 instance parameters",
            "parameters": {"log_min_duration_statement": _dynamic("1000")},
        }
    ]
    if pg16_parameter_groups:
        cluster_parameter_groups.append(
            {
                "name": PG16_CLUSTER_PARAMETER_GROUP,
                "family": "aurora-postgresql16",
                "description": "Aurora PostgreSQL 16 cluster parameters with logical replication",
                "parameters": _cluster_parameters(1),
            }
        )
        db_parameter_groups.append(
            {
                "name": PG16_DB_PARAMETER_GROUP,
                "family": "aurora-postgresql16",
                "description": "Aurora PostgreSQL 16 instance parameters",
                "parameters": {"log_min_duration_statement": _dynamic("1000")},
            }
        )
    other_clusters: list[dict[str, Any]] = []
    if cross_region_replica:
        other_clusters.append(_other_region_cluster(f"{RUNBOOK_CLUSTER}-replica", engine_version, RUNBOOK_CLUSTER))
    global_clusters = []
    if global_database is not None:
        other_clusters.append(_other_region_cluster(f"{RUNBOOK_CLUSTER}-usw2", engine_version))
        global_clusters.append(
            {
                "identifier": GLOBAL_CLUSTER,
                "members": [
                    {"cluster": RUNBOOK_CLUSTER, "region": RUNBOOK_REGION, "writer": global_database == "primary"},
                    {
                        "cluster": f"{RUNBOOK_CLUSTER}-usw2",
                        "region": OTHER_REGION,
                        "writer": global_database != "primary",
                    },
                ],
            }
        )
        if parameter_groups_in_every_region:
            for group in [*cluster_parameter_groups, *db_parameter_groups]:
                group["regions"] = [RUNBOOK_REGION, OTHER_REGION]
    return {
        "region": RUNBOOK_REGION,
        "account_id": RUNBOOK_ACCOUNT_ID,
        "db_cluster_parameter_groups": cluster_parameter_groups,
        "db_parameter_groups": db_parameter_groups,
        "global_clusters": global_clusters,
        "db_clusters": [
            {
                **_runbook_cluster(
                    RUNBOOK_CLUSTER,
                    RUNBOOK_INSTANCES,
                    engine_version,
                    managed_master_password,
                    deletion_protection,
                    apply_status,
                    engine_mode,
                ),
                "iam_database_authentication": iam_database_authentication,
            },
            *other_clusters,
        ],
        "faults": {"switchover_fails": switchover_fails},
    }


def _runbook_cluster(
    identifier: str,
    instances: tuple[str, ...],
    engine_version: str,
    managed_master_password: bool,
    deletion_protection: bool,
    apply_status: str,
    engine_mode: str = "provisioned",
) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "engine": "aurora-postgresql",
        "engine_version": engine_version,
        "engine_mode": engine_mode,
        "db_cluster_parameter_group": RUNBOOK_CLUSTER_PARAMETER_GROUP,
        "database_name": "app",
        "master_username": "postgres",
        "manage_master_user_password": managed_master_password,
        "deletion_protection": deletion_protection,
        "storage_encrypted": True,
        "tags": {"Name": identifier, "ManagedBy": "terraform"},
        "instances": [
            {
                "identifier": instance,
                "instance_class": "db.r6g.large",
                "db_parameter_group": RUNBOOK_DB_PARAMETER_GROUP,
                "availability_zone": zone,
                "promotion_tier": 1,
                "parameter_apply_status": apply_status,
            }
            for instance, zone in zip(instances, ("ap-northeast-1a", "ap-northeast-1c"), strict=True)
            # Aurora Serverless v1 has no instances of its own.
            if engine_mode != "serverless"
        ],
    }


def _other_region_cluster(identifier: str, engine_version: str, replica_of: str | None = None) -> dict[str, Any]:
    """A cluster in us-west-2: a cross-Region read replica of `replica_of`, or a global database member."""
    return {
        "identifier": identifier,
        "region": OTHER_REGION,
        "engine_version": engine_version,
        "storage_encrypted": True,
        "replication_source": replica_of,
        "instances": [{"identifier": f"{identifier}-instance-1", "availability_zone": f"{OTHER_REGION}a"}],
    }


def fleet_cluster(index: int) -> str:
    """The identifier of cluster `index` (1-based) of `fleet()`."""
    return f"{RUNBOOK_CLUSTER}-{index:04d}"


def fleet(count: int) -> dict[str, Any]:
    """The runbook's account with `count` copies of its cluster, for benchmarks of many upgrades
    at once: `fleet_cluster(i)` (15.6), instances `<cluster>-instance-1` and `-2`, all sharing
    the runbook's parameter groups."""
    if count < 1:
        raise ValueError(f"a fleet needs at least one cluster, got {count}")
    data = runbook()
    data["db_clusters"] = [
        _runbook_cluster(
            fleet_cluster(i),
            (f"{fleet_cluster(i)}-instance-1", f"{fleet_cluster(i)}-instance-2"),
            "15.6",
            False,
            False,
            "in-sync",
        )
        for i in range(1, count + 1)
    ]
    return data


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "runbook": runbook,
    "runbook-logical-replication-off": lambda: runbook(logical_replication=0),
    "runbook-pending-reboot": lambda: runbook(pending_reboot=True),
    "runbook-managed-master-password": lambda: runbook(managed_master_password=True),
    "runbook-deletion-protection": lambda: runbook(deletion_protection=True),
    "runbook-iam-auth": lambda: runbook(iam_database_authentication=True),
    "runbook-switchover-fails": lambda: runbook(switchover_fails=True),
    "runbook-already-upgraded": lambda: runbook(engine_version="15.10"),
    # 15.4 is deprecated (listed only with IncludeAll): the usual reason to upgrade.
    "runbook-deprecated-source": lambda: runbook(engine_version="15.4"),
    # AWS's documented limitations of blue/green deployments (docs/operations.md, "Limitations").
    "runbook-serverless-v1": lambda: runbook(engine_mode="serverless"),
    "runbook-cross-region-replica": lambda: runbook(cross_region_replica=True),
    "runbook-below-blue-green-minimum": lambda: runbook(engine_version="15.3"),
    "runbook-global-secondary": lambda: runbook(global_database="secondary"),
    "runbook-global-primary": lambda: runbook(global_database="primary"),
    "runbook-global-missing-parameter-groups": lambda: runbook(
        global_database="primary", parameter_groups_in_every_region=False
    ),
}


def resolve(scenario: str | Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's data from its name, a YAML file path, or the data itself."""
    if isinstance(scenario, Mapping):
        return dict(scenario)
    if scenario in SCENARIOS:
        return SCENARIOS[scenario]()
    path = Path(scenario)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        loaded = yaml.safe_load(path.read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"scenario file {path} does not hold a mapping")
        return loaded
    raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)} (or a .yaml file)")


SETUP_EVENTS_AGE = timedelta(days=1)


def apply(data: Mapping[str, Any]) -> behaviour.Faults:
    """Create the scenario's resources in the installed simulation; returns its faults."""
    account, home = str(data.get("account_id", RUNBOOK_ACCOUNT_ID)), str(data.get("region", RUNBOOK_REGION))

    made_in: dict[str, behaviour.SimRDSBackend] = {}  # the Regions the scenario makes resources in

    def backend(region: str) -> behaviour.SimRDSBackend:
        return made_in.setdefault(region, behaviour.backend_for(account, region))

    def backend_in(spec: Mapping[str, Any]) -> behaviour.SimRDSBackend:
        return backend(str(spec.get("region", home)))

    for group in data.get("db_cluster_parameter_groups", []):
        for region in group.get("regions", [home]):
            backend(region).create_db_cluster_parameter_group(
                db_cluster_parameter_group_name=group["name"],
                db_parameter_group_family=group["family"],
                description=group.get("description", group["name"]),
                tags=[],
            )
            backend(region).modify_db_cluster_parameter_group(group["name"], _parameter_list(group))
    for group in data.get("db_parameter_groups", []):
        for region in group.get("regions", [home]):
            backend(region).create_db_parameter_group(
                {
                    "db_parameter_group_name": group["name"],
                    "db_parameter_group_family": group["family"],
                    "description": group.get("description", group["name"]),
                    "tags": [],
                }
            )
            backend(region).modify_db_parameter_group(group["name"], _parameter_list(group))
    clusters = {}
    for cluster in data.get("db_clusters", []):
        clusters[cluster["identifier"]] = _create_cluster(backend_in(cluster), cluster)
    for cluster in data.get("db_clusters", []):
        if cluster.get("replication_source"):
            # A cross-Region read replica: AWS lists it on its source, by ARN.
            replica, source = clusters[cluster["identifier"]], clusters[cluster["replication_source"]]
            replica.replication_source_identifier = source.db_cluster_arn
            source.read_replica_identifiers.append(replica.db_cluster_arn)
    for spec in data.get("global_clusters", []):
        _create_global_cluster(backend(home), spec, clusters)
    # The scenario's resources were there before the account's story starts: the events moto
    # recorded making them (instances created, automated snapshots) are a day old, outside
    # DescribeEvents' default hour, not news to the first reader (a fleet's would fill pages).
    for made in made_in.values():
        for event in made.events:
            event.date -= SETUP_EVENTS_AGE
    faults = data.get("faults") or {}
    known = {field.name for field in dataclasses.fields(behaviour.Faults)}
    unknown = set(faults) - known
    if unknown:
        raise ValueError(f"unknown faults {sorted(unknown)}; known: {', '.join(sorted(known))}")
    return behaviour.Faults(**{name: bool(value) for name, value in faults.items()})


def _parameter_list(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"ParameterName": name, **fields} for name, fields in group.get("parameters", {}).items()]


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _create_global_cluster(
    backend: behaviour.SimRDSBackend, spec: Mapping[str, Any], clusters: Mapping[str, DBCluster]
) -> None:
    """A global database over clusters of the scenario; moto's own create would take the
    source's ARN as the members' GlobalClusterIdentifier, where AWS shows the identifier."""
    members = [clusters[m["cluster"]] for m in spec["members"]]
    writer = next(clusters[m["cluster"]] for m in spec["members"] if m["writer"])
    global_cluster = GlobalCluster(
        backend=backend,
        global_cluster_identifier=spec["identifier"],
        engine=writer.engine,
        engine_version=writer.engine_version,
        storage_encrypted=writer.storage_encrypted,
        deletion_protection=False,
    )
    backend.global_clusters[global_cluster.global_cluster_identifier] = global_cluster
    for member in members:
        member.global_cluster_identifier = global_cluster.global_cluster_identifier
        member.is_writer = member is writer
        global_cluster.members.append(member)


def _create_cluster(backend: behaviour.SimRDSBackend, spec: Mapping[str, Any]) -> DBCluster:
    managed = bool(spec.get("manage_master_user_password", False))
    kwargs: dict[str, Any] = {
        "db_cluster_identifier": spec["identifier"],
        "engine": spec.get("engine", "aurora-postgresql"),
        "engine_version": spec["engine_version"],
        "engine_mode": spec.get("engine_mode", "provisioned"),
        "db_cluster_parameter_group_name": spec.get("db_cluster_parameter_group"),
        "database_name": spec.get("database_name"),
        "master_username": spec.get("master_username", "postgres"),
        "manage_master_user_password": managed,
        "deletion_protection": bool(spec.get("deletion_protection", False)),
        "storage_encrypted": bool(spec.get("storage_encrypted", False)),
        "enable_iam_database_authentication": bool(spec.get("iam_database_authentication", False)),
        "tags": _tag_list(spec.get("tags", {})),
    }
    if not managed:
        kwargs["master_user_password"] = spec.get("master_user_password", "simulated-password")
    cluster = backend.create_db_cluster(kwargs)
    for instance in spec.get("instances", []):
        database = backend.create_db_instance(
            {
                "db_instance_identifier": instance["identifier"],
                "db_instance_class": instance.get("instance_class", "db.r6g.large"),
                "engine": kwargs["engine"],
                "db_cluster_identifier": spec["identifier"],
                "db_parameter_group_name": instance.get("db_parameter_group"),
                "availability_zone": instance.get("availability_zone"),
                "promotion_tier": instance.get("promotion_tier", 1),
                "tags": _tag_list(instance.get("tags", {})),
            }
        )
        assert isinstance(database, behaviour.SimDBInstance)
        status = instance.get("parameter_apply_status", "in-sync")
        database.parameter_apply_status = status
        database.cluster_parameter_apply_status = status
    return cluster
