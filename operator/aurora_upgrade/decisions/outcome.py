"""What every decision returns, what a reason it waits with means (`Wait`), and what a refused
AWS call or read means when a stage has nothing more specific to say.

A decision is a pure function `(upgrade, observation, now, timing) -> Outcome`: it never
calls AWS. The engine carries out at most one action per outcome, saving `intent` to the
status before the call (so a crash right after the call is recognised on resume) and
`changes` after it succeeded.

Each stage module declares, in its `WAITS`, every reason it waits with: how long the wait may
last before `<Reason>TimedOut` and how soon to look again. decisions/deadlines.py and
decisions/pacing.py merge those tables and apply them. The waits below are the ones every
stage can give (a call in flight, AWS not answering).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from aurora_upgrade.clock import since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import Action
from aurora_upgrade.models import AuroraUpgradeStatus
from aurora_upgrade.phases import Phase, nothing_created, switchover_may_have_started
from aurora_upgrade.resources import ErrorKind, RdsError
from aurora_upgrade.upgrade import Upgrade


@dataclass(frozen=True)
class Outcome:
    """What a decision wants: stay or move to `phase`, maybe one action, when to look again."""

    phase: Phase | None = None
    reason: str = ""
    message: str = ""
    intent: Mapping[str, Any] = field(default_factory=dict)  # saved before the action
    changes: Mapping[str, Any] = field(default_factory=dict)  # saved after it succeeded
    action: Action | None = None
    requeue: float = 0.0  # seconds until the next look; 0 = go on at once
    warning: bool = False  # the message deserves a Warning event (unknown AWS state)


Deadline = Callable[[Upgrade, Timing], timedelta]


def polls(n: int, floor: float = 60.0) -> Deadline:
    """`n` poll intervals, and never less than `floor` seconds."""
    return lambda _u, t: timedelta(seconds=max(floor, n * t.poll))


def graces(n: int) -> Deadline:
    """`n` consistency graces: for something AWS was asked for and has not shown yet."""
    return lambda _u, t: n * t.consistency_grace


class Pace(Enum):
    """How soon to look again while waiting (the intervals are in `config.Timing`)."""

    POLL = "poll"  # the base poll interval
    QUICK = "quick"  # AWS takes seconds to minutes: switchover, reboots, a call just made
    PROVISIONING = "provisioning"  # AWS provisions green (tens of minutes)
    # A person decides (approval, window, retention): a spec change wakes the upgrade at once,
    # so the long safety interval is enough. Not every wait on a person: ClusterBusy ends when
    # another AuroraUpgrade finishes, which no change of this one's spec signals, so it polls.
    SAFETY = "safety"


@dataclass(frozen=True)
class Wait:
    """What a reason a stage gives means while the upgrade waits on it.

    `deadline`: how long the wait may last before `<Reason>TimedOut`. `on_person`: a person
    ends it (a spec field, or another AuroraUpgrade finishing), so it has no deadline. With
    neither, the reason is not a wait (an action's, or a step that goes on at once) and is
    declared only for its `pace`. `due`: when what is waited for is expected (the next look
    then comes at that time, between the quick and the safety interval), or None. `began`:
    when the wait began, where the status records it (a call's send time), rather than when
    the reason was first seen."""

    deadline: Deadline | None = None
    pace: Pace = Pace.POLL
    on_person: bool = False
    due: Callable[[Upgrade, datetime], datetime | None] | None = None
    began: Callable[[AuroraUpgradeStatus], str | None] | None = None

    def __post_init__(self) -> None:
        if self.deadline is not None and self.on_person:
            raise ValueError("a wait on a person has no deadline")


def wait(timing: Timing, reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(reason=reason, message=message, changes=changes, requeue=timing.poll)


def fail(reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(phase=Phase.FAILED, reason=reason, message=message, changes=changes)


def advance(to: Phase, reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(phase=to, reason=reason, message=message, changes=changes)


def refused(operation: str, error: RdsError) -> Outcome:
    return fail(f"AWS{error.code}", f"{operation} was refused: {error.code}: {error.message}")


def iam_action(operation: str) -> str:
    return "sts:AssumeRole" if operation == "AssumeRole" else f"rds:{operation}"


def access_problem(error: RdsError) -> tuple[str, str]:
    """Reason and message for refused permissions or unusable credentials: what to fix."""
    action = iam_action(error.operation)
    if error.kind == ErrorKind.PERMISSION and error.operation == "AssumeRole":
        # Two policies decide, neither of them docs/iam-policy.json; AWS does not say which refused.
        return (
            "PermissionDenied",
            f"AWS refused {action} ({error.code}: {error.message}): the role of spec.aws.roleArn must trust "
            "the operator's identity (with spec.aws.externalId if its trust policy requires sts:ExternalId), "
            "and the operator's identity must be allowed sts:AssumeRole on that role (docs/install.md, IAM)",
        )
    if error.kind == ErrorKind.PERMISSION:
        return (
            "PermissionDenied",
            f"AWS refused {action} ({error.code}: {error.message}): allow {action} for the operator's "
            "role (docs/iam-policy.json lists every action it needs)",
        )
    return (
        "AWSCredentialsInvalid",
        f"no usable AWS credentials for {action} ({error.code}: {error.message}): configure the default "
        "credential chain (IRSA, EKS Pod Identity, or the environment) or fix spec.aws.roleArn",
    )


def _access_outcome(error: RdsError, timing: Timing, untouched: bool) -> Outcome:
    """While nothing has been created in AWS the upgrade cannot proceed as configured: Failed,
    and nothing is left to clean up. Once green exists (or production switched), failing would
    leave it behind or the remaining steps undone: a Warning, and another look once fixed."""
    reason, message = access_problem(error)
    if untouched:
        return fail(reason, message)
    return Outcome(
        reason=reason,
        message=f"{message}; the upgrade waits until this is fixed",
        requeue=timing.poll,
        warning=True,
    )


_ACCESS = (ErrorKind.PERMISSION, ErrorKind.CREDENTIALS)


def read_failed(error: RdsError, timing: Timing, stall: bool, untouched: bool = False) -> Outcome:
    """A refused read fails the upgrade before switchover; after it (`stall`), production
    depends on the remaining steps, so the upgrade waits with a Warning instead of giving up.
    Refused permissions or credentials fail it only while nothing was created (`untouched`)."""
    if error.kind in _ACCESS:
        return _access_outcome(error, timing, untouched and not stall)
    if error.kind in (ErrorKind.TERMINAL, ErrorKind.ALREADY_EXISTS) and not stall:
        return refused(error.operation, error)
    return Outcome(
        reason="AWSUnavailable" if error.retryable else "AWSNotFound",
        message=f"{error.operation} failed ({error.code}: {error.message}); will retry",
        requeue=timing.poll,
        warning=True,
    )


def call_failed(action: Action, error: RdsError, timing: Timing, stall: bool, untouched: bool = False) -> Outcome:
    """A failed call fails the upgrade only when AWS refused the request itself and switchover
    has not started (`stall` false), or refused our permissions or credentials while nothing
    was created (`untouched`); otherwise (transient, created by an earlier attempt, or
    production needing the remaining steps) it waits with a Warning and looks again."""
    if error.kind in _ACCESS:
        return _access_outcome(error, timing, untouched and not stall)
    if not stall and error.kind == ErrorKind.TERMINAL:
        return refused(action.operation, error)
    return Outcome(
        reason=f"{action.operation}Retry",
        message=f"{action.describe()} failed ({error.code}: {error.message}); will look again",
        requeue=timing.poll,
        warning=True,
    )


def default_call_failed(upgrade: Upgrade, action: Action, error: RdsError, now: datetime, timing: Timing) -> Outcome:
    """What a refused call means in a stage with nothing more specific to say."""
    status = upgrade.status
    return call_failed(
        action, error, timing, stall=switchover_may_have_started(status), untouched=nothing_created(status)
    )


def call_in_flight(upgrade: Upgrade, now: datetime, timing: Timing) -> Outcome | None:
    """A call this or another writer recorded as sent and not yet answered: wait for its
    answer rather than decide on an AWS state it may be changing. A writer that died with a
    call in flight leaves the mark behind; after the consistency grace it no longer holds."""
    status = upgrade.status
    if not status.call_in_flight or since(status.call_sent_at, now) >= timing.consistency_grace:
        return None
    return wait(
        timing,
        "CallInFlight",
        f"{status.call_in_flight} was sent at {status.call_sent_at} and is not answered yet; waiting for it",
    )


WAITS = {
    # A call sent by this or another writer, not answered yet (`call_in_flight`). Each call is
    # its own wait: a call sent again is not the one waited for before.
    "CallInFlight": Wait(deadline=graces(2), began=lambda status: status.call_sent_at),
    # AWS not answering, or a read looked at again (`read_failed`).
    "AWSUnavailable": Wait(deadline=polls(40)),
    "AWSNotFound": Wait(deadline=polls(40)),
}
