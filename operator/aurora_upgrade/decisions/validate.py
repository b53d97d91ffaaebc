"""Validating (runbook 5: check green before switching over), and the database's part of the
prechecks and of the switchover call: what to ask the databases and what their answers mean.

Nothing here connects anywhere. A decision returns `Ask` with a `DatabaseRequest`; the engine
gets the answer from validation_jobs.py (which runs it outside the look) and decides again with
it in the observation's `database`. An answer counts only for the question asked (endpoints,
generation, checks) and only when it is recent enough (`not_before`).

What the answers mean:
- The user's checks (spec.validation.checks) run in order against green. One that did not pass
  holds the upgrade (ValidationFailed), whatever `guardrails` says: it never switches over
  unverified; green stays; a new generation of the spec runs them again.
- The guardrails (database.Guardrail): with `Enforce` a blocking finding fails the upgrade at
  Prechecking (nothing was created) and, later, holds it where it was found, never by returning to
  an earlier phase. A transient finding (a long transaction, lag, no connection) is looked at again
  until its reason's deadline; any other needs a person, who changes the spec once it is fixed.
  `Warn` turns each finding into a Warning and goes on; `Off` runs none. Reported findings
  (extensions to update, ANALYZE) are Warnings only.
- Right before the switchover call (decisions/switchover.py, after the gate and the snapshot):
  the second guardrails, and the checks again if they passed longer ago than
  `Timing.validation_max_age` (a Manual approval days later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from aurora_upgrade.clock import parse_time, rfc3339, since
from aurora_upgrade.config import Timing
from aurora_upgrade.database import (
    Asked,
    CheckResult,
    DatabaseAnswer,
    DatabaseRequest,
    Endpoint,
    Finding,
    Guardrail,
    Side,
    validation_digest,
)
from aurora_upgrade.decisions.deployment import deployment_problem, our_deployment
from aurora_upgrade.decisions.outcome import Ask, Note, Outcome, Wait, advance, fail, wait
from aurora_upgrade.decisions.questions import Question, describe_cluster
from aurora_upgrade.models import GuardrailMode, ValidationResult
from aurora_upgrade.phases import Phase, following
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import BlueGreen, Cluster, RdsReads
from aurora_upgrade.upgrade import Upgrade

# Checked right before the switchover call: found in Validating they are only reported, since
# what counts is whether they hold at the call.
AT_THE_CALL = frozenset(
    {
        Guardrail.LONG_RUNNING_TRANSACTIONS,
        Guardrail.DDL_IN_FLIGHT,
        Guardrail.PREPARED_TRANSACTIONS,
        Guardrail.REPLICATION_LAG,
    }
)
# What a hold looks at again until its deadline: checked at the call, no answer at all, or a
# check that could not run (its result Error: a timeout, an unreachable webhook or database).
TRANSIENT = frozenset(
    {g.value for g in AT_THE_CALL} | {Guardrail.DATABASE_UNREACHABLE.value, Reason.VALIDATION_CHECK_ERROR.value}
)
# The holds right before the switchover call: no call was sent while they hold (cleanup.py's
# deletion may still delete green; deadlines.py says no switchover was sent).
BEFORE_THE_CALL = frozenset(
    {Reason.DATABASE_CHECKS_RUNNING.value, Reason.VALIDATION_FAILED.value, Reason.SWITCHOVER_NOT_SAFE.value}
    | TRANSIENT
    | {Guardrail.GREEN_WRITABLE.value, Guardrail.DDL_SINCE_CREATION.value}
)
GUARDRAILS_ENTRY = "Guardrails"  # status.validation's entry when the guardrails found nothing
_GUARDRAIL_NAMES = frozenset({g.value for g in Guardrail} | {GUARDRAILS_ENTRY})


@dataclass(frozen=True)
class Cleared:
    """The databases allow going on: what to record with the step that follows."""

    changes: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()


def guarded(upgrade: Upgrade) -> bool:
    validation = upgrade.spec.validation
    return validation is not None and validation.guardrail_mode != GuardrailMode.OFF


def endpoint(cluster: Cluster | None, side: Side) -> Endpoint | None:
    """A cluster's writer endpoint as DescribeDBClusters gives it; None before it has one."""
    if cluster is None or not cluster.endpoint:
        return None
    return Endpoint(
        side,
        cluster.endpoint,
        cluster.port,
        cluster.identifier,
        cluster.resource_id,
        iam_auth_enabled=cluster.iam_database_authentication,
    )


