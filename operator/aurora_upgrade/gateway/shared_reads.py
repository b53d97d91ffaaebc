"""Answers shared by the upgrades of one account and Region, so a fleet asks AWS what one upgrade
asks (docs/events.md, "Shared reads"): `SharedDescribe`, one describe call per operation and read
cycle for the resources of the upgrades looking in it, and `Remembered`, the prechecks' answers
kept while fresh. Neither knows AWS: each is given the function that asks it.

Time comes from an injected clock (the real one by default), so what depends on time is tested
by moving a clock, not by sleeping.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

Clock = Callable[[], float]  # seconds: time.time() where read cycles are counted, else monotonic
Cycles = Callable[[float], int]  # a moment (time.time()) -> the read cycle it falls in
# A cycle before every real one: a key due in it goes in the next call, whatever its cycle.
IN_NEXT_CALL = -(2**62)
# A key due in a cycle whose look has not asked about it by that cycle's call stays due for this
# many cycles more: a look that runs a cycle late (the fleet's looks queued behind others, or a
# look that crosses a cycle's end) is answered by that cycle's call, not a call of its own.
LATE_CYCLES = 1


class SharedDescribe:
    """One describe operation shared by every upgrade of a Region.

    A question about one resource registers it as in flight; it is answered from the last call
    that covered the resource if that call was made in the read cycle the question was asked in,
    or began after it was asked, otherwise by one new call (per chunk of filter values) for what
    is due: the resources asked about now, and those whose upgrades said (`want`) they look in
    this cycle or an earlier one (and have not asked yet: a look running a cycle late is still
    answered by its cycle's call, LATE_CYCLES). So a cycle's call carries the resources of the upgrades looking
    in it, not of the whole fleet. Asked from many threads at once, one thread calls while the
    others wait for its answer, and a call made while they waited answers them, whichever cycle
    it falls in. A resource nobody asked about for `forget_after` seconds is no longer in flight.
    Without `cycle_of` nothing is shared: every question is a call. `clock` gives the moments
    `cycle_of` places in read cycles (time.time() by default)."""

    def __init__(
        self,
        fetch: Callable[[list[str]], Iterable[tuple[str, Any]]],
        forget_after: float,
        name_of: Callable[[Any], str] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._fetch = fetch  # filter values -> (key, item) pairs
        self._clock = clock
        self._name_of = name_of  # an item's own name, for `key_of`
        self.cycle_of: Cycles | None = None
        self.forget_after = forget_after
        self._lock = threading.Lock()  # one call at a time; askers wait for it
        self._state_lock = threading.Lock()  # the last answer; never held across a call
        self._wanted_lock = threading.Lock()  # what is in flight: _wanted, _due, _waiting
        self._wanted: dict[str, float] = {}
        self._due: dict[str, set[int]] = {}  # the read cycles a key is asked for in (IN_NEXT_CALL: the next call)
        self._waiting: collections.Counter[str] = collections.Counter()  # askers waiting, by key
        self._answers: dict[str, list[Any]] = {}
        self._index: dict[str, str] | None = None  # see key_of()
        # When the call whose answer about a key still holds began, and in which read cycle (a
        # write, or an event, about the key since then ends that): the answer is as fresh as that.
        self._answered_at: dict[str, tuple[float, int | None]] = {}
        self._forgotten: set[str] = set()  # forgotten while the call under way was made

    def get(self, key: str) -> list[Any]:
        """The items AWS lists for `key` (none when it does not exist)."""
        asked = self._clock()
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
            started = self._clock()
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
                for k in keys:  # what this call answers; a look due in a later cycle stays due,
                    # and one due now, LATE_CYCLES more (its look pops it when it asks, in get)
                    later = {
                        c
                        for c in self._due.get(k, ())
                        if cycle is not None and c != IN_NEXT_CALL and c + LATE_CYCLES > cycle
                    }
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
        asked = self._clock()
        with self._wanted_lock:
            for k in keys:
                self._wanted[k] = asked
                self._due.setdefault(k, set()).add(IN_NEXT_CALL if cycle is None else cycle)

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
                self._due[key].add(IN_NEXT_CALL)

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


class Remembered:
    """Answers kept for `fresh_for` seconds, by question: what a fleet's prechecks all ask (an
    engine version's upgrade targets, a parameter group's family and parameters) is asked of AWS
    once. Of many askers of one question, one calls while the others wait for its answer. Only
    what exists is kept: a refused call, or a group or version AWS does not list (which a person
    may be creating now), is asked again. `fresh_for` 0 (`aurora-upgrade run`) keeps nothing.
    Ages are measured with `clock` (time.monotonic() by default)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.fresh_for = 0.0
        self._clock = clock
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
            if kept is not None and self._clock() - kept[0] < self.fresh_for:
                return kept[1]
            answer = ask()
            if answer:
                now = self._clock()
                self._answers = {q: kept for q, kept in self._answers.items() if now - kept[0] < self.fresh_for}
                self._answers[question] = (now, answer)
            return answer
