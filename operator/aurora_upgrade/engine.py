"""One reconcile: observe AWS through the gateway, decide (pure), act (at most one call),
record the new status. Used unchanged by the kopf operator and by `aurora-upgrade run`;
the two differ only in their Recorder (status subresource + Events, or a state file + stdout).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aurora_upgrade import metrics
from aurora_upgrade.decisions import bluegreen, cleanup, precheck, reboot, switchover, verify
from aurora_upgrade.decisions.common import (
    Action,
    CreateBlueGreen,
    CreateSnapshot,
    DeleteBlueGreen,
    DeleteCluster,
    DeleteInstance,
    DisableDeletionProtection,
    Outcome,
    RebootInstance,
    Switchover,
    Timing,
    Upgrade,
    fail,
    parse_time,
)
from aurora_upgrade.models import AuroraUpgradeStatus
from aurora_upgrade.phases import TERMINAL, Phase
from aurora_upgrade.rds import ErrorKind, RdsError, RdsGateway
from aurora_upgrade.resources import BlueGreen, Cluster, arn_name
from aurora_upgrade.status import transition, updated, with_conditions

log = logging.getLogger(__name__)


class Recorder(Protocol):
    """Where the engine writes what happened: status for machines, events for people."""

    def save(self, status: AuroraUpgradeStatus) -> None: ...

    def event(self, type_: str, reason: str, message: str) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


GatewayFactory = Callable[[Upgrade], RdsGateway]


_GATEWAYS: dict[tuple[str, str | None, str | None], RdsGateway] = {}


def default_gateways(upgrade: Upgrade) -> RdsGateway:
    """One gateway per (region, role) for the life of the process: botocore's adaptive rate
    limiter learns the account's throttling only if its client lives on."""
    aws = upgrade.spec.aws
    key = (upgrade.spec.region, aws.role_arn, aws.external_id)
    if key not in _GATEWAYS:
        _GATEWAYS[key] = RdsGateway.for_region(*key)
    return _GATEWAYS[key]


# --- observe: what each phase needs to know from AWS ---------------------------------------


def _deployment(gw: RdsGateway, upgrade: Upgrade) -> BlueGreen | None:
    """Our deployment: by recorded id, else by our deterministic name and uid tag."""
    ident = upgrade.status.blue_green_deployment_identifier
    if ident:
        return gw.describe_blue_green(ident)
    owned = [bg for bg in gw.find_blue_green(name=upgrade.deployment_name) if upgrade.owns(bg.tags)]
    return owned[0] if owned else None


def _observe_precheck(gw: RdsGateway, u: Upgrade, now: datetime) -> precheck.PrecheckObservation:
    spec = u.spec
    cluster = gw.describe_cluster(spec.cluster_identifier)
    if cluster is None:
        return precheck.PrecheckObservation(cluster=None)
    return precheck.PrecheckObservation(
        cluster=cluster,
        instances=tuple(gw.describe_cluster_instances(cluster.identifier)),
        source_version=gw.describe_engine_version(precheck.ENGINE, cluster.engine_version),
        target_version=gw.describe_engine_version(precheck.ENGINE, spec.target_engine_version),
        cluster_parameter_group_family=(
            gw.cluster_parameter_group_family(spec.target_db_cluster_parameter_group_name)
            if spec.target_db_cluster_parameter_group_name
            else None
        ),
        parameter_group_family=(
            gw.parameter_group_family(spec.target_db_parameter_group_name)
            if spec.target_db_parameter_group_name
            else None
        ),
        logical_replication=gw.cluster_parameter(cluster.parameter_group, "rds.logical_replication"),
        deployments_on_source=tuple(gw.find_blue_green(source=cluster.arn)),
        deployments_with_name=tuple(gw.find_blue_green(name=u.deployment_name)),
    )


def _reboot_cluster(u: Upgrade) -> str:
    if u.status.phase == Phase.REBOOTING_GREEN:
        return u.status.green_cluster_identifier or ""
    return u.spec.cluster_identifier


