"""kopf wiring: thin handlers that read, call the engine, and let it record status.

Each AuroraUpgrade has a kopf daemon: kopf documents daemons, not timers (whose interval is
fixed), for work whose next run depends on the last one, with `stopped.wait(delay)` as the
interruptible pause. The daemon reconciles, then pauses for the delay the engine returned
(decisions/pacing.py), aligned to its Region's read cycle (fleet.py), until the delay passes,
the spec changes (`on.event` sees a new generation), or the Region's RDS event feed reports
something about one of its resources. Daemons are async, so a thousand upgrades cost no
thread each; the reconcile itself runs in kopf's executor.

Each reconcile acts on the object as it is now: kopf's body when its resourceVersion is the one
this process last read or wrote, else read again from the API server, because kopf's body may
predate the status this operator wrote a moment ago, and acting on stale status could repeat
an AWS call (every status write is also conditional on the version acted on). Status is
written through the status subresource, so a restarted operator resumes where the last one
stopped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import copy
import logging
import os
import random
import time
from typing import Any

import aiohttp
import kopf

from aurora_upgrade import fleet, metrics
from aurora_upgrade.clock import utcnow
from aurora_upgrade.config import METRICS_ADDRESS_ENV, METRICS_PORT_ENV, timing_from_env
from aurora_upgrade.decisions.precheck import Claim, claim_key, claimed_by
from aurora_upgrade.engine import Engine, default_gateways
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.kube import CustomObjects
from aurora_upgrade.models import (
    FINALIZER,
    GROUP,
    PLURAL,
    VERSION,
    AuroraUpgradeSpec,
    AuroraUpgradeStatus,
    InvalidManifest,
    parse_spec,
    parse_status,
)
from aurora_upgrade.phases import TERMINAL, deleting_may_ever_touch_aws, settled
from aurora_upgrade.resources import RdsError
from aurora_upgrade.status import initial
from aurora_upgrade.store import KubeStore, ResourceDeleting, StatusConflict
from aurora_upgrade.upgrade import Upgrade

log = logging.getLogger(__name__)

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


class _WakeUpsAreNotNews(logging.Filter):
    """`spec_changed` sees every watch event of every upgrade; its success is not worth a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Handler 'spec_changed' succeeded" not in record.getMessage()


logging.getLogger("kopf.objects").addFilter(_DeletionWaitIsNotAnError())
logging.getLogger("kopf.objects").addFilter(_WakeUpsAreNotNews())

TIMING = timing_from_env()
POLL = TIMING.poll


def _region_gateway(upgrade: Upgrade) -> RdsGateway:
    """The gateway every upgrade of the account and Region shares, its reads shared too."""
    gateway = default_gateways(upgrade)
    fleet.share_reads(gateway, TIMING)
    return gateway


UPGRADES = Engine(timing=TIMING, gateways=_region_gateway)
_api: dict[str, CustomObjects] = {}

# What the daemons of this process share (touched from the event loop only).
_wakes: dict[str, asyncio.Event] = {}  # "namespace/name" -> set to end its pause now
_generations: dict[str, int] = {}  # the generation each daemon last reconciled
_interest: dict[str, tuple[RdsGateway, fleet.Resources]] = {}  # what each upgrade waits on in AWS
_feeds: dict[int, asyncio.Task[None]] = {}  # one RDS event feed per gateway (account and Region)
# The resourceVersion each upgrade had when this process last read or wrote it (set by the looks,
# in the executor; one key per upgrade, so a dict's atomic updates suffice).
_known_versions: dict[str, str] = {}
_executor: dict[str, Any] = {}


def custom_api() -> CustomObjects:
    """The AuroraUpgrades as the reconcile threads read and write them; its pool holds a
    connection for each of those threads, so none is opened and discarded per call."""
    if "custom" not in _api:
        _api["custom"] = CustomObjects(GROUP, VERSION, PLURAL, pool=RECONCILE_THREADS)
    return _api["custom"]


# kopf's own HTTP session opens as many connections as it has requests under way (its connector
# has no limit): an operator started beside 500 upgrades it has not seen yet adds 500 finalizers at
# once, over 500 TLS connections, and keeps the memory they took. Its requests wait their turn here.
KUBE_CONNECTIONS = 16
RECONCILE_THREADS = 16  # kopf's executor: the daemons' reconciles
FEED_THREADS = 4  # the Regions' event feeds (one read each every few seconds)


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
    """kopf's own login from pykube-ng's configuration (in-cluster, else kubeconfig) as kube.py's is,
    served by a session with at most KUBE_CONNECTIONS connections. kopf logs in again when the
    API server refuses the credentials (a rotated service-account token), calling this anew."""
    info = kopf.login_via_pykube(**kwargs)
    if info is None:
        return None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=KUBE_CONNECTIONS, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # Our own Events say what happened; kopf's log lines stay in the log unless they warn.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = RECONCILE_THREADS
    _executor["kopf"] = settings.execution.executor  # the daemons' reconciles run where kopf's sync handlers do
    # The event feeds read on threads of their own: queued behind a fleet's looks, a feed's read
    # would come late, its wake-ups too, and its log would look stale to the looks that read it.
    _executor["feed"] = concurrent.futures.ThreadPoolExecutor(FEED_THREADS, "rds-events")
    metrics.serve(int(os.environ.get(METRICS_PORT_ENV, "8000")), os.environ.get(METRICS_ADDRESS_ENV, "0.0.0.0"))
    custom_api()


