"""How soon an upgrade looks at AWS again: the wait follows what AWS is doing.

Decisions say *that* they wait (a `Wait`, or an `Act` that is not followed at once); the
engine asks `next_look` *how long*, from the pace reasons.py gives the reason. RDS events wake
an upgrade as soon as something happens to one of its resources (docs/events.md), so these are
the safety net, sized to what a late or lost event may cost: short where AWS takes seconds
(switchover, reboots, a call just made), long while green is provisioned (tens of minutes), and
the long safety interval while a person decides (a spec change wakes the upgrade at once). The
intervals are in `config.Timing`.
"""

from __future__ import annotations

from datetime import datetime

from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import Act, Outcome, Wait
from aurora_upgrade.reasons import Pace, entry_of
from aurora_upgrade.upgrade import Upgrade


def interval(pace: Pace, timing: Timing) -> float:
    match pace:
        case Pace.QUICK:
            return timing.quick
        case Pace.PROVISIONING | Pace.EVENTED:
            return timing.evented  # a lost event costs a poll at most
        case Pace.SAFETY | Pace.QUOTA:
            return timing.safety
    return timing.poll


def waits(outcome: Outcome) -> bool:
    """Whether the look ends here: a wait, or a call not followed at once."""
    return isinstance(outcome, Wait) or (isinstance(outcome, Act) and not outcome.at_once)


def next_look(upgrade: Upgrade, outcome: Outcome, now: datetime, timing: Timing) -> float:
    """Seconds until the next look after `outcome` (one that `waits`)."""
    declared = entry_of(outcome.reason)
    if declared is None:
        return timing.poll
    due = declared.due(upgrade, now) if declared.due is not None else None
    if due is not None:  # e.g. a maintenance window: look again when it opens
        return max(timing.quick, min(timing.safety, (due - now).total_seconds()))
    return interval(declared.pace, timing)