def _observe_reboot(gw: RdsGateway, u: Upgrade, now: datetime) -> reboot.RebootObservation:
    instances = tuple(gw.describe_cluster_instances(_reboot_cluster(u)))
    index = reboot.current_step(u.status.reboots)
    restarts: tuple[datetime, ...] = ()
    if index is not None:
        step = u.status.reboots[index]
        if step.intended_at and step.done_at is None:
            restarts = tuple(gw.instance_restarts_since(step.instance, parse_time(step.intended_at)))
    return reboot.RebootObservation(instances=instances, restarts=restarts)


def _observe_create(gw: RdsGateway, u: Upgrade, now: datetime) -> bluegreen.CreateObservation:
    return bluegreen.CreateObservation(
        cluster=gw.describe_cluster(u.spec.cluster_identifier),
        with_name=tuple(gw.find_blue_green(name=u.deployment_name)),
    )


def _observe_provisioning(gw: RdsGateway, u: Upgrade, now: datetime) -> bluegreen.DeploymentObservation:
    bg = _deployment(gw, u)
    green = gw.describe_cluster(arn_name(bg.target)) if bg and bg.target and bg.status == "AVAILABLE" else None
    return bluegreen.DeploymentObservation(deployment=bg, green=green)


def _observe_switchover(gw: RdsGateway, u: Upgrade, now: datetime) -> switchover.SwitchoverObservation:
    bg = _deployment(gw, u)
    phase, green_id = u.status.phase, u.status.green_cluster_identifier
    about_to_switch = phase == Phase.SWITCHING_OVER and bg is not None and bg.status == "AVAILABLE"
    wants_snapshot = phase == Phase.SNAPSHOTTING or (about_to_switch and u.spec.switchover.snapshot_before_switchover)
    blue = None
    if about_to_switch:
        blue = gw.describe_cluster(u.spec.cluster_identifier)
    elif phase == Phase.SWITCHING_OVER and bg is not None and bg.status == "SWITCHOVER_COMPLETED":
        blue = _old_cluster(gw, u)
    return switchover.SwitchoverObservation(
        deployment=bg,
        green=gw.describe_cluster(green_id) if about_to_switch and green_id else None,
        green_instances=tuple(gw.describe_cluster_instances(green_id)) if about_to_switch and green_id else (),
        snapshot=gw.describe_cluster_snapshot(u.snapshot_identifier) if wants_snapshot else None,
        blue=blue,
    )


def _old_cluster(gw: RdsGateway, u: Upgrade) -> Cluster | None:
    """The previous production cluster, found by the resource id recorded at precheck."""
    resource_id = u.status.source_cluster_resource_id
    if resource_id:
        return gw.find_cluster_by_resource_id(resource_id)
    return gw.describe_cluster(u.status.old_cluster_identifier) if u.status.old_cluster_identifier else None


def _observe_verify(gw: RdsGateway, u: Upgrade, now: datetime) -> verify.VerifyObservation:
    return verify.VerifyObservation(
        cluster=gw.describe_cluster(u.spec.cluster_identifier),
        instances=tuple(gw.describe_cluster_instances(u.spec.cluster_identifier)),
    )


def _observe_cleanup(gw: RdsGateway, u: Upgrade, now: datetime) -> cleanup.CleanupObservation:
    bg = _deployment(gw, u) if u.spec.cleanup.delete_blue_green_deployment else None
    old = u.status.old_cluster_identifier
    keep_until = cleanup.retained_until(u)
    # Listing clusters to find the old one is only worth it once it may be deleted.
    if not (u.spec.cleanup.delete_old_cluster and old) or bg is not None or (keep_until and now < keep_until):
        return cleanup.CleanupObservation(deployment=bg)
    found = _old_cluster(gw, u)
    return cleanup.CleanupObservation(
        deployment=bg,
        old_cluster=found,
        old_instances=tuple(gw.describe_cluster_instances(found.identifier)) if found else (),
    )


@dataclass(frozen=True)
class _Stage:
    observe: Callable[[RdsGateway, Upgrade, datetime], Any]
    decide: Callable[[Upgrade, Any, datetime, Timing], Outcome]


