"""Settings read from the environment, shared by the operator and `aurora-upgrade run`, and the
waits and timeouts derived from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

POLL_ENV = "AURORA_UPGRADE_POLL_SECONDS"
# Compresses time for tests and demos: every interval and every deadline is multiplied by it.
SCALE_ENV = "AURORA_UPGRADE_TIME_SCALE"
# Where the operator serves /metrics; `aurora-upgrade operator --metrics-port/--metrics-address`
# set them for the controller, which reads them once kopf has started it.
METRICS_PORT_ENV = "AURORA_UPGRADE_METRICS_PORT"
METRICS_ADDRESS_ENV = "AURORA_UPGRADE_METRICS_ADDRESS"
# The CA bundle validation's database connections verify blue's and green's certificates with
# (sslmode verify-ca/verify-full): the chart mounts AWS's RDS bundle (global-bundle.pem) there.
# Unset: the system's trust store, which does not hold AWS's RDS certificate authorities.
DB_CA_BUNDLE_ENV = "AURORA_UPGRADE_DB_CA_BUNDLE"
# An SQS queue an EventBridge rule fills with RDS events (docs/events.md, "EventBridge and SQS"):
# the operator long-polls it, and the DescribeEvents feed reads only at the safety interval.
EVENT_QUEUE_URL_ENV = "AURORA_UPGRADE_EVENT_QUEUE_URL"
EVENT_QUEUE_REGION_ENV = "AURORA_UPGRADE_EVENT_QUEUE_REGION"  # default: the Region in the queue's URL
# At most this many of the operator's upgrades creating green at once per account and Region
# (CreateBlueGreenDeployment sent, green not yet available), to keep a fleet inside the account's
# quota of DB clusters; unset: no limit. `aurora-upgrade run` drives one upgrade and ignores it.
MAX_CREATING_ENV = "AURORA_UPGRADE_MAX_CREATING_PER_REGION"


def _positive(name: str, default: str, what: str) -> float:
    raw = os.environ.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be {what}, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be positive, not {raw!r}")
    return value


def poll_seconds() -> float:
    """The base poll interval at time scale 1 (default 30, fractions allowed)."""
    return _positive(POLL_ENV, "30", "a number of seconds")


def time_scale() -> float:
    """How much faster than real time the operator runs (default 1; tests and demos shorten it)."""
    return _positive(SCALE_ENV, "1", "a positive number")


def db_ca_bundle() -> str | None:
    """The path in AURORA_UPGRADE_DB_CA_BUNDLE, or None when unset or empty."""
    return os.environ.get(DB_CA_BUNDLE_ENV) or None


def max_creating_per_region() -> int | None:
    raw = os.environ.get(MAX_CREATING_ENV, "")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{MAX_CREATING_ENV} must be a whole number of at least 1, not {raw!r}")
    return value


def event_queue_url() -> str | None:
    return os.environ.get(EVENT_QUEUE_URL_ENV) or None


def timing_from_env() -> Timing:
    scale = time_scale()
    return Timing(poll=poll_seconds() * scale, scale=scale, event_queue=event_queue_url() is not None)


@dataclass(frozen=True)
class Timing:
    """How often to look (`poll`, AURORA_UPGRADE_POLL_SECONDS) and how long AWS may take
    (durations from AWS's documentation, in reasons.py and below) are separate: a shorter poll
    looks more often and waits no less. `scale` (AURORA_UPGRADE_TIME_SCALE) compresses both
    for tests and demos; `poll` is already scaled. The small floors are absolute: AWS's
    eventual consistency and a reboot's duration do not shrink with a test's clock.

    At scale 1: grace 2 min, reboot timeout 1 h, verification timeout 20 min.

    How soon to look again follows what AWS is doing (docs/events.md): RDS events wake an
    upgrade the moment something happens to one of its resources, so the polls below are a
    safety net, sized to what each wait costs when an event is late or lost. At 30 s: every
    5 s an RDS events read per Region, 10 s while AWS is quick (switchover, reboots), 2 min
    while it provisions green (which takes tens of minutes), 5 min while an upgrade waits for
    a person (approval, window, retention) and for terminal upgrades nothing at all."""

    poll: float = 30.0
    scale: float = 1.0
    event_queue: bool = False  # RDS events arrive from an SQS queue too (AURORA_UPGRADE_EVENT_QUEUE_URL)

    @classmethod
    def compressed(cls, scale: float) -> Timing:
        """The default timing with every interval and deadline multiplied by `scale`."""
        return cls(poll=cls.poll * scale, scale=scale)

    def scaled(self, duration: timedelta, floor: float = 60.0) -> timedelta:
        """How long AWS may take, `duration` in real time, compressed by the time scale, and
        never less than `floor` seconds."""
        return timedelta(seconds=max(floor, duration.total_seconds() * self.scale))

    @property
    def events(self) -> float:
        """How often one DescribeEvents call per account and Region reads what changed."""
        return max(1.0, self.poll / 6)

    @property
    def feed_interval(self) -> float:
        """How often the Region's DescribeEvents feed reads: every `events` seconds, or, where an
        EventBridge queue brings the events, only at the safety interval (5 min at 30 s), for
        what EventBridge misses (its RDS delivery is best effort, like the events themselves)."""
        return self.safety if self.event_queue else self.events

    @property
    def quick(self) -> float:
        """Where AWS takes seconds to a few minutes: switchover, reboots, a call just made."""
        return self.poll / 3

    @property
    def provisioning(self) -> float:
        """While AWS provisions green (tens of minutes); event RDS-EVENT-0244 wakes it sooner."""
        return 4 * self.poll

    @property
    def evented(self) -> float:
        """Where AWS's work ends with an RDS event that wakes the look (green provisioned, a
        snapshot taken, a deployment deleted), the poll only covers a lost event: the
        provisioning interval, or with the EventBridge queue the feed's own (the safety
        interval): the queue brings the event within seconds and the feed reads what it misses
        at that interval, so a shorter poll there mostly asks AWS what has not changed."""
        return self.safety if self.event_queue else self.provisioning

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
        return self.scaled(timedelta(minutes=2), floor=5.0)

    @property
    def reboot_timeout(self) -> timedelta:
        """A reboot that has not come back by then never will: Failed (RebootTimedOut)."""
        return self.scaled(timedelta(hours=1), floor=30.0)

    @property
    def refusal_timeout(self) -> timedelta:
        """How long AWS may keep refusing a call for a transient state before the upgrade
        stops asking."""
        return self.scaled(timedelta(minutes=10), floor=60.0)

    @property
    def snapshot_max_age(self) -> timedelta:
        """How old the pre-switchover snapshot may be (since it was seen available) when the
        switchover is sent; an older one is retaken. Longer than the waits between them
        (SwitchoverNotSafe 30 min, SwitchoverRefused 10 min), so a retake never chases itself."""
        return self.scaled(timedelta(hours=1), floor=30.0)

    @property
    def validation_max_age(self) -> timedelta:
        """How long ago the user's checks may have passed when the switchover is sent (a Manual
        approval or a window may come days after Validating): older, they run again inside the
        open gate, right before the call (ValidationExpired)."""
        return self.scaled(timedelta(hours=1), floor=30.0)

    @property
    def guardrail_freshness(self) -> timedelta:
        """How old the database's answer may be when a decision acts on it right before the
        switchover call: a job's answer is picked up within a quick look of its end."""
        return self.scaled(timedelta(minutes=1), floor=max(5.0, 2 * self.quick))

    @property
    def verify_timeout(self) -> timedelta:
        """How long production may take to show the target version after switchover."""
        return self.scaled(timedelta(minutes=20), floor=30.0)
