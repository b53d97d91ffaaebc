"""No wait is unbounded: every reason an upgrade can wait for has a deadline, derived from the
poll interval (Timing) or a documented spec field, or it is a wait on a person.

Each stage module declares its waits (`WAITS`, see `outcome.Wait`); this module merges those
tables and applies them. The engine passes every outcome it is about to record through
`bounded`. A wait keeps the time it began in status (`waitingFor`, `waitingSince`) for as long
as the same reason comes back; reaching the deadline gives `<Reason>TimedOut`: Failed while
switchover has not started (blue is untouched), a stall with a Warning after it (production
needs the remaining steps, so the upgrade keeps looking and goes on when AWS does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from aurora_upgrade.clock import rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions import bluegreen, cleanup, deployment, outcome, precheck, reboot, switchover, verify
from aurora_upgrade.decisions.outcome import Deadline, Outcome, Wait, fail, polls
from aurora_upgrade.phases import switchover_may_have_started
from aurora_upgrade.status import STALLING_REASONS, needs_a_person
from aurora_upgrade.upgrade import Upgrade

# Whose waits: the generic ones (outcome), the shared deployment triage, then each stage.
TABLES: tuple[Mapping[str, Wait], ...] = (
    outcome.WAITS,
    deployment.WAITS,
    precheck.WAITS,
    bluegreen.WAITS,
    reboot.WAITS,
    switchover.WAITS,
    verify.WAITS,
    cleanup.WAITS,
)


def merged(tables: tuple[Mapping[str, Wait], ...]) -> dict[str, Wait]:
    """One table of every declared wait; a reason declared twice is a mistake."""
    waits: dict[str, Wait] = {}
    for table in tables:
        twice = sorted(waits.keys() & table.keys())
        if twice:
            raise ValueError(f"waits declared twice: {twice}")
        waits.update(table)
    return waits


WAITS = merged(TABLES)
DEADLINES: dict[str, Deadline] = {reason: w.deadline for reason, w in WAITS.items() if w.deadline is not None}
UNLISTED = polls(40)  # a reason added without a deadline still ends (a unit test lists them all)

# No deadline: waits that end when a person acts (or a documented spec field says when), not
# when AWS does; and stalls (status.STALLING_REASONS), which already say what a person must fix.
ON_PEOPLE = frozenset(reason for reason, w in WAITS.items() if w.on_person) | STALLING_REASONS


def _retry_of(reason: str) -> bool:
    """`<Operation>Retry`: a call that failed and is looked at again."""
    return reason.endswith("Retry")


def deadline(reason: str, upgrade: Upgrade, timing: Timing) -> timedelta | None:
    """The longest an upgrade may wait for `reason`; None for a wait on a person."""
    if reason in ON_PEOPLE or needs_a_person(reason):
        return None
    if _retry_of(reason):
        return polls(40)(upgrade, timing)
    return DEADLINES.get(reason, UNLISTED)(upgrade, timing)


def bounded(upgrade: Upgrade, outcome: Outcome, now: datetime, timing: Timing, stall: bool = False) -> Outcome:
    """`outcome` with its wait tracked in status, or what reaching the wait's deadline means.
    `stall`: never fail (the finalizer, which must keep its resource until AWS is clean)."""
    status = upgrade.status
    if outcome.phase is not None:
        return replace(outcome, changes={**outcome.changes, "waiting_for": None, "waiting_since": None})
    if outcome.action is not None or outcome.requeue <= 0 or not outcome.reason:
        return outcome  # an action, or a step that goes on at once: not a wait
    tracked = outcome.reason.removesuffix("TimedOut")
    declared = WAITS.get(tracked)
    recorded = declared.began(status) if declared is not None and declared.began is not None else None
    if recorded:
        began = min(recorded, rfc3339(now))  # a writer whose clock is ahead does not push it past now
    elif status.waiting_for == tracked and status.waiting_since:
        began = status.waiting_since
    else:
        began = rfc3339(now)
    limit = deadline(tracked, upgrade, timing)
    outcome = replace(outcome, changes={**outcome.changes, "waiting_for": tracked, "waiting_since": began})
    if limit is None or since(began, now) <= limit:
        return outcome
    waited = f"waited {int(limit.total_seconds())}s since {began}"
    if not stall and not switchover_may_have_started(status):
        return fail(
            f"{tracked}TimedOut",
            f"{outcome.message} ({waited}); giving up before switchover, so blue is untouched",
            waiting_for=None,
            waiting_since=None,
        )
    return Outcome(
        reason=f"{tracked}TimedOut",
        message=f"{outcome.message} ({waited}); production needs the remaining steps, so the upgrade "
        "keeps looking: check the resources named in the RDS console",
        changes=outcome.changes,
        requeue=outcome.requeue,
        warning=True,
    )
