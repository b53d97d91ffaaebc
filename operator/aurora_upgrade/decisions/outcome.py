"""What every decision returns, what a reason it waits with means (`Wait`), and what a refused
AWS call or read means when a stage has nothing more specific to say.

A decision is a pure function `(upgrade, observation, now, timing) -> Outcome`: it never
calls AWS. The engine carries out at most one action per outcome, saving `intent` to the
status before the call (so a crash right after the call is recognised on resume) and
`changes` after it succeeded.

An outcome is one of five kinds, each its own type: `Advance` (to a phase), `Fail`, `Wait`
(look again at the reason's pace, within its deadline; `Ask`, a wait for the databases' answer,
is one), `GoOn` (record and look again at once) and `Act` (one AWS call). `notes` are further
Events the recorded outcome tells people (each check's result, each guardrail's finding).
What a reason means, how long a wait on it may last and how soon to look again are in
reasons.py, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aurora_upgrade.clock import since
from aurora_upgrade.config import Timing
from aurora_upgrade.database import DatabaseRequest
from aurora_upgrade.decisions.actions import Action
from aurora_upgrade.phases import Phase, nothing_created, switchover_may_have_started
from aurora_upgrade.reasons import Reason, entry_of
from aurora_upgrade.resources import ErrorKind, Quota, RdsError
from aurora_upgrade.upgrade import Upgrade


@dataclass(frozen=True)
class Note:
    """One more Event than the outcome's own: Warning or Normal, as its reason's entry says."""

    reason: str
    message: str

    @property
    def warning(self) -> bool:
        found = entry_of(self.reason)
        return found is not None and found.warning


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a decision wants; one of the kinds below, never this class itself. `reason` is
    the name status records: a member of `reasons.Reason`, or a family's member with its
    detail (`Reason.AWS_REFUSED.named(code)`); a name not in the table is refused here."""

    reason: str
    message: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)  # saved (after the action, if any)
    notes: tuple[Note, ...] = ()  # told after the status is saved

    def __post_init__(self) -> None:
        if type(self) is Outcome:
            raise TypeError("an outcome is an Advance, Fail, Wait, GoOn or Act")
        for reason in (self.reason, *(note.reason for note in self.notes)):
            if entry_of(reason) is None:
                raise ValueError(f"{reason!r} is not in reasons.TABLE")

    @property
    def phase(self) -> Phase | None:
        """The phase to move to; None to stay."""
        return None

    @property
    def action(self) -> Action | None:
        return None

    @property
    def intent(self) -> Mapping[str, Any]:
        return {}

    @property
    def warning(self) -> bool:
        """A Warning Event says it (the table's word for the reason)."""
        found = entry_of(self.reason)
        return found is not None and found.warning


@dataclass(frozen=True, kw_only=True)
class Advance(Outcome):
    """Move to `to` (a phase of the happy path, Completed or Aborted) and go on at once."""

    to: Phase

    @property
    def phase(self) -> Phase:
        return self.to


@dataclass(frozen=True, kw_only=True)
class Fail(Outcome):
    """End the upgrade in Failed."""

    @property
    def phase(self) -> Phase:
        return Phase.FAILED


@dataclass(frozen=True, kw_only=True)
class Wait(Outcome):
    """Stay, and look again at the reason's pace (`reasons.Entry.pace`), within its deadline."""


@dataclass(frozen=True, kw_only=True)
class Ask(Wait):
    """The decision needs the databases' answer to `request` (validation_jobs.py runs it outside
    the look): the engine decides again with it where it is ready, and else waits."""

    request: DatabaseRequest


@dataclass(frozen=True, kw_only=True)
class GoOn(Outcome):
    """Stay, record, and look again at once (bookkeeping, a reboot found under way)."""


@dataclass(frozen=True, kw_only=True)
class Act(Outcome):
    """Make one AWS call: `before` is saved before it, `changes` (and the move `to` a phase, if
    any) after it succeeded. Then look again at the reason's pace, or at once with `at_once`
    (more calls to make that need not wait for this one)."""

    call: Action
    before: Mapping[str, Any] = field(default_factory=dict)
    to: Phase | None = None
    at_once: bool = False

    @property
    def phase(self) -> Phase | None:
        return self.to

    @property
    def action(self) -> Action:
        return self.call

    @property
    def intent(self) -> Mapping[str, Any]:
        return self.before


def wait(reason: str, message: str, **changes: Any) -> Wait:
    return Wait(reason=reason, message=message, changes=changes)


def fail(reason: str, message: str, **changes: Any) -> Fail:
    return Fail(reason=reason, message=message, changes=changes)


def advance(to: Phase, reason: str, message: str, notes: tuple[Note, ...] = (), **changes: Any) -> Advance:
    return Advance(to=to, reason=reason, message=message, changes=changes, notes=notes)


def refused(operation: str, error: RdsError) -> Outcome:
    return fail(Reason.AWS_REFUSED.named(error.code), f"{operation} was refused: {error.code}: {error.message}")


def iam_action(operation: str) -> str:
    return "sts:AssumeRole" if operation == "AssumeRole" else f"rds:{operation}"


