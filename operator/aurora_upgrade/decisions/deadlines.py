"""No wait is unbounded: every reason an upgrade can wait on AWS with has a deadline in
reasons.py (a duration from AWS's documentation, or a spec field), and the waits on a person
and the stalls have none.

The engine passes every outcome it is about to record through `bounded`. A wait keeps the time
it began in status (`waitingFor`, `waitingSince`) for as long as the same reason comes back;
reaching the deadline gives `<Reason>TimedOut`: Failed while switchover has not started (blue
is untouched), a stall with a Warning after it (production needs the remaining steps, so the
upgrade keeps looking and goes on when AWS does).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from aurora_upgrade.clock import rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import Outcome, Wait, fail, wait
from aurora_upgrade.decisions.validate import BEFORE_THE_CALL
from aurora_upgrade.models import AuroraUpgradeStatus
from aurora_upgrade.phases import Phase, switchover_may_have_started
from aurora_upgrade.reasons import Reason, entry_of
from aurora_upgrade.upgrade import Upgrade


def deadline(reason: str, upgrade: Upgrade, timing: Timing) -> timedelta | None:
    """The longest an upgrade may wait for `reason`; None for a wait that has none (a person
    ends it, or it is no wait on AWS)."""
    found = entry_of(reason)
    if found is None or found.deadline is None:
        return None
    return found.deadline(upgrade, timing)


def bounded(upgrade: Upgrade, outcome: Outcome, now: datetime, timing: Timing, stall: bool = False) -> Outcome:
    """`outcome` with its wait tracked in status, or what reaching the wait's deadline means.
    `stall`: never fail (the finalizer, which must keep its resource until AWS is clean)."""
    status = upgrade.status
    if outcome.phase is not None:
        return replace(outcome, changes={**outcome.changes, "waiting_for": None, "waiting_since": None})
    if not isinstance(outcome, Wait):
        return outcome  # an action, or a step that goes on at once: not a wait
    parsed = Reason.parse(outcome.reason)
    tracked = parsed[1] if parsed is not None and parsed[0] == Reason.TIMED_OUT else outcome.reason
    declared = entry_of(tracked)
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
    timed_out = Reason.TIMED_OUT.named(tracked)
    if not stall and not switchover_may_have_started(status):
        return fail(
            timed_out,
            f"{outcome.message} ({waited}); giving up before switchover, so blue is untouched{_left(status)}",
            waiting_for=None,
            waiting_since=None,
        )
    if status.phase == Phase.SWITCHING_OVER and tracked in BEFORE_THE_CALL:
        # An earlier attempt was not carried out and this one was never sent: blue is production.
        return wait(
            timed_out,
            f"{outcome.message} ({waited}); no switchover was sent for this attempt, so blue is still production; "
            "the upgrade keeps looking: fix what holds it, or delete the AuroraUpgrade (deletionPolicy Abort "
            "deletes green)",
            **outcome.changes,
        )
    return wait(
        timed_out,
        f"{outcome.message} ({waited}); production needs the remaining steps, so the upgrade "
        "keeps looking: check the resources named in the RDS console",
        **outcome.changes,
    )


def _left(status: AuroraUpgradeStatus) -> str:
    """What a failure before switchover leaves in AWS for the user: green, the snapshot."""
    green = status.green_cluster_identifier or status.blue_green_deployment_identifier
    kept = [
        f"green ({green})" if green else "",
        f"the snapshot {status.snapshot_identifier}" if status.snapshot_identifier else "",
    ]
    left = " and ".join(k for k in kept if k)
    if not left:
        return ""
    deleting = "; deleting the AuroraUpgrade with deletionPolicy Abort deletes green" if green else ""
    return f"; {left} {'stay' if ' and ' in left else 'stays'} for you{deleting}"