@kopf.index(GROUP, VERSION, PLURAL)
async def upgrades_by_cluster(
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


def reconcile(
    body: Any, namespace: str, name: str, upgrades_by_cluster: kopf.Index[tuple[str, str], Claim]
) -> tuple[float | None, Upgrade | None]:
    """One look: seconds until the next (None: only a spec change matters now) and the upgrade
    as recorded (None when nothing was reconciled)."""
    if not _has_work(body):  # settled since the daemon last looked; kopf is stopping it
        return None, None
    for _attempt in range(CONFLICT_RETRIES):
        try:
            return _reconcile_fresh(body, namespace, name, upgrades_by_cluster)
        except StatusConflict:
            log.info("%s/%s changed since it was read; reading it again", namespace, name)
        except ResourceDeleting:
            log.info("%s/%s is being deleted; leaving it to the finalizer", namespace, name)
            return None, None
        except Exception:
            metrics.RECONCILE_ERRORS.labels(kind="reconcile").inc()
            log.exception("reconciling %s/%s failed; looking again in %ss", namespace, name, POLL)
            return POLL, None
    return POLL, None


def _has_work(body: Any, **_: Any) -> bool:
    """A daemon follows an upgrade only while it has something left to do: kopf starts it when
    this turns true (a new upgrade, a spec changed after a failed precheck or a dry run) and
    stops it once the upgrade is settled, so finished upgrades cost no task each."""
    status = _status(body)
    return status is None or not settled(status, _generation(body))


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=60, when=_has_work)  # type: ignore[arg-type]  # index kwarg is extra
async def follow(
    stopped: kopf.DaemonStopped,
    body: Any,
    namespace: str | None,
    name: str,
    upgrades_by_cluster: kopf.Index[tuple[str, str], Claim],
    **_: Any,
) -> None:
    assert namespace is not None  # AuroraUpgrade is namespaced
    ref = f"{namespace}/{name}"
    wake = _wakes.setdefault(ref, asyncio.Event())
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(_executor.get("kopf"), _expect_first_look, body, namespace, name)
        while not stopped:
            wake.clear()
            _generations[ref] = _generation(body)
            # In kopf's context (kopf.event needs it), in the executor: boto3 and requests block.
            context = contextvars.copy_context()
            delay, upgrade = await loop.run_in_executor(
                _executor.get("kopf"), context.run, reconcile, body, namespace, name, upgrades_by_cluster
            )
            now = time.time()
            if delay is not None:
                delay = fleet.aligned(delay, now, TIMING)
            _follow_events(ref, upgrade, None if delay is None else fleet.cycle_of(now + delay, TIMING))
            await _pause(stopped, wake, delay)
    finally:
        _wakes.pop(ref, None)
        _generations.pop(ref, None)
        _interest.pop(ref, None)
        _known_versions.pop(ref, None)


def _expect_first_look(body: Any, namespace: str, name: str) -> None:
    """Before a daemon's first look, its upgrade's resources are due in this read cycle, so
    the first looks of many upgrades (an operator starting, a fleet applied at once) share
    the cycle's calls instead of each calling for its own."""
    try:
        spec = parse_spec(body.get("spec"))
        status = _status(body) or initial(utcnow())
        upgrade = Upgrade(name, namespace, str(body["metadata"]["uid"]), _generation(body), spec, status)
        gateway = _region_gateway(upgrade)
    except (InvalidManifest, ValueError, KeyError, RdsError):
        return  # the look itself says what is wrong
    fleet.expect(gateway, fleet.resources_of(upgrade), fleet.cycle_of(time.time(), TIMING))


