"""The Region's change feed (docs/events.md, "The feed"): one DescribeEvents read for every
resource of the Region, from shortly before the last event seen, that says which resources
changed; and the last hour of its events, which answer "has this instance restarted since?"
without a call of its own while the feed reads regularly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_upgrade.gateway.answers import event
from aurora_upgrade.gateway.shared_reads import Clock
from aurora_upgrade.resources import RdsEvent

# The source types an upgrade waits on; DescribeEvents takes one SourceType per call, so the feed
# asks for all of them at once and keeps these (one call per Region instead of four).
WATCHED_SOURCE_TYPES = frozenset({"blue-green-deployment", "db-cluster", "db-instance", "db-cluster-snapshot"})
# How far before the last event seen (or the last read) the next read starts. AWS's Aurora events
# page says events are emitted "on a best effort basis" and "might be out of sequence": an event
# may be listed a while after its Date (LATE_LISTING), and the operator's clock may differ from
# the one AWS dates events by (CLOCK_SKEW, tolerated either way). Events seen twice are recognised
# (by source type, source, message and date) and dropped. A missing event still proves nothing:
# the evidence a decision rests on is asked of AWS directly (RdsGateway.instance_restarts_asked).
LATE_LISTING = timedelta(minutes=2)
CLOCK_SKEW = timedelta(seconds=60)
OVERLAP = LATE_LISTING + CLOCK_SKEW
# Listing the whole overlap at every read (every 5 s) listed each event about 36 times: in a busy
# Region, pages a read that grew with the fleet (issue 20). So only one read every DEEP_EVERY
# lists the overlap, from before the last such read (the tolerance above is kept: an event listed
# up to OVERLAP after its date is read, by the next of them); the reads between list from
# SHALLOW_MARGIN before the later of the last event listed (AWS's date) and the last read less
# CLOCK_SKEW (the operator's clock): what AWS lists in time, in about one page.
DEEP_EVERY = timedelta(seconds=60)
SHALLOW_MARGIN = timedelta(seconds=5)
LOG_KEPT = timedelta(hours=1)  # how far back the feed's events answer questions

EventKey = tuple[str, str, str, datetime]  # source type, source, message, date: one event


class EventFeed:
    """Where the Region's next DescribeEvents read starts, the events already reported, and the
    log of the last hour. `clock` (time.time() by default) dates the reads; the log answers
    questions while the last read is at most `fresh_for` seconds old (0: never, `aurora-upgrade
    run`, which has no feed).

    The AWS call is made outside the lock that guards the log: a look asking whether an
    instance restarted never waits for a slow DescribeEvents (issue 20). Reads take turns
    (`_reading`); one that waited for another's call is answered by it, as the shared describes
    are (shared_reads.py), so two readers make one call where one suffices."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.fresh_for = 0.0
        self._clock = clock
        self._reading = threading.Lock()  # one DescribeEvents read at a time; never taken under _lock
        self._lock = threading.Lock()  # the state below; never held across an AWS call
        self._from: datetime | None = None  # the last event listed, or the last read if later
        self._latest: datetime | None = None  # the last event listed, on AWS's clock
        self._read_from: datetime | None = None  # when the last read was made, on the operator's clock
        self._deep_at: datetime | None = None  # when the last read listing the whole overlap was made
        self._deep_from: datetime | None = None  # and where `_from` stood after it
        self._seen: set[EventKey] = set()  # the events of the overlap already reported
        self._log: list[RdsEvent] = []
        self._log_since: datetime | None = None
        self._read_at = float("-inf")
        self._reads_done = 0  # counted, so a reader knows whether one ended after it asked
        self._last_reported: list[RdsEvent] = []

    def read(
        self,
        list_since: Callable[[datetime], Iterable[dict[str, Any]]],
        on_new: Callable[[RdsEvent], None],
        now: datetime | None = None,
    ) -> list[RdsEvent]:
        """The new events of the watched source types, listed by `list_since(start)` (AWS's event
        answers), each given to `on_new` before the log answers questions with it. The first
        read starts now: what happened before, the upgrades' own first look reads. A read asked
        while another was under way is answered by that one if it succeeds (AWS lists late, so
        the next read's overlap covers what it began too early to list)."""
        asked = self._reads_done
        with self._reading:
            if self._reads_done > asked:
                return list(self._last_reported)
            now = now or datetime.fromtimestamp(self._clock(), UTC)
            with self._lock:
                first = self._from is None
                if self._from is None:
                    self._from = self._log_since = self._read_from = self._deep_at = self._deep_from = now
                start = self._start(now)
            # The AWS call, unlocked; one that fails answers nobody else.
            listed = [] if first else [event(answer) for answer in list_since(start)]
            self._last_reported = self._record(listed, on_new, now)
            self._reads_done += 1
            return list(self._last_reported)

    def _whole_read_due(self, now: datetime) -> bool:
        """Whether the read at `now` lists the whole overlap: DEEP_EVERY after the last that did,
        or at once if the operator's clock went back (a step back must not hold them off)."""
        assert self._deep_at is not None
        return now - self._deep_at >= DEEP_EVERY or now < self._deep_at

    def _start(self, now: datetime) -> datetime:
        """Where a read at `now` starts: the overlap before where the last whole read left the
        feed, every DEEP_EVERY; shortly before what was listed last otherwise."""
        assert self._read_from is not None and self._deep_at is not None and self._deep_from is not None
        if self._whole_read_due(now):
            return self._deep_from - OVERLAP
        anchor = self._read_from - CLOCK_SKEW
        if self._latest is not None:
            anchor = max(anchor, self._latest)
        return anchor - SHALLOW_MARGIN

    def _record(self, listed: list[RdsEvent], on_new: Callable[[RdsEvent], None], now: datetime) -> list[RdsEvent]:
        """What a read listed, into the log (each new event given to `on_new` first); the events
        not reported before."""
        with self._lock:
            assert self._from is not None
            fresh = []
            latest = self._from
            for new in listed:
                latest = max(latest, new.date)  # other source types' too
                key = (new.source_type, new.source_identifier, new.message, new.date)
                if new.source_type not in WATCHED_SOURCE_TYPES or key in self._seen:
                    continue
                self._seen.add(key)
                fresh.append(new)
            # The next whole read starts the overlap before the last event listed, or before this
            # read if that is later: what AWS lists late is dated less than the overlap before it,
            # and a quiet spell (green provisioning) does not list again the burst before it.
            self._from = max(latest, now)
            if listed:  # on AWS's clock, whatever the operator's says
                newest = max(e.date for e in listed)
                self._latest = newest if self._latest is None else max(self._latest, newest)
            self._read_from = now
            if self._whole_read_due(now):  # this read listed the whole overlap
                self._deep_at, self._deep_from = now, self._from
            assert self._deep_from is not None
            horizon = self._deep_from - OVERLAP  # where the next whole read starts
            self._seen = {k for k in self._seen if k[3] >= horizon}
            kept = now - LOG_KEPT
            self._log = [e for e in self._log if e.date >= kept]
            self._log_since = max(self._log_since or kept, kept)
            self._read_at = self._clock()
            for new in fresh:
                on_new(new)  # forgets shared answers; takes no lock of the feed's
            self._log += fresh
            return fresh

    def logged_since(self, start: datetime) -> list[RdsEvent] | None:
        """The feed's events at or after `start`, if it covers that time and reads regularly."""
        with self._lock:
            covered = self._log_since is not None and start >= self._log_since
            if not covered or self._clock() - self._read_at > self.fresh_for:
                return None
            return [e for e in self._log if e.date >= start]
