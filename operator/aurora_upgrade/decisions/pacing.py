"""How soon an upgrade looks at AWS again: the wait follows what AWS is doing.

Decisions say *that* they wait (`Outcome.requeue`, the base poll interval); the engine asks
`next_look` *how long*, from what the upgrade waits for. RDS events wake an upgrade as soon as
something happens to one of its resources (docs/events.md), so these are the safety net, sized
to what a late or lost event may cost: short where AWS takes seconds (switchover, reboots, a call
just made), long while green is provisioned (tens of minutes), and the long safety interval while
a person decides (a spec change wakes the upgrade at once). Intervals are in `config.Timing`.
"""

from __future__ import annotations

from datetime import datetime

from aurora_upgrade.config import Timing
from aurora_upgrade.decisions.outcome import Outcome
from aurora_upgrade.decisions.switchover import next_window_start
from aurora_upgrade.upgrade import Upgrade

QUICK = frozenset(
    {
        "RebootingInstance",
        "RebootFound",
        "CheckingEarlierReboot",
        "WaitingForInstance",
        "WaitingForReboot",
        "SwitchoverStarted",
        "SwitchoverRequested",
        "SwitchoverInProgress",
        "WaitingForRename",
    }
)
PROVISIONING = frozenset({"ProvisioningGreen"})
ON_PEOPLE = frozenset({"AwaitingApproval", "OutsideMaintenanceWindow", "RetainingOldCluster"})


def next_look(upgrade: Upgrade, outcome: Outcome, now: datetime, timing: Timing) -> float:
    """Seconds until the next look after `outcome` (a decision's requeue, 0 < requeue)."""
    reason = outcome.reason
    if outcome.warning or outcome.requeue != timing.poll:
        return outcome.requeue  # AWS misbehaving, or a decision with a wait of its own
    if reason in QUICK:
        return timing.quick
    if reason in PROVISIONING:
        return timing.provisioning
    if reason == "OutsideMaintenanceWindow" and upgrade.spec.switchover.window is not None:
        # Look again when the window opens, not up to a safety interval later.
        opens = next_window_start(upgrade.spec.switchover.window, now)
        return max(timing.quick, min(timing.safety, (opens - now).total_seconds()))
    if reason in ON_PEOPLE:
        return timing.safety
    return timing.poll
