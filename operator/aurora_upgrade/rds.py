"""The RDS gateway: the only module that calls AWS or knows the shapes of its answers.

Every boto3 call goes through `RdsGateway._call`, which counts it for metrics and turns a
botocore error into an `RdsError` whose `ErrorKind` (see resources.py) is decided here from
AWS's error code, and nowhere else:

* RETRYABLE - try again on the next poll (throttling after botocore's own adaptive
  retries, 5xx answers, connection problems, refused credentials or permissions);
* NOT_FOUND - the thing does not exist (describe calls answer None instead);
* INVALID_STATE - AWS refuses the request in the resource's current state (often transient;
  a stage may give it a meaning of its own, e.g. a refused switchover);
* ALREADY_EXISTS - a create found its resource there: an earlier attempt took effect;
* TERMINAL - the request itself is wrong; only a spec change can help.

Throttling is left to botocore's `adaptive` retry mode: RDS has one token bucket per
account and region shared with every other caller, and the client-side rate limiter is
what AWS recommends for that. Describe results are plain frozen dataclasses so the
decision functions never see a boto3 shape. Reads go through `describe_*` methods with
one question each (the `RdsReads` protocol).

One gateway serves every upgrade of an account and Region (`engine.default_gateways`), so the
describes every upgrade repeats are shared (`SharedDescribe`): a question about one cluster,
instance list, deployment (by identifier, name or source) or snapshot is answered by one call,
filtered to the resources of the upgrades looking in that read cycle, that answers all upgrades
asking within it. Writes are one call each, and the next question about what one changed (or an
event is about) is asked of AWS again. `read_events` is the Region's change feed: one
DescribeEvents call for every resource (docs/events.md).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import botocore.exceptions
from botocore import xform_name

from aurora_upgrade import metrics
from aurora_upgrade.resources import (
    BlueGreen,
    Cluster,
    ClusterMember,
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

if TYPE_CHECKING:
    import boto3

# AWS's API reference documents no maximum number of values in one filter (Filter.Values is an
# array of strings), while MaxRecords is at most 100: the gateway sends at most 100 values per
# call, so a chunk of deployments or snapshots fits on one page.
FILTER_VALUES_PER_CALL = 100
# The source types an upgrade waits on; DescribeEvents takes one SourceType per call, so the feed
# asks for all of them at once and keeps these (one call per Region instead of four).
WATCHED_SOURCE_TYPES = frozenset({"blue-green-deployment", "db-cluster", "db-instance", "db-cluster-snapshot"})
# How far before the last event seen the next read starts: event times have second precision, and
# AWS may list an event a moment after its time. Events seen twice are recognised and dropped.
_EVENT_OVERLAP = timedelta(seconds=5)
_EVENT_LOG_KEPT = timedelta(hours=1)  # how far back the feed's events answer questions
POOL_CONNECTIONS = 32  # per RDS client; botocore's default is 10
# Describe calls under way at once, per gateway. botocore parses an answer whole (a DOM of its XML,
# then dicts), and a fleet's shared answers are large: at 500 upgrades, with a dozen threads
# parsing at once, memray found over 100 MB in those parses at the operator's high-water mark.
# Parsing holds the GIL anyway, so more at once gains little; the threads that wait are looks,
# which wait for answers regardless.
READS_AT_ONCE = 2
_NEXT = -(2**62)  # SharedDescribe: due in the next call, whatever its cycle
_FORGET_AFTER = 3600.0  # a resource nobody asked about for this long is no longer in flight
_RESTARTED = "DB instance restarted"  # RDS-EVENT-0006
_SWITCHOVER_SIGNS = ("Switchover from", "Switchover canceled", "Switchover completed")

_NOT_FOUND = {
    "BlueGreenDeploymentNotFoundFault",
    "DBClusterNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "DBClusterParameterGroupNotFound",
    "DBClusterParameterGroupNotFoundFault",
    "DBParameterGroupNotFound",
    "DBParameterGroupNotFoundFault",
    "GlobalClusterNotFoundFault",
}
_RETRYABLE = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
}
# AWS's common errors: answers about our permissions and credentials, not AWS's availability.
_PERMISSION = {"AccessDenied", "AccessDeniedException", "NotAuthorized", "UnauthorizedOperation"}
_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
}
# botocore finds no usable credentials before any request is sent.
_NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
)
_INVALID_STATE = {
    "InvalidBlueGreenDeploymentStateFault",
    "InvalidDBClusterStateFault",
    "InvalidDBInstanceStateFault",
    "InvalidDBClusterSnapshotStateFault",
}


def classify(operation: str, error: Exception) -> RdsError:
    if isinstance(error, botocore.exceptions.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", "Unknown"))
        message = str(info.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        # An assumed role's credentials are fetched inside the RDS call: name STS's operation.
        operation = "AssumeRole" if getattr(error, "operation_name", None) == "AssumeRole" else operation
        if code in _NOT_FOUND:
            kind = ErrorKind.NOT_FOUND
        elif code in _INVALID_STATE:
            kind = ErrorKind.INVALID_STATE
        elif code.endswith(("AlreadyExistsFault", "AlreadyExists")):
            kind = ErrorKind.ALREADY_EXISTS
        elif code in _PERMISSION:
            kind = ErrorKind.PERMISSION
        elif code in _CREDENTIALS:
            kind = ErrorKind.CREDENTIALS
        elif code in _RETRYABLE or status >= 500:
            kind = ErrorKind.RETRYABLE
        else:
            kind = ErrorKind.TERMINAL
        # A 5xx answer does not tell whether the request took effect.
        return RdsError(kind, code, message, operation, answered=status < 500)
    if isinstance(error, _NO_CREDENTIALS):
        return RdsError(ErrorKind.CREDENTIALS, type(error).__name__, str(error), operation)
    # Connection problems, timeouts and the like: the next poll may succeed.
    return RdsError(ErrorKind.RETRYABLE, type(error).__name__, str(error), operation, answered=False)


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _to_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


ClientFactory = Callable[[str, str | None, str | None], tuple[Any, Any]]


def _session(region: str, role_arn: str | None, external_id: str | None) -> boto3.session.Session:
    """The default credential chain (IRSA, Pod Identity, ...), or a role assumed from it whose
    credentials botocore refreshes before they expire."""
    import boto3  # on first use: an operator with no upgrade yet does not carry boto3 (~24 MB)
    import botocore.credentials
    import botocore.session

    base = boto3.session.Session(region_name=region)
    if not role_arn:
        return base
    extra: dict[str, Any] = {"RoleSessionName": "aurora-upgrade-operator"}
    if external_id:
        extra["ExternalId"] = external_id
    fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
        client_creator=base._session.create_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args=extra,
    )
    assumed = botocore.session.get_session()
    assumed._credentials = botocore.credentials.DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.session.Session(botocore_session=assumed, region_name=region)


def default_client_factory(region: str, role_arn: str | None, external_id: str | None) -> tuple[Any, Any]:
    """Two RDS clients (AWS_ENDPOINT_URL_RDS is honoured by boto3): reads retry with botocore's
    adaptive mode; writes are sent once, because a retried CreateBlueGreenDeployment or
    SwitchoverBlueGreenDeployment after a timeout could act twice. The engine retries writes
    itself, after checking in AWS whether the first attempt took effect."""
    import botocore.config

    session = _session(region, role_arn, external_id)
    common: dict[str, Any] = {
        "connect_timeout": 10,
        "read_timeout": 30,
        "user_agent_extra": "aurora-upgrade-operator",
        # One pool per client, shared by every thread that calls: more connections than the
        # operator's reconcile threads and its event feed, or botocore discards one per call and
        # opens a new TLS connection to RDS (urllib3 "Connection pool is full" at 100 upgrades).
        "max_pool_connections": POOL_CONNECTIONS,
    }
    reads = botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 8}, **common)
    writes = botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": 1}, **common)
    return session.client("rds", config=reads), session.client("rds", config=writes)


Cycles = Callable[[float], int]  # a moment (time.time()) -> the read cycle it falls in


class SharedDescribe:
    """One describe operation shared by every upgrade of a Region.

    A question about one resource registers it as in flight; it is answered from the last call
    that covered the resource if that call was made in the read cycle the question was asked in,
    or began after it was asked, otherwise by one new call (per chunk of filter values) for what
    is due: the resources asked about now, and those whose upgrades said (`want`) they look in
    this cycle or an earlier one. So a cycle's call carries the resources of the upgrades looking
    in it, not of the whole fleet. Asked from many threads at once, one thread calls while the
    others wait for its answer, and a call made while they waited answers them, whichever cycle
    it falls in. A resource nobody asked about for `forget_after` seconds is no longer in flight.
    Without `cycle_of` nothing is shared: every question is a call."""

    def __init__(
        self,
        fetch: Callable[[list[str]], Iterable[tuple[str, Any]]],
        forget_after: float,
        name_of: Callable[[Any], str] | None = None,
    ) -> None:
        self._fetch = fetch  # filter values -> (key, item) pairs
        self._name_of = name_of  # an item's own name, for `key_of`
        self.cycle_of: Cycles | None = None
        self.forget_after = forget_after
        self._lock = threading.Lock()  # one call at a time; askers wait for it
        self._state_lock = threading.Lock()  # the last answer; never held across a call
        self._wanted_lock = threading.Lock()
        self._wanted: dict[str, float] = {}
        self._due: dict[str, set[int]] = {}  # the read cycles a key is asked for in (_NEXT: the next call)
        self._waiting: collections.Counter[str] = collections.Counter()  # askers waiting, by key
        self._answers: dict[str, list[Any]] = {}
        self._index: dict[str, str] | None = None  # see key_of()
        # When the call whose answer about a key still holds began, and in which read cycle (a
        # write, or an event, about the key since then ends that): the answer is as fresh as that.
        self._answered_at: dict[str, tuple[float, int | None]] = {}
        self._forgotten: set[str] = set()  # forgotten while the call under way was made

    def get(self, key: str) -> list[Any]:
        """The items AWS lists for `key` (none when it does not exist)."""
        asked = time.time()
        with self._wanted_lock:  # registered before waiting, so a call under way may still cover it
            self._wanted[key] = asked
            self._waiting[key] += 1
            # Asked now: whatever look it was due for is this one (an upgrade says when it looks
            # next after each look); the call made for it covers it.
            self._due.pop(key, None)
        try:
            return self._answer(key, asked)
        finally:
            with self._wanted_lock:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]

    def _answers_for(self, key: str, asked: float) -> bool:
        """Whether the answer held about `key` answers a question asked at `asked`: made in the
        same read cycle, or by a call that began after the question (one it waited for)."""
        answered = self._answered_at.get(key)
        if answered is None or self.cycle_of is None:
            return False
        at, cycle = answered
        return at >= asked or cycle == self.cycle_of(asked)

    def _answer(self, key: str, asked: float) -> list[Any]:
        with self._lock:
            with self._state_lock:
                if self._answers_for(key, asked):
                    return list(self._answers.get(key, []))
                self._forgotten = set()
            started = time.time()
            cycle = self.cycle_of(started) if self.cycle_of else None
            with self._state_lock:  # what this cycle's calls answered already
                covered = {k for k, (_, c) in self._answered_at.items() if cycle is not None and c == cycle}
            with self._wanted_lock:
                # A key someone is still waiting for is in flight, however long ago it was asked:
                # under throttling the wait for the lock can outlast `forget_after`.
                self._wanted = {
                    k: t for k, t in self._wanted.items() if k in self._waiting or started - t < self.forget_after
                }
                wanted = frozenset(self._wanted)
                # What is asked about now and what is due by this cycle, less what this cycle's
                # answers already cover (a key written to, named by an event, or new is not):
                # one reboot among a hundred upgrades asks about its cluster, not the hundred.
                # Every waiting question is in this call: its answer, begun after they were
                # asked, answers them all, so the threads that waited do not call in turn.
                due = {k for k, cycles in self._due.items() if cycle is None or min(cycles) <= cycle}
                keys = sorted((frozenset(self._waiting) | (due & wanted)) - covered)
                for k in keys:  # what this call answers; a look due in a later cycle stays due
                    later = {c for c in self._due.get(k, ()) if cycle is not None and c > cycle}
                    if later:
                        self._due[k] = later
                    else:
                        self._due.pop(k, None)
                self._due = {k: cycles for k, cycles in self._due.items() if k in wanted}
            answers: dict[str, list[Any]] = {k: [] for k in keys}
            for found, item in self._fetch(keys):
                answers.setdefault(found, []).append(item)
            with self._state_lock:
                # What a write or an event made stale while the call was under way is not covered
                # by its answer: the next question about it calls AWS again.
                self._answered_at = {k: at for k, at in self._answered_at.items() if k in wanted}
                for k in keys:
                    if k in self._forgotten:
                        self._answered_at.pop(k, None)
                    else:
                        self._answered_at[k] = (started, cycle)
                # The last answer about every resource in flight (events name instances, and
                # `cluster_of_instance` reads them here), this call's replacing what it covers.
                self._answers = {k: v for k, v in self._answers.items() if k in wanted} | answers
                self._index = None
            return list(answers.get(key, []))

    def want(self, keys: Iterable[str], cycle: int | None = None) -> None:
        """Ask for `keys` in the first call of read cycle `cycle` (None: in the next call), before
        anyone asks about them: the upgrades looking in one cycle share its call."""
        asked = time.time()
        with self._wanted_lock:
            for k in keys:
                self._wanted[k] = asked
                self._due.setdefault(k, set()).add(_NEXT if cycle is None else cycle)

    def forget_all(self) -> None:
        """`forget` every key: a change whose key this describe cannot tell (a rename)."""
        with self._state_lock:
            keys = set(self._answered_at)
        for key in keys:
            self.forget(key)

    def forget(self, key: str) -> None:
        """The next question about `key` calls AWS; the others keep this cycle's answer. Never
        waits for a call under way (a write, or the event feed, forgets what it changed)."""
        with self._state_lock:
            self._answered_at.pop(key, None)
            self._forgotten.add(key)
        with self._wanted_lock:
            if key in self._due:  # its upgrade looks sooner than it said; the next call asks
                self._due[key].add(_NEXT)

    def add(self, key: str, item: Any) -> None:
        """`item`, which a write of ours just made, is in this cycle's answer about `key` from now
        on, instead of that answer being asked again; never waits for a call under way, whose
        answer (it may predate the write) covers nothing of `key`."""
        with self._state_lock:
            self._forgotten.add(key)
            if key in self._answered_at:
                self._answers[key] = [*self._answers.get(key, []), item]
                self._index = None

    def key_of(self, name: str) -> str | None:
        """The key of the last answer listing the item named `name` (by `name_of`), found in an
        index made again only when an answer changed: events about a fleet's instances ask this
        many times a read."""
        assert self._name_of is not None, "key_of needs the describe's name_of"
        name_of = self._name_of
        with self._state_lock:
            if self._index is None:
                self._index = {name_of(item): key for key, items in self._answers.items() for item in items}
            return self._index.get(name)

    def last(self, key: str) -> list[Any]:
        """The last answer about `key`, whatever its age, without calling AWS or waiting for a call."""
        with self._state_lock:
            return list(self._answers.get(key, []))


def _by(name: str, values: list[str]) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": values}]


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), FILTER_VALUES_PER_CALL):
        yield values[start : start + FILTER_VALUES_PER_CALL]


class Remembered:
    """Answers kept for `fresh_for` seconds, by question: what a fleet's prechecks all ask (an
    engine version's upgrade targets, a parameter group's family and parameters) is asked of AWS
    once. Of many askers of one question, one calls while the others wait for its answer. Only
    what exists is kept: a refused call, or a group or version AWS does not list (which a person
    may be creating now), is asked again. `fresh_for` 0 (`aurora-upgrade run`) keeps nothing."""

    def __init__(self) -> None:
        self.fresh_for = 0.0
        self._lock = threading.Lock()
        self._asking: dict[Any, threading.Lock] = {}
        self._answers: dict[Any, tuple[float, Any]] = {}

    def get(self, question: Any, ask: Callable[[], Any]) -> Any:
        if self.fresh_for <= 0:
            return ask()
        with self._lock:
            asking = self._asking.setdefault(question, threading.Lock())
        with asking:
            kept = self._answers.get(question)
            if kept is not None and time.monotonic() - kept[0] < self.fresh_for:
                return kept[1]
            answer = ask()
            if answer:
                now = time.monotonic()
                self._answers = {q: kept for q, kept in self._answers.items() if now - kept[0] < self.fresh_for}
                self._answers[question] = (now, answer)
            return answer


class RdsGateway:
    """Every RDS call the engine makes, for one region (and optionally one assumed role)."""

    def __init__(self, reader: Any, writer: Any | None = None) -> None:
        self._reader = reader
        self._writer = writer if writer is not None else reader
        self._reading = threading.BoundedSemaphore(READS_AT_ONCE)  # never held while waiting for anything else
        # Unshared until `share_reads`: `aurora-upgrade run` asks each question of AWS.
        self._clusters = SharedDescribe(self._fetch_clusters, _FORGET_AFTER)
        self._instances = SharedDescribe(self._fetch_instances, _FORGET_AFTER, name_of=lambda i: i.identifier)
        self._deployments = SharedDescribe(self._fetch_deployments, _FORGET_AFTER)
        self._snapshots = SharedDescribe(self._fetch_snapshots, _FORGET_AFTER)
        # Deployments by name and by source cluster, asked before creation: the names and
        # sources asked about in one cycle go in one call each, not one call per question.
        self._by_name = SharedDescribe(self._find_by("blue-green-deployment-name", "name"), _FORGET_AFTER)
        self._by_source = SharedDescribe(self._find_by("source", "source"), _FORGET_AFTER)
        # Clusters by resource id: the previous production, whatever it is named now.
        self._by_resource_id = SharedDescribe(self._fetch_by_resource_id, _FORGET_AFTER)
        self._shared = (
            self._clusters,
            self._instances,
            self._deployments,
            self._snapshots,
            self._by_name,
            self._by_source,
            self._by_resource_id,
        )
        self._catalog = Remembered()  # engine versions: AWS's, changed on release days
        self._parameters = Remembered()  # parameter groups' families and values, which people change
        self._events_lock = threading.Lock()
        self._events_from: datetime | None = None
        self._events_seen: set[tuple[str, str, str, datetime]] = set()
        self._log: list[RdsEvent] = []  # what the feed read, to answer event questions without a call
        self._log_since: datetime | None = None
        self._log_read_at = float("-inf")
        self._log_fresh_for = 0.0  # the feed's answers count while its last read is this recent

    def share_reads(
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
        self._log_fresh_for = events_fresh_for
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
            if reading:
                with self._reading:
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

    # --- reads -----------------------------------------------------------------------

    # --- the shared describes: one call per chunk of what is due in a cycle ---------------

    def _fetch_clusters(self, identifiers: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(identifiers):
            for c in (
                self._describe_or_none("DescribeDBClusters", "DBClusters", Filters=_by("db-cluster-id", chunk)) or []
            ):
                yield c["DBClusterIdentifier"].lower(), self._cluster(c)

    def _fetch_instances(self, clusters: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(clusters):
            for i in (
                self._describe_or_none("DescribeDBInstances", "DBInstances", Filters=_by("db-cluster-id", chunk)) or []
            ):
                yield str(i.get("DBClusterIdentifier", "")).lower(), self._instance(i)

    def _fetch_deployments(self, identifiers: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(identifiers):
            filters = _by("blue-green-deployment-identifier", chunk)
            for b in (
                self._describe_or_none("DescribeBlueGreenDeployments", "BlueGreenDeployments", Filters=filters) or []
            ):
                deployment = self._blue_green(b)
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
                    deployment = self._blue_green(b)
                    value = by_value.get(str(getattr(deployment, attribute)).lower())
                    for key in [value] if value else chunk:
                        yield key, deployment

        return fetch

    def _fetch_by_resource_id(self, resource_ids: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(resource_ids):
            filters = _by("db-cluster-resource-id", chunk)
            for c in self._describe_or_none("DescribeDBClusters", "DBClusters", Filters=filters) or []:
                yield c.get("DbClusterResourceId", ""), self._cluster(c)

    def _fetch_snapshots(self, identifiers: list[str]) -> Iterator[tuple[str, Any]]:
        for chunk in _chunks(identifiers):
            filters = _by("db-cluster-snapshot-id", chunk)
            for s in self._describe_or_none("DescribeDBClusterSnapshots", "DBClusterSnapshots", Filters=filters) or []:
                yield s["DBClusterSnapshotIdentifier"].lower(), self._snapshot(s)

    def describe_cluster(self, identifier: str) -> Cluster | None:
        # Identifiers are stored lower-case; filter values are matched case-sensitively.
        found = self._clusters.get(identifier.lower())
        return found[0] if found else None

    def find_cluster_by_resource_id(self, resource_id: str) -> Cluster | None:
        """The cluster whose DbClusterResourceId is `resource_id`, whatever it is named now
        (AWS's `db-cluster-resource-id` filter)."""
        found = self._by_resource_id.get(resource_id)
        return found[0] if found else None

    @staticmethod
    def _cluster(c: dict[str, Any]) -> Cluster:
        return Cluster(
            identifier=c["DBClusterIdentifier"],
            arn=c.get("DBClusterArn", ""),
            engine=c.get("Engine", ""),
            engine_version=c.get("EngineVersion", ""),
            status=c.get("Status", ""),
            parameter_group=c.get("DBClusterParameterGroup", ""),
            endpoint=c.get("Endpoint"),
            members=tuple(
                ClusterMember(
                    instance=m["DBInstanceIdentifier"],
                    parameter_status=m.get("DBClusterParameterGroupStatus", "in-sync"),
                )
                for m in c.get("DBClusterMembers", [])
            ),
            master_user_secret=bool(c.get("MasterUserSecret")),
            deletion_protection=bool(c.get("DeletionProtection")),
            resource_id=c.get("DbClusterResourceId", ""),
            engine_mode=c.get("EngineMode", "provisioned"),
            read_replicas=tuple(c.get("ReadReplicaIdentifiers", [])),
            replication_source=c.get("ReplicationSourceIdentifier"),
            global_cluster=c.get("GlobalClusterIdentifier"),
        )

    def describe_cluster_instances(self, cluster: str) -> list[Instance]:
        return list(self._instances.get(cluster.lower()))

    def cluster_of_instance(self, instance: str) -> str | None:
        """The cluster an instance belonged to when last described (events name instances)."""
        return self._instances.key_of(instance)

    @staticmethod
    def _instance(i: dict[str, Any]) -> Instance:
        return Instance(
            identifier=i["DBInstanceIdentifier"],
            cluster=i.get("DBClusterIdentifier"),
            engine_version=i.get("EngineVersion", ""),
            status=i.get("DBInstanceStatus", ""),
            parameter_groups=tuple(
                (g.get("DBParameterGroupName", ""), g.get("ParameterApplyStatus", "in-sync"))
                for g in i.get("DBParameterGroups", [])
            ),
        )

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
        v = items[0]
        return EngineVersion(
            engine=v.get("Engine", engine),
            version=v.get("EngineVersion", version),
            family=v.get("DBParameterGroupFamily", ""),
            valid_targets=tuple(
                (t["EngineVersion"], bool(t.get("IsMajorVersionUpgrade"))) for t in v.get("ValidUpgradeTarget", [])
            ),
            status=v.get("Status", "available"),
        )

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
        g = items[0]
        return GlobalCluster(
            identifier=g.get("GlobalClusterIdentifier", identifier),
            members=tuple(
                (m.get("DBClusterArn", ""), bool(m.get("IsWriter"))) for m in g.get("GlobalClusterMembers", [])
            ),
        )

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

    @staticmethod
    def _blue_green(b: dict[str, Any]) -> BlueGreen:
        return BlueGreen(
            identifier=b["BlueGreenDeploymentIdentifier"],
            name=b.get("BlueGreenDeploymentName", ""),
            source=b.get("Source", ""),
            target=b.get("Target"),
            status=b.get("Status", ""),
            status_details=b.get("StatusDetails"),
            tags=_tags(b.get("TagList")),
            tasks=tuple((t.get("Name", ""), t.get("Status", "")) for t in b.get("Tasks", [])),
            switchover_details=tuple(
                (d.get("SourceMember", ""), d.get("Status", "")) for d in b.get("SwitchoverDetails", [])
            ),
        )

    def describe_cluster_snapshot(self, identifier: str) -> Snapshot | None:
        found = self._snapshots.get(identifier.lower())
        return found[0] if found else None

    @staticmethod
    def _snapshot(s: dict[str, Any]) -> Snapshot:
        return Snapshot(
            identifier=s["DBClusterSnapshotIdentifier"],
            cluster=s.get("DBClusterIdentifier", ""),
            status=s.get("Status", ""),
            percent_progress=int(s.get("PercentProgress", 0) or 0),
            tags=_tags(s.get("TagList")),
        )

    def instance_restarts_since(self, instance: str, since: datetime) -> list[datetime]:
        """Times of "DB instance restarted" events for an instance at or after `since`."""
        # DescribeEvents takes a StartTime; a second of slack covers clock rounding.
        start = since - timedelta(seconds=1)
        logged = self._logged_since(start)
        if logged is not None:
            return [
                e.date
                for e in logged
                if e.source_type == "db-instance" and e.source_identifier == instance and _RESTARTED in e.message
            ]
        events = self._pages(
            "DescribeEvents", "Events", SourceType="db-instance", SourceIdentifier=instance, StartTime=start
        )
        return [
            e["Date"] for e in events if _RESTARTED in e.get("Message", "") and e.get("Date") and e["Date"] >= start
        ]

    def switchover_signs_since(self, deployment: str, cluster: str, since: datetime) -> list[RdsEvent]:
        """Events saying a switchover of `deployment` (RDS-EVENT-0247/0248/0249) or of its source
        `cluster` (0259/0260/0261) started, completed or was canceled at or after `since`."""
        start = since - timedelta(seconds=1)
        found = []
        for source_type, identifier in (("blue-green-deployment", deployment), ("db-cluster", cluster)):
            for e in self._pages(
                "DescribeEvents", "Events", SourceType=source_type, SourceIdentifier=identifier, StartTime=start
            ):
                event = _event(e)
                if event.message.startswith(_SWITCHOVER_SIGNS) and event.date >= start:
                    found.append(event)
        return found

    # --- the Region's change feed -------------------------------------------------------

    def _logged_since(self, start: datetime) -> list[RdsEvent] | None:
        """The feed's events at or after `start`, if it covers that time and reads regularly."""
        with self._events_lock:
            covered = self._log_since is not None and start >= self._log_since
            if not covered or time.time() - self._log_read_at > self._log_fresh_for:
                return None
            return [e for e in self._log if e.date >= start]

    def read_events(self, now: datetime | None = None) -> list[RdsEvent]:
        """New events of the source types upgrades wait on, for every resource of the Region:
        one DescribeEvents call (and its pages), from shortly before the last event seen. The
        first read starts now: what happened before, the upgrades' own first look reads."""
        now = now or datetime.now(UTC)
        with self._events_lock:
            if self._events_from is None:
                self._events_from = self._log_since = now
                return []
            start = self._events_from - _EVENT_OVERLAP
            fresh = []
            latest = self._events_from
            for e in self._pages("DescribeEvents", "Events", StartTime=start, MaxRecords=100):
                event = _event(e)
                latest = max(latest, event.date)  # other source types' too
                key = (event.source_type, event.source_identifier, event.message, event.date)
                if event.source_type not in WATCHED_SOURCE_TYPES or key in self._events_seen:
                    continue
                self._events_seen.add(key)
                fresh.append(event)
            # The next read starts shortly before the last event listed, or before this read if
            # that is later: what AWS lists late is dated less than the overlap before this read.
            # Kept at the last event alone, a quiet spell (green provisioning) re-read the burst
            # before it at every read, page after page.
            self._events_from = max(latest, now - _EVENT_OVERLAP)
            horizon = self._events_from - _EVENT_OVERLAP
            self._events_seen = {k for k in self._events_seen if k[3] >= horizon}
            kept = now - _EVENT_LOG_KEPT
            self._log = [e for e in self._log if e.date >= kept] + fresh
            self._log_since = max(self._log_since or kept, kept)
            self._log_read_at = time.time()
            for event in fresh:
                self._forget_about(event)  # the upgrades it wakes must read what changed
            return fresh

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
        created = self._blue_green(self._call("CreateBlueGreenDeployment", **params)["BlueGreenDeployment"])
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


def _event(e: dict[str, Any]) -> RdsEvent:
    date = e.get("Date") or datetime.now(UTC)
    return RdsEvent(
        source_identifier=str(e.get("SourceIdentifier", "")),
        source_type=str(e.get("SourceType", "")),
        message=str(e.get("Message", "")),
        date=date if date.tzinfo else date.replace(tzinfo=UTC),
    )


def _snake(operation: str) -> str:
    """'DescribeDBClusters' -> 'describe_db_clusters', the way botocore names methods."""
    return str(xform_name(operation))