def _request(upgrade: Upgrade, what: Asked, not_before: str, **fields: Any) -> DatabaseRequest:
    return DatabaseRequest(what, upgrade.uid, upgrade.generation, not_before=not_before, **fields)


def _checks(upgrade: Upgrade) -> dict[str, Any]:
    validation = upgrade.spec.validation
    checks = validation.checks if validation is not None else []
    return {"checks": tuple(c.name for c in checks), "timeouts": sum(c.timeout_seconds for c in checks)}


def _ask(upgrade: Upgrade, request: DatabaseRequest, message: str, notes: tuple[Note, ...] = ()) -> Ask:
    """Ask the databases. While a transient finding holds, asking again keeps the hold's reason
    and message: its deadline runs on (a new reason would start the wait anew) and nothing new
    is written or told."""
    status = upgrade.status
    if status.waiting_for in TRANSIENT and status.reason == status.waiting_for:
        return Ask(reason=status.waiting_for, message=status.message or message, request=request)
    return Ask(reason=Reason.DATABASE_CHECKS_RUNNING, message=message, request=request, notes=notes)


def _answers(request: DatabaseRequest, answer: DatabaseAnswer | None) -> bool:
    """Whether `answer` answers `request`: the same question, finished no earlier than asked."""
    if answer is None or answer.request != request:
        return False
    return not request.not_before or parse_time(answer.finished_at) >= parse_time(request.not_before)


# --- what an answer means ----------------------------------------------------------------------


def _entries(upgrade: Upgrade, answer: DatabaseAnswer, on: Side) -> list[ValidationResult]:
    """status.validation with this answer's results in place of the earlier ones of the same name
    and side; a guardrail run replaces every earlier guardrail entry, and a check no longer in the
    spec is dropped (its result says nothing of green any more)."""
    validation = upgrade.spec.validation
    current = {c.name for c in validation.checks} if validation is not None else set()
    fresh = [
        ValidationResult(name=c.name, on=c.side, result=c.result, message=c.message, checked_at=c.checked_at)
        for c in answer.checks
    ]
    kept = [e for e in upgrade.status.validation if e.name in current or e.name in _GUARDRAIL_NAMES]
    if answer.guardrails is not None:
        kept = [e for e in kept if e.name not in _GUARDRAIL_NAMES]
        stamp = answer.guardrails.checked_at
        fresh += [
            ValidationResult(name=f.guardrail.value, on=f.side, result="Failed", message=f.message, checked_at=stamp)
            for f in answer.guardrails.findings
        ]
        if not answer.guardrails.findings:
            fresh.append(
                ValidationResult(name=GUARDRAILS_ENTRY, on=on, result="Passed", message="no finding", checked_at=stamp)
            )
    replaced = {(e.name, e.on) for e in fresh}
    return [e for e in kept if (e.name, e.on) not in replaced] + fresh


def _passed_note(check: CheckResult) -> Note:
    # A check that did not pass is told by the hold's own Warning (ValidationFailed), which names it.
    return Note(Reason.VALIDATION_CHECK_PASSED, f"Check {check.name} passed on green: {check.message}")


def _finding_note(finding: Finding, mode: GuardrailMode) -> Note:
    going_on = "" if finding.blocking and mode == GuardrailMode.ENFORCE else " (reported; the upgrade goes on)"
    return Note(finding.guardrail.value, f"{finding.side}: {finding.message}{going_on}")


