"""AwaitingSwitchover, Snapshotting and SwitchingOver (runbook 5, 6.1-6.3).

Nothing switches over unverified: right before SwitchoverBlueGreenDeployment, in this order, the
approval and maintenance window must still allow it, the pre-switchover snapshot (when asked for)
must be `available` (the runbook's 6.1 waiter does not exist, so the runbook could switch over
before the snapshot was usable) and at most `Timing.snapshot_max_age` old (else it is retaken
there, the stale one kept: `snapshot_step`), the deployment must be AVAILABLE with green at
the target version and available, and, with spec.validation, the database must pass
(decisions/validate.py `before_the_call`: the guardrails, and checks gone stale run again).
The snapshot is taken only inside the open gate; once a call was sent, snapshotBeforeSwitchover
keeps the value it was sent with (`snapshot_wanted`).

One call per attempt: `status.switchoverAttempt` records `spec.switchover.attempt` before the
call is sent. After a call, AWS's answer is read by names and versions (deployment.Names): a
switchover AWS did not carry out holds for a person (SwitchoverNotCarriedOut), who authorises
one more by raising the attempt; what names do not prove holds with a Warning
(SwitchoverOutcomeUnproven), never ends in "not switched over".

Everything these phases read from AWS is in `observe`, which asks the Region's shared describes
the `questions` declared once for the phase (decisions/questions.py); what a refused call means
is in `refused_call`: AWS refusing the switchover itself ends the upgrade with blue untouched; how
long each wait may last and how soon to look again is in reasons.py. The triage of the
deployment's status they share with the earlier phases is in decisions/deployment.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.database import DatabaseAnswer
from aurora_upgrade.decisions import validate
from aurora_upgrade.decisions.actions import Action, CreateSnapshot, DeleteSnapshot, Switchover
from aurora_upgrade.decisions.deployment import (
    BLUE_GREEN_KNOWN,
    MEMBER_SWITCHING,
    SWITCHED_OVER,
    Names,
    Production,
    deployment_problem,
    failure_of,
    our_deployment,
    production_by_names,
    unknown_status,
)
from aurora_upgrade.decisions.outcome import (
    Act,
    GoOn,
    Outcome,
    Wait,
    advance,
    default_call_failed,
    fail,
    refused,
    wait,
)
from aurora_upgrade.decisions.questions import (
    Question,
    describe_cluster,
    describe_cluster_instances,
    describe_cluster_snapshot,
    find_cluster_by_resource_id,
)
from aurora_upgrade.models import AuroraUpgradeStatus, SwitchoverMode
from aurora_upgrade.phases import TERMINAL, Phase, following, recorded_attempt
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import (
    BlueGreen,
    Cluster,
    ErrorKind,
    Instance,
    RdsError,
    RdsEvent,
    RdsReads,
    Snapshot,
    arn_name,
)
from aurora_upgrade.upgrade import Upgrade
from aurora_upgrade.window import in_window, next_window_start


def _switchover_timeout(upgrade: Upgrade, t: Timing) -> timedelta:
    """AWS rolls a switchover back once SwitchoverTimeout has passed: past that and a grace,
    still IN_PROGRESS is not something to wait for quietly."""
    return timedelta(seconds=upgrade.spec.switchover.timeout_seconds) + 2 * t.consistency_grace


def gate(upgrade: Upgrade, now: datetime, timing: Timing) -> Outcome | None:
    """A wait while the manual approval or the maintenance window holds switchover back. While
    it holds, AWS's earlier refusals stop counting: the refusal clock starts again when the gate
    reopens (`refused_call`)."""
    spec = upgrade.spec.switchover
    reset = {"switchover_refused_at": None} if upgrade.status.switchover_refused_at else {}
    if spec.mode == SwitchoverMode.MANUAL and not spec.approved:
        return wait(
            Reason.AWAITING_APPROVAL,
            "Green is ready; set spec.switchover.approved: true to switch over "
            f"(green endpoint {upgrade.status.green_cluster_endpoint})",
            **reset,
        )
    if spec.window is not None and not in_window(spec.window, now):
        opens = next_window_start(spec.window, now)
        return wait(
            Reason.OUTSIDE_MAINTENANCE_WINDOW,
            f"Waiting for the maintenance window opening {opens.isoformat(timespec='minutes')}",
            **reset,
        )
    return None


def window_reopened(upgrade: Upgrade, now: datetime) -> Outcome | None:
    """AWS refused the switchover in an earlier opening of the window (no look saw it closed in
    between, e.g. the operator was down): that refusal no longer counts, and the wait on it
    starts again too."""
    first, window = upgrade.status.switchover_refused_at, upgrade.spec.switchover.window
    if first is None or window is None or next_window_start(window, parse_time(first)) > now:
        return None
    return GoOn(
        reason=Reason.INSIDE_MAINTENANCE_WINDOW,
        message=f"The maintenance window opened again since AWS refused the switchover at {first}; "
        "AWS's refusals count from this opening",
        changes={"switchover_refused_at": None, "waiting_for": None, "waiting_since": None},
    )


@dataclass(frozen=True)
class SwitchoverObservation:
    deployment: BlueGreen | None
    green: Cluster | None = None
    green_instances: tuple[Instance, ...] = ()
    snapshot: Snapshot | None = None
    blue: Cluster | None = None  # production before switchover; after it, the renamed old cluster
    blue_instances: tuple[Instance, ...] = ()  # production's instances, right before the call
    # With a switchover asked for and no answer recorded: AWS's events of it since the intent.
    switchover_signs: tuple[RdsEvent, ...] = ()
    # After a switchover call, what names show (deployment.Names): the cluster with blue's
    # resource id, and `<name>-old1`. `blue` is then the cluster named like production.
    renamed: Cluster | None = None
    old1: Cluster | None = None
    # The database's answer right before the call (decisions/validate.py), filled in by the engine.
    database: DatabaseAnswer | None = None


class SwitchoverQuestions(NamedTuple):
    deployment: Question[BlueGreen | None]
    snapshot: Question[Snapshot | None]
    blue: Question[Cluster | None]
    blue_instances: Question[Sequence[Instance]]
    green: Question[Cluster | None]
    green_instances: Question[Sequence[Instance]]
    previous_production: Question[Cluster | None]
    old1: Question[Cluster | None]


def questions(upgrade: Upgrade) -> SwitchoverQuestions:
    """What a look may ask the shared describes in the upgrade's phase (decisions/questions.py):
    while waiting, the deployment; in Snapshotting, the snapshot too; in SwitchingOver, both sides,
    the snapshot if one is taken, the previous production as well, and after a switchover call
    `<name>-old1` (which of them a look asks depends on the deployment's status)."""
    phase, status = upgrade.status.phase, upgrade.status
    switching = phase == Phase.SWITCHING_OVER
    snapshot = phase == Phase.SNAPSHOTTING or (switching and snapshot_wanted(upgrade))
    blue = upgrade.cluster if switching else None
    green = status.green_cluster_identifier if switching else None
    return SwitchoverQuestions(
        deployment=our_deployment(upgrade),
        snapshot=describe_cluster_snapshot(current_snapshot(upgrade) if snapshot else None),
        blue=describe_cluster(blue),
        blue_instances=describe_cluster_instances(blue),
        green=describe_cluster(green),
        green_instances=describe_cluster_instances(green),
        previous_production=previous_production(upgrade) if switching else describe_cluster(None),
        old1=describe_cluster(
            f"{upgrade.cluster}-old1" if switching and recorded_attempt(status) is not None else None
        ),
    )


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> SwitchoverObservation:
    """The deployment always; right before the call everything `_unverified` checks; after a
    switchover call that AWS does not show switching, what names show; after the switchover
    completed, the previous production cluster under its new name."""
    declared = questions(upgrade)
    bg = declared.deployment.ask(aws)
    status = upgrade.status
    switching = status.phase == Phase.SWITCHING_OVER
    state = bg.status if bg is not None else None
    about_to_switch = switching and state == "AVAILABLE"
    after_the_call = switching and recorded_attempt(status) is not None and state not in SWITCHED_OVER
    blue = green = renamed = old1 = None
    if about_to_switch or after_the_call:
        blue, green = declared.blue.ask(aws), declared.green.ask(aws)
    elif switching and state == "SWITCHOVER_COMPLETED":
        blue = declared.previous_production.ask(aws)
    if after_the_call:
        renamed, old1 = declared.previous_production.ask(aws), declared.old1.ask(aws)
    signs: tuple[RdsEvent, ...] = ()
    asked, answered = status.switchover_requested_at, status.switchover_accepted_at
    if about_to_switch and bg is not None and asked and not answered:
        signs = tuple(aws.switchover_signs_since(bg.identifier, upgrade.cluster, parse_time(asked)))
    return SwitchoverObservation(
        deployment=bg,
        green=green,
        green_instances=tuple(declared.green_instances.ask(aws)) if about_to_switch else (),
        # Snapshotting's, or the one taken before switching over (declared only when one is)
        snapshot=declared.snapshot.ask(aws) if status.phase == Phase.SNAPSHOTTING or about_to_switch else None,
        blue=blue,
        blue_instances=tuple(declared.blue_instances.ask(aws)) if about_to_switch else (),
        switchover_signs=signs,
        renamed=renamed,
        old1=old1,
    )


def previous_production(upgrade: Upgrade) -> Question[Cluster | None]:
    """The previous production cluster, found by the resource id recorded at precheck."""
    resource_id = upgrade.status.source_cluster_resource_id
    if resource_id:
        return find_cluster_by_resource_id(resource_id)
    return describe_cluster(upgrade.status.old_cluster_identifier)


def refused_call(upgrade: Upgrade, action: Action, error: RdsError, now: datetime, timing: Timing) -> Outcome:
    """A switchover AWS rejects outright (a request a new attempt cannot fix) ends the upgrade
    with blue untouched. One refused for a transient state is a wait: AWS answered, so nothing
    happened, and the next look verifies both sides again before another attempt, until
    AWS has refused for longer than `timing.refusal_timeout` in this opening of the gate (the
    clock starts again when the approval is given again or the window opens again: `gate`,
    `window_reopened`). A throttled or unanswered call is looked at again, and never re-sent
    without a person (`decide_switching`)."""
    if isinstance(action, DeleteSnapshot) and error.kind == ErrorKind.NOT_FOUND:
        return GoOn(
            reason=Reason.DELETING_SUPERSEDED_SNAPSHOT,
            message=f"Superseded snapshot {action.identifier} is gone already",
            changes={"superseded_snapshot_identifier": None},
        )
    if not isinstance(action, Switchover) or error.kind not in (ErrorKind.INVALID_STATE, ErrorKind.TERMINAL):
        return default_call_failed(upgrade, action, error, now, timing)
    first = upgrade.status.switchover_refused_at
    if error.kind == ErrorKind.TERMINAL:
        return refused(action.operation, error)
    if first and since(first, now) > timing.refusal_timeout:
        return fail(
            Reason.SWITCHOVER_REFUSED,
            f"AWS has refused to switch over {action.identifier} since {first} ({error.code}: {error.message}); "
            "blue is still production. Check the deployment's members and the RDS events, then delete this "
            "AuroraUpgrade (deletionPolicy decides what happens to green) and start again",
        )
    return Wait(
        reason=Reason.SWITCHOVER_REFUSED,
        message=f"AWS refused the switchover of {action.identifier} for now ({error.code}: {error.message}); "
        "checking both sides again before another attempt",
        changes={"switchover_refused_at": first or rfc3339(now)},
    )


def decide_awaiting(upgrade: Upgrade, seen: SwitchoverObservation, now: datetime, timing: Timing) -> Outcome:
    problem = deployment_problem(upgrade, seen.deployment, now, timing)
    if problem:
        return problem
    held = gate(upgrade, now, timing)
    if held:
        return held
    manual = upgrade.spec.switchover.mode == SwitchoverMode.MANUAL
    reason = Reason.SWITCHOVER_APPROVED if manual else Reason.INSIDE_MAINTENANCE_WINDOW
    return advance(following(Phase.AWAITING_SWITCHOVER, upgrade.spec), reason, "Switchover may proceed")


def decide_snapshot(upgrade: Upgrade, seen: SwitchoverObservation, now: datetime, timing: Timing) -> Outcome:
    """Snapshotting (runbook 6.1): the snapshot is taken inside the open gate, right before the
    switchover (SwitchingOver checks the gate again, and retakes a snapshot gone stale)."""
    # Before any snapshot call: a switchover made elsewhere means blue is no longer production.
    problem = deployment_problem(upgrade, seen.deployment, now, timing)
    if problem:
        return problem
    status, upcoming = upgrade.status, following(Phase.SNAPSHOTTING, upgrade.spec)
    if not upgrade.spec.switchover.snapshot_before_switchover:
        kept = f"; snapshot {status.snapshot_identifier} is kept" if status.snapshot_requested_at else ""
        return advance(
            upcoming,
            Reason.SNAPSHOT_TURNED_OFF,
            f"switchover.snapshotBeforeSwitchover was turned off: no snapshot{kept}",
        )
    if not status.snapshot_requested_at:
        held = gate(upgrade, now, timing)
        if held:
            return held
    taking = snapshot_step(upgrade, seen, now, timing)
    if taking is not None:
        return taking
    name = current_snapshot(upgrade)
    return advance(
        upcoming,
        Reason.SNAPSHOT_AVAILABLE,
        f"Snapshot {name} of {upgrade.cluster} is available",
        snapshot_identifier=name,
        snapshot_available_at=status.snapshot_available_at or rfc3339(now),
    )


def current_snapshot(upgrade: Upgrade) -> str:
    """The pre-switchover snapshot asked for last (a retake's name ends in `-2`, `-3`, ...)."""
    return upgrade.status.snapshot_identifier or upgrade.snapshot_identifier


def snapshot_wanted(upgrade: Upgrade) -> bool:
    """Whether a snapshot precedes the switchover call: spec.switchover.snapshotBeforeSwitchover
    until the first call is sent, then the value it was sent with (a later change is ignored:
    `snapshot_setting_ignored`)."""
    if recorded_attempt(upgrade.status) is None:
        return upgrade.spec.switchover.snapshot_before_switchover
    return snapshot_setting_at_the_call(upgrade.status)


def snapshot_setting_at_the_call(status: AuroraUpgradeStatus) -> bool:
    """snapshotBeforeSwitchover as the first switchover call was sent with it; a status written
    before it was recorded took its snapshot before the call exactly when it was on."""
    if status.snapshot_before_switchover is not None:
        return status.snapshot_before_switchover
    return status.snapshot_identifier is not None


def snapshot_setting_ignored(upgrade: Upgrade) -> Outcome | None:
    """Once a switchover call may have been sent, snapshotBeforeSwitchover no longer changes
    anything: a snapshot then could capture the new production and must never be presented as
    the rollback point. A change is said once per value with a Warning."""
    status, asked = upgrade.status, upgrade.spec.switchover.snapshot_before_switchover
    # A switchover made elsewhere (no call of ours) took no snapshot to hold the setting against.
    if status.phase in TERMINAL or recorded_attempt(status) is None:
        return None
    if asked == snapshot_setting_at_the_call(status) or status.ignored_snapshot_setting == asked:
        return None
    return GoOn(
        reason=Reason.SNAPSHOT_SETTING_IGNORED,
        message=f"spec.switchover.snapshotBeforeSwitchover: {str(asked).lower()} is ignored: a switchover call was "
        "sent already, and a snapshot taken now could capture the new production; it is never presented as the "
        "rollback point",
        changes={"ignored_snapshot_setting": asked},
    )


def _available_since(status: AuroraUpgradeStatus) -> str | None:
    """When the current snapshot was seen available; None when that is not recorded yet for one
    taken in this phase. A status written before it was recorded entered SwitchingOver the
    moment Snapshotting saw its snapshot available."""
    if status.snapshot_available_at:
        return status.snapshot_available_at
    asked, entered = status.snapshot_requested_at, status.phase_started_at
    if status.phase == Phase.SWITCHING_OVER and not (asked and entered and parse_time(asked) >= parse_time(entered)):
        return entered
    return None


def snapshot_step(upgrade: Upgrade, seen: SwitchoverObservation, now: datetime, timing: Timing) -> Outcome | None:
    """Before the switchover call, with a snapshot wanted: take it, wait until it is available,
    retake it once it is older than `timing.snapshot_max_age`; None once the current one is
    available and fresh. A retake keeps the stale snapshot (one at most: an older superseded
    one is deleted first); the operator never deletes the one it would present as rollback point."""
    snap, status = seen.snapshot, upgrade.status
    name, cluster = current_snapshot(upgrade), upgrade.cluster
    if snap is None:
        if status.snapshot_requested_at and since(status.snapshot_requested_at, now) < timing.consistency_grace:
            return wait(Reason.WAITING_FOR_SNAPSHOT, f"Snapshot {name} was requested; waiting for AWS to list it")
        return Act(
            reason=Reason.SNAPSHOT_REQUESTED,
            message=f"Creating snapshot {name} of {cluster} before switchover (runbook step 6.1)",
            call=CreateSnapshot(identifier=name, cluster=cluster, tags=upgrade.tags),
            before={"snapshot_requested_at": rfc3339(now), "snapshot_identifier": name, "snapshot_available_at": None},
        )
    if snap.cluster != cluster or not upgrade.owns(snap.tags):
        return fail(Reason.SNAPSHOT_NAME_IN_USE, f"snapshot {name} exists and was not taken by this AuroraUpgrade")
    if snap.status in ("failed", "error", "incompatible-restore"):
        return fail(Reason.SNAPSHOT_FAILED, f"snapshot {name} of {cluster} is {snap.status}; switchover not started")
    if snap.status != "available":
        return wait(Reason.WAITING_FOR_SNAPSHOT, f"Snapshot {name} is {snap.status} ({snap.percent_progress}%)")
    available = _available_since(status)
    if available is None:
        if status.phase == Phase.SNAPSHOTTING:
            return None  # recorded as Snapshotting advances
        return GoOn(
            reason=Reason.SNAPSHOT_AVAILABLE,
            message=f"Snapshot {name} of {cluster} is available",
            changes={"snapshot_available_at": rfc3339(now)},
        )
    if since(available, now) <= timing.snapshot_max_age:
        return None
    return _retake(upgrade, name, available, now, timing)


def _retake(upgrade: Upgrade, stale: str, available: str, now: datetime, timing: Timing) -> Outcome:
    status = upgrade.status
    superseded = status.superseded_snapshot_identifier
    if superseded:
        return Act(
            reason=Reason.DELETING_SUPERSEDED_SNAPSHOT,
            message=f"Deleting {superseded}, superseded by {stale}, before retaking the pre-switchover snapshot: "
            "at most one superseded snapshot is kept",
            call=DeleteSnapshot(superseded),
            changes={"superseded_snapshot_identifier": None},
        )
    retakes = (status.snapshot_retakes or 0) + 1
    name = f"{upgrade.snapshot_identifier}-{retakes + 1}"
    age = int((now - parse_time(available)).total_seconds())
    bound = int(timing.snapshot_max_age.total_seconds())
    return Act(
        reason=Reason.SNAPSHOT_RETAKEN,
        message=f"Snapshot {stale} has been available for {age}s, more than {bound}s, and the switchover has not "
        f"been sent: retaking it as {name} right before the switchover (retake {retakes}); {stale} is kept",
        call=CreateSnapshot(identifier=name, cluster=upgrade.cluster, tags=upgrade.tags, supersedes=stale),
        before={
            "snapshot_identifier": name,
            "snapshot_requested_at": rfc3339(now),
            "snapshot_available_at": None,
            "superseded_snapshot_identifier": stale,
            "snapshot_retakes": retakes,
        },
    )


def _unverified(upgrade: Upgrade, seen: SwitchoverObservation) -> str | None:
    """Why switching over now would be unsafe, or None."""
    target = upgrade.spec.target_engine_version
    if seen.green is None:
        return "the green cluster cannot be described"
    if seen.green.engine_version != target:
        return f"green cluster {seen.green.identifier} runs {seen.green.engine_version}, not {target}"
    if seen.green.status != "available":
        return f"green cluster {seen.green.identifier} is {seen.green.status}"
    # AWS's best practice: both sides available right before switching over. A blue that is
    # backing-up or modifying is a wait (the next look checks again), not a failure.
    if seen.blue is None:
        return f"the blue cluster {upgrade.cluster} cannot be described"
    if seen.blue.status != "available":
        return f"blue cluster {seen.blue.identifier} is {seen.blue.status}"
    for i in seen.blue_instances:
        if i.status != "available":
            return f"blue instance {i.identifier} is {i.status}"
    if len(seen.green_instances) != len(seen.blue.members):
        return f"green has {len(seen.green_instances)} instances, blue has {len(seen.blue.members)}"
    if seen.deployment is not None:
        waiting = [
            f"{arn_name(member)} {state}"
            for member, state in seen.deployment.switchover_details
            if state != "AVAILABLE"
        ]
        if waiting:
            return f"not every member is ready to switch over ({', '.join(waiting)})"
    for i in seen.green_instances:
        if i.status != "available" or i.engine_version != target:
            return f"green instance {i.identifier} is {i.status} at {i.engine_version}"
    return None


def decide_switching(upgrade: Upgrade, seen: SwitchoverObservation, now: datetime, timing: Timing) -> Outcome:
    """Whether a switchover may have started comes from the recorded call (`recorded_attempt`),
    never from the phase: after one, AWS's answer is read by names and versions first."""
    previous = recorded_attempt(upgrade.status)
    if previous is not None:
        settled = _after_the_call(upgrade, seen, previous, now, timing)
        return settled or _switch_over(upgrade, seen, now, timing, previous)
    problem = deployment_problem(upgrade, seen.deployment, now, timing)
    if problem:
        return problem
    assert seen.deployment is not None
    bg = seen.deployment
    if bg.status == "SWITCHOVER_COMPLETED":
        return _completed(upgrade, seen, now, timing)
    if bg.status == "SWITCHOVER_IN_PROGRESS":
        return _in_progress(upgrade, bg.identifier, now)
    if bg.status != "AVAILABLE":
        return wait(Reason.WAITING_FOR_BLUE_GREEN, f"Blue/green deployment {bg.identifier} is {bg.status}")
    return _switch_over(upgrade, seen, now, timing, None)


def _in_progress(upgrade: Upgrade, identifier: str, now: datetime) -> Outcome:
    # Proof that AWS took the request, also when the answer was lost in a crash.
    accepted = upgrade.status.switchover_accepted_at or rfc3339(now)
    return wait(Reason.SWITCHOVER_IN_PROGRESS, f"AWS is switching over {identifier}", switchover_accepted_at=accepted)


def _switch_over(
    upgrade: Upgrade, seen: SwitchoverObservation, now: datetime, timing: Timing, previous: int | None
) -> Outcome:
    """The call, once the gate is open and both sides are verified: the first one, or the one a
    person authorised by raising spec.switchover.attempt above the `previous` one recorded."""
    assert seen.deployment is not None
    bg, spec = seen.deployment, upgrade.spec.switchover
    held = gate(upgrade, now, timing) or window_reopened(upgrade, now)
    if held:
        return held
    # The snapshot first (taken, or retaken once stale, inside the open gate), the checks last.
    wanted = snapshot_wanted(upgrade)
    taking = snapshot_step(upgrade, seen, now, timing) if wanted else None
    if taking is not None:
        return taking
    unsafe = _unverified(upgrade, seen)
    if unsafe:
        return wait(Reason.SWITCHOVER_NOT_SAFE, f"Not switching over yet: {unsafe}")
    # Last, right before the call: the database (spec.validation). A hold stays here.
    databases = validate.before_the_call(upgrade, seen.blue, seen.green, seen.database, now, timing)
    if isinstance(databases, Outcome):
        return databases
    call = Switchover(bg.identifier, spec.timeout_seconds, spec.attempt)
    before: dict[str, object] = {
        **databases.changes,
        "switchover_requested_at": rfc3339(now),
        "switchover_attempt": spec.attempt,
        "snapshot_before_switchover": wanted,
    }
    if previous is None:
        reason, message = Reason.SWITCHOVER_STARTED, f"Switching over {bg.identifier} (timeout {spec.timeout_seconds}s)"
    else:
        reason = Reason.SWITCHOVER_ATTEMPT_AUTHORISED
        message = (
            f"Switching over {bg.identifier} again (attempt {spec.attempt}, authorised by spec.switchover.attempt "
            f"after attempt {previous} was not carried out; timeout {spec.timeout_seconds}s)"
        )
        before["switchover_accepted_at"] = None  # the earlier attempt's answer is not this one's
    return Act(
        reason=reason,
        message=message,
        call=call,
        before=before,
        changes={"switchover_accepted_at": rfc3339(now)},
        notes=databases.notes,
    )


def _after_the_call(
    upgrade: Upgrade, seen: SwitchoverObservation, attempt: int, now: datetime, timing: Timing
) -> Outcome | None:
    """After switchover call `attempt`: what AWS shows, by the deployment's status and
    SwitchoverDetails and by names and versions. None only when AWS did not carry it out, names
    and versions prove blue is still production, and a person raised spec.switchover.attempt
    above `attempt`: one more call is authorised. A failure is never reported as "not switched
    over" unless names and versions prove it."""
    bg, status = seen.deployment, upgrade.status
    if bg is not None and bg.status == "SWITCHOVER_COMPLETED":
        return _completed(upgrade, seen, now, timing)
    if bg is not None and bg.status == "SWITCHOVER_IN_PROGRESS":
        return _in_progress(upgrade, bg.identifier, now)
    if bg is not None and bg.status not in BLUE_GREEN_KNOWN:
        return unknown_status(bg)
    production, evidence = production_by_names(upgrade, Names(seen.blue, seen.renamed, seen.old1, seen.green))
    failure = failure_of(bg, status.blue_green_deployment_identifier)
    if failure is not None and production == Production.GREEN and (bg is None or bg.status == "DELETING"):
        return _deleted_elsewhere(upgrade, seen, attempt, evidence, now)
    if failure is not None:
        reason, what = failure
        what = f"{what} after switchover attempt {attempt}"
        if production == Production.BLUE:
            return fail(reason, f"{what}; names and versions show blue is still production ({evidence})")
        return _unproven(what, evidence)
    assert bg is not None
    if bg.status != "AVAILABLE":
        return wait(Reason.WAITING_FOR_BLUE_GREEN, f"Blue/green deployment {bg.identifier} is {bg.status}")
    members = [f"{arn_name(member)} {state}" for member, state in bg.switchover_details if state in MEMBER_SWITCHING]
    accepted, requested = status.switchover_accepted_at, status.switchover_requested_at
    if accepted and since(accepted, now) < timing.consistency_grace:
        return wait(Reason.SWITCHOVER_REQUESTED, "AWS accepted the switchover; waiting for it to report progress")
    if not accepted and requested and since(requested, now) < timing.consistency_grace:
        return wait(Reason.SWITCHOVER_REQUESTED, "Switchover was requested; waiting for AWS to report it")
    if members or production != Production.BLUE:
        switching = f" with members {', '.join(members)}" if members else ""
        what = f"Blue/green deployment {bg.identifier} is AVAILABLE{switching} after switchover attempt {attempt}"
        return _unproven(what, evidence)
    if upgrade.spec.switchover.attempt > attempt:
        return None
    if accepted:
        how = "AWS accepted it and the deployment is AVAILABLE again (AWS rolled it back)"
    elif seen.switchover_signs:
        signs = "; ".join(f"{e.date.isoformat(timespec='seconds')} {e.message}" for e in seen.switchover_signs)
        how = f"its answer was lost, and AWS's events show it was taken and canceled ({signs})"
    else:
        how = "its answer was lost and the deployment is AVAILABLE (AWS canceled it, or never got it)"
    return wait(
        Reason.SWITCHOVER_NOT_CARRIED_OUT,
        f"Switchover attempt {attempt} of {bg.identifier} was not carried out: {how}; names and versions show "
        f"blue is still production ({evidence}). No switchover is sent again without a person: read the RDS "
        f"events for why, then set spec.switchover.attempt: {attempt + 1} to authorise one more attempt, or "
        "delete this AuroraUpgrade",
    )


def _deleted_elsewhere(
    upgrade: Upgrade, seen: SwitchoverObservation, attempt: int, evidence: str, now: datetime
) -> Outcome:
    """The deployment is gone (or going) while names and versions prove the switchover completed:
    someone did runbook step 9.1 by hand. Not a failure: the steps after switchover go on, and a
    Warning says who deleted it. AWS lifts `-old1`'s read-only protection with the deployment."""
    ident = upgrade.status.blue_green_deployment_identifier
    old = seen.renamed.identifier if seen.renamed is not None else None
    return advance(
        following(Phase.SWITCHING_OVER, upgrade.spec),
        Reason.BLUE_GREEN_DEPLOYMENT_DELETED_ELSEWHERE,
        f"Blue/green deployment {ident} was deleted by someone else after switchover attempt {attempt}; names and "
        f"versions show the switchover completed ({evidence}): {upgrade.cluster} now runs the green environment, "
        "and the upgrade goes on with the steps after switchover. With the deployment gone AWS lifted the "
        f"read-only protection of {old or 'the previous production cluster'}: keep applications off it",
        old_cluster_identifier=old,
        switchover_completed_at=rfc3339(now),
        deployment_deleted_elsewhere_at=rfc3339(now),
    )


def _unproven(what: str, evidence: str) -> Outcome:
    return wait(
        Reason.SWITCHOVER_OUTCOME_UNPROVEN,
        f"{what}, and names and versions do not prove which cluster is production ({evidence}); nothing more "
        "is sent and nothing is deleted: look at both clusters in the RDS console",
    )


def _completed(upgrade: Upgrade, seen: SwitchoverObservation, now: datetime, timing: Timing) -> Outcome:
    """Switchover done: find the previous production cluster by its resource id (AWS keeps the
    id and renames the cluster, `-old1` being only the usual new name)."""
    production = upgrade.cluster
    old = seen.blue.identifier if seen.blue is not None and seen.blue.identifier != production else None
    status = upgrade.status
    asked = status.switchover_accepted_at or status.switchover_requested_at or status.phase_started_at
    if old is None and since(asked, now) < timing.consistency_grace:
        return wait(Reason.WAITING_FOR_RENAME, "Switchover completed; waiting for the old cluster's new name")
    kept = f"the previous production cluster is {old}" if old else "the previous production cluster was not found"
    return advance(
        following(Phase.SWITCHING_OVER, upgrade.spec),
        Reason.SWITCHOVER_COMPLETED,
        f"Switchover completed: {production} now runs the green environment; {kept}",
        old_cluster_identifier=old,
        switchover_completed_at=rfc3339(now),
    )
