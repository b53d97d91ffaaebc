"""validation_jobs.Validations: the database checks run on a bounded pool of their own, a look
never waits for one, a later look picks the answer up, and a job past its bound is answered for
as not finished. The probe is a fake (support/fake_probe.py): these tests are about the runner."""

from __future__ import annotations

import threading
from datetime import timedelta

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.database import DatabaseAnswer, DatabaseRequest, Endpoint, Guardrail
from aurora_upgrade.validation_jobs import GUARDRAIL_BOUND, MARGIN, Validations
from support.fake_probe import FakeProbe

from .builders import NOW, make_upgrade

GREEN = Endpoint("green", "green.example", 5432, "green")
BLUE = Endpoint("blue", "blue.example", 5432, "blue")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


def request(uid: str = "u1", generation: int = 1, not_before: str = "", **fields: object) -> DatabaseRequest:
    base: dict[str, object] = {"green": GREEN, "blue": BLUE, "checks": ("a", "b"), "timeouts": 60}
    return DatabaseRequest("validate", uid, generation, not_before=not_before, **{**base, **fields})  # type: ignore[arg-type]


def settle(jobs: Validations, done: threading.Semaphore, n: int = 1) -> None:
    """Until `n` more jobs have told `on_done` (released `done`)."""
    for _ in range(n):
        assert done.acquire(timeout=10), "a job never finished"
    assert jobs.running() == 0  # a future calls back once it is done


def test_a_look_is_answered_at_once_and_a_later_look_picks_the_answer_up() -> None:
    hold, done, woken = threading.Event(), threading.Semaphore(0), []
    probe = FakeProbe(hold=hold, checks={"b": "Failed"})
    clock = Clock()
    jobs = Validations(probes=lambda _u: probe, clock=clock, on_done=lambda ref: (woken.append(ref), done.release()))
    upgrade = make_upgrade()

    assert jobs.answer(upgrade, request(), NOW) is None  # started; the probe blocks, the look does not
    assert jobs.answer(upgrade, request(), NOW) is None  # still running: not started twice
    hold.set()
    settle(jobs, done)

    answer = jobs.answer(upgrade, request(), NOW)
    assert isinstance(answer, DatabaseAnswer)
    assert [(c.name, c.result) for c in answer.checks] == [("a", "Passed"), ("b", "Failed")]
    assert answer.guardrails is None
    assert probe.count("run_check") == 2
    assert woken == [f"{upgrade.namespace}/{upgrade.name}"]  # the front end's wake-up
    assert jobs.answer(upgrade, request(), NOW) is answer  # asked again: the same answer, nothing run again
    assert probe.count("run_check") == 2


def test_checks_stop_at_the_first_that_does_not_pass_and_guardrails_run_last() -> None:
    done = threading.Semaphore(0)
    probe = FakeProbe(checks={"a": "Error"})
    jobs = Validations(probes=lambda _u: probe, on_done=lambda _r: done.release())
    jobs.answer(make_upgrade(), request(guardrails=True), NOW)
    settle(jobs, done)
    assert [a[0] for a in probe.asked] == ["run_check", "before_switchover"]


def test_a_new_question_or_an_answer_too_old_runs_a_new_job() -> None:
    done = threading.Semaphore(0)
    probe = FakeProbe()
    clock = Clock()
    jobs = Validations(probes=lambda _u: probe, clock=clock, on_done=lambda _r: done.release())
    upgrade = make_upgrade()
    jobs.answer(upgrade, request(), NOW)
    settle(jobs, done)
    assert jobs.answer(upgrade, request(), NOW) is not None

    later = rfc3339(NOW + timedelta(seconds=1))
    assert jobs.answer(upgrade, request(not_before=later), NOW) is None  # finished before it was wanted
    settle(jobs, done)
    assert jobs.answer(upgrade, request(generation=2), NOW) is None  # a new generation: a new question
    settle(jobs, done)
    assert probe.count("run_check") == 2 * 3


def test_the_pool_is_bounded_and_a_full_queue_starts_nothing() -> None:
    hold, done = threading.Event(), threading.Semaphore(0)
    probe = FakeProbe(hold=hold)
    jobs = Validations(probes=lambda _u: probe, on_done=lambda _r: done.release(), threads=1, queued=1)
    upgrade = make_upgrade()
    for uid in ("u1", "u2", "u3"):
        assert jobs.answer(upgrade, request(uid=uid, checks=("a",)), NOW) is None
    assert jobs.running() == 2, "one running, one queued; the third was not taken"
    hold.set()
    settle(jobs, done, 2)
    assert probe.count("run_check") == 2
    assert jobs.answer(upgrade, request(uid="u3", checks=("a",)), NOW) is None  # room now: started
    settle(jobs, done)
    assert probe.count("run_check") == 3


def test_a_job_past_its_bound_is_answered_for_as_not_finished() -> None:
    hold = threading.Event()
    probe = FakeProbe(hold=hold)
    clock = Clock()
    jobs = Validations(probes=lambda _u: probe, clock=clock)
    upgrade = make_upgrade()
    asked = request(guardrails=True, timeouts=60)
    assert jobs.answer(upgrade, asked, NOW) is None
    clock.now = NOW + timedelta(seconds=60) + GUARDRAIL_BOUND + MARGIN  # at the bound: still running
    assert jobs.answer(upgrade, asked, clock.now) is None
    clock.now += timedelta(seconds=1)
    answer = jobs.answer(upgrade, asked, clock.now)
    hold.set()
    assert answer is not None
    assert [(c.name, c.result) for c in answer.checks] == [("a", "Error")]  # a check not finished has not passed
    assert answer.guardrails is not None
    (unreachable,) = answer.guardrails.findings
    assert (unreachable.guardrail, unreachable.transient) == (Guardrail.DATABASE_UNREACHABLE, True)
    assert "did not finish within 210s" in unreachable.message


