"""How long the simulated RDS operations take.

AWS takes tens of minutes to provision a green environment and minutes to switch over or
delete. The defaults keep the runbook's proportions at a scale its own AWS CLI loops (which
poll every 30 s) run as written against a plain `aurora-upgrade sim`: provisioning far the
longest, then switchover, snapshot, reboots; deletions take minutes, so step 9.2's wait loop
finds the instances still `deleting`. Tests and the demo pass their own short delays (a
preset for the demo, `demo_timing()`), and `scaled()` gives AWS's typical durations
multiplied by a factor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# Typical AWS durations in seconds, from the runbook (green provisioning "30 min to over an
# hour", switchover "a few minutes", sample output ~2 min) and AWS's user guide. They only
# serve as the base of `SimConfig.scaled`.
AWS_TYPICAL_SECONDS: dict[str, float] = {
    "provisioning_seconds": 1800.0,
    "switchover_seconds": 120.0,
    "reboot_seconds": 60.0,
    "snapshot_seconds": 300.0,
    "delete_seconds": 600.0,
    "not_found_after_create_seconds": 5.0,
}


@dataclass(frozen=True)
class SimConfig:
    """Delays of the simulated RDS API, in seconds (fractions allowed).

    provisioning_seconds: CreateBlueGreenDeployment stays PROVISIONING (green resources
        `creating`) this long, then AVAILABLE. An invalid configuration is reported after a
        quarter of it.
    switchover_seconds: SWITCHOVER_IN_PROGRESS lasts this long, then the renames happen.
    reboot_seconds: RebootDBInstance keeps the instance `rebooting` this long.
    snapshot_seconds: CreateDBClusterSnapshot keeps the snapshot `creating` this long.
    delete_seconds: instances, clusters and blue/green deployments stay `deleting` /
        DELETING this long before they disappear (a cluster deleted with its deployment's
        DeleteTarget waits for its instances first).
    not_found_after_create_seconds: right after CreateBlueGreenDeployment, describing the
        new deployment answers BlueGreenDeploymentNotFoundFault this long (eventual
        consistency, as seen on AWS).
    """

    # The runbook's 3.4 and 6.3 loops print a status every 30 s: provisioning shows a column of
    # PROVISIONING (its sample: 15 min; here 10), the switchover a few SWITCHOVER_IN_PROGRESS
    # (its sample: about 2 min), and the -old1 instances outlast a `wait db-instance-deleted` poll.
    provisioning_seconds: float = 600.0
    switchover_seconds: float = 120.0
    reboot_seconds: float = 30.0
    snapshot_seconds: float = 60.0
    delete_seconds: float = 180.0
    not_found_after_create_seconds: float = 1.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value < 0:
                raise ValueError(f"{field.name} must be >= 0, got {value}")

    @classmethod
    def scaled(cls, factor: float) -> SimConfig:
        """AWS's typical durations multiplied by `factor` (e.g. 0.01: 30 min become 18 s)."""
        if factor <= 0:
            raise ValueError(f"scale factor must be > 0, got {factor}")
        return cls(**{name: seconds * factor for name, seconds in AWS_TYPICAL_SECONDS.items()})

    @classmethod
    def demo_timing(cls) -> SimConfig:
        """Seconds in the runbook's proportions, short enough to watch a whole upgrade."""
        return cls(
            provisioning_seconds=15.0,
            switchover_seconds=4.0,
            reboot_seconds=2.0,
            snapshot_seconds=3.0,
            delete_seconds=3.0,
            not_found_after_create_seconds=1.0,
        )

    def with_overrides(self, **seconds: float | None) -> SimConfig:
        """This config with the given fields replaced; None values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in seconds.items() if v is not None})


@dataclass(frozen=True)
class FaultConfig:
    """Faults the simulator injects into its answers, drawn from one seeded random stream.

    Each rate is the chance (0 to 1) that one API call meets that fault; at most one fault
    per call, tried in this order:

    throttle_rate: refused with `Throttling` or `ThrottlingException` (HTTP 400), not carried out.
    error_rate: refused with HTTP 500 `InternalFailure`, not carried out.
    lost_rate: carried out, then the connection is closed before the answer (the client
        sees a dropped connection; AWS's state has changed).
    slow_rate: answered after `slow_seconds` (carried out first, as AWS does with a slow answer).
    denied: operations always refused with `AccessDenied` (HTTP 403), not carried out.
    seed: the random stream's seed, so a run can be repeated call for call.
    """

    seed: int = 0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    lost_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    denied: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        rates = ("throttle_rate", "error_rate", "lost_rate", "slow_rate")
        for name in rates:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if sum(getattr(self, name) for name in rates) > 1.0:
            raise ValueError("the fault rates add up to more than 1")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {self.slow_seconds}")

    @property
    def any(self) -> bool:
        return bool(self.throttle_rate or self.error_rate or self.lost_rate or self.slow_rate or self.denied)
