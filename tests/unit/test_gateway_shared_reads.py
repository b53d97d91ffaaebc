"""The describes a Region's upgrades share (gateway.shared_reads.SharedDescribe), with a
recording fetch in place of AWS and a clock that moves only when a test moves it. Threads only
where what is tested is questions asked while a call is under way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aurora_upgrade.gateway.rds import FILTER_VALUES_PER_CALL, _chunks
from aurora_upgrade.gateway.shared_reads import SharedDescribe

from .builders import FakeClock


class Recording:
    """A describe that lists what it is asked for, and remembers each call's filter values."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, keys: list[str]) -> list[tuple[str, str]]:
        self.calls.append(keys)
        return [(k, f"item of {k}") for k in keys]


class FirstCallHeld(Recording):
    """A describe whose first call stays under way until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.under_way, self.release = threading.Event(), threading.Event()

    def __call__(self, keys: list[str]) -> list[tuple[str, str]]:
        if not self.calls:
            self.under_way.set()
            self.release.wait(10)
        return super().__call__(keys)


def asked_during_the_first_call(
    describe: SharedDescribe, fetch: FirstCallHeld, first: str, others: list[str], meanwhile: Callable[[], None]
) -> dict[str, list[str]]:
    """The answers when `first` is asked, and `others` are asked (and wait) while its call is
    under way; `meanwhile` runs once they all wait, before that call ends."""
    answers: dict[str, list[str]] = {}

    def ask(key: str) -> None:
        answers[key] = describe.get(key)

    asking = [threading.Thread(target=ask, args=(first,))]
    asking[0].start()
    assert fetch.under_way.wait(10)
    asking += [threading.Thread(target=ask, args=(key,)) for key in others]
    for thread in asking[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while len(describe._waiting) < len(asking) and time.monotonic() < deadline:
        time.sleep(0.01)
    meanwhile()
    fetch.release.set()
    for thread in asking:
        thread.join(10)
    return answers


def shared(cycle: list[int], clock: FakeClock | None = None) -> tuple[SharedDescribe, Recording]:
    fetch = Recording()
    describe = SharedDescribe(fetch, forget_after=3600, clock=clock or FakeClock(step=0.001))
    describe.cycle_of = lambda _moment: cycle[0]
    return describe, fetch


def test_one_call_answers_every_question_of_a_cycle() -> None:
    cycle = [1]
    describe, fetch = shared(cycle)
    describe.want(["c-1", "c-2", "c-3"])

    assert [describe.get(k) for k in ("c-1", "c-2", "c-3", "c-1")] == [[f"item of c-{i}"] for i in (1, 2, 3, 1)]
    assert fetch.calls == [["c-1", "c-2", "c-3"]]

    cycle[0] = 2  # the next cycle asks AWS again: about what is asked now
    describe.get("c-2")
    assert fetch.calls[1:] == [["c-2"]]


def test_a_cycles_call_asks_about_what_is_due_in_it_not_the_whole_fleet() -> None:
    """Each upgrade says in which cycle it looks next; that cycle's one call covers the upgrades
    looking in it (and any whose cycle passed unasked), not those that look later."""
    cycle = [1]
    describe, fetch = shared(cycle)
    describe.want(["c-1"], cycle=2)
    describe.want(["c-2"])  # e.g. a deployment just created: the next call asks about it
    describe.want(["c-2"], cycle=5)  # ... and its upgrade's next look is in cycle 5: both count
    describe.want(["c-3"], cycle=4)

    cycle[0] = 2
    assert describe.get("c-1") == ["item of c-1"]
    assert fetch.calls == [["c-1", "c-2"]]

    cycle[0] = 3  # c-3's upgrade was woken early (an event): its look asks for it alone
    describe.want(["c-1"], cycle=6)
    describe.get("c-3")
    assert fetch.calls[1:] == [["c-3"]]

    cycle[0] = 5  # c-2's look; c-3 was asked in 3, so its look due in 4 is not asked for again
    describe.get("c-2")
    assert fetch.calls[2:] == [["c-2"]]

    cycle[0] = 7  # c-1 was due in 6 and nobody asked then: the next call carries it
    describe.get("c-9")
    assert fetch.calls[3:] == [["c-1", "c-9"]]


def test_a_look_a_cycle_late_is_answered_by_that_cycle_s_call() -> None:
    """A look due in cycle 2 that runs in cycle 3 (queued behind the fleet's other looks) finds
    its resource in cycle 3's first call, made by another upgrade's look: no call of its own.
    A resource whose look never asks is dropped after that one cycle more."""
    cycle = [2]
    describe, fetch = shared(cycle)
    describe.want(["late", "never", "on-time"], cycle=2)
    describe.get("on-time")
    assert fetch.calls == [["late", "never", "on-time"]]

    cycle[0] = 3
    describe.want(["other"], cycle=3)
    describe.get("other")  # cycle 3's first call carries the two looks still to come
    assert describe.get("late") == ["item of late"]
    assert fetch.calls[1:] == [["late", "never", "other"]]

    cycle[0] = 4
    describe.want(["next"], cycle=4)
    describe.get("next")  # "never" was due in 2: not asked for in 4
    assert fetch.calls[2:] == [["next"]]


def test_forgetting_a_key_due_later_asks_for_it_in_the_next_call() -> None:
    cycle = [1]
    describe, fetch = shared(cycle)
    describe.want(["c-1"], cycle=1)
    describe.want(["c-2"], cycle=9)
    describe.forget("c-2")  # an event about c-2: its upgrade is woken and looks now
    describe.get("c-1")
    assert fetch.calls == [["c-1", "c-2"]]


def test_what_a_write_made_is_added_to_the_cycles_answer_without_asking_again() -> None:
    """A fleet creating its deployments in one cycle lists the Region's deployments once, not once
    per creation: each creation adds its deployment to the listing this cycle already holds."""
    describe, fetch = shared([1])
    describe.get("*")
    describe.add("*", "created")
    assert describe.get("*") == ["item of *", "created"] and len(fetch.calls) == 1


def test_a_written_resource_is_asked_again_in_the_same_cycle_and_the_others_are_not() -> None:
    describe, fetch = shared([1])
    describe.want(["c-1", "c-2"])
    describe.get("c-1")
    describe.forget("c-2")  # e.g. a reboot of c-2's instance, or an event about it

    describe.get("c-1")
    assert len(fetch.calls) == 1
    describe.get("c-2")
    assert fetch.calls[1:] == [["c-2"]]  # only what the cycle's answer no longer covers
    describe.get("c-1")
    assert len(fetch.calls) == 2
    assert (describe.last("c-1"), describe.last("c-2")) == (["item of c-1"], ["item of c-2"])


def test_a_write_forgets_without_waiting_for_a_call_under_way_and_that_call_does_not_cover_it() -> None:
    """A reboot (or the event feed) forgets what it changed while another thread's shared call is
    under way: it must not wait for that call (at N=100 every write queued behind the Region's
    describes), and the call's answer, asked before the write, must not count for it."""
    fetch = FirstCallHeld()
    describe = SharedDescribe(fetch, forget_after=3600, clock=FakeClock())
    describe.cycle_of = lambda _moment: 1
    describe.want(["c-1", "c-2"])
    asker = threading.Thread(target=describe.get, args=("c-1",))
    asker.start()
    assert fetch.under_way.wait(10)

    writer = threading.Thread(target=lambda: (describe.forget("c-2"), describe.last("c-2")))
    writer.start()
    writer.join(10)
    finished_during_the_call = not writer.is_alive()
    fetch.release.set()
    asker.join(10)

    assert finished_during_the_call
    assert describe.get("c-1") == ["item of c-1"] and len(fetch.calls) == 1  # the others keep the answer
    assert describe.get("c-2") == ["item of c-2"] and len(fetch.calls) == 2  # the written one is asked again


def test_questions_waiting_past_forget_after_are_still_asked_and_shared() -> None:
    """Under throttling a question can wait for the lock longer than `forget_after` (another
    thread's retries hold it). Its key must stay in flight, or an existing cluster reads as gone:
    the ten-upgrades reliability run failed ClusterNotFound and InstanceNotFound this way."""
    fetch = FirstCallHeld()
    clock = FakeClock()
    describe = SharedDescribe(fetch, forget_after=60, clock=clock)
    describe.cycle_of = lambda _moment: 1

    # They wait past forget_after.
    answers = asked_during_the_first_call(describe, fetch, "c-1", ["c-2", "c-3"], lambda: clock.advance(61))

    assert answers == {key: [f"item of {key}"] for key in ("c-1", "c-2", "c-3")}
    assert fetch.calls == [["c-1"], ["c-2", "c-3"]]  # the two waiting questions share one call


def test_questions_that_waited_into_the_next_cycle_are_answered_by_the_call_they_waited_for() -> None:
    """Questions asked while a call is under way wait for the lock; when the cycle turns meanwhile,
    the first of them to get it calls for all of them, and that call, begun after they were
    asked, answers the others: they must not call in turn. At N=100 they did, one call per
    waiting thread (the same keys every 50 ms), and the Region's describes queued behind them."""
    fetch = FirstCallHeld()
    clock = FakeClock()
    describe = SharedDescribe(fetch, forget_after=3600, clock=clock)
    turn = clock.now + 5  # the moment cycle 1 ends
    describe.cycle_of = lambda moment: 1 if moment < turn else 2

    # The cycle turns while they wait.
    others = [f"c-{i}" for i in range(2, 6)]
    answers = asked_during_the_first_call(describe, fetch, "c-1", others, lambda: clock.advance(5))

    assert answers == {f"c-{i}": [f"item of c-{i}"] for i in range(1, 6)}
    assert fetch.calls == [["c-1"], ["c-2", "c-3", "c-4", "c-5"]]


def test_unshared_every_question_is_a_call() -> None:
    fetch = Recording()
    describe = SharedDescribe(fetch, forget_after=3600, clock=FakeClock())  # `aurora-upgrade run`: no cycles
    describe.get("c-1")
    describe.get("c-1")
    assert fetch.calls == [["c-1"], ["c-1"]]


def test_filter_values_go_in_chunks_aws_accepts() -> None:
    values = [f"c-{i}" for i in range(2 * FILTER_VALUES_PER_CALL + 1)]
    chunks = list(_chunks(values))
    assert [len(c) for c in chunks] == [FILTER_VALUES_PER_CALL, FILTER_VALUES_PER_CALL, 1]
    assert [v for chunk in chunks for v in chunk] == values


def test_a_resource_nobody_asked_about_for_forget_after_is_no_longer_asked_for() -> None:
    clock = FakeClock(step=0.001)
    describe, fetch = shared([1], clock)
    describe.forget_after = 60
    describe.want(["c-1", "c-2"])
    clock.advance(59)
    describe.get("c-1")
    assert fetch.calls == [["c-1", "c-2"]]  # c-2 still in flight: its upgrade said it looks

    describe.want(["c-3"])
    clock.advance(61)  # c-3's upgrade never looked
    describe.get("c-4")
    assert fetch.calls[1:] == [["c-4"]]
    assert describe.last("c-2") == []  # what is no longer in flight is no longer held


def test_a_question_is_answered_by_a_call_of_its_cycle_and_asked_again_in_the_next() -> None:
    """Cycles are counted on the clock the describe is given: the moments of the questions."""
    clock = FakeClock(100.0, step=0.001)
    fetch = Recording()
    describe = SharedDescribe(fetch, forget_after=3600, clock=clock)
    describe.cycle_of = lambda moment: int(moment // 5)
    describe.get("c-1")
    clock.advance(4.8)
    describe.get("c-1")
    assert fetch.calls == [["c-1"]]
    clock.advance(0.2)
    describe.get("c-1")
    assert fetch.calls == [["c-1"], ["c-1"]]
