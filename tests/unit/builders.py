"""Builders for the unit tier: an Upgrade as the engine sees it, and AWS observations.

Observations are the gateway's frozen dataclasses built directly (no boto3, no moto).
Every builder starts from the runbook's case (aurora-bg-aurora-cluster, 15.6 -> 15.10 in
ap-northeast-1) and takes keyword overrides, so a table row states only what it changes.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.config import Timing
from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus, RebootStep, parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import BlueGreen, Cluster, ClusterMember, EngineVersion, Instance, Snapshot
from aurora_upgrade.upgrade import Upgrade
from support.runbook import (
    CLUSTER,
    CLUSTER_PARAMETER_GROUP,
    DB_PARAMETER_GROUP,
    INSTANCES,
    NAME,
    REGION,
    RUNBOOK_SPEC,
    SOURCE_VERSION,
    TARGET_VERSION,
)

# The injected clock: Friday 2025-03-14 01:00 UTC (10:00 in Tokyo).
NOW = datetime(2025, 3, 14, 1, 0, 0, tzinfo=UTC)
TIMING = Timing(poll=30.0)

NAMESPACE = "default"
UID = "3f2a9c1d-7b4e-4d2a-9c8b-1a2b3c4d5e6f"
FOREIGN_UID = "99999999-0000-0000-0000-000000000000"
ACCOUNT = "123456789012"
CLUSTER_ID = CLUSTER
INSTANCE_IDS = INSTANCES
# The runbook's cluster is on the parameter groups the upgrade targets (15 and 15.10 share them).
CLUSTER_PARAMS = CLUSTER_PARAMETER_GROUP
DB_PARAMS = DB_PARAMETER_GROUP
GREEN_SUFFIX = "-green-abc123"
GREEN_CLUSTER_ID = CLUSTER_ID + GREEN_SUFFIX
GREEN_ENDPOINT = f"{GREEN_CLUSTER_ID}.cluster-c1a2b3c4d5e6.{REGION}.rds.amazonaws.com"
BG_ID = "bgd-0123456789abcdef"
OWN_TAGS = {"dbupgrade.dev/uid": UID, "dbupgrade.dev/name": f"{NAMESPACE}/{NAME}"}
FOREIGN_TAGS = {"dbupgrade.dev/uid": FOREIGN_UID}


def cluster_arn(identifier: str = CLUSTER_ID) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{identifier}"


def ago(seconds: float) -> str:
    """An RFC 3339 stamp `seconds` before NOW, as the engine writes them into status."""
    return rfc3339(NOW - timedelta(seconds=seconds))


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` merged in, nested mappings merged key by key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def spec_dict(**overrides: Any) -> dict[str, Any]:
    """The runbook spec as users write it (camelCase), with overrides merged in."""
    return merged(RUNBOOK_SPEC, overrides)


def make_spec(**overrides: Any) -> AuroraUpgradeSpec:
    return parse_spec(spec_dict(**overrides))


def make_upgrade(
    phase: Phase = Phase.PENDING,
    spec: AuroraUpgradeSpec | None = None,
    *,
    name: str = NAME,
    uid: str = UID,
    generation: int = 1,
    **status: Any,
) -> Upgrade:
    """An upgrade in `phase` that entered it a minute ago; `status` sets any status field."""
    fields: dict[str, Any] = {
        "phase": phase,
        "started_at": ago(3600),
        "phase_started_at": ago(60),
        "source_engine_version": SOURCE_VERSION,
        "source_cluster_resource_id": BLUE_RESOURCE_ID,
        "source_db_cluster_parameter_group_name": CLUSTER_PARAMS,
        "source_db_parameter_group_name": DB_PARAMS,
        **status,
    }
    return Upgrade(
        name=name,
        namespace=NAMESPACE,
        uid=uid,
        generation=generation,
        spec=spec or make_spec(),
        status=AuroraUpgradeStatus(**fields),
    )


class FakeClock:
    """Seconds that pass only when a test moves them, and by `step` at each reading (a real
    clock never reads the same twice: a call begun after a question is later than it)."""

    def __init__(self, now: float = 1_000_000.0, step: float = 0.0) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def with_spec(upgrade: Upgrade, **overrides: Any) -> Upgrade:
    return replace(upgrade, spec=make_spec(**overrides))


def member(instance: str, *, parameter_status: str = "in-sync") -> ClusterMember:
    return ClusterMember(instance=instance, parameter_status=parameter_status)


# Blue keeps its DbClusterResourceId when the switchover renames it to <cluster>-old1.
BLUE_RESOURCE_ID = "cluster-BLUEBLUEBLUEBLUEBLUEBLUE1"


def make_cluster(identifier: str = CLUSTER_ID, **overrides: Any) -> Cluster:
    base: dict[str, Any] = {
        "identifier": identifier,
        "arn": cluster_arn(identifier),
        "engine": "aurora-postgresql",
        "engine_version": SOURCE_VERSION,
        "status": "available",
        "parameter_group": CLUSTER_PARAMS,
        "endpoint": f"{identifier}.cluster-c1a2b3c4d5e6.{REGION}.rds.amazonaws.com",
        "members": tuple(member(f"{i}{identifier.removeprefix(CLUSTER_ID)}") for i in INSTANCE_IDS),
        "master_user_secret": False,
        "deletion_protection": False,
        "resource_id": BLUE_RESOURCE_ID
        if identifier in (CLUSTER_ID, f"{CLUSTER_ID}-old1")
        else f"cluster-{identifier}",
    }
    return Cluster(**{**base, **overrides})


def make_instance(identifier: str = INSTANCE_IDS[0], **overrides: Any) -> Instance:
    base: dict[str, Any] = {
        "identifier": identifier,
        "cluster": CLUSTER_ID,
        "engine_version": SOURCE_VERSION,
        "status": "available",
        "parameter_groups": ((DB_PARAMS, "in-sync"),),
    }
    return Instance(**{**base, **overrides})


def instances(*statuses: str, suffix: str = "", **overrides: Any) -> tuple[Instance, ...]:
    """The cluster's two instances (`suffix` e.g. GREEN_SUFFIX or "-old1"), with these statuses."""
    statuses = statuses or ("available", "available")
    return tuple(
        make_instance(f"{i}{suffix}", status=s, **overrides) for i, s in zip(INSTANCE_IDS, statuses, strict=False)
    )


