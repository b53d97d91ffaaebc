"""One reconcile: the loop over the stage table, `act`, and recording.

What each phase reads from AWS, decides, and makes of a refused call lives in its stage
module in decisions/; the engine runs them in order: observe (through the gateway) -> decide
(pure) -> act (at most one call) -> record. What a look asks the Region's shared describes is
each stage's `questions` (decisions/questions.py): `reads_of` registers them before the look,
and observe asks them in it. Used unchanged by the kopf operator and by
`aurora-upgrade run`; the two differ only in their Store (status subresource + Events, or a
state file + stdout).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from aurora_upgrade import metrics
from aurora_upgrade.clock import parse_time, rfc3339, utcnow
from aurora_upgrade.config import Timing
from aurora_upgrade.database import validation_digest
from aurora_upgrade.decisions import (
    bluegreen,
    cleanup,
    deadlines,
    pacing,
    precheck,
    reboot,
    switchover,
    validate,
    verify,
)
from aurora_upgrade.decisions.actions import (
    Action,
    CreateBlueGreen,
    CreateSnapshot,
    DeleteBlueGreen,
    DeleteCluster,
    DeleteInstance,
    DeleteSnapshot,
    DisableDeletionProtection,
    RebootInstance,
    Switchover,
)
from aurora_upgrade.decisions.outcome import Advance, Ask, Outcome, call_in_flight, default_call_failed, read_failed
from aurora_upgrade.decisions.questions import Question
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus, InvalidManifest
from aurora_upgrade.phases import (
    BEFORE_ANY_CHANGE,
    TERMINAL,
    Phase,
    following,
    nothing_created,
    settled,
    switchover_may_have_started,
)
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import RdsError, RdsReads, Reads
from aurora_upgrade.status import initial, is_dry_run, recorded, transition, updated, with_conditions, worth_writing
from aurora_upgrade.store import Store
from aurora_upgrade.upgrade import Upgrade
from aurora_upgrade.validation_jobs import Validations

GatewayFactory = Callable[[Upgrade], RdsGateway]
CallFailed = Callable[[Upgrade, Action, RdsError, datetime, Timing], Outcome]


_GATEWAYS: dict[tuple[str, str | None, str | None], RdsGateway] = {}
_GATEWAYS_LOCK = threading.Lock()


def default_gateways(upgrade: Upgrade) -> RdsGateway:
    """One gateway per (region, role) for the life of the process: botocore's adaptive rate
    limiter learns the account's throttling only if its client lives on. Made under a lock: the
    operator's first reconciles run in many threads at once, and each gateway made beside the
    one kept would load botocore's service models again (about 15 MB each) and share no reads."""
    aws = upgrade.spec.aws
    key = (upgrade.spec.region, aws.role_arn, aws.external_id)
    gateway = _GATEWAYS.get(key)
    if gateway is not None:  # the usual case, without waiting for a gateway being made elsewhere
        return gateway
    with _GATEWAYS_LOCK:
        if key not in _GATEWAYS:
            _GATEWAYS[key] = RdsGateway.for_region(*key)
        return _GATEWAYS[key]


@dataclass(frozen=True)
class Stage:
    """One phase's part of a reconcile, all from its stage module."""

    observe: Callable[[RdsReads, Upgrade, datetime], Any]
    questions: Callable[[Upgrade], Iterable[Question[Any]]]  # what observe may ask the shared describes
    decide: Callable[[Upgrade, Any, datetime, Timing], Outcome]
    call_failed: CallFailed = default_call_failed
    # Looks during another call's in-flight grace (observe and decide, never call): a reboot
    # whose answer was lost shows as `rebooting` only for a moment.
    looks_in_flight: bool = False


