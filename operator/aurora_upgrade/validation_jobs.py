"""The database checks and guardrails, run outside the looks.

A check or guardrail blocks for up to its timeout (a webhook's smoke tests for minutes); made in
a look it would hold one of the threads every upgrade's looks share. So a look asks `Validations`
for the answer to a `database.DatabaseRequest`: the first ask starts a job on this runner's own
small pool and answers None ("running"); a later look, woken by `on_done` where the front end
hooks it, picks the answer up. One runner per process: the operator's `Controller`, or
`aurora-upgrade run`'s engine.

Bounded three ways: `threads` jobs run at once and at most `queued` more wait for a thread (a
look finding the queue full is answered None and asks again at its pace); a job's answer is
kept only until the same upgrade asks a new question of the same kind; and a job running past
its bound (the checks' own timeouts plus `GUARDRAIL_BOUND` and a margin, counted from when it
started running, not from when it was queued) is answered for as not finished: a check not
finished could not run (Error), and a guardrail not answered is DATABASE_UNREACHABLE.

Python cannot stop a thread; the probe's own timeouts end it (statement_timeout, TCP keepalives
and tcp_user_timeout, the webhook's overall deadline). Until they do, its thread still counts
against the pool, answered for or not, replaced or forgotten, and its upgrade gets no new job: a
hung database holds its own upgrade's jobs, never the thread of another's.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aurora_upgrade.clock import parse_time, rfc3339, utcnow
from aurora_upgrade.database import (
    CheckResult,
    DatabaseAnswer,
    DatabaseProbe,
    DatabaseRequest,
    Finding,
    Guardrail,
    GuardrailAnswer,
    SecretUnavailable,
    Side,
)
from aurora_upgrade.upgrade import Upgrade

log = logging.getLogger(__name__)

Probes = Callable[[Upgrade], DatabaseProbe]

THREADS = 4
QUEUED = 16
# A guardrail run's connect and statement timeouts (gateway/database.py) stay well inside this.
GUARDRAIL_BOUND = timedelta(minutes=2)
MARGIN = timedelta(seconds=30)


def database_probe(upgrade: Upgrade, password: str | None = None) -> DatabaseProbe:
    """The database gateway's probe for the upgrade. Imported when first used: psycopg and the
    IAM token signer load only in a process that validates. Without a password: IAM
    authentication, or, where spec names a Secret, libpq's PGPASSWORD / ~/.pgpass (`aurora-upgrade
    run`, which has no Kubernetes to read it from)."""
    gateway = importlib.import_module("aurora_upgrade.gateway.database")
    probe: DatabaseProbe = gateway.probe_for(upgrade, password)
    return probe


def bound(request: DatabaseRequest) -> timedelta:
    """How long a job may run before it is answered for as not finished."""
    guardrails = GUARDRAIL_BOUND if request.guardrails else timedelta(0)
    return timedelta(seconds=request.timeouts) + guardrails + MARGIN


def unanswered(request: DatabaseRequest, why: str, now: datetime) -> DatabaseAnswer:
    """The answer of a job that did not finish: its first check has not passed, and its
    guardrails did not answer (a guardrail not run has not passed)."""
    checks = tuple(CheckResult(name, "green", "Error", why, rfc3339(now)) for name in request.checks[:1])
    guardrails = None
    if request.guardrails:
        side: Side = "blue" if request.blue is not None else "green"
        finding = Finding(Guardrail.DATABASE_UNREACHABLE, side, why, transient=True)
        guardrails = GuardrailAnswer((finding,), rfc3339(now))
    return DatabaseAnswer(request, checks, guardrails, rfc3339(now))


@dataclass
class _Job:
    future: Future[DatabaseAnswer] = field(init=False)
    started_at: datetime | None = None  # when a thread took it up; None while it waits in the queue
    answer: DatabaseAnswer | None = None  # set once done, or once past its bound


class Validations:
    """The process's database jobs; `answer` is what a look calls (it never blocks)."""

    def __init__(
        self,
        probes: Probes = database_probe,
        clock: Callable[[], datetime] = utcnow,
        on_done: Callable[[str], None] | None = None,
        threads: int = THREADS,
        queued: int = QUEUED,
    ) -> None:
        self._probes, self._clock, self._on_done = probes, clock, on_done
        self._threads, self._capacity = threads, threads + queued
        self._pool: ThreadPoolExecutor | None = None  # made at the first job: most processes never validate
        self._jobs: dict[DatabaseRequest, _Job] = {}
        # Every job not done, also one replaced, forgotten or answered for: its thread is busy.
        self._unfinished: list[tuple[str, _Job]] = []
        self._lock = threading.Lock()

    def answer(self, upgrade: Upgrade, request: DatabaseRequest, now: datetime) -> DatabaseAnswer | None:
        """The answer to `request`, finished no earlier than its `not_before`; None while its
        job runs (started now if there was none, or only an older answer)."""
        with self._lock:
            job = self._jobs.get(request)
            if job is not None:
                if job.answer is None and job.future.done():
                    job.answer = job.future.result()
                if job.answer is None and job.started_at is not None and now - job.started_at > bound(request):
                    why = f"did not finish within {int(bound(request).total_seconds())}s"
                    job.answer = unanswered(request, why, now)
                if job.answer is None:
                    return None
                if not request.not_before or parse_time(job.answer.finished_at) >= parse_time(request.not_before):
                    return job.answer
            self._unfinished = [(uid, j) for uid, j in self._unfinished if not j.future.done()]
            if any(uid == request.uid and j.started_at is not None for uid, j in self._unfinished):
                return None  # its thread still runs (past its bound, or replaced): asked again at the look's pace
            self._drop(lambda r: (r.uid, r.what) == (request.uid, request.what))
            if len(self._unfinished) >= self._capacity:
                return None  # full: asked again at the look's pace
            self._start(upgrade, request)
            return None

    def running(self) -> int:
        """Jobs started and not finished (their threads may outlive their bound)."""
        with self._lock:
            return sum(1 for _, j in self._unfinished if not j.future.done())

    def forget(self, uid: str) -> None:
        """Drop an upgrade's answers (it finished, or its resource is gone); its queued jobs never run."""
        with self._lock:
            self._drop(lambda r: r.uid == uid)

    def _drop(self, which: Callable[[DatabaseRequest], bool]) -> None:
        """Drop the jobs of the requests `which` picks: a queued one is cancelled (its thread is
        never taken); a running one stays in `_unfinished` until its thread ends."""
        for request in [r for r in self._jobs if which(r)]:
            self._jobs.pop(request).future.cancel()

    def _start(self, upgrade: Upgrade, request: DatabaseRequest) -> None:
        # Only the newest question of each kind per upgrade is kept (`_drop` before this): the
        # table stays as small as the fleet.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, "database-checks")
        job = _Job()
        job.future = self._pool.submit(self._run, upgrade, request, job)
        future = job.future
        self._jobs[request] = job
        self._unfinished.append((request.uid, job))
        if self._on_done is not None:
            on_done, ref = self._on_done, f"{upgrade.namespace}/{upgrade.name}"
            future.add_done_callback(lambda _done: on_done(ref))

    def _run(self, upgrade: Upgrade, request: DatabaseRequest, job: _Job) -> DatabaseAnswer:
        """The checks in order, up to the first that does not pass, then the guardrails: those
        asked for right before a switchover run as late as they can."""
        job.started_at = self._clock()  # its bound counts from here, not from the queue
        try:
            probe = self._probes(upgrade)
            checks: list[CheckResult] = []
            for name in request.checks:
                assert request.green is not None, "checks run against green"
                checks.append(probe.run_check(name, request.green))
                if checks[-1].result != "Passed":
                    break
            guardrails = None
            if request.guardrails and request.what == "before_create":
                assert request.blue is not None, "the first guardrails run on blue"
                guardrails = probe.before_create(request.blue)
            elif request.guardrails:
                assert request.blue is not None and request.green is not None, "these guardrails look at both sides"
                guardrails = probe.before_switchover(request.blue, request.green, request.fingerprint)
            return DatabaseAnswer(request, tuple(checks), guardrails, rfc3339(self._clock()))
        except SecretUnavailable as error:  # its message names the Secret or key, never a value
            return unanswered(request, str(error), self._clock())
        except Exception as error:  # a probe raises only for a programming error: say so, never loop on it
            log.warning("database job %s of %s failed", request.what, upgrade.name, exc_info=True)
            return unanswered(request, f"could not check: {type(error).__name__}", self._clock())
