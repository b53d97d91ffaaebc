"""The phases of an upgrade and the order they run in, in one readable table.

Each phase maps to runbook steps (see docs/runbook-mapping.md). Optional phases are
skipped when the spec turns their step off; `following()` answers "what comes next".
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus


class Phase(StrEnum):
    PENDING = "Pending"
    PRECHECKING = "Prechecking"
    REBOOTING_SOURCE = "RebootingSource"
    CREATING_BLUE_GREEN = "CreatingBlueGreen"
    PROVISIONING_GREEN = "ProvisioningGreen"
    REBOOTING_GREEN = "RebootingGreen"
    VALIDATING = "Validating"
    AWAITING_SWITCHOVER = "AwaitingSwitchover"
    SNAPSHOTTING = "Snapshotting"
    SWITCHING_OVER = "SwitchingOver"
    REBOOTING_INSTANCES = "RebootingInstances"
    VERIFYING = "Verifying"
    CLEANING_UP = "CleaningUp"
    COMPLETED = "Completed"
    FAILED = "Failed"
    ABORTED = "Aborted"


TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.ABORTED})

# The phases after SwitchingOver, entered only once a switchover completed. They add to "a
# switchover may have started", never take from it: that comes from the recorded call.
AFTER_SWITCHOVER = frozenset({Phase.REBOOTING_INSTANCES, Phase.VERIFYING, Phase.CLEANING_UP})

# The phases from SwitchingOver on: a switchover AWS shows there is this upgrade's own to settle,
# not one made by someone else (decisions/deployment.py).
SWITCHOVER_PHASES = frozenset({Phase.SWITCHING_OVER, *AFTER_SWITCHOVER, Phase.COMPLETED})


def recorded_attempt(status: AuroraUpgradeStatus) -> int | None:
    """The attempt number (spec.switchover.attempt) of the latest switchover call that may have
    reached AWS, None while none was sent. A status written before attempts were recorded has
    only the call's times: that call was attempt 1."""
    if status.switchover_attempt is not None:
        return status.switchover_attempt
    if status.switchover_requested_at or status.switchover_accepted_at:
        return 1
    return None


def switchover_may_have_started(status: AuroraUpgradeStatus) -> bool:
    """True once SwitchoverBlueGreenDeployment may have been sent, from the recorded call (its
    intent, AWS's answer, its attempt, a completed switchover), never from the phase a failure
    happened in: a phase after switchover only adds to it. From then on a refused call or read
    stalls the upgrade instead of failing it, and deleting the resource deletes green only where
    names and versions prove it is not production (decisions/cleanup.py)."""
    return recorded_attempt(status) is not None or switched_over(status)


def switched_over(status: AuroraUpgradeStatus) -> bool:
    """A switchover completed: recorded, or implied by a phase only reached after one."""
    return (
        status.switchover_completed_at is not None
        or status.phase in AFTER_SWITCHOVER
        or status.failed_phase in AFTER_SWITCHOVER
    )


FINISHED = frozenset({Phase.COMPLETED, Phase.ABORTED})


def deleting_touches_aws(status: AuroraUpgradeStatus) -> bool:
    """Whether deleting the upgrade now may change AWS (deletionPolicy Abort deletes the
    deployment and green): not once it finished, nor once a switchover completed (production is
    green). Before a switchover call it does; after one, only where decisions/cleanup.py finds
    the call settled as not carried out and names and versions prove green is not production.
    docs/operations.md's deletion table, row by row."""
    return status.phase not in FINISHED and not switched_over(status)


def deleting_may_ever_touch_aws(status: AuroraUpgradeStatus) -> bool:
    """Whether the upgrade may need its finalizer, now or later: every upgrade that has not
    finished (a Failed one too: before switchover its deletion may have green to delete)."""
    return status.phase not in FINISHED


# Phases in which the upgrade has changed nothing in AWS: a spec refused there fails the
# upgrade, and an upgrade that failed there starts over when its spec changes. Narrower than
# `nothing_created`: RebootingSource creates nothing, but it has rebooted production.
BEFORE_ANY_CHANGE = frozenset({Phase.PENDING, Phase.PRECHECKING})


def nothing_created(status: AuroraUpgradeStatus) -> bool:
    """True while the upgrade has created nothing in AWS (no deployment asked for yet): a
    problem that needs a person then fails it, with nothing to clean up."""
    if status.phase == Phase.CREATING_BLUE_GREEN:
        return status.create_requested_at is None
    return status.phase in (Phase.PENDING, Phase.PRECHECKING, Phase.REBOOTING_SOURCE)


def settled(status: AuroraUpgradeStatus, generation: int) -> bool:
    """Nothing left to do: a terminal phase that has seen the current generation."""
    return status.phase in TERMINAL and status.observed_generation == generation


def _cleanup_wanted(spec: AuroraUpgradeSpec) -> bool:
    return spec.cleanup.delete_blue_green_deployment or spec.cleanup.delete_old_cluster


# The happy path in order; a predicate says whether an optional phase runs for a spec.
# RebootingSource is entered only when prechecks find pending parameters, so it is
# not in the linear order: Prechecking chooses it explicitly.
_ORDER: tuple[tuple[Phase, Callable[[AuroraUpgradeSpec], bool] | None], ...] = (
    (Phase.PENDING, None),
    (Phase.PRECHECKING, None),
    (Phase.CREATING_BLUE_GREEN, None),
    (Phase.PROVISIONING_GREEN, None),
    (Phase.REBOOTING_GREEN, lambda s: s.reboot_green_before_switchover),
    (Phase.VALIDATING, lambda s: s.validation is not None),
    (Phase.AWAITING_SWITCHOVER, lambda s: s.switchover.gated),
    (Phase.SNAPSHOTTING, lambda s: s.switchover.snapshot_before_switchover),
    (Phase.SWITCHING_OVER, None),
    (Phase.REBOOTING_INSTANCES, lambda s: s.reboot_after_switchover),
    (Phase.VERIFYING, None),
    (Phase.CLEANING_UP, _cleanup_wanted),
    (Phase.COMPLETED, None),
)


def following(phase: Phase, spec: AuroraUpgradeSpec) -> Phase:
    """The next phase on the happy path after `phase`, skipping the ones the spec turns off."""
    if phase == Phase.REBOOTING_SOURCE:
        phase = Phase.PRECHECKING
    names = [p for p, _ in _ORDER]
    for candidate, wanted in _ORDER[names.index(phase) + 1 :]:
        if wanted is None or wanted(spec):
            return candidate
    return Phase.COMPLETED


def happy_path(spec: AuroraUpgradeSpec, reboot_source: bool = False) -> list[Phase]:
    """Every phase this spec will pass through, in order (used for the dry-run plan)."""
    path = [Phase.PENDING, Phase.PRECHECKING]
    if reboot_source:
        path.append(Phase.REBOOTING_SOURCE)
    while path[-1] != Phase.COMPLETED:
        path.append(following(path[-1], spec))
    return path