STAGES: dict[Phase, Stage] = {
    Phase.PRECHECKING: Stage(precheck.observe, precheck.questions, precheck.decide_precheck),
    Phase.REBOOTING_SOURCE: Stage(reboot.observe, reboot.questions, reboot.decide_reboot, looks_in_flight=True),
    Phase.CREATING_BLUE_GREEN: Stage(bluegreen.observe_create, bluegreen.questions_create, bluegreen.decide_create),
    Phase.PROVISIONING_GREEN: Stage(
        bluegreen.observe_provisioning, bluegreen.questions_provisioning, bluegreen.decide_provisioning
    ),
    Phase.REBOOTING_GREEN: Stage(reboot.observe, reboot.questions, reboot.decide_reboot, looks_in_flight=True),
    Phase.VALIDATING: Stage(validate.observe, validate.questions, validate.decide_validating),
    Phase.AWAITING_SWITCHOVER: Stage(
        switchover.observe, switchover.questions, switchover.decide_awaiting, switchover.refused_call
    ),
    Phase.SNAPSHOTTING: Stage(
        switchover.observe, switchover.questions, switchover.decide_snapshot, switchover.refused_call
    ),
    Phase.SWITCHING_OVER: Stage(
        switchover.observe, switchover.questions, switchover.decide_switching, switchover.refused_call
    ),
    Phase.REBOOTING_INSTANCES: Stage(reboot.observe, reboot.questions, reboot.decide_reboot, looks_in_flight=True),
    Phase.VERIFYING: Stage(verify.observe, verify.questions, verify.decide_verify),
    Phase.CLEANING_UP: Stage(cleanup.observe, cleanup.questions, cleanup.decide_cleanup),
}


# How many stages past its own a look may read in: one that advances goes on without waiting,
# e.g. RebootingInstances -> Verifying -> CleaningUp once the last reboot is seen done and the
# versions are right; a stage whose first look makes a call (a reboot, a switchover) ends it.
LOOKS_AHEAD = 2


def reads_of(upgrade: Upgrade) -> Reads:
    """What the upgrade's next look asks the Region's shared describes: the questions of its
    stage and of the stages it may go on to in the same look (LOOKS_AHEAD), each stage's as its
    module declares them (`questions`, decisions/questions.py). A Pending upgrade's look is its
    precheck; a finished one reads nothing."""
    phase: Phase = Phase.PRECHECKING if upgrade.status.phase == Phase.PENDING else upgrade.status.phase
    reads = Reads()
    for _ in range(1 + LOOKS_AHEAD):
        if phase not in STAGES:
            break
        in_phase = replace(upgrade, status=upgrade.status.model_copy(update={"phase": phase}))
        for question in STAGES[phase].questions(in_phase):
            reads |= question.reads
        phase = following(phase, upgrade.spec)
    return reads


# --- act: the only place a decision's action becomes an AWS call -----------------------------


def act(gw: RdsGateway, action: Action) -> dict[str, Any]:
    """Carry out an action; return status changes learned from AWS's answer."""
    match action:
        case CreateBlueGreen():
            bg = gw.create_blue_green(
                name=action.name,
                source_arn=action.source_arn,
                target_engine_version=action.target_engine_version,
                cluster_parameter_group=action.cluster_parameter_group,
                parameter_group=action.parameter_group,
                tags=dict(action.tags),
            )
            return {"blue_green_deployment_identifier": bg.identifier}
        case RebootInstance():
            gw.reboot_instance(action.instance)
        case CreateSnapshot():
            gw.create_cluster_snapshot(action.identifier, action.cluster, dict(action.tags))
        case DeleteSnapshot():
            gw.delete_cluster_snapshot(action.identifier)
        case Switchover():
            gw.switchover(action.identifier, action.timeout_seconds)
        case DeleteBlueGreen():
            gw.delete_blue_green(action.identifier, delete_target=action.delete_target)
        case DisableDeletionProtection():
            gw.disable_deletion_protection(action.cluster)
        case DeleteInstance():
            gw.delete_instance(action.instance)
        case DeleteCluster():
            gw.delete_cluster(action.cluster, action.final_snapshot)
    return {}


def answer_is_proof(phase: Phase, action: Action) -> bool:
    """Whether AWS's answer to `action` is the only proof of an action on production, and so is
    written at once rather than with the next write: a switchover accepted, a production reboot
    asked for (the reliability rules settle a lost one by evidence, never by repeating it). A
    green reboot's, a creation's or a deletion's is found again in AWS by name and tag."""
    if isinstance(action, Switchover):
        return True
    return isinstance(action, RebootInstance) and phase in PRODUCTION_REBOOTS