def test_a_probe_that_raises_is_an_answer_that_did_not_pass() -> None:
    done = threading.Semaphore(0)

    def broken(_upgrade: object) -> FakeProbe:
        raise RuntimeError("password=hunter2")  # never repeated in an answer: only the error's type

    jobs = Validations(probes=broken, on_done=lambda _r: done.release())
    upgrade = make_upgrade()
    jobs.answer(upgrade, request(), NOW)
    settle(jobs, done)
    answer = jobs.answer(upgrade, request(), NOW)
    assert answer is not None
    assert [(c.result, c.message) for c in answer.checks] == [("Error", "could not check: RuntimeError")]


def test_only_the_newest_question_of_each_kind_is_kept_and_forget_drops_an_upgrade() -> None:
    done = threading.Semaphore(0)
    probe = FakeProbe()
    jobs = Validations(probes=lambda _u: probe, on_done=lambda _r: done.release())
    upgrade = make_upgrade()
    for generation in (1, 2):
        jobs.answer(upgrade, request(generation=generation), NOW)
        settle(jobs, done)
    assert jobs.answer(upgrade, request(generation=1), NOW) is None, "generation 1's answer was dropped"
    settle(jobs, done)
    jobs.forget("u1")
    assert jobs.answer(upgrade, request(generation=1), NOW) is None
    settle(jobs, done)
    assert probe.count("run_check") == 2 * 4


# --- the review's findings: one hung database must not starve the others ------------------------


def test_a_job_waiting_in_the_queue_is_not_timed_out_its_bound_counts_from_its_start() -> None:
    hold, done = threading.Event(), threading.Semaphore(0)
    probe = FakeProbe(hold=hold)
    clock = Clock()
    jobs = Validations(probes=lambda _u: probe, clock=clock, on_done=lambda _r: done.release(), threads=1)
    upgrade = make_upgrade()
    running, queued = request(uid="u1", checks=("a",)), request(uid="u2", checks=("a",))
    assert jobs.answer(upgrade, running, NOW) is None
    assert jobs.answer(upgrade, queued, NOW) is None
    clock.now = NOW + bound_of(queued) + timedelta(seconds=1)
    assert jobs.answer(upgrade, queued, clock.now) is None, "never ran: no answer made up for it"
    hold.set()
    settle(jobs, done, 2)
    answer = jobs.answer(upgrade, queued, clock.now)
    assert answer is not None and [c.result for c in answer.checks] == ["Passed"]


def bound_of(asked: DatabaseRequest) -> timedelta:
    from aurora_upgrade.validation_jobs import bound

    return bound(asked)


def test_a_thread_past_its_bound_still_counts_and_its_upgrade_gets_no_second_thread() -> None:
    hold, done = threading.Event(), threading.Semaphore(0)
    probe = FakeProbe(hold=hold)
    clock = Clock()
    jobs = Validations(probes=lambda _u: probe, clock=clock, on_done=lambda _r: done.release(), threads=1, queued=1)
    upgrade = make_upgrade()
    hung = request(uid="u1", checks=("a",))
    assert jobs.answer(upgrade, hung, NOW) is None
    clock.now = NOW + bound_of(hung) + timedelta(seconds=1)
    answered_for = jobs.answer(upgrade, hung, clock.now)
    assert answered_for is not None and [c.result for c in answered_for.checks] == ["Error"]

    later = rfc3339(clock.now + timedelta(seconds=1))  # a look wants a newer answer
    assert jobs.answer(upgrade, request(uid="u1", checks=("a",), not_before=later), clock.now) is None
    assert jobs.running() == 1, "asked again while its thread hangs: no second job for that upgrade"
    assert jobs.answer(upgrade, request(uid="u2", checks=("a",)), clock.now) is None  # queued behind it
    assert jobs.answer(upgrade, request(uid="u3", checks=("a",)), clock.now) is None
    assert jobs.running() == 2, "the hung thread still counts: the third was not taken"
    hold.set()
    settle(jobs, done, 2)
    assert probe.count("run_check") == 2


def test_a_replaced_or_forgotten_queued_job_never_runs() -> None:
    hold, done = threading.Event(), threading.Semaphore(0)
    probe = FakeProbe(hold=hold)
    jobs = Validations(probes=lambda _u: probe, on_done=lambda _r: done.release(), threads=1, queued=4)
    upgrade = make_upgrade()
    assert jobs.answer(upgrade, request(uid="busy", checks=("a",)), NOW) is None
    assert jobs.answer(upgrade, request(uid="u1", generation=1, checks=("a",)), NOW) is None
    assert jobs.answer(upgrade, request(uid="u1", generation=2, checks=("b",)), NOW) is None  # replaces it
    assert jobs.answer(upgrade, request(uid="u2", checks=("c",)), NOW) is None
    jobs.forget("u2")
    assert jobs.running() == 2, "the cancelled ones hold no place"
    hold.set()
    settle(jobs, done, 4)  # the cancelled futures call back too
    assert sorted(a[1] for a in probe.asked if a[0] == "run_check") == ["a", "b"]
