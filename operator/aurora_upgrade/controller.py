"""kopf wiring: thin handlers that read, call the engine, and let it record status.

Each unfinished AuroraUpgrade has a kopf daemon (`drive`): kopf documents daemons, not timers
(whose interval is fixed), for work whose next run depends on the last one, with
`stopped.wait(delay)` as the interruptible pause. The daemon reconciles, then pauses for the
delay the engine returned (decisions/pacing.py), aligned to its Region's read cycle (fleet.py),
until the delay passes, the spec changes (`on.event` sees a new generation), or the Region's RDS
event feed reports something about one of its resources. Daemons are async, so a thousand
upgrades cost no thread each; the reconcile itself runs in kopf's executor.

Each reconcile acts on the object as it is now: kopf's body when its resourceVersion is the one
this process last read or wrote, else read again from the API server, because kopf's body may
predate the status this operator wrote a moment ago, and acting on stale status could repeat
an AWS call (every status write is also conditional on the version acted on). Status is
written through the status subresource, so a restarted operator resumes where the last one
stopped.

What the handlers share lives in one `Controller`, made by the startup handler and kept in
kopf's memo (`memo.controller`): nothing here is module-level state, so each operator kopf runs
in a process (a test's, for one) has its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import copy
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import kopf

from aurora_upgrade import fleet, metrics
from aurora_upgrade.clock import utcnow
from aurora_upgrade.config import (
    EVENT_QUEUE_REGION_ENV,
    METRICS_ADDRESS_ENV,
    METRICS_PORT_ENV,
    Timing,
    event_queue_url,
    max_creating_per_region,
    timing_from_env,
)
from aurora_upgrade.database import DatabaseProbe
from aurora_upgrade.decisions.bluegreen import CreateSlots, CreateTurn, create_slots
from aurora_upgrade.decisions.precheck import Claim, claim_key, claimed_by
from aurora_upgrade.engine import Engine, default_gateways
from aurora_upgrade.gateway.event_queue import EventQueue
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.kube import CustomObjects, read_secret
from aurora_upgrade.models import (
    FINALIZER,
    GROUP,
    PLURAL,
    UNOBSERVED,
    VERSION,
    AuroraUpgradeSpec,
    AuroraUpgradeStatus,
    InvalidManifest,
    parse_spec,
    parse_status,
)
from aurora_upgrade.phases import FINISHED, TERMINAL, Phase
from aurora_upgrade.resources import RdsError, RdsEvent
from aurora_upgrade.status import initial
from aurora_upgrade.store import KubeStore, ResourceDeleting, StatusConflict
from aurora_upgrade.upgrade import Upgrade
from aurora_upgrade.validation_jobs import Probes, Validations, database_probe

log = logging.getLogger(__name__)

# Bounds on what the operator opens at once. kopf's own HTTP session has no connection limit:
# it opens one per request under way (docs/events.md, "The operator process").
KUBE_CONNECTIONS = 16
RECONCILE_THREADS = 16  # kopf's executor: the daemons' reconciles
RESERVED_FOR_WOKEN = 4  # of those, turns safety polls never take (fleet.Looks)
FEED_THREADS = 4  # the Regions' event feeds (one read each every few seconds)
CONFLICT_RETRIES = 3  # a conflict re-reads and decides again, a few times per look
# How long at most a create the per-Region limit let through counts as creating until the index
# shows it: long enough for its status write to come back as a watch event on a busy API server.
GRANT_SECONDS = 60.0
# The phases from which a look may go on to create green in the same reconcile.
BEFORE_CREATE = (Phase.PENDING, Phase.PRECHECKING, Phase.REBOOTING_SOURCE, Phase.CREATING_BLUE_GREEN)

WAITING_FOR_DELETION = "Waiting for AWS to delete what this upgrade created"
CHANGED_WHILE_DELETING = "The object changed while deleting; reading it again"


# --- kopf's log lines --------------------------------------------------------------------------
# kopf (1.45) has no setting for the level of a handler's retry or success lines, and its records
# carry neither the handler nor the exception (the handler's context is reset before they are
# logged): the message is all a filter can go by. The deletion filter looks for our own
# TemporaryError messages, which kopf puts in its line; the wake-up filter for kopf's wording of a
# success. tests/unit/test_controller_logs.py runs kopf's own handler execution through both, so
# a kopf release that words them differently fails it.


class _DeletionWaitIsNotAnError(logging.Filter):
    """kopf logs every retry of a handler at ERROR ("failed temporarily"), and posts it as an
    Event; the finalizer's retries while AWS deletes are progress (recorded in status and our own
    Events), so log them at INFO, unposted, and keep ERROR for real errors (alerting on the
    operator's log stays meaningful)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno == logging.ERROR and (WAITING_FOR_DELETION in message or CHANGED_WHILE_DELETING in message):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class _WakeUpsAreNotNews(logging.Filter):
    """`spec_changed` sees every watch event of every upgrade; its success is not worth a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Handler 'spec_changed' succeeded" not in record.getMessage()


KOPF_LOG_FILTERS = (_DeletionWaitIsNotAnError(), _WakeUpsAreNotNews())


# --- the operator's shared state ---------------------------------------------------------------


def custom_api() -> CustomObjects:
    """The AuroraUpgrades as the reconcile threads read and write them; its pool holds a
    connection for each of those threads, so none is opened and discarded per call."""
    return CustomObjects(GROUP, VERSION, PLURAL, pool=RECONCILE_THREADS)


@dataclass
class UpgradeDaemon:
    """What the operator keeps about one upgrade while its daemon drives it."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set to end its pause now
    generation: int | None = None  # the generation it last reconciled
    waits_on: tuple[RdsGateway, fleet.Resources] | None = None  # what wakes it in AWS
    # The resourceVersion the upgrade had when this process last read or wrote it, and the object
    # then (the PATCH's answer after a write), set by the looks in the executor.
    known_version: str | None = None
    known: dict[str, Any] | None = None
    superseded: set[str] = field(default_factory=set)  # versions this process read or wrote before
    # The last look's upgrade where it has changes folded into the next write (engine._Writes):
    # the next look goes on from it while the API server holds what that look wrote.
    unsaved: Upgrade | None = None


@dataclass
class Controller:
    """What the handlers of one running operator share. The daemons' part is touched from the
    event loop only, except each daemon's `known_version` (its own look's thread)."""

    timing: Timing
    api: CustomObjects
    looks: concurrent.futures.Executor | None  # kopf's executor: the reconciles run where its sync handlers do
    # The event feeds read on threads of their own: queued behind a fleet's looks, a feed's read
    # would come late, its wake-ups too, and its log would look stale to the looks that read it.
    feed_reads: concurrent.futures.Executor | None
    queue: EventQueue | None = None  # the EventBridge queue of RDS events, if one is configured
    max_creating: int | None = None  # AURORA_UPGRADE_MAX_CREATING_PER_REGION
    engine: Engine = field(init=False)
    # Turns at the executor by urgency: woken looks before safety polls (fleet.Looks).
    turns: fleet.Looks = field(default_factory=lambda: fleet.Looks(RECONCILE_THREADS, RESERVED_FOR_WOKEN))
    # Creates let through by the per-Region limit, by Region key and ref, with when: counted as
    # creating until the index has surely seen their status (looks run in parallel, and the
    # index learns of a create only from its status write's watch event).
    _granted: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    _granting: threading.Lock = field(default_factory=threading.Lock)
    daemons: dict[str, UpgradeDaemon] = field(default_factory=dict)  # by "namespace/name"
    feeds: dict[int, asyncio.Task[None]] = field(default_factory=dict)  # one per gateway (account and Region)
    loop: asyncio.AbstractEventLoop | None = None  # the daemons', known from the first one on
    probes: Probes = field(default_factory=lambda: operator_probe)  # spec.validation's databases
    consuming: asyncio.Task[None] | None = None  # the queue's long polls, while an upgrade waits

    def __post_init__(self) -> None:
        databases = Validations(probes=self.probes, on_done=self.job_done)
        self.engine = Engine(timing=self.timing, gateways=self.gateway, databases=databases)

    def job_done(self, ref: str) -> None:
        """A database check finished, on its runner's thread: the upgrade's daemon looks at once
        to pick the answer up (validation_jobs.py), in the event loop like every wake-up."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake_one, ref)

    def _wake_one(self, ref: str) -> None:
        daemon = self.daemons.get(ref)
        if daemon is not None:
            daemon.wake.set()

    def gateway(self, upgrade: Upgrade) -> RdsGateway:
        """The gateway every upgrade of the account and Region shares, its reads shared too."""
        gateway = default_gateways(upgrade)
        fleet.share_reads(gateway, self.timing)
        return gateway

    # --- the daemon of one upgrade ---------------------------------------------------------------

    async def drive(
        self,
        stopped: kopf.DaemonStopped,
        body: Any,
        namespace: str,
        name: str,
        upgrades_by_cluster: kopf.Index[tuple[str, str], Claim],
        upgrades_by_region: kopf.Index[tuple[str, str], CreateTurn],
    ) -> None:
        """Look, pause, look again, until the upgrade is settled (kopf then stops the daemon)."""
        ref = f"{namespace}/{name}"
        # A record of its own: an older daemon of the upgrade, still stopping, keeps and drops its own.
        daemon = self.daemons[ref] = UpgradeDaemon()
        loop = self.loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.looks, self.expect_first_look, body, namespace, name)
            urgency = fleet.Urgency.WOKEN  # a new upgrade, or one whose spec changed
            while not stopped:
                async with self.turns.turn(urgency):
                    daemon.wake.clear()
                    daemon.generation = _generation(body)
                    # In kopf's context (kopf.event needs it), in the executor: boto3 and requests block.
                    context = contextvars.copy_context()
                    delay, upgrade = await loop.run_in_executor(
                        self.looks,
                        context.run,
                        self.reconcile,
                        daemon,
                        body,
                        namespace,
                        name,
                        upgrades_by_cluster,
                        upgrades_by_region,
                    )
                now = time.time()
                if delay is not None:
                    delay = fleet.aligned(delay, now, self.timing)
                self.wake_on_events(
                    daemon, upgrade, None if delay is None else fleet.cycle_of(now + delay, self.timing)
                )
                await _pause(stopped, daemon.wake, delay)
                urgency = fleet.Urgency.WOKEN if daemon.wake.is_set() else fleet.Urgency.POLL
        finally:
            if self.daemons.get(ref) is daemon:
                del self.daemons[ref]
                uid = (body.get("metadata") or {}).get("uid")
                if uid:
                    self.engine.databases.forget(str(uid))  # its database answers are of no more use

    def wake_on_new_generation(self, namespace: str | None, name: str, generation: int) -> None:
        """A new generation (an approval, a fixed spec) ends the daemon's pause at once."""
        daemon = self.daemons.get(f"{namespace}/{name}")
        if daemon is not None and daemon.generation != generation:
            daemon.wake.set()

    def expect_first_look(self, body: Any, namespace: str, name: str) -> None:
        """Before a daemon's first look, its upgrade's resources are due in this read cycle, so
        the first looks of many upgrades (an operator starting, a fleet applied at once) share
        the cycle's calls instead of each calling for its own."""
        try:
            spec = parse_spec(body.get("spec"))
            status = _status(body) or initial(utcnow())
            upgrade = Upgrade(name, namespace, str(body["metadata"]["uid"]), _generation(body), spec, status)
            gateway = self.gateway(upgrade)
        except (InvalidManifest, ValueError, KeyError, RdsError):
            return  # the look itself says what is wrong
        fleet.expect(gateway, fleet.resources_of(upgrade), fleet.cycle_of(time.time(), self.timing))

    # --- one look (in the executor) --------------------------------------------------------------

    def reconcile(
        self,
        daemon: UpgradeDaemon,
        body: Any,
        namespace: str,
        name: str,
        upgrades_by_cluster: kopf.Index[tuple[str, str], Claim],
        upgrades_by_region: kopf.Index[tuple[str, str], CreateTurn],
    ) -> tuple[float | None, Upgrade | None]:
        """One look: seconds until the next (None: only a spec change matters now) and the upgrade
        as recorded (None when nothing was reconciled)."""
        if not _has_work(body):  # settled since the daemon last looked; kopf is stopping it
            return None, None
        for _attempt in range(CONFLICT_RETRIES):
            try:
                return self._reconcile_fresh(daemon, body, namespace, name, upgrades_by_cluster, upgrades_by_region)
            except StatusConflict:
                log.info("%s/%s changed since it was read; reading it again", namespace, name)
                daemon.known_version, daemon.known, daemon.unsaved = None, None, None
            except ResourceDeleting:
                log.info("%s/%s is being deleted; leaving it to the finalizer", namespace, name)
                return None, None
            except Exception:
                metrics.RECONCILE_ERRORS.labels(kind="reconcile").inc()
                log.exception("reconciling %s/%s failed; looking again in %ss", namespace, name, self.timing.poll)
                return self.timing.poll, None
        return self.timing.poll, None

    def _reconcile_fresh(
        self,
        daemon: UpgradeDaemon,
        body: Any,
        namespace: str,
        name: str,
        upgrades_by_cluster: kopf.Index[tuple[str, str], Claim],
        upgrades_by_region: kopf.Index[tuple[str, str], CreateTurn],
    ) -> tuple[float | None, Upgrade | None]:
        """Read the object (kopf's cached body may predate the status just written), decide and
        act on it; every status write is conditional on the version read here."""
        metrics.RECONCILES.inc()
        fresh = self._fresh(daemon, body, namespace, name)
        if fresh["metadata"].get("deletionTimestamp"):
            return None, None
        store = self.store(body, fresh)
        try:
            spec = parse_spec(fresh.get("spec"))
        except InvalidManifest as error:
            self.engine.reject(_status(fresh), _generation(fresh), error, store)
            return None, None  # stalled until the spec is fixed
        upgrade = _carried(daemon.unsaved, self._accept(fresh, spec, store))
        daemon.unsaved = None
        ref = f"{namespace}/{name}"
        claims = list(upgrades_by_cluster.get(claim_key(spec.region, spec.cluster_identifier), []))
        key = region_key(spec.aws.role_arn, spec.region)
        before_create = upgrade.status.phase in BEFORE_CREATE and not upgrade.status.create_requested_at
        slots = self._create_slots(ref, key, upgrades_by_region) if before_create else None
        created = False
        try:
            recorded, requeue = self.engine.reconcile(upgrade, store, claimed_by(claims, ref), slots)
            created = bool(recorded.status.create_requested_at)
        finally:
            if store.answer is not None:
                _know(daemon, store.answer)
            if slots is not None and not created:
                with self._granting:
                    self._granted.get(key, {}).pop(ref, None)  # it did not create: no slot taken
        daemon.unsaved = recorded if recorded.stored is not None else None
        return requeue, recorded

    def _create_slots(
        self, ref: str, key: tuple[str, str], upgrades_by_region: kopf.Index[tuple[str, str], CreateTurn]
    ) -> CreateSlots | None:
        """Where the per-Region limit stands for `ref` (None without a limit). A look it lets
        create counts as creating from now on, for the looks running beside it."""
        if self.max_creating is None:
            return None
        with self._granting:
            now = time.monotonic()
            turns = list(upgrades_by_region.get(key, []))
            indexed = {t.ref for t in turns if t.creating}  # the index has seen these creates: it counts them
            granted = {
                r: at for r, at in self._granted.get(key, {}).items() if r not in indexed and now - at < GRANT_SECONDS
            }
            slots = create_slots(ref, turns, self.max_creating)
            creating = indexed | set(granted)
            slots = CreateSlots(slots.limit, len(creating - {ref}), slots.ahead)
            if slots.creating + slots.ahead < slots.limit:
                granted[ref] = now
            self._granted[key] = granted
            return slots

    def _fresh(self, daemon: UpgradeDaemon, body: Any, namespace: str, name: str) -> dict[str, Any]:
        """The upgrade as it is now. kopf's body is it when its resourceVersion is the one this
        process last read or wrote (nobody changed it since, and kopf has seen our own last write);
        otherwise, or if it changes while copied, it is read from the API server."""
        known = daemon.known_version
        version = (body.get("metadata") or {}).get("resourceVersion")
        if known is not None and version == known:
            copied = copy.deepcopy(dict(body))
            if (copied.get("metadata") or {}).get("resourceVersion") == known:
                return copied
        if known is not None and daemon.known is not None and version in daemon.superseded:
            # kopf's copy predates what this process last wrote: the PATCH's answer is newer.
            return copy.deepcopy(daemon.known)
        fresh: dict[str, Any] = self.api.get(namespace, name)
        _know(daemon, fresh)
        return fresh

    def _accept(self, obj: dict[str, Any], spec: AuroraUpgradeSpec, store: KubeStore) -> Upgrade:
        meta = obj["metadata"]
        return self.engine.accept(
            meta["name"], meta["namespace"], meta["uid"], _generation(obj), spec, _status(obj), store
        )

    def store(self, body: Any, fresh: dict[str, Any], *, finalizing: bool = False) -> KubeStore:
        """Status writes conditional on the version of `fresh`, the object the decision is made on."""

        def post(type_: str, reason: str, message: str) -> None:
            kopf.event(body, type=type_, reason=reason, message=message[:1000])

        meta = fresh["metadata"]
        return KubeStore(
            meta["namespace"],
            meta["name"],
            self.api,
            post,
            resource_version=meta.get("resourceVersion"),
            stop_when_deleting=not finalizing,
        )

    # --- the Regions' RDS event feeds ------------------------------------------------------------

    def wake_on_events(self, daemon: UpgradeDaemon, upgrade: Upgrade | None, cycle: int | None) -> None:
        """Have the Region's event feed wake the daemon for events about its upgrade's resources,
        and the read cycle of its next look (`cycle`; None: only an event or a spec change wakes
        it) ask about them."""
        if upgrade is None:
            return
        if upgrade.status.phase in TERMINAL:
            daemon.waits_on = None
            return
        try:
            gateway = self.gateway(upgrade)
        except RdsError:
            return  # no gateway (e.g. a role that cannot be assumed): the phase poll goes on
        resources = fleet.resources_of(upgrade)
        if cycle is not None:
            fleet.expect(gateway, resources, cycle)
        daemon.waits_on = (gateway, resources)
        if id(gateway) not in self.feeds:
            self.feeds[id(gateway)] = asyncio.get_running_loop().create_task(self._feed(gateway))
        if self.queue is not None and self.consuming is None:
            self.consuming = asyncio.get_running_loop().create_task(self._consume(self.queue))

    def _waiting_on(self, gateway: RdsGateway) -> dict[str, tuple[UpgradeDaemon, fleet.Resources]]:
        return {
            ref: (daemon, daemon.waits_on[1])
            for ref, daemon in self.daemons.items()
            if daemon.waits_on is not None and daemon.waits_on[0] is gateway
        }

    async def _feed(self, gateway: RdsGateway) -> None:
        """One DescribeEvents call per account and Region every `Timing.feed_interval` seconds (the
        safety interval where the EventBridge queue brings the events), for as long as an upgrade
        there waits on AWS; each event wakes the upgrades it is about."""
        loop = asyncio.get_running_loop()
        period = fleet.tick(self.timing)
        lead = period / 10
        try:
            while waiting := self._waiting_on(gateway):
                started = loop.time()
                try:
                    events = await loop.run_in_executor(self.feed_reads, gateway.read_events)
                except RdsError as error:
                    log.warning("Reading RDS events failed (%s); the upgrades' own polls go on", error)
                    events = []
                # The next read ends before a tick, as this one would have: the looks it wakes
                # join that tick's cycle (fleet.feed_delay). Long where the queue brings events.
                lead = min(period / 2, max(period / 20, 1.5 * (loop.time() - started)))
                self._wake(gateway, waiting, events, fleet.woken_at(time.time(), self.timing))
                await asyncio.sleep(fleet.feed_delay(time.time(), self.timing, lead))
        finally:
            self.feeds.pop(id(gateway), None)

    def _wake(
        self,
        gateway: RdsGateway,
        waiting: dict[str, tuple[UpgradeDaemon, fleet.Resources]],
        events: list[RdsEvent],
        at: float | None = None,
    ) -> None:
        """Wake the upgrades waiting on the gateway's Region that `events` are about: at once, or
        at `at` (time.time()), a tick of the read cycles their reads are due in then."""
        interest = {ref: resources.names for ref, (_, resources) in waiting.items()}
        loop = asyncio.get_running_loop()
        cycle = None if at is None else fleet.cycle_of(at, self.timing)
        for ref in fleet.woken_by(events, interest, gateway.cluster_of_instance):
            daemon, resources = waiting[ref]
            if self.daemons.get(ref) is daemon:
                # The woken look's reads go in one call: the next one, or that of `at`'s cycle.
                fleet.expect(gateway, resources, cycle)
                if at is None:
                    daemon.wake.set()
                else:
                    loop.call_later(max(0.0, at - time.time()), self._wake_later, ref, daemon)

    def _wake_later(self, ref: str, daemon: UpgradeDaemon) -> None:
        if self.daemons.get(ref) is daemon:
            daemon.wake.set()

    async def _consume(self, queue: EventQueue) -> None:
        """Long-poll the EventBridge queue for as long as an upgrade waits on AWS: each event
        wakes the upgrades it is about, as the feed's do. Only an operator that drives upgrades
        consumes: under kopf's peering a paused operator's daemons are stopped, and with them
        this loop (the poll under way ends within its 20 s)."""
        loop = asyncio.get_running_loop()
        try:
            while self.daemons:
                try:
                    events = await loop.run_in_executor(self.feed_reads, queue.receive)
                except RdsError as error:
                    log.warning("Reading the event queue failed (%s); the RDS event feed and polls go on", error)
                    await asyncio.sleep(self.timing.events)
                    continue
                gateways = {id(d.waits_on[0]): d.waits_on[0] for d in self.daemons.values() if d.waits_on}
                for gateway in gateways.values():
                    gateway.heard(events)
                    self._wake(gateway, self._waiting_on(gateway), events)
        finally:
            self.consuming = None

    # --- deletion --------------------------------------------------------------------------------

    def finalize(self, body: Any, namespace: str, name: str) -> None:
        fresh = self.api.get(namespace, name)
        store = self.store(body, fresh, finalizing=True)
        meta = fresh["metadata"]
        status = _status(fresh) or initial(utcnow())  # deleted before its first reconcile: nothing to accept
        spec = _spec_for_deletion(fresh.get("spec"))
        upgrade = Upgrade(meta["name"], meta["namespace"], meta["uid"], _generation(fresh), spec, status)
        try:
            delay = self.engine.finalize(upgrade, store)
        except StatusConflict:
            # The daemon's look wrote in between: decide again on what it wrote.
            raise kopf.TemporaryError(CHANGED_WHILE_DELETING, delay=1) from None
        except Exception:
            metrics.RECONCILE_ERRORS.labels(kind="finalize").inc()
            raise
        if delay is not None:
            raise kopf.TemporaryError(WAITING_FOR_DELETION, delay=delay)
        metrics.forget(namespace, name)


def operator_probe(upgrade: Upgrade) -> DatabaseProbe:
    """The database probe in the operator: a passwordSecretRef is read from the upgrade's own
    namespace when the job runs (never kept); otherwise IAM database authentication."""
    database = upgrade.spec.validation.database if upgrade.spec.validation else None
    ref = database.password_secret_ref if database else None
    password = read_secret(upgrade.namespace, ref.name, ref.key) if ref is not None else None
    return database_probe(upgrade, password)


async def _pause(stopped: kopf.DaemonStopped, wake: asyncio.Event, delay: float | None) -> None:
    """Until `delay` passes (None: no limit), the upgrade is woken, or its daemon is stopped."""
    waits = [asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


def _know(daemon: UpgradeDaemon, obj: dict[str, Any]) -> None:
    """`obj` is the upgrade as this process last read or wrote it."""
    if daemon.known_version is not None:
        daemon.superseded.add(daemon.known_version)
        if len(daemon.superseded) > KNOWN_VERSIONS:
            daemon.superseded.clear()  # only to bound it: an unknown version is read again
    daemon.known_version = (obj.get("metadata") or {}).get("resourceVersion")
    daemon.known = obj


KNOWN_VERSIONS = 16
PHASES = frozenset(phase.value for phase in Phase)


def _carried(unsaved: Upgrade | None, upgrade: Upgrade) -> Upgrade:
    """The upgrade to look at: the last look's, with its changes not written yet, while the API
    server holds what that look wrote (a spec change keeps them too); else as read."""
    if unsaved is None or unsaved.uid != upgrade.uid or unsaved.held != upgrade.status:
        return upgrade
    return Upgrade(
        upgrade.name, upgrade.namespace, upgrade.uid, upgrade.generation, upgrade.spec, unsaved.status, upgrade.status
    )


def _status(obj: dict[str, Any]) -> AuroraUpgradeStatus | None:
    return parse_status(obj["status"]) if obj.get("status") else None


def _generation(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("generation", 1))


def _spec_for_deletion(raw: Any) -> Any:
    """Deletion needs region, cluster and deletionPolicy, which the schema guarantees; only the
    window's time zone can be invalid, and deletion does not use the window."""
    spec = dict(raw or {})
    spec["switchover"] = {k: v for k, v in (spec.get("switchover") or {}).items() if k != "window"}
    return parse_spec(spec)


def _has_work(body: Any, **_: Any) -> bool:
    """A daemon drives an upgrade only while it has something left to do: kopf starts it when
    this turns true (a new upgrade, a spec changed after a failed precheck or a dry run) and
    stops it once the upgrade is settled, so finished upgrades cost no task each."""
    status = body.get("status")  # raw: kopf asks on every watch event of every upgrade
    return not status or status.get("phase") not in TERMINAL or status.get("observedGeneration") != _generation(body)


def _deletion_has_work(body: Any, **_: Any) -> bool:
    """Deleting a Completed or Aborted upgrade changes nothing in AWS (docs/operations.md's
    deletion table), so it carries no finalizer: kopf adds none to one it first sees finished
    (an operator started beside a thousand finished upgrades patches none of them) and takes it
    off one that finishes. Every other upgrade keeps it, a Failed one too: before switchover
    its deletion may still have a deployment and green to delete."""
    status = body.get("status")  # raw, as in _has_work
    return not status or status.get("phase") not in FINISHED


# --- the handlers ------------------------------------------------------------------------------


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
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # Our own Events say what happened; kopf's log lines stay in the log unless they warn.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = RECONCILE_THREADS
    for log_filter in KOPF_LOG_FILTERS:  # once per process: addFilter ignores one already there
        logging.getLogger("kopf.objects").addFilter(log_filter)
    metrics.serve(int(os.environ.get(METRICS_PORT_ENV, "8000")), os.environ.get(METRICS_ADDRESS_ENV, "0.0.0.0"))
    memo.controller = Controller(
        timing=timing_from_env(),
        api=custom_api(),
        looks=settings.execution.executor,
        feed_reads=concurrent.futures.ThreadPoolExecutor(FEED_THREADS, "rds-events"),
        queue=_event_queue(),
        max_creating=max_creating_per_region(),
    )


def _event_queue() -> EventQueue | None:
    url = event_queue_url()
    return EventQueue.for_url(url, os.environ.get(EVENT_QUEUE_REGION_ENV) or None) if url else None


@kopf.index(GROUP, VERSION, PLURAL)
async def upgrades_by_cluster(
    spec: Any, status: Any, meta: Any, namespace: str | None, name: str, **_: Any
) -> dict[tuple[str, str], Claim]:
    key = claim_key(str(spec.get("region")), str(spec.get("clusterIdentifier")))
    return {key: Claim(f"{namespace}/{name}", str(meta.get("creationTimestamp")), status.get("phase", "Pending"))}


def region_key(role_arn: str | None, region: str) -> tuple[str, str]:
    """The account (by the role the upgrade assumes, "" for the operator's own) and Region whose
    quota of DB clusters a create counts against."""
    return (role_arn or "", region)


@kopf.index(GROUP, VERSION, PLURAL)
async def upgrades_by_region(
    spec: Any, status: Any, namespace: str | None, name: str, **_: Any
) -> dict[tuple[str, str], CreateTurn]:
    """The upgrades waiting to create green or creating it, for the per-Region limit."""
    phase = status.get("phase", "Pending")
    if phase not in (Phase.CREATING_BLUE_GREEN, Phase.PROVISIONING_GREEN):
        return {}  # empty, not None: kopf keeps an object's last entry when its indexer answers None
    key = region_key((spec.get("aws") or {}).get("roleArn"), str(spec.get("region")))
    since = str(status.get("phaseStartedAt") or "")
    return {key: CreateTurn(f"{namespace}/{name}", phase, since, bool(status.get("createRequestedAt")))}


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=60, when=_has_work)  # type: ignore[arg-type]  # index kwarg is extra
async def drive(
    stopped: kopf.DaemonStopped,
    body: Any,
    namespace: str | None,
    name: str,
    upgrades_by_cluster: kopf.Index[tuple[str, str], Claim],
    upgrades_by_region: kopf.Index[tuple[str, str], CreateTurn],
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """The daemon of an upgrade with something left to do: it drives the upgrade, look by look."""
    assert namespace is not None  # AuroraUpgrade is namespaced
    await memo.controller.drive(stopped, body, namespace, name, upgrades_by_cluster, upgrades_by_region)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def spec_changed(body: Any, namespace: str | None, name: str, memo: kopf.Memo, **event: Any) -> None:
    """A new generation (an approval, a fixed spec) ends the daemon's pause at once. A plain
    watch-event handler: nothing to persist or retry, unlike on.update's. Async, like the index
    above: kopf runs sync handlers in the executor the looks run in, where a fleet's watch events
    (one per status write) would queue behind the looks, holding their bodies (docs/events.md,
    "The operator process"); in the event loop it is also where the daemons' wake events may be
    set. Every upgrade kopf lists or watches, finished ones too (they have no daemon), exports its
    phase and reason here, also after an operator restart: alerts tell a Failed upgrade, an
    approval, a window. A deleted upgrade's series go (the finalizer drops them too); the events
    of a deletion under way, which carry the last status, do not bring them back."""
    memo.controller.wake_on_new_generation(namespace, name, _generation(body))
    if event.get("type") == "DELETED":  # kopf's watch-event type
        metrics.forget(str(namespace), name)
        return
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    status = body.get("status") or {}  # raw: one of these per status write of every upgrade
    if status.get("observedGeneration") not in (None, UNOBSERVED) and status.get("phase") in PHASES:
        metrics.set_phase(str(namespace), name, Phase(status["phase"]))
        metrics.set_reason(str(namespace), name, status.get("reason"))


@kopf.on.delete(GROUP, VERSION, PLURAL, when=_deletion_has_work)
def finalize(body: Any, namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    assert namespace is not None  # AuroraUpgrade is namespaced
    memo.controller.finalize(body, namespace, name)