PRODUCTION_REBOOTS = frozenset({Phase.REBOOTING_SOURCE, Phase.REBOOTING_INSTANCES})


@dataclass
class _Writes:
    """One look's status writes: status is written when it means something (`save`: an intent,
    an answer that proves an action on production; `end_of_look`: what `worth_writing` says),
    and the Events of what it carries are posted after it, so a writer whose save conflicts
    tells people nothing. A store that does not fold (`run`'s state file) has every step
    written as it is recorded (`step`)."""

    store: Store
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def save(self, upgrade: Upgrade, status: AuroraUpgradeStatus) -> Upgrade:
        self.store.save(status)
        for event in self.events:
            self.store.event(*event)
        self.events.clear()
        return upgrade.written(status)

    def step(self, upgrade: Upgrade) -> Upgrade:
        if self.store.folds:
            return upgrade
        return self.changed(upgrade)

    def end_of_look(self, upgrade: Upgrade) -> Upgrade:
        if self.events or worth_writing(upgrade.held, upgrade.status):
            return self.save(upgrade, upgrade.status)
        return upgrade

    def changed(self, upgrade: Upgrade) -> Upgrade:
        """Whatever changed, written (the finalizer's looks: few, and each may be its last)."""
        if self.events or upgrade.stored is not None:
            return self.save(upgrade, upgrade.status)
        return upgrade


class Reconciled(NamedTuple):
    upgrade: Upgrade  # as recorded at the end of this reconcile
    requeue: float | None  # seconds until the next look; None once the upgrade is terminal


