"""How soon an upgrade looks at AWS again: the wait follows what AWS is doing.

Decisions say *that* they wait (`Outcome.requeue`, the base poll interval); the engine asks
`next_look` *how long*, from what the upgrade waits for. RDS events wake an upgrade as soon as
something happens to one of its resources (docs/events.md), so these are the safety net, sized
to what a late or lost event may cost: short where AWS takes seconds (switchover, reboots, a call
just made), long while green is provisioned (tens of minutes), and the long safety interval while
a person decides (a spec change wakes the upgrade at once). Each stage module declares the pace
of its waits (`WAITS`, `outcome.Pace`, merged in `deadlines.WAITS`); the intervals are in
`config.Timing`.
"""

from __future__ import annotations

from datetime import datetime

from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.deadlines import WAITS
from aurora_upgrade.decisions.outcome import Outcome, Pace
from aurora_upgrade.upgrade import Upgrade


def interval(pace: Pace, timing: Timing) -> float:
    match pace:
        case Pace.QUICK:
            return timing.quick
        case Pace.PROVISIONING:
            return timing.provisioning
        case Pace.SAFETY:
            return timing.safety
    return timing.poll


def next_look(upgrade: Upgrade, outcome: Outcome, now: datetime, timing: Timing) -> float:
    """Seconds until the next look after `outcome` (a decision's requeue, 0 < requeue)."""
    if outcome.warning or outcome.requeue != timing.poll:
        return outcome.requeue  # AWS misbehaving, or a decision with a wait of its own
    declared = WAITS.get(outcome.reason)
    if declared is None:
        return timing.poll
    due = declared.due(upgrade, now) if declared.due is not None else None
    if due is not None:  # e.g. a maintenance window: look again when it opens
        return max(timing.quick, min(timing.safety, (due - now).total_seconds()))
    return interval(declared.pace, timing)
