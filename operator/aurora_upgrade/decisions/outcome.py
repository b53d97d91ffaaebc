"""What every decision returns, and what a refused AWS call or read means when a stage has
nothing more specific to say.

A decision is a pure function `(upgrade, observation, now, timing) -> Outcome`: it never
calls AWS. The engine carries out at most one action per outcome, saving `intent` to the
status before the call (so a crash right after the call is recognised on resume) and
`changes` after it succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.actions import Action
from aurora_upgrade.phases import Phase, switchover_may_have_started
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


def wait(timing: Timing, reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(reason=reason, message=message, changes=changes, requeue=timing.poll)


def fail(reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(phase=Phase.FAILED, reason=reason, message=message, changes=changes)


def advance(to: Phase, reason: str, message: str, **changes: Any) -> Outcome:
    return Outcome(phase=to, reason=reason, message=message, changes=changes)


def refused(operation: str, error: RdsError) -> Outcome:
    return fail(f"AWS{error.code}", f"{operation} was refused: {error.code}: {error.message}")


def read_failed(error: RdsError, timing: Timing, stall: bool) -> Outcome:
    """A refused read fails the upgrade before switchover; after it (`stall`), production
    depends on the remaining steps, so the upgrade waits with a Warning instead of giving up."""
    if error.kind in (ErrorKind.TERMINAL, ErrorKind.ALREADY_EXISTS) and not stall:
        return refused(error.operation, error)
    return Outcome(
        reason="AWSUnavailable" if error.retryable else "AWSNotFound",
        message=f"{error.operation} failed ({error.code}: {error.message}); will retry",
        requeue=timing.poll,
        warning=True,
    )


def call_failed(action: Action, error: RdsError, timing: Timing, stall: bool) -> Outcome:
    """A failed call fails the upgrade only when AWS refused the request itself and switchover
    has not started (`stall` false); otherwise (transient, created by an earlier attempt, or
    production needing the remaining steps) it waits with a Warning and looks again."""
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
    return call_failed(action, error, timing, stall=switchover_may_have_started(upgrade.status))