def access_problem(error: RdsError) -> tuple[str, str]:
    """Reason and message for refused permissions or unusable credentials: what to fix."""
    action = iam_action(error.operation)
    if error.kind == ErrorKind.PERMISSION and error.operation == "AssumeRole":
        # Two policies decide, neither of them docs/iam-policy.json; AWS does not say which refused.
        return (
            Reason.PERMISSION_DENIED,
            f"AWS refused {action} ({error.code}: {error.message}): the role of spec.aws.roleArn must trust "
            "the operator's identity (with spec.aws.externalId if its trust policy requires sts:ExternalId), "
            "and the operator's identity must be allowed sts:AssumeRole on that role (docs/install.md, IAM)",
        )
    if error.kind == ErrorKind.PERMISSION:
        return (
            Reason.PERMISSION_DENIED,
            f"AWS refused {action} ({error.code}: {error.message}): allow {action} for the operator's "
            "role (docs/iam-policy.json lists every action it needs)",
        )
    return (
        Reason.AWS_CREDENTIALS_INVALID,
        f"no usable AWS credentials for {action} ({error.code}: {error.message}): configure the default "
        "credential chain (IRSA, EKS Pod Identity, or the environment) or fix spec.aws.roleArn",
    )


def _access_outcome(error: RdsError, untouched: bool) -> Outcome:
    """While nothing has been created in AWS the upgrade cannot proceed as configured: Failed,
    and nothing is left to clean up. Once green exists (or production switched), failing would
    leave it behind or the remaining steps undone: a Warning, and another look once fixed."""
    reason, message = access_problem(error)
    if untouched:
        return fail(reason, message)
    return wait(reason, f"{message}; the upgrade waits until this is fixed")


_ACCESS = (ErrorKind.PERMISSION, ErrorKind.CREDENTIALS)


def read_failed(error: RdsError, stall: bool, untouched: bool = False) -> Outcome:
    """A refused read fails the upgrade before switchover; after it (`stall`), production
    depends on the remaining steps, so the upgrade waits with a Warning instead of giving up.
    Refused permissions or credentials fail it only while nothing was created (`untouched`)."""
    if error.kind in _ACCESS:
        return _access_outcome(error, untouched and not stall)
    if error.kind in (ErrorKind.TERMINAL, ErrorKind.ALREADY_EXISTS) and not stall:
        return refused(error.operation, error)
    return wait(
        Reason.AWS_UNAVAILABLE if error.retryable else Reason.AWS_NOT_FOUND,
        f"{error.operation} failed ({error.code}: {error.message}); will retry",
    )


QUOTA_REASONS = {
    Quota.DB_CLUSTERS: Reason.DB_CLUSTER_QUOTA_REACHED,
    Quota.DB_INSTANCES: Reason.DB_INSTANCE_QUOTA_REACHED,
    Quota.STORAGE: Reason.STORAGE_QUOTA_REACHED,
    Quota.MANUAL_CLUSTER_SNAPSHOTS: Reason.SNAPSHOT_QUOTA_REACHED,
}


def quota_reached(action: Action, error: RdsError) -> Wait:
    """A create refused for a Region's quota: AWS answered, so nothing was created, and the next
    look decides again (finding nothing, it creates again) at the reason's slow pace, until the
    reason's deadline."""
    quota = error.quota or Quota.DB_CLUSTERS
    return wait(
        QUOTA_REASONS[quota],
        f"AWS refused {action.operation}: the account's quota of {quota} in this Region is reached "
        f"({error.code}: {error.message}); nothing was created. Delete what is no longer needed or request a "
        "higher quota; the upgrade tries again by itself",
    )


def call_failed(action: Action, error: RdsError, stall: bool, untouched: bool = False) -> Outcome:
    """A failed call fails the upgrade only when AWS refused the request itself and switchover
    has not started (`stall` false), or refused our permissions or credentials while nothing
    was created (`untouched`); a quota reached is a slow wait (`quota_reached`); otherwise
    (transient, created by an earlier attempt, or production needing the remaining steps) it
    waits with a Warning and looks again."""
    if error.kind == ErrorKind.QUOTA:
        return quota_reached(action, error)
    if error.kind in _ACCESS:
        return _access_outcome(error, untouched and not stall)
    if not stall and error.kind == ErrorKind.TERMINAL:
        return refused(action.operation, error)
    return wait(
        Reason.CALL_RETRY.named(action.operation),
        f"{action.describe()} failed ({error.code}: {error.message}); will look again",
    )


def default_call_failed(upgrade: Upgrade, action: Action, error: RdsError, now: datetime, timing: Timing) -> Outcome:
    """What a refused call means in a stage with nothing more specific to say."""
    status = upgrade.status
    return call_failed(action, error, stall=switchover_may_have_started(status), untouched=nothing_created(status))


def call_in_flight(upgrade: Upgrade, now: datetime, timing: Timing) -> Outcome | None:
    """A call this or another writer recorded as sent and not yet answered: wait for its
    answer rather than decide on an AWS state it may be changing. A writer that died with a
    call in flight leaves the mark behind; after the consistency grace it no longer holds."""
    status = upgrade.status
    if not status.call_in_flight or since(status.call_sent_at, now) >= timing.consistency_grace:
        return None
    return wait(
        Reason.CALL_IN_FLIGHT,
        f"{status.call_in_flight} was sent at {status.call_sent_at} and is not answered yet; waiting for it",
    )