STAGES: dict[Phase, _Stage] = {
    Phase.PRECHECKING: _Stage(_observe_precheck, precheck.decide_precheck),
    Phase.REBOOTING_SOURCE: _Stage(_observe_reboot, reboot.decide_reboot),
    Phase.CREATING_BLUE_GREEN: _Stage(_observe_create, bluegreen.decide_create),
    Phase.PROVISIONING_GREEN: _Stage(_observe_provisioning, bluegreen.decide_provisioning),
    Phase.REBOOTING_GREEN: _Stage(_observe_reboot, reboot.decide_reboot),
    Phase.AWAITING_SWITCHOVER: _Stage(_observe_switchover, switchover.decide_awaiting),
    Phase.SNAPSHOTTING: _Stage(_observe_switchover, switchover.decide_snapshot),
    Phase.SWITCHING_OVER: _Stage(_observe_switchover, switchover.decide_switching),
    Phase.REBOOTING_INSTANCES: _Stage(_observe_reboot, reboot.decide_reboot),
    Phase.VERIFYING: _Stage(_observe_verify, verify.decide_verify),
    Phase.CLEANING_UP: _Stage(_observe_cleanup, cleanup.decide_cleanup),
}


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


@dataclass
class Engine:
    timing: Timing = field(default_factory=Timing)
    clock: Callable[[], datetime] = utcnow
    gateways: GatewayFactory = default_gateways

    def reconcile(
        self, upgrade: Upgrade, recorder: Recorder, busy_with: str | None = None, max_steps: int = 30
    ) -> float | None:
        """Advance as far as possible without waiting; return seconds until the next look,
        or None once the upgrade has reached a terminal phase."""
        upgrade = self._restart_after_spec_fix(upgrade, recorder)
        if upgrade.status.phase in TERMINAL and upgrade.status.observed_generation != upgrade.generation:
            self._record(upgrade, upgrade.status, Outcome(), recorder)  # acknowledge the new generation
        for _ in range(max_steps):
            if upgrade.status.phase in TERMINAL:
                return None
            outcome, gw = self._decide(upgrade, busy_with)
            upgrade = self._apply(upgrade, outcome, gw, recorder)
            if upgrade.status.phase in TERMINAL:
                return None
            if outcome.requeue > 0:
                return outcome.requeue
        return self.timing.poll

    def _restart_after_spec_fix(self, upgrade: Upgrade, recorder: Recorder) -> Upgrade:
        """A failed precheck or a dry run changed nothing in AWS: a new generation starts over."""
        status = upgrade.status
        nothing_changed = (
            status.phase == Phase.FAILED and status.failed_phase in (Phase.PENDING, Phase.PRECHECKING)
        ) or (status.phase == Phase.COMPLETED and status.reason == "DryRun")
        if not nothing_changed or status.observed_generation in (None, upgrade.generation):
            return upgrade
        outcome = Outcome(phase=Phase.PENDING, reason="SpecChanged", message="The spec changed; starting again")
        return self._record(upgrade, status.model_copy(update={"failed_phase": None, "plan": []}), outcome, recorder)

    def _decide(self, upgrade: Upgrade, busy_with: str | None) -> tuple[Outcome, RdsGateway | None]:
        phase = upgrade.status.phase
        if phase == Phase.PENDING:
            return precheck.decide_pending(upgrade, busy_with, self.timing), None
        stage = STAGES[phase]
        try:
            gw = self.gateways(upgrade)
            now = self.clock()
            observation = stage.observe(gw, upgrade, now)
        except RdsError as error:
            return self._on_error(error, stall=cleanup.touches_production(upgrade)), None
        return stage.decide(upgrade, observation, now, self.timing), gw

    def _on_error(self, error: RdsError, stall: bool = False) -> Outcome:
        """A refused read fails the upgrade before switchover; after it, production depends on
        the remaining steps, so the upgrade waits (with a Warning) instead of giving up."""
        if error.kind == ErrorKind.TERMINAL and not stall:
            return fail(f"AWS{error.code}", f"{error.operation} was refused: {error.code}: {error.message}")
        return Outcome(
            reason="AWSUnavailable" if error.kind == ErrorKind.RETRYABLE else "AWSNotFound",
            message=f"{error.operation} failed ({error.code}: {error.message}); will retry",
            requeue=self.timing.poll,
            warning=True,
        )

    def _apply(
        self, upgrade: Upgrade, outcome: Outcome, gw: RdsGateway | None, recorder: Recorder, finalizing: bool = False
    ) -> Upgrade:
        status = upgrade.status
        if outcome.action is not None and gw is not None:
            before = status
            if outcome.intent:
                status = updated(status, outcome.intent)
                recorder.save(with_conditions(status, self.clock(), upgrade.generation))
            try:
                learned = act(gw, outcome.action)
            except RdsError as error:
                # The call may have reached AWS only if AWS did not answer; keep the intent then.
                if error.answered:
                    status = before
                stall = finalizing or cleanup.touches_production(upgrade)
                return self._record(upgrade, status, self._action_error(outcome.action, error, stall), recorder)
            recorder.event("Normal", outcome.action.operation, outcome.action.describe())
            status = updated(status, {**outcome.changes, **learned})
        else:
            status = updated(status, outcome.changes)
        return self._record(upgrade, status, outcome, recorder)

    def _action_error(self, action: Action, error: RdsError, stall: bool = False) -> Outcome:
        """What a failed AWS call means. AWS refusing to switch over (a state fault, or a request
        it rejects outright) ends the upgrade with blue untouched. Any other refusal fails the
        upgrade only before switchover; after it, production needs the remaining steps, so the
        upgrade waits with a Warning until the cause (often a permission) is fixed."""
        if isinstance(action, Switchover) and (
            error.code == "InvalidBlueGreenDeploymentStateFault" or error.kind == ErrorKind.TERMINAL
        ):
            return fail(f"AWS{error.code}", f"{action.operation} was refused: {error.code}: {error.message}")
        if not stall and error.kind == ErrorKind.TERMINAL and not error.code.endswith("AlreadyExistsFault"):
            return fail(f"AWS{error.code}", f"{action.operation} was refused: {error.code}: {error.message}")
        # Transient, or created by an earlier attempt: the next observation settles it.
        return Outcome(
            reason=f"{action.operation}Retry",
            message=f"{action.describe()} failed ({error.code}: {error.message}); will look again",
            requeue=self.timing.poll,
            warning=True,
        )

    def _record(self, upgrade: Upgrade, status: AuroraUpgradeStatus, outcome: Outcome, recorder: Recorder) -> Upgrade:
        now = self.clock()
        previous = status.phase
        if outcome.phase is not None and outcome.phase != previous:
            if status.phase_started_at:
                spent = (now - parse_time(status.phase_started_at)).total_seconds()
                metrics.PHASE_DURATION.labels(phase=previous.value).observe(max(spent, 0.0))
            status = transition(status, outcome.phase, outcome.reason, outcome.message, now)
            failed = outcome.phase in (Phase.FAILED, Phase.ABORTED)
            recorder.event(
                "Warning" if failed else "Normal",
                outcome.reason or outcome.phase.value,
                f"{previous.value} -> {outcome.phase.value}: {outcome.message}",
            )
            metrics.set_phase(upgrade.namespace, upgrade.name, outcome.phase)
        elif outcome.message and (outcome.reason, outcome.message) != (status.reason, status.message):
            if outcome.warning:
                recorder.event("Warning", outcome.reason, outcome.message)
            status = status.model_copy(update={"reason": outcome.reason, "message": outcome.message})
        status = with_conditions(status, now, upgrade.generation)
        recorder.save(status)
        return Upgrade(upgrade.name, upgrade.namespace, upgrade.uid, upgrade.generation, upgrade.spec, status)

    # --- deletion of the resource (kopf finalizer; `run` has no equivalent) -----------------

    def finalize(self, upgrade: Upgrade, recorder: Recorder) -> float | None:
        """Carry out deletionPolicy; None once the finalizer may be removed."""
        try:
            gw = self.gateways(upgrade)
            needs_aws = not cleanup.touches_production(upgrade) and upgrade.status.phase not in (
                Phase.COMPLETED,
                Phase.ABORTED,
            )
            deployment = _deployment(gw, upgrade) if needs_aws and upgrade.spec.deletion_policy == "Abort" else None
        except RdsError as error:
            outcome = self._on_error(error, stall=True)
            self._record(upgrade, upgrade.status, outcome, recorder)
            return outcome.requeue or self.timing.poll
        decision = cleanup.decide_deletion(upgrade, cleanup.DeletionObservation(deployment), self.clock(), self.timing)
        # A refused delete keeps the finalizer (with a Warning): releasing it would orphan green.
        self._apply(upgrade, decision.outcome, gw, recorder, finalizing=True)
        if decision.release:
            return None
        return decision.outcome.requeue or self.timing.poll
