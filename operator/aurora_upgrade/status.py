"""Status bookkeeping: phase transitions, history and kstatus conditions.

Conditions follow kstatus: `Ready` is True only at Completed, `Reconciling` is True while
work goes on, `Stalled` is True when the upgrade has stopped without success. A
condition's lastTransitionTime changes only when its status flips.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.models import UNOBSERVED, AuroraUpgradeStatus, Condition, ConditionStatus, HistoryEntry
from aurora_upgrade.phases import TERMINAL, Phase
from aurora_upgrade.reasons import Kind, Reason, entry_of, is_stall

T, F = ConditionStatus.TRUE, ConditionStatus.FALSE


def updated(status: AuroraUpgradeStatus, changes: Mapping[str, Any]) -> AuroraUpgradeStatus:
    return status.model_copy(update=dict(changes)) if changes else status


# Reasons whose changes within a phase are progress: AWS working, the operator going on. Any
# other reason (a person's wait, a stall, a failure) is what alerts and people act on.
_PROGRESS_KINDS = frozenset({Kind.PROGRESS, Kind.WAITING_ON_AWS})


def _progress(reason: str | None) -> bool:
    found = entry_of(reason)
    return found is not None and found.kind in _PROGRESS_KINDS and not found.warning


def _verdict(status: AuroraUpgradeStatus) -> tuple[Any, ...]:
    return (status.validation, status.validated_generation, status.validation_held, status.validated_spec)


def worth_writing(held: AuroraUpgradeStatus, status: AuroraUpgradeStatus) -> bool:
    """Whether a look that ends (waits) with `status` writes it over `held`, the status the store
    holds: a transition, a new generation seen, a reason people or alerts act on (a person's
    wait, a stall, a Warning, or the end of one), the databases' answer in status.validation and,
    once per phase, progress. Anything else
    (a call's result, a progress message, a wait's bookkeeping) goes with the next write
    (docs/events.md, "When status is written"). Intents are written before their calls anyway."""
    if status == held:
        return False
    if (status.phase, status.observed_generation) != (held.phase, held.observed_generation):
        return True
    if _verdict(status) != _verdict(held):
        return True  # the databases' answer: results people read
    if status.reason != held.reason and not (_progress(status.reason) and _progress(held.reason)):
        return True
    # Progress: only while nothing but the phase's start has been written in it.
    entered = status.history[-1].message if status.history else None
    return held.message == entered and status.message != held.message


def recorded(status: AuroraUpgradeStatus | None) -> AuroraUpgradeStatus | None:
    """The status the operator wrote, or None before its first write: until then the API server
    shows the CRD's default, which has observed no generation (every write records one)."""
    if status is None or status.observed_generation in (None, UNOBSERVED):
        return None
    return status


def is_dry_run(status: AuroraUpgradeStatus) -> bool:
    """The status records a dry run's result: only a dry run writes a plan."""
    return bool(status.plan)


def set_condition(
    conditions: list[Condition],
    type_: str,
    state: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> list[Condition]:
    old = next((c for c in conditions if c.type == type_), None)
    since = old.last_transition_time if old is not None and old.status == state else rfc3339(now)
    new = Condition(
        type=type_,
        status=state,
        reason=reason or "Unknown",
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    return [new if c.type == type_ else c for c in conditions] if old else [*conditions, new]


def with_conditions(
    status: AuroraUpgradeStatus, now: datetime, generation: int, validation_digest: str | None = None
) -> AuroraUpgradeStatus:
    phase, reason, message = status.phase, status.reason or "", status.message or ""
    conditions = list(status.conditions)
    done = phase == Phase.COMPLETED
    stalled = phase in (Phase.FAILED, Phase.ABORTED) or is_stall(status.reason)
    conditions = set_condition(conditions, "Ready", T if done else F, reason, message, now, generation)
    conditions = set_condition(
        conditions, "Reconciling", F if phase in TERMINAL or stalled else T, reason, message, now, generation
    )
    conditions = set_condition(conditions, "Stalled", T if stalled else F, reason, message, now, generation)
    upgraded = next((c for c in conditions if c.type == "Upgraded"), None)
    verified = phase in (Phase.CLEANING_UP, Phase.COMPLETED) and not is_dry_run(status)
    if verified and (upgraded is None or upgraded.status != T):
        conditions = set_condition(
            conditions, "Upgraded", T, "Verified", "Production runs the target version", now, generation
        )
    elif upgraded is None:
        conditions = set_condition(
            conditions, "Upgraded", F, "NotYetVerified", "Production is not yet verified at the target version",
            now, generation,
        )  # fmt: skip
    conditions = _validated(status, conditions, now, generation, validation_digest)
    return status.model_copy(update={"conditions": conditions, "observed_generation": generation})


def _validated(
    status: AuroraUpgradeStatus,
    conditions: list[Condition],
    now: datetime,
    generation: int,
    validation_digest: str | None,
) -> list[Condition]:
    """`Validated`, for an upgrade with spec.validation (decisions/validate.py): True once the
    checks' verdict let it go on and spec.validation is still what it was given for
    (`validation_digest`, database.validation_digest of the current spec; None: not known, as
    for a spec that could not be read), False while they run or a verdict holds."""
    if not status.validation and status.phase != Phase.VALIDATING:
        return conditions
    changed = validation_digest is not None and status.validated_spec != validation_digest
    if status.validation_held and not changed:
        state, reason = F, status.validation_held
    elif status.validated_generation is not None and not changed:
        state, reason = T, Reason.VALIDATION_PASSED.value
    else:
        state, reason = F, "NotYetValidated"
    failed = [f"{e.name} on {e.on}: {e.result}" for e in status.validation if e.result != "Passed"]
    message = "; ".join(failed) if failed else "every check passed" if state == T else "the checks have not passed yet"
    return set_condition(conditions, "Validated", state, reason, message, now, generation)


def transition(status: AuroraUpgradeStatus, to: Phase, reason: str, message: str, now: datetime) -> AuroraUpgradeStatus:
    """Close the current phase in history and enter `to`."""
    stamp = rfc3339(now)
    outcome = {Phase.FAILED: "Failed", Phase.ABORTED: "Aborted"}.get(to, "Succeeded")
    history = list(status.history)
    if history and history[-1].finished_at is None:
        last = history[-1]
        history[-1] = last.model_copy(
            update={
                "finished_at": stamp,
                "outcome": outcome,
                "message": message if to in TERMINAL else last.message,
            }
        )
    entry = HistoryEntry(phase=to, started_at=stamp, message=message)
    if to in TERMINAL:
        entry = entry.model_copy(update={"finished_at": stamp, "outcome": outcome})
    history.append(entry)
    changes: dict[str, Any] = {
        "phase": to,
        "reason": reason,
        "message": message,
        "phase_started_at": stamp,
        "history": history,
        "started_at": status.started_at or stamp,
    }
    if to in TERMINAL:
        changes["completed_at"] = stamp
    if to == Phase.FAILED:
        changes["failed_phase"] = status.phase
    return status.model_copy(update=changes)


def initial(now: datetime) -> AuroraUpgradeStatus:
    stamp = rfc3339(now)
    return AuroraUpgradeStatus(
        phase=Phase.PENDING,
        reason=Reason.CREATED,
        message="Waiting to start",
        started_at=stamp,
        phase_started_at=stamp,
        history=[HistoryEntry(phase=Phase.PENDING, started_at=stamp, message="Waiting to start")],
    )