async def _pause(stopped: kopf.DaemonStopped, wake: asyncio.Event, delay: float | None) -> None:
    """Until `delay` passes (None: no limit), the upgrade is woken, or its daemon is stopped."""
    waits = [asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


def _follow_events(ref: str, upgrade: Upgrade | None, cycle: int | None) -> None:
    """Have the Region's event feed wake `ref` for events about its resources, and the read
    cycle of its next look (`cycle`; None: only an event or a spec change wakes it) ask about them."""
    if upgrade is None:
        return
    if upgrade.status.phase in TERMINAL:
        _interest.pop(ref, None)
        return
    try:
        gateway = _region_gateway(upgrade)
    except RdsError:
        return  # no gateway (e.g. a role that cannot be assumed): the phase poll goes on
    resources = fleet.resources_of(upgrade)
    if cycle is not None:
        fleet.expect(gateway, resources, cycle)
    _interest[ref] = (gateway, resources)
    if id(gateway) not in _feeds:
        _feeds[id(gateway)] = asyncio.get_running_loop().create_task(_feed(gateway))


async def _feed(gateway: RdsGateway) -> None:
    """One DescribeEvents call per account and Region every `Timing.events` seconds, for as
    long as an upgrade there waits on AWS; each event wakes the upgrades it is about."""
    loop = asyncio.get_running_loop()
    try:
        while waiting := {ref: resources for ref, (gw, resources) in _interest.items() if gw is gateway}:
            interest = {ref: resources.names for ref, resources in waiting.items()}
            try:
                events = await loop.run_in_executor(_executor.get("feed"), gateway.read_events)
            except RdsError as error:
                log.warning("Reading RDS events failed (%s); the upgrades' own polls go on", error)
                events = []
            for ref in fleet.woken_by(events, interest, gateway.cluster_of_instance):
                if ref in _wakes:
                    fleet.expect(gateway, waiting[ref])  # the woken look's reads go in one call
                    _wakes[ref].set()
            await asyncio.sleep(TIMING.events * random.uniform(0.9, 1.1))  # jittered, unlike its peers'
    finally:
        _feeds.pop(id(gateway), None)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def spec_changed(body: Any, namespace: str | None, name: str, **event: Any) -> None:
    """A new generation (an approval, a fixed spec) ends the daemon's pause at once. A plain
    watch-event handler: nothing to persist or retry, unlike on.update's. Async, like the index
    above: kopf runs sync handlers in the executor the looks run in, and a fleet's watch events
    (one per status write), queued behind the looks, held their bodies (over 150 MB at 500
    upgrades); in the event loop it is also where the daemons' wake events may be set. Every upgrade kopf
    lists or watches, finished ones too (they have no daemon), exports its phase and reason
    here, also after an operator restart: alerts tell a Failed upgrade, an approval, a window.
    A deleted upgrade's series go (the finalizer drops them too); the events of a deletion under
    way, which carry the last status, do not bring them back."""
    ref = f"{namespace}/{name}"
    if ref in _wakes and _generations.get(ref) != _generation(body):
        _wakes[ref].set()
    if event.get("type") == "DELETED":  # kopf's watch-event type
        metrics.forget(str(namespace), name)
        return
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    try:
        cached = _status(body)
    except ValueError:
        return  # a status the operator cannot read; its reconcile says what is wrong
    if cached is not None:
        metrics.set_phase(str(namespace), name, cached.phase)
        metrics.set_reason(str(namespace), name, cached.reason)


def _reconcile_fresh(
    body: Any, namespace: str, name: str, upgrades_by_cluster: kopf.Index[tuple[str, str], Claim]
) -> tuple[float | None, Upgrade | None]:
    """Read the object (kopf's cached body may predate the status just written), decide and
    act on it; every status write is conditional on the version read here."""
    metrics.RECONCILES.inc()
    ref = f"{namespace}/{name}"
    fresh = _fresh(body, ref, namespace, name)
    if fresh["metadata"].get("deletionTimestamp"):
        return None, None
    store = _store(body, fresh)
    try:
        spec = parse_spec(fresh.get("spec"))
    except InvalidManifest as error:
        UPGRADES.reject(_status(fresh), _generation(fresh), error, store)
        return None, None  # stalled until the spec is fixed
    upgrade = _accept(fresh, spec, store)
    claims = list(upgrades_by_cluster.get(claim_key(spec.region, spec.cluster_identifier), []))
    try:
        recorded, requeue = UPGRADES.reconcile(upgrade, store, claimed_by(claims, ref))
    finally:
        if store.resource_version:
            _known_versions[ref] = store.resource_version
    return requeue, recorded


def _fresh(body: Any, ref: str, namespace: str, name: str) -> dict[str, Any]:
    """The object `ref` as it is now. kopf's body is it when its resourceVersion is the one this
    process last read or wrote (nobody changed it since, and kopf has seen our own last write);
    otherwise, or if it changes while copied, it is read from the API server."""
    known = _known_versions.get(ref)
    version = (body.get("metadata") or {}).get("resourceVersion")
    if known is not None and version == known:
        copied = copy.deepcopy(dict(body))
        if (copied.get("metadata") or {}).get("resourceVersion") == known:
            return copied
    fresh: dict[str, Any] = custom_api().get(namespace, name)
    _known_versions[ref] = fresh["metadata"].get("resourceVersion")
    return fresh


def _deletion_has_work(body: Any, **_: Any) -> bool:
    """Deleting a Completed or Aborted upgrade changes nothing in AWS (docs/operations.md's
    deletion table), so it carries no finalizer: kopf adds none to one it first sees finished
    (an operator started beside a thousand finished upgrades patches none of them) and takes it
    off one that finishes. Every other upgrade keeps it, a Failed one too: before switchover
    its deletion may still have a deployment and green to delete."""
    try:
        status = _status(body)
    except ValueError:
        return True  # the handler says what is wrong
    return status is None or deleting_may_ever_touch_aws(status)


@kopf.on.delete(GROUP, VERSION, PLURAL, when=_deletion_has_work)
def finalize(body: Any, namespace: str | None, name: str, **_: Any) -> None:
    assert namespace is not None  # AuroraUpgrade is namespaced
    fresh = custom_api().get(namespace, name)
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