@dataclass
class Engine:
    timing: Timing = field(default_factory=Timing)
    clock: Callable[[], datetime] = utcnow
    gateways: GatewayFactory = default_gateways
    # The database checks and guardrails, run outside the look (validation_jobs.py); one per process.
    databases: Validations = field(default_factory=Validations)

    # --- what both front ends call before reconciling ---------------------------------------

    def accept(
        self,
        name: str,
        namespace: str,
        uid: str,
        generation: int,
        spec: AuroraUpgradeSpec,
        status: AuroraUpgradeStatus | None,
        store: Store,
    ) -> Upgrade:
        """The upgrade to reconcile; a new one (no status written yet: none, or only the CRD's
        default) gets its first status and an Accepted event."""
        status = recorded(status)
        if status is None:
            now = self.clock()
            status = with_conditions(initial(now), now, generation)
            store.save(status)
            store.event(
                "Normal", "Accepted", f"Upgrade of {spec.cluster_identifier} to {spec.target_engine_version} accepted"
            )
        return Upgrade(name, namespace, uid, generation, spec, status)

    def reject(self, status: AuroraUpgradeStatus | None, generation: int, error: InvalidManifest, store: Store) -> None:
        """Record a spec the schema could not refuse (e.g. an unknown time zone). Before anything
        changed in AWS that is `Failed/InvalidSpec`; in the middle of an upgrade it only stalls
        it (a fix of the spec resumes), because giving up halfway would leave green, or the
        steps after switchover, undone."""
        now = self.clock()
        status = recorded(status) or initial(now)
        if status.observed_generation == generation and status.reason == Reason.INVALID_SPEC:
            return  # already recorded for this generation
        if status.phase in BEFORE_ANY_CHANGE:
            status = transition(status, Phase.FAILED, Reason.INVALID_SPEC, str(error), now)
        elif status.phase not in TERMINAL:
            status = status.model_copy(update={"reason": Reason.INVALID_SPEC, "message": f"Stalled: {error}"})
        store.save(with_conditions(status, now, generation))
        store.event("Warning", Reason.INVALID_SPEC, str(error))

    # --- the loop ------------------------------------------------------------------------------

    def reconcile(
        self,
        upgrade: Upgrade,
        store: Store,
        busy_with: str | None = None,
        create_slots: bluegreen.CreateSlots | None = None,
        max_steps: int = 30,
    ) -> Reconciled:
        """Advance as far as possible without waiting; return the upgrade (its `stored`: what the
        store holds, where changes were folded into the next write) and the seconds until the
        next look (None once the upgrade has reached a terminal phase).
        `busy_with`: the upgrade that owns the cluster (ClusterBusy); `create_slots`: where the
        operator's per-Region limit on creates stands (None: no limit)."""
        writes = _Writes(store)
        upgrade = self._restart_after_spec_fix(upgrade, writes)
        if upgrade.status.phase in TERMINAL and not settled(upgrade.status, upgrade.generation):
            upgrade = self._record(upgrade, upgrade.status, None, writes)  # acknowledge the new generation
        for _ in range(max_steps):
            if upgrade.status.phase in TERMINAL:
                return Reconciled(writes.end_of_look(upgrade), None)
            outcome, gw = self._decide(upgrade, busy_with, create_slots)
            upgrade = self._apply(upgrade, outcome, gw, writes)
            if upgrade.status.phase in TERMINAL:
                return Reconciled(writes.end_of_look(upgrade), None)
            if pacing.waits(outcome):
                delay = pacing.next_look(upgrade, outcome, self.clock(), self.timing)
                return Reconciled(writes.end_of_look(upgrade), delay)
        return Reconciled(writes.end_of_look(upgrade), self.timing.poll)

    def _restart_after_spec_fix(self, upgrade: Upgrade, writes: _Writes) -> Upgrade:
        """A failed precheck or a dry run changed nothing in AWS: a new generation starts over."""
        status = upgrade.status
        nothing_changed = (status.phase == Phase.FAILED and status.failed_phase in BEFORE_ANY_CHANGE) or (
            status.phase == Phase.COMPLETED and is_dry_run(status)
        )
        if not nothing_changed or status.observed_generation in (None, upgrade.generation):
            return upgrade
        outcome = Advance(to=Phase.PENDING, reason=Reason.SPEC_CHANGED, message="The spec changed; starting again")
        return self._record(upgrade, status.model_copy(update={"failed_phase": None, "plan": []}), outcome, writes)

    def _decide(
        self, upgrade: Upgrade, busy_with: str | None, create_slots: bluegreen.CreateSlots | None = None
    ) -> tuple[Outcome, RdsGateway | None]:
        phase = upgrade.status.phase
        if phase == Phase.PENDING:
            return precheck.decide_pending(upgrade, busy_with, self.timing), None
        stage = STAGES[phase]
        busy = call_in_flight(upgrade, self.clock(), self.timing)
        if busy and not stage.looks_in_flight:
            return busy, None
        ignored = switchover.snapshot_setting_ignored(upgrade)
        if ignored:
            return ignored, None  # records a Warning only: no call
        try:
            gw = self.gateways(upgrade)
            now = self.clock()
            observation = stage.observe(gw, upgrade, now)
        except RdsError as error:
            status = upgrade.status
            failed = read_failed(error, stall=switchover_may_have_started(status), untouched=nothing_created(status))
            return busy or failed, None
        outcome = stage.decide(upgrade, observation, now, self.timing)
        if isinstance(outcome, Ask):
            # The databases' answer, if its job is done; else the Ask waits like any wait.
            answer = self.databases.answer(upgrade, outcome.request, now)
            if answer is not None:
                outcome = stage.decide(upgrade, replace(observation, database=answer), now, self.timing)
        outcome = bluegreen.hold_create(upgrade, outcome, create_slots)
        if busy and outcome.action is not None:
            return busy, None  # never call while another writer's call may be in flight
        return outcome, gw

    def _apply(
        self, upgrade: Upgrade, outcome: Outcome, gw: RdsGateway | None, writes: _Writes, finalizing: bool = False
    ) -> Upgrade:
        """Carry out the outcome's action, if any, and record the outcome, its wait bounded by
        its deadline. What a failed call means comes from the current phase's stage (or, for
        the finalizer, from deletionPolicy's)."""
        status, action = upgrade.status, outcome.action
        proof = False
        if action is not None and gw is not None:
            before = status
            # Saved before every call, with its intent and the call marked in flight (and whatever
            # this look folded so far): the write is conditional on the version read, so of two
            # writers acting on the same status only one gets to call, and the other, reading the
            # mark, waits for the answer.
            sent = {"call_in_flight": action.describe(), "call_sent_at": rfc3339(self.clock())}
            status = updated(status, {**outcome.intent, **sent})
            status = with_conditions(
                status, self.clock(), upgrade.generation, validation_digest(upgrade.spec.validation)
            )
            upgrade = writes.save(upgrade, status)
            try:
                learned = act(gw, action)
            except RdsError as error:
                # The call may have reached AWS only if AWS did not answer; keep the intent (and the
                # in-flight mark, for its grace) then.
                if error.answered:
                    status = before
                meaning = cleanup.deletion_call_failed if finalizing else STAGES[upgrade.status.phase].call_failed
                outcome = meaning(upgrade, action, error, self.clock(), self.timing)
            else:
                writes.store.event("Normal", action.operation, action.describe())
                status = updated(status, {**learned, "call_in_flight": None, "call_sent_at": None})
                proof = answer_is_proof(upgrade.status.phase, action)
        outcome = deadlines.bounded(upgrade.with_status(status), outcome, self.clock(), self.timing, stall=finalizing)
        upgrade = self._record(upgrade, updated(status, outcome.changes), outcome, writes)
        if proof:  # the only record that production was acted on: written at once
            upgrade = writes.save(upgrade, upgrade.status)
        return upgrade

    def _record(
        self,
        upgrade: Upgrade,
        status: AuroraUpgradeStatus,
        outcome: Outcome | None,
        writes: _Writes,
    ) -> Upgrade:
        """`status` with `outcome`'s transition or reason (None: only what the new generation
        changes), and the Events that tell people, posted once it is written."""
        now = self.clock()
        previous = status.phase
        told = len(writes.events)
        if outcome is not None and outcome.phase is not None and outcome.phase != previous:
            if status.phase_started_at:
                spent = (now - parse_time(status.phase_started_at)).total_seconds()
                metrics.PHASE_DURATION.labels(phase=previous.value).observe(max(spent, 0.0))
            status = transition(status, outcome.phase, outcome.reason, outcome.message, now)
            failed = outcome.phase in (Phase.FAILED, Phase.ABORTED)
            writes.events.append(
                (
                    "Warning" if failed or outcome.warning else "Normal",
                    outcome.reason,
                    f"{previous.value} -> {outcome.phase.value}: {outcome.message}",
                )
            )
            metrics.set_phase(upgrade.namespace, upgrade.name, outcome.phase)
        elif (
            outcome is not None
            and outcome.message
            and (outcome.reason, outcome.message) != (status.reason, status.message)
        ):
            if outcome.warning:
                writes.events.append(("Warning", outcome.reason, outcome.message))
            status = status.model_copy(update={"reason": outcome.reason, "message": outcome.message})
        status = with_conditions(status, now, upgrade.generation, validation_digest(upgrade.spec.validation))
        if outcome is not None and (told < len(writes.events) or status != upgrade.status):
            # Told with what they come with: a look that changes nothing tells nothing again.
            for note in outcome.notes:
                writes.events.append(("Warning" if note.warning else "Normal", note.reason, note.message))
        return writes.step(upgrade.with_status(status))

    # --- deletion of the resource (kopf finalizer; `run` has no equivalent) -----------------

    def finalize(self, upgrade: Upgrade, store: Store) -> float | None:
        """Carry out deletionPolicy; None once the finalizer may be removed."""
        writes = _Writes(store)
        busy = call_in_flight(upgrade, self.clock(), self.timing)
        if busy:
            writes.changed(self._apply(upgrade, busy, None, writes, finalizing=True))
            return self.timing.poll
        try:
            gw = self.gateways(upgrade)
            observation = cleanup.observe_deletion(gw, upgrade, self.clock())
        except RdsError as error:
            outcome = read_failed(error, stall=True)
            writes.changed(self._record(upgrade, upgrade.status, outcome, writes))
            return self.timing.poll
        decision = cleanup.decide_deletion(upgrade, observation, self.clock(), self.timing)
        writes.changed(self._apply(upgrade, decision.outcome, gw, writes, finalizing=True))
        if decision.release:
            return None
        return self.timing.poll
