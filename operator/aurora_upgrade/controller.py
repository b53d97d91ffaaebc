"""kopf wiring: thin handlers that read, call the engine, and let it record status.

Polling is a kopf timer at the base poll interval (AURORA_UPGRADE_POLL_SECONDS); a handler
never sleeps. Each tick re-reads the object from the API server, because kopf's cached body
may predate the status this operator wrote a moment ago, and acting on stale status could
repeat an AWS call. Status is written through the status subresource, so a restarted
operator resumes where the last one stopped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import kopf
import kubernetes

from aurora_upgrade import metrics
from aurora_upgrade.config import poll_seconds
from aurora_upgrade.decisions.common import Timing, Upgrade
from aurora_upgrade.engine import Engine, utcnow
from aurora_upgrade.models import (
    GROUP,
    PLURAL,
    VERSION,
    AuroraUpgradeSpec,
    AuroraUpgradeStatus,
    InvalidManifest,
    parse_spec,
    parse_status,
)
from aurora_upgrade.phases import TERMINAL, Phase
from aurora_upgrade.status import initial, transition, with_conditions
from aurora_upgrade.store import KubeRecorder, ResourceDeleting

log = logging.getLogger(__name__)

METRICS_PORT_ENV = "AURORA_UPGRADE_METRICS_PORT"
METRICS_ADDRESS_ENV = "AURORA_UPGRADE_METRICS_ADDRESS"


WAITING_FOR_DELETION = "Waiting for AWS to delete what this upgrade created"


class _DeletionWaitIsNotAnError(logging.Filter):
    """kopf logs every retry of a handler at ERROR ("failed temporarily"); the finalizer's
    retries while AWS deletes are progress (recorded in status and Events), so log them at INFO
    and keep ERROR for real errors (alerting on the operator's log stays meaningful)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and WAITING_FOR_DELETION in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("kopf.objects").addFilter(_DeletionWaitIsNotAnError())

POLL = poll_seconds()
ENGINE = Engine(timing=Timing(poll=POLL))
_api: dict[str, Any] = {}


def custom_api() -> Any:
    if "custom" not in _api:
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()
        _api["custom"] = kubernetes.client.CustomObjectsApi()
    return _api["custom"]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # Our own Events say what happened; kopf's log lines stay in the log unless they warn.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 16
    metrics.serve(int(os.environ.get(METRICS_PORT_ENV, "8000")), os.environ.get(METRICS_ADDRESS_ENV, "0.0.0.0"))
    custom_api()


@dataclass(frozen=True)
class Claim:
    """One AuroraUpgrade's claim on a (region, cluster), as kept in kopf's in-memory index."""

    ref: str
    created: str
    phase: str


@kopf.index(GROUP, VERSION, PLURAL)
def upgrades_by_cluster(
    spec: Any, status: Any, meta: Any, namespace: str | None, name: str, **_: Any
) -> dict[tuple[str, str], Claim]:
    key = (str(spec.get("region")), str(spec.get("clusterIdentifier")))
    return {key: Claim(f"{namespace}/{name}", str(meta.get("creationTimestamp")), status.get("phase", "Pending"))}


def busy_with(claims: list[Claim], me: str) -> str | None:
    """The upgrade that owns the cluster if it is not `me`: one already past Pending, or else
    the oldest Pending one (name breaks ties). Terminal upgrades own nothing."""
    active = [c for c in claims if c.phase not in {p.value for p in TERMINAL}]
    if not active:
        return None
    winner = min(active, key=lambda c: (c.phase == Phase.PENDING.value, c.created, c.ref))
    mine = next((c for c in active if c.ref == me), None)
    if mine is not None and mine.phase != Phase.PENDING.value:
        return None
    return None if winner.ref == me else winner.ref


def _recorder(body: Any, namespace: str, name: str, *, finalizing: bool = False) -> KubeRecorder:
    def post(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message[:1000])

    return KubeRecorder(namespace, name, custom_api(), post, stop_when_deleting=not finalizing)


def _load(obj: dict[str, Any], recorder: KubeRecorder) -> Upgrade | None:
    """The upgrade in `obj`, or None after recording a spec the schema could not refuse (e.g.
    an unknown time zone). Before anything changed in AWS that is `Failed/InvalidSpec`; in
    the middle of an upgrade it only stalls it (a fix of the spec resumes), because giving up
    halfway would leave green, or the steps after switchover, undone."""
    try:
        return _upgrade(obj, parse_spec(obj.get("spec")))
    except InvalidManifest as error:
        status, generation = _status(obj), int(obj["metadata"].get("generation", 1))
        if status.observed_generation == generation and status.reason == "InvalidSpec":
            return None  # already recorded for this generation
        if status.phase in (Phase.PENDING, Phase.PRECHECKING):
            status = transition(status, Phase.FAILED, "InvalidSpec", str(error), utcnow())
        elif status.phase not in TERMINAL:
            status = status.model_copy(update={"reason": "InvalidSpec", "message": f"Stalled: {error}"})
        recorder.save(with_conditions(status, utcnow(), generation))
        recorder.event("Warning", "InvalidSpec", str(error))
        return None


def _status(obj: dict[str, Any]) -> AuroraUpgradeStatus:
    return parse_status(obj.get("status")) if obj.get("status") else initial(utcnow())


def _upgrade(obj: dict[str, Any], spec: AuroraUpgradeSpec) -> Upgrade:
    meta = obj["metadata"]
    return Upgrade(meta["name"], meta["namespace"], meta["uid"], int(meta.get("generation", 1)), spec, _status(obj))


def _spec_for_deletion(raw: Any) -> Any:
    """Deletion needs region, cluster and deletionPolicy, which the schema guarantees; only the
    window's time zone can be invalid, and deletion does not use the window."""
    spec = dict(raw or {})
    spec["switchover"] = {k: v for k, v in (spec.get("switchover") or {}).items() if k != "window"}
    return parse_spec(spec)


@kopf.timer(GROUP, VERSION, PLURAL, interval=POLL)  # type: ignore[arg-type]  # index kwarg is extra
def reconcile(
    body: Any, namespace: str | None, name: str, upgrades_by_cluster: kopf.Index[tuple[str, str], Claim], **_: Any
) -> None:
    assert namespace is not None  # AuroraUpgrade is namespaced
    cached = body.get("status", {})
    if cached.get("phase") in {p.value for p in Phase}:
        metrics.set_phase(namespace, name, Phase(cached["phase"]))  # also after an operator restart
    if cached.get("phase") in {p.value for p in TERMINAL} and cached.get("observedGeneration") == body.get(
        "metadata", {}
    ).get("generation"):
        return
    fresh = custom_api().get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    if fresh["metadata"].get("deletionTimestamp"):
        return
    recorder = _recorder(body, namespace, name)
    upgrade = _load(fresh, recorder)
    if upgrade is None:
        return
    if not fresh.get("status"):
        recorder.save(with_conditions(upgrade.status, utcnow(), upgrade.generation))
        recorder.event("Normal", "Accepted", f"Upgrade of {upgrade.spec.cluster_identifier} accepted")
    key = (upgrade.spec.region, upgrade.spec.cluster_identifier)
    claims = list(upgrades_by_cluster.get(key, []))
    try:
        ENGINE.reconcile(upgrade, recorder, busy_with(claims, f"{namespace}/{name}"))
    except ResourceDeleting:
        log.info("%s/%s is being deleted; leaving it to the finalizer", namespace, name)
    except Exception:
        metrics.RECONCILE_ERRORS.labels(kind="reconcile").inc()
        raise


@kopf.on.delete(GROUP, VERSION, PLURAL)
def finalize(body: Any, namespace: str | None, name: str, **_: Any) -> None:
    assert namespace is not None  # AuroraUpgrade is namespaced
    fresh = custom_api().get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    recorder = _recorder(body, namespace, name, finalizing=True)
    upgrade = _upgrade(fresh, _spec_for_deletion(fresh.get("spec")))
    try:
        delay = ENGINE.finalize(upgrade, recorder)
    except Exception:
        metrics.RECONCILE_ERRORS.labels(kind="finalize").inc()
        raise
    if delay is not None:
        raise kopf.TemporaryError(WAITING_FOR_DELETION, delay=delay)
    metrics.forget(namespace, name)
