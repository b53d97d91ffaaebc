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
from typing import Any

import kopf
import kubernetes

from aurora_upgrade import metrics
from aurora_upgrade.clock import utcnow
from aurora_upgrade.config import Timing, poll_seconds
from aurora_upgrade.decisions.precheck import Claim, claim_key, claimed_by
from aurora_upgrade.engine import Engine
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
from aurora_upgrade.phases import settled
from aurora_upgrade.status import initial
from aurora_upgrade.store import KubeStore, ResourceDeleting, StatusConflict
from aurora_upgrade.upgrade import Upgrade

log = logging.getLogger(__name__)

METRICS_PORT_ENV = "AURORA_UPGRADE_METRICS_PORT"
METRICS_ADDRESS_ENV = "AURORA_UPGRADE_METRICS_ADDRESS"


WAITING_FOR_DELETION = "Waiting for AWS to delete what this upgrade created"
CHANGED_WHILE_DELETING = "The object changed while deleting; reading it again"


class _DeletionWaitIsNotAnError(logging.Filter):
    """kopf logs every retry of a handler at ERROR ("failed temporarily"); the finalizer's
    retries while AWS deletes are progress (recorded in status and Events), so log them at INFO
    and keep ERROR for real errors (alerting on the operator's log stays meaningful)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno == logging.ERROR and (WAITING_FOR_DELETION in message or CHANGED_WHILE_DELETING in message):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("kopf.objects").addFilter(_DeletionWaitIsNotAnError())

POLL = poll_seconds()
UPGRADES = Engine(timing=Timing(poll=POLL))
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


@kopf.index(GROUP, VERSION, PLURAL)
def upgrades_by_cluster(
    spec: Any, status: Any, meta: Any, namespace: str | None, name: str, **_: Any
) -> dict[tuple[str, str], Claim]:
    key = claim_key(str(spec.get("region")), str(spec.get("clusterIdentifier")))
    return {key: Claim(f"{namespace}/{name}", str(meta.get("creationTimestamp")), status.get("phase", "Pending"))}


def _store(body: Any, fresh: dict[str, Any], *, finalizing: bool = False) -> KubeStore:
    """Status writes conditional on the version of `fresh`, the object the decision is made on."""

    def post(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message[:1000])

    meta = fresh["metadata"]
    return KubeStore(
        meta["namespace"],
        meta["name"],
        custom_api(),
        post,
        resource_version=meta.get("resourceVersion"),
        stop_when_deleting=not finalizing,
    )


CONFLICT_RETRIES = 3  # a conflict re-reads and decides again, a few times per tick


def _status(obj: dict[str, Any]) -> AuroraUpgradeStatus | None:
    return parse_status(obj["status"]) if obj.get("status") else None


def _generation(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("generation", 1))


def _accept(obj: dict[str, Any], spec: AuroraUpgradeSpec, store: KubeStore) -> Upgrade:
    meta = obj["metadata"]
    return UPGRADES.accept(meta["name"], meta["namespace"], meta["uid"], _generation(obj), spec, _status(obj), store)


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
    cached = _status(body)
    if cached is not None:
        metrics.set_phase(namespace, name, cached.phase)  # also after an operator restart
        metrics.set_reason(namespace, name, cached.reason)  # alerts tell an approval from a window
        if settled(cached, _generation(body)):
            return
    for _attempt in range(CONFLICT_RETRIES):
        try:
            _reconcile_fresh(body, namespace, name, upgrades_by_cluster)
            return
        except StatusConflict:
            log.info("%s/%s changed since it was read; reading it again", namespace, name)
        except ResourceDeleting:
            log.info("%s/%s is being deleted; leaving it to the finalizer", namespace, name)
            return
        except Exception:
            metrics.RECONCILE_ERRORS.labels(kind="reconcile").inc()
            raise


def _reconcile_fresh(
    body: Any, namespace: str, name: str, upgrades_by_cluster: kopf.Index[tuple[str, str], Claim]
) -> None:
    """Read the object (kopf's cached body may predate the status just written), decide and
    act on it; every status write is conditional on the version read here."""
    fresh = custom_api().get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    if fresh["metadata"].get("deletionTimestamp"):
        return
    store = _store(body, fresh)
    try:
        spec = parse_spec(fresh.get("spec"))
    except InvalidManifest as error:
        UPGRADES.reject(_status(fresh), _generation(fresh), error, store)
        return
    upgrade = _accept(fresh, spec, store)
    claims = list(upgrades_by_cluster.get(claim_key(spec.region, spec.cluster_identifier), []))
    UPGRADES.reconcile(upgrade, store, claimed_by(claims, f"{namespace}/{name}"))


@kopf.on.delete(GROUP, VERSION, PLURAL)
def finalize(body: Any, namespace: str | None, name: str, **_: Any) -> None:
    assert namespace is not None  # AuroraUpgrade is namespaced
    fresh = custom_api().get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    store = _store(body, fresh, finalizing=True)
    meta = fresh["metadata"]
    status = _status(fresh) or initial(utcnow())  # deleted before its first reconcile: nothing to accept
    spec = _spec_for_deletion(fresh.get("spec"))
    upgrade = Upgrade(meta["name"], meta["namespace"], meta["uid"], _generation(fresh), spec, status)
    try:
        delay = UPGRADES.finalize(upgrade, store)
    except StatusConflict:
        # The reconcile timer wrote in between: decide again on what it wrote.
        raise kopf.TemporaryError(CHANGED_WHILE_DELETING, delay=1) from None
    except Exception:
        metrics.RECONCILE_ERRORS.labels(kind="finalize").inc()
        raise
    if delay is not None:
        raise kopf.TemporaryError(WAITING_FOR_DELETION, delay=delay)
    metrics.forget(namespace, name)