def engine_version(
    version: str = SOURCE_VERSION,
    family: str = "aurora-postgresql15",
    targets: tuple[tuple[str, bool], ...] = ((TARGET_VERSION, False), ("15.12", False), ("16.6", True)),
    status: str = "available",
) -> EngineVersion:
    return EngineVersion(
        engine="aurora-postgresql", version=version, family=family, valid_targets=targets, status=status
    )


def make_blue_green(status: str = "AVAILABLE", **overrides: Any) -> BlueGreen:
    base: dict[str, Any] = {
        "identifier": BG_ID,
        "name": NAME,
        "source": cluster_arn(),
        "target": cluster_arn(GREEN_CLUSTER_ID),
        "status": status,
        "status_details": None,
        "tags": dict(OWN_TAGS),
        "tasks": (),
    }
    return BlueGreen(**{**base, **overrides})


def snapshot_id(uid: str = UID) -> str:
    return f"{CLUSTER_ID}-before-switchover-{uid[:8]}"


def make_snapshot(status: str = "available", **overrides: Any) -> Snapshot:
    base: dict[str, Any] = {
        "identifier": snapshot_id(),
        "cluster": CLUSTER_ID,
        "status": status,
        "percent_progress": 100 if status == "available" else 40,
        "tags": dict(OWN_TAGS),
    }
    return Snapshot(**{**base, **overrides})


def steps(*specs: dict[str, str] | str) -> list[RebootStep]:
    """Reboot steps: a bare name is a fresh step, a mapping sets its stamps."""
    return [RebootStep(instance=s) if isinstance(s, str) else RebootStep(**s) for s in specs]