def _held_message(reason: str, results: Sequence[ValidationResult]) -> str:
    """What holds, from status.validation: the checks that did not pass, or the guardrail's finding."""
    failed = "; ".join(
        f"{e.name} on {e.on}: {e.result}: {e.message}"
        for e in results
        if e.result != "Passed"
        and (e.name not in _GUARDRAIL_NAMES if reason == Reason.VALIDATION_FAILED else e.name == reason)
    )
    if reason == Reason.VALIDATION_FAILED:
        return (
            f"A check did not pass ({failed}): the upgrade does not switch over and green stays for you to look at; "
            "change the spec (any field, e.g. the check) to run the checks again, or delete the AuroraUpgrade"
        )
    if reason == Reason.DDL_SINCE_CREATION:
        return (
            f"Blue changed since the deployment was created ({failed}): replication cannot carry it and waiting "
            "will not fix it; recreate the deployment: delete this AuroraUpgrade and start a new one"
        )
    return (
        f"A database guardrail holds the switchover ({failed}); fix it, then change the spec (any field) to check again"
    )


class Verdict(NamedTuple):
    held: Outcome | None  # None: go on, recording `changes` and telling `notes`
    changes: dict[str, Any]
    notes: tuple[Note, ...]


def verdict(upgrade: Upgrade, answer: DatabaseAnswer, now: datetime, considered: frozenset[Guardrail]) -> Verdict:
    """What an answer means after green exists. `considered`: the guardrails whose blocking
    findings hold here (the others are reported)."""
    validation = upgrade.spec.validation
    mode = validation.guardrail_mode if validation is not None else GuardrailMode.OFF
    findings = answer.guardrails.findings if answer.guardrails is not None else ()
    side: Side = "green" if answer.request.what == "validate" else "blue"
    results = _entries(upgrade, answer, side)
    notes = [_passed_note(c) for c in answer.checks if c.result == "Passed"]
    notes += [_finding_note(f, mode) for f in findings]
    if answer.guardrails is not None and not findings:
        notes.append(Note(Reason.DATABASE_GUARDRAILS_PASSED, "The database guardrails found nothing"))
    changes: dict[str, Any] = {"validation": results}
    # Failed: the check ran and said no, a person decides. Error: it could not run (no answer in
    # time, unreachable): looked at again, like a guardrail that could not connect.
    failed = next((c for c in answer.checks if c.result == "Failed"), None)
    errored = next((c for c in answer.checks if c.result == "Error"), None)
    holding = [f for f in findings if f.blocking and mode == GuardrailMode.ENFORCE and f.guardrail in considered]
    lasting = [f for f in holding if not f.transient]
    digest = validation_digest(validation)
    if failed is not None or lasting:
        reason = Reason.VALIDATION_FAILED if failed is not None else lasting[0].guardrail.value
        # The hold's own Warning tells what holds; the notes tell the rest.
        told = tuple(n for n in notes if n.reason not in {f.guardrail.value for f in holding})
        changes |= {
            "validated_generation": upgrade.generation,
            "validated_spec": digest,
            "validation_held": reason,
            "validated_at": None,
        }
        held = Wait(reason=reason, message=_held_message(reason, results), changes=changes, notes=told)
        return Verdict(held, changes, ())
    if errored is not None or holding:
        # Looked at again (a later look asks anew) until the reason's deadline; told once.
        reason = Reason.VALIDATION_CHECK_ERROR if errored is not None else holding[0].guardrail.value
        told = tuple(n for n in notes if n.reason not in {f.guardrail.value for f in holding})
        found = [f"check {errored.name} could not run: {errored.message}"] if errored is not None else []
        found += [f"{f.side}: {f.message}" for f in holding]
        message = f"The switchover waits: {'; '.join(found)}; looking again until it clears"
        again = upgrade.status.reason == reason
        return Verdict(Wait(reason=reason, message=message, changes=changes, notes=() if again else told), changes, ())
    changes |= {"validated_generation": upgrade.generation, "validated_spec": digest, "validation_held": None}
    if answer.request.checks:
        changes["validated_at"] = rfc3339(now)
    return Verdict(None, changes, tuple(notes))


