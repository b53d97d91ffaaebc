"""Settings read from the environment, shared by the operator and `aurora-upgrade run`, and the
waits and timeouts derived from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

POLL_ENV = "AURORA_UPGRADE_POLL_SECONDS"
# Where the operator serves /metrics; `aurora-upgrade operator --metrics-port/--metrics-address`
# set them for the controller, which reads them once kopf has started it.
METRICS_PORT_ENV = "AURORA_UPGRADE_METRICS_PORT"
METRICS_ADDRESS_ENV = "AURORA_UPGRADE_METRICS_ADDRESS"


def poll_seconds() -> float:
    """The base poll interval every wait derives from (default 30, fractions allowed)."""
    raw = os.environ.get(POLL_ENV, "30")
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{POLL_ENV} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{POLL_ENV} must be positive, not {raw!r}")
    return value


@dataclass(frozen=True)
class Timing:
    """Every wait and timeout derives from the base poll interval (AURORA_UPGRADE_POLL_SECONDS),
    so a shortened interval shortens them all. The small floors are absolute: AWS's eventual
    consistency and a reboot's duration do not shrink with our polling.

    At the default 30 s: grace 2 min, reboot timeout 1 h, verification timeout 20 min.

    How soon to look again follows what AWS is doing (docs/events.md): RDS events wake an
    upgrade the moment something happens to one of its resources, so the polls below are a
    safety net, sized to what each wait costs when an event is late or lost. At 30 s: every
    5 s an RDS events read per Region, 10 s while AWS is quick (switchover, reboots), 2 min
    while it provisions green (which takes tens of minutes), 5 min while an upgrade waits for
    a person (approval, window, retention) and for terminal upgrades nothing at all."""

    poll: float = 30.0

    @property
    def events(self) -> float:
        """How often one DescribeEvents call per account and Region reads what changed."""
        return max(1.0, self.poll / 6)

    @property
    def quick(self) -> float:
        """Where AWS takes seconds to a few minutes: switchover, reboots, a call just made."""
        return self.poll / 3

    @property
    def provisioning(self) -> float:
        """While AWS provisions green (tens of minutes); event RDS-EVENT-0244 wakes it sooner."""
        return 4 * self.poll

    @property
    def safety(self) -> float:
        """Waits on a person: the spec changing wakes them, and the event feed does when AWS
        changes something (a deployment can fail, or be switched over in the console)."""
        return 10 * self.poll

    @property
    def read_cycle(self) -> float:
        """The Region's read cycle: the looks due in one share one describe call per operation.
        No longer than the shortest wait, so a look never reads the answer of the one before."""
        return min(self.events, self.quick)

    @property
    def consistency_grace(self) -> timedelta:
        """How long something we asked AWS to create may stay invisible to describe calls."""
        return timedelta(seconds=max(5.0, 4 * self.poll))

    @property
    def reboot_timeout(self) -> timedelta:
        """A reboot that has not come back by then never will: Failed (RebootTimedOut)."""
        return timedelta(seconds=max(30.0, 120 * self.poll))

    @property
    def refusal_timeout(self) -> timedelta:
        """How long AWS may keep refusing a call for a transient state before the upgrade
        stops asking (10 min at 30 s)."""
        return timedelta(seconds=max(60.0, 20 * self.poll))

    @property
    def verify_timeout(self) -> timedelta:
        """How long production may take to show the target version after switchover."""
        return timedelta(seconds=max(30.0, 40 * self.poll))