def _recorded_hold(upgrade: Upgrade) -> Outcome | None:
    """A verdict that needs a person holds until the spec changes: not asked again."""
    status = upgrade.status
    if status.validated_generation != upgrade.generation or not status.validation_held:
        return None
    return wait(status.validation_held, _held_message(status.validation_held, status.validation))


# --- Prechecking -------------------------------------------------------------------------------


def before_create(
    upgrade: Upgrade, blue: Cluster, answer: DatabaseAnswer | None, now: datetime, timing: Timing
) -> Outcome | Cleared:
    """The first guardrails on blue, once every other precheck passed: with Enforce a blocking
    finding (or no connection: a guardrail not run has not passed) fails the upgrade before
    anything is created. Blue's catalog fingerprint is kept for DdlSinceCreation."""
    if not guarded(upgrade):
        return Cleared()
    where = endpoint(blue, "blue")
    if where is None:
        return wait(Reason.CLUSTER_NOT_AVAILABLE, f"DB cluster {blue.identifier} has no writer endpoint yet")
    request = _request(
        upgrade, "before_create", upgrade.status.phase_started_at or rfc3339(now), blue=where, guardrails=True
    )
    if not _answers(request, answer):
        return _ask(
            upgrade,
            request,
            f"Checking blue's database at {where.host}:{where.port} for what blue/green replication cannot carry",
        )
    assert answer is not None and answer.guardrails is not None
    validation = upgrade.spec.validation
    assert validation is not None
    findings = answer.guardrails.findings
    notes = tuple(_finding_note(f, validation.guardrail_mode) for f in findings)
    changes = {
        "validation": _entries(upgrade, answer, "blue"),
        "blue_catalog_fingerprint": answer.guardrails.fingerprint,
    }
    holding = [f for f in findings if f.blocking and validation.guardrail_mode == GuardrailMode.ENFORCE]
    if holding:
        found = "; ".join(f"{f.guardrail.value}: {f.message}" for f in holding)
        return fail(
            holding[0].guardrail.value,
            f"The database guardrails on blue found what a blue/green deployment cannot carry ({found}); nothing was "
            "created. Fix it (docs/validation.md), or set spec.validation.guardrails: Warn; a spec change starts over",
            **changes,
        )
    if not findings:
        notes = (Note(Reason.DATABASE_GUARDRAILS_PASSED, "The database guardrails on blue found nothing"),)
    return Cleared(changes, notes)


# --- Validating --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatingObservation:
    deployment: BlueGreen | None
    blue: Cluster | None = None
    green: Cluster | None = None
    database: DatabaseAnswer | None = None  # filled in by the engine for the decision's Ask


class ValidatingQuestions(NamedTuple):
    deployment: Question[BlueGreen | None]
    blue: Question[Cluster | None]
    green: Question[Cluster | None]


def questions(upgrade: Upgrade) -> ValidatingQuestions:
    """The deployment (its triage), and both clusters' writer endpoints."""
    return ValidatingQuestions(
        deployment=our_deployment(upgrade),
        blue=describe_cluster(upgrade.cluster),
        green=describe_cluster(upgrade.status.green_cluster_identifier),
    )


def observe(aws: RdsReads, upgrade: Upgrade, now: datetime) -> ValidatingObservation:
    declared = questions(upgrade)
    deployment = declared.deployment.ask(aws)
    if deployment is None:
        return ValidatingObservation(deployment=None)
    return ValidatingObservation(deployment=deployment, blue=declared.blue.ask(aws), green=declared.green.ask(aws))


def decide_validating(upgrade: Upgrade, seen: ValidatingObservation, now: datetime, timing: Timing) -> Outcome:
    problem = deployment_problem(upgrade, seen.deployment, now, timing)
    if problem:
        return problem
    held = _recorded_hold(upgrade)
    if held:
        return held
    status = upgrade.status
    green, blue = endpoint(seen.green, "green"), endpoint(seen.blue, "blue")
    if green is None or blue is None:
        missing = "green" if green is None else "blue"
        return wait(Reason.WAITING_FOR_GREEN, f"Waiting for {missing}'s writer endpoint to check the database")
    # A first verdict of this generation counts from the phase's start; a transient hold asks anew.
    started = status.phase_started_at or rfc3339(now)
    transient = status.waiting_for in TRANSIENT
    not_before = rfc3339(now - timing.guardrail_freshness) if transient else started
    request = _request(
        upgrade,
        "validate",
        max(not_before, started, key=parse_time),
        blue=blue,
        green=green,
        fingerprint=status.blue_catalog_fingerprint,
        guardrails=guarded(upgrade),
        **_checks(upgrade),
    )
    if not _answers(request, seen.database):
        guardrails = " and the database guardrails" if request.guardrails else ""
        return _ask(upgrade, request, f"Running {len(request.checks)} checks against green ({green.host}){guardrails}")
    assert seen.database is not None
    judged = verdict(upgrade, seen.database, now, frozenset(Guardrail) - AT_THE_CALL)
    if judged.held is not None:
        return judged.held
    passed = f"{len(request.checks)} checks passed on green" if request.checks else "the database guardrails passed"
    outcome = advance(following(Phase.VALIDATING, upgrade.spec), Reason.VALIDATION_PASSED, passed, **judged.changes)
    return _with_notes(outcome, judged.notes)


def _with_notes(outcome: Outcome, notes: tuple[Note, ...]) -> Outcome:
    return replace(outcome, notes=(*outcome.notes, *notes))


# --- right before the switchover call ----------------------------------------------------------


def before_the_call(
    upgrade: Upgrade, blue: Cluster | None, green: Cluster | None, answer: DatabaseAnswer | None, now: datetime,
    timing: Timing,
) -> Outcome | Cleared:  # fmt: skip
    """Inside the open gate, after the snapshot, right before SwitchoverBlueGreenDeployment: the
    second guardrails (blue's transactions, DDL, lag; green's settings; DDL since creation), and
    the user's checks again when they passed longer ago than `timing.validation_max_age`. A hold
    stays in this phase with its reason, and no switchover is sent while it holds."""
    validation = upgrade.spec.validation
    if validation is None:
        return Cleared()
    held = _recorded_hold(upgrade)
    if held:
        return held
    validated_at = upgrade.status.validated_at
    # Checks added or changed since their verdict (spec.validation edited with the approval) have
    # not run against this green: they run now, whatever their age.
    changed = upgrade.status.validated_spec != validation_digest(validation)
    aged = validated_at is not None and since(validated_at, now) > timing.validation_max_age
    expired = bool(validation.checks) and (validated_at is None or changed or aged)
    if not expired and not guarded(upgrade):
        return Cleared()
    blue_at, green_at = endpoint(blue, "blue"), endpoint(green, "green")
    if blue_at is None or green_at is None:
        return wait(Reason.SWITCHOVER_NOT_SAFE, "Not switching over yet: a writer endpoint to check is not known")
    request = _request(
        upgrade,
        "before_switchover",
        rfc3339(now - timing.guardrail_freshness),
        blue=blue_at,
        green=green_at,
        fingerprint=upgrade.status.blue_catalog_fingerprint,
        guardrails=guarded(upgrade),
        **(_checks(upgrade) if expired else {}),
    )
    if not _answers(request, answer):
        why = ""
        if expired and changed:
            why = "spec.validation changed since the checks' verdict: running the checks again, then "
        elif expired and aged:
            why = f"the checks passed at {validated_at}, over the maximum age: running them again, then "
        notes = (
            (Note(Reason.VALIDATION_EXPIRED, f"Right before the switchover: {why.removesuffix(', then ')}"),)
            if why
            else ()
        )
        return _ask(upgrade, request, f"Right before the switchover: {why}checking the database", notes)
    assert answer is not None
    judged = verdict(upgrade, answer, now, frozenset(Guardrail))
    if judged.held is not None:
        return judged.held
    return Cleared(judged.changes, judged.notes)
