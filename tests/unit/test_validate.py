"""The database's part of an upgrade, decided (decisions/validate.py): the guardrails at
Prechecking, the Validating phase, and the guardrails and stale checks right before the
switchover call. Pure decisions with an injected clock; the databases' answers are built here
as the runner would return them (the runner has its own tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.database import CheckResult, DatabaseAnswer, Guardrail, GuardrailAnswer, validation_digest
from aurora_upgrade.decisions import deadlines
from aurora_upgrade.decisions.outcome import Act, Advance, Ask, Fail, Outcome, Wait
from aurora_upgrade.decisions.precheck import PrecheckObservation, decide_precheck
from aurora_upgrade.decisions.switchover import SwitchoverObservation, decide_switching
from aurora_upgrade.decisions.validate import ValidatingObservation, decide_validating
from aurora_upgrade.models import ValidationResult
from aurora_upgrade.phases import Phase, switchover_may_have_started
from aurora_upgrade.reasons import Kind, Reason, entry_of
from aurora_upgrade.status import with_conditions
from support.fake_probe import finding

from .builders import (
    BG_ID,
    GREEN_CLUSTER_ID,
    GREEN_SUFFIX,
    NOW,
    TIMING,
    ago,
    engine_version,
    instances,
    make_blue_green,
    make_cluster,
    make_snapshot,
    make_spec,
    make_upgrade,
    snapshot_id,
)

DATABASE = {"name": "app", "user": "aurora_upgrade"}
CHECKS = [
    {"name": "orders-readable", "sql": "select count(*) > 0 from orders"},
    {"name": "smoke-tests", "webhook": {"url": "https://smoke.internal/run"}, "timeoutSeconds": 300},
]
G = Guardrail


def validation(guardrails: str | None = None, checks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"database": DATABASE, "checks": CHECKS if checks is None else checks}
    if guardrails is not None:
        block["guardrails"] = guardrails
    return block


def answered(ask: Outcome, checks: dict[str, str] | None = None, findings: tuple[Any, ...] = (), **at: Any) -> Any:
    """The runner's answer to `ask`: each asked check as `checks` says (default Passed), up to the
    first that did not pass, and the guardrails' `findings` if they were asked for."""
    assert isinstance(ask, Ask), ask
    request, stamp = ask.request, rfc3339(at.get("finished", NOW))
    results = []
    for name in request.checks:
        result = (checks or {}).get(name, "Passed")
        results.append(CheckResult(name, "green", result, f"{name} said {result}", stamp))  # type: ignore[arg-type]
        if result != "Passed":
            break
    guardrails = GuardrailAnswer(findings, stamp, at.get("fingerprint")) if request.guardrails else None
    return DatabaseAnswer(request, tuple(results), guardrails, stamp)


# --- Prechecking ------------------------------------------------------------------------------


def precheck(spec_validation: dict[str, Any] | None, database: DatabaseAnswer | None = None) -> Outcome:
    spec = make_spec(validation=spec_validation) if spec_validation else make_spec()
    upgrade = make_upgrade(Phase.PRECHECKING, spec)
    seen = PrecheckObservation(
        cluster=make_cluster(port=5433),
        instances=instances(),
        source_version=engine_version(),
        target_version=engine_version("15.10", targets=()),
        cluster_parameter_group_family="aurora-postgresql15",
        parameter_group_family="aurora-postgresql15",
        logical_replication="1",
        database=database,
    )
    return decide_precheck(upgrade, seen, NOW, TIMING)


def precheck_answered(spec_validation: dict[str, Any], findings: tuple[Any, ...]) -> Outcome:
    ask = precheck(spec_validation)
    return precheck(spec_validation, answered(ask, findings=findings, fingerprint="catalog-7"))


def test_prechecking_asks_for_blue_guardrails_last_at_blue_writer_endpoint() -> None:
    ask = precheck(validation())
    assert isinstance(ask, Ask) and ask.action is None
    assert ask.reason == Reason.DATABASE_CHECKS_RUNNING
    request = ask.request
    assert (request.what, request.guardrails, request.checks) == ("before_create", True, ())
    assert request.blue is not None and (request.blue.host, request.blue.port) == (make_cluster().endpoint, 5433)


@pytest.mark.parametrize(
    "spec_validation",
    [
        pytest.param(None, id="no-validation"),
        pytest.param(validation("Off"), id="guardrails-off"),
        pytest.param({"checks": [CHECKS[1]]}, id="webhook-checks-only"),
    ],
)
def test_prechecking_without_guardrails_asks_nothing(spec_validation: dict[str, Any] | None) -> None:
    outcome = precheck(spec_validation)
    assert isinstance(outcome, Advance) and outcome.phase == Phase.CREATING_BLUE_GREEN


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        pytest.param(finding(G.TABLES_WITHOUT_PRIMARY_KEY), "TablesWithoutPrimaryKey", id="no-primary-key"),
        pytest.param(finding(G.LARGE_OBJECTS), "LargeObjects", id="large-objects"),
        pytest.param(finding(G.DATABASE_UNREACHABLE, transient=True), "DatabaseUnreachable", id="no-connection"),
    ],
)
def test_an_enforced_finding_fails_prechecking_with_its_own_reason_and_no_call(found: Any, reason: str) -> None:
    outcome = precheck_answered(validation(), (found,))
    assert isinstance(outcome, Fail) and outcome.action is None
    assert outcome.reason == reason
    assert "nothing was created" in outcome.message
    entries = outcome.changes["validation"]
    assert [(e.name, e.on, e.result) for e in entries] == [(reason, "blue", "Failed")]


def test_warn_turns_each_finding_into_a_warning_and_goes_on() -> None:
    findings = (finding(G.MATERIALIZED_VIEWS), finding(G.UNLOGGED_TABLES))
    outcome = precheck_answered(validation("Warn"), findings)
    assert isinstance(outcome, Advance) and outcome.phase == Phase.CREATING_BLUE_GREEN
    assert [(n.reason, n.warning) for n in outcome.notes] == [("MaterializedViews", True), ("UnloggedTables", True)]
    assert outcome.changes["blue_catalog_fingerprint"] == "catalog-7"


def test_passing_guardrails_keep_blue_fingerprint_for_ddl_since_creation() -> None:
    outcome = precheck_answered(validation(), ())
    assert isinstance(outcome, Advance) and outcome.phase == Phase.CREATING_BLUE_GREEN
    assert outcome.changes["blue_catalog_fingerprint"] == "catalog-7"
    assert [n.reason for n in outcome.notes] == [Reason.DATABASE_GUARDRAILS_PASSED]


def test_a_reported_only_finding_does_not_fail_prechecking() -> None:
    outcome = precheck_answered(validation(), (finding(G.MANY_SEQUENCES, blocking=False),))
    assert isinstance(outcome, Advance)
    assert [(n.reason, n.warning) for n in outcome.notes] == [("ManySequences", True)]


# --- Validating -------------------------------------------------------------------------------

GREEN = make_cluster(GREEN_CLUSTER_ID, engine_version="15.10")


def validating(spec_validation: dict[str, Any], generation: int = 1, **status: Any) -> Any:
    return make_upgrade(
        Phase.VALIDATING,
        make_spec(validation=spec_validation),
        generation=generation,
        blue_green_deployment_identifier=BG_ID,
        green_cluster_identifier=GREEN_CLUSTER_ID,
        blue_catalog_fingerprint="catalog-7",
        **status,
    )


def validate(upgrade: Any, database: DatabaseAnswer | None = None) -> Outcome:
    seen = ValidatingObservation(make_blue_green(), make_cluster(), GREEN, database)
    return decide_validating(upgrade, seen, NOW, TIMING)


def test_validating_asks_for_the_checks_in_order_against_green() -> None:
    ask = validate(validating(validation()))
    assert isinstance(ask, Ask) and ask.action is None
    request = ask.request
    assert request.what == "validate" and request.checks == ("orders-readable", "smoke-tests")
    assert request.green is not None and request.green.host == GREEN.endpoint
    assert (request.guardrails, request.fingerprint, request.timeouts) == (True, "catalog-7", 330)


@pytest.mark.parametrize(
    ("switchover", "following"),
    [
        pytest.param({}, Phase.SNAPSHOTTING, id="automatic"),
        pytest.param({"mode": "Manual"}, Phase.AWAITING_SWITCHOVER, id="manual-gate-still-applies"),
        pytest.param({"snapshotBeforeSwitchover": False}, Phase.SWITCHING_OVER, id="no-snapshot"),
    ],
)
def test_every_check_passed_advances_with_one_result_and_event_each(
    switchover: dict[str, Any], following: Phase
) -> None:
    upgrade = make_upgrade(
        Phase.VALIDATING,
        make_spec(validation=validation(), switchover=switchover),
        green_cluster_identifier=GREEN_CLUSTER_ID,
    )
    outcome = validate(upgrade, answered(validate(upgrade)))
    assert isinstance(outcome, Advance) and outcome.phase == following
    assert outcome.reason == Reason.VALIDATION_PASSED
    entries = outcome.changes["validation"]
    assert [(e.name, e.on, e.result) for e in entries] == [
        ("orders-readable", "green", "Passed"),
        ("smoke-tests", "green", "Passed"),
        ("Guardrails", "green", "Passed"),
    ]
    assert [n.reason for n in outcome.notes] == [
        "ValidationCheckPassed",
        "ValidationCheckPassed",
        "DatabaseGuardrailsPassed",
    ]
    assert (outcome.changes["validated_generation"], outcome.changes["validated_at"]) == (1, rfc3339(NOW))


@pytest.mark.parametrize("guardrails", ["Enforce", "Warn", "Off"])
@pytest.mark.parametrize("result", ["Failed"])
def test_a_failed_check_holds_in_validating_whatever_the_guardrail_mode(guardrails: str, result: str) -> None:
    upgrade = validating(validation(guardrails))
    outcome = validate(upgrade, answered(validate(upgrade), {"orders-readable": result}))
    assert isinstance(outcome, Wait) and outcome.phase is None and outcome.action is None
    assert outcome.reason == Reason.VALIDATION_FAILED
    assert f"orders-readable on green: {result}" in outcome.message
    assert "does not switch over" in outcome.message
    assert outcome.warning, "a Warning Event names the check and its result"
    assert Reason.VALIDATION_FAILED not in [n.reason for n in outcome.notes], "told once, by the hold itself"
    assert [e.name for e in outcome.changes["validation"] if e.on == "green" and e.name != "Guardrails"] == [
        "orders-readable"
    ], "the checks after a failed one do not run"
    assert (outcome.changes["validated_generation"], outcome.changes["validation_held"]) == (1, "ValidationFailed")


def test_a_recorded_failure_holds_until_the_spec_changes_then_the_checks_run_again() -> None:
    failed = [ValidationResult(name="orders-readable", on="green", result="Failed", message="no", checked_at=ago(60))]
    held = dict(validated_generation=1, validation_held="ValidationFailed", validation=failed)
    again = validate(validating(validation(), **held))
    assert isinstance(again, Wait) and not isinstance(again, Ask)
    assert again.reason == Reason.VALIDATION_FAILED and "orders-readable on green: Failed" in again.message

    changed = validate(validating(validation(), generation=2, **held))
    assert isinstance(changed, Ask) and changed.request.generation == 2


def test_the_validated_condition_follows_the_verdict() -> None:
    failed = [ValidationResult(name="orders-readable", on="green", result="Failed", message="no", checked_at=ago(60))]
    upgrade = validating(validation(), validated_generation=1, validation_held="ValidationFailed", validation=failed)
    held = with_conditions(upgrade.status, NOW, 1)
    (validated,) = [c for c in held.conditions if c.type == "Validated"]
    assert (validated.status, validated.reason) == ("False", "ValidationFailed")
    passed = with_conditions(upgrade.status.model_copy(update={"validation_held": None}), NOW, 1)
    (validated,) = [c for c in passed.conditions if c.type == "Validated"]
    assert (validated.status, validated.reason) == ("True", "ValidationPassed")
    untouched = with_conditions(make_upgrade(Phase.SNAPSHOTTING).status, NOW, 1)
    assert "Validated" not in {c.type for c in untouched.conditions}, "no spec.validation, no condition"


@pytest.mark.parametrize(
    ("guardrails", "found", "reason", "kind"),
    [
        pytest.param("Enforce", finding(G.GREEN_WRITABLE, "green"), "GreenWritable", Kind.STALLED, id="green-writable"),
        pytest.param("Enforce", finding(G.DDL_SINCE_CREATION), "DdlSinceCreation", Kind.STALLED, id="ddl-since"),
        pytest.param(
            "Enforce",
            finding(G.DATABASE_UNREACHABLE, "green", transient=True),
            "DatabaseUnreachable",
            Kind.WAITING_ON_AWS,
            id="unreachable-looks-again",
        ),
    ],
)
def test_an_enforced_finding_on_green_holds_validating_with_its_own_reason(
    guardrails: str, found: Any, reason: str, kind: Kind
) -> None:
    upgrade = validating(validation(guardrails))
    outcome = validate(upgrade, answered(validate(upgrade), findings=(found,)))
    assert isinstance(outcome, Wait) and outcome.reason == reason and outcome.action is None
    entry = entry_of(reason)
    assert entry is not None and entry.kind == kind
    if found.transient:
        assert "validated_generation" not in outcome.changes, "a transient finding is looked at again"
    else:
        assert outcome.changes["validation_held"] == reason


def test_ddl_since_creation_says_to_recreate_the_deployment() -> None:
    upgrade = validating(validation())
    outcome = validate(upgrade, answered(validate(upgrade), findings=(finding(G.DDL_SINCE_CREATION),)))
    assert "recreate the deployment" in outcome.message and "start a new one" in outcome.message


@pytest.mark.parametrize(
    ("guardrails", "found"),
    [
        pytest.param("Warn", finding(G.GREEN_WRITABLE, "green"), id="warn"),
        pytest.param("Enforce", finding(G.EXTENSIONS_OUTDATED, "green", blocking=False), id="reported-only"),
        pytest.param("Enforce", finding(G.ANALYZE_NEEDED, "green", blocking=False), id="analyze"),
        pytest.param("Enforce", finding(G.LONG_RUNNING_TRANSACTIONS, transient=True), id="checked-at-the-call"),
    ],
)
def test_findings_that_do_not_hold_here_are_warnings_and_validating_goes_on(guardrails: str, found: Any) -> None:
    upgrade = validating(validation(guardrails))
    outcome = validate(upgrade, answered(validate(upgrade), findings=(found,)))
    assert isinstance(outcome, Advance) and outcome.reason == Reason.VALIDATION_PASSED
    assert (found.guardrail.value, True) in [(n.reason, n.warning) for n in outcome.notes]


# --- right before the switchover call ---------------------------------------------------------


def switching(spec_validation: dict[str, Any] | None, **status: Any) -> Any:
    spec = make_spec(validation=spec_validation) if spec_validation else make_spec()
    fields = dict(
        blue_green_deployment_identifier=BG_ID,
        green_cluster_identifier=GREEN_CLUSTER_ID,
        snapshot_identifier=snapshot_id(),
        snapshot_requested_at=ago(120),
        snapshot_available_at=ago(60),
        blue_catalog_fingerprint="catalog-7",
        validated_generation=1,
        validated_at=ago(600),
        validated_spec=validation_digest(spec.validation),  # the verdict was given for this spec.validation
    )
    return make_upgrade(Phase.SWITCHING_OVER, spec, **{**fields, **status})


def switch(upgrade: Any, database: DatabaseAnswer | None = None, now: Any = NOW) -> Outcome:
    seen = SwitchoverObservation(
        make_blue_green("AVAILABLE"),
        GREEN,
        instances(suffix=GREEN_SUFFIX, engine_version="15.10"),
        make_snapshot(),
        make_cluster(),
        instances(),
        database=database,
    )
    return decide_switching(upgrade, seen, now, TIMING)


def test_without_validation_the_switchover_asks_no_database() -> None:
    outcome = switch(switching(None))
    assert isinstance(outcome, Act) and outcome.action.operation == "SwitchoverBlueGreenDeployment"


def test_guardrails_off_and_fresh_checks_switch_over_without_asking() -> None:
    outcome = switch(switching(validation("Off")))
    assert isinstance(outcome, Act) and outcome.action.operation == "SwitchoverBlueGreenDeployment"


def test_the_guardrails_are_asked_right_before_the_call_and_a_clear_answer_switches_over() -> None:
    upgrade = switching(validation())
    ask = switch(upgrade)
    assert isinstance(ask, Ask) and ask.action is None
    assert (ask.request.what, ask.request.checks, ask.request.fingerprint) == ("before_switchover", (), "catalog-7")
    outcome = switch(upgrade, answered(ask))
    assert isinstance(outcome, Act) and outcome.action.operation == "SwitchoverBlueGreenDeployment"
    assert outcome.intent["switchover_attempt"] == 1
    assert [(e.name, e.on, e.result) for e in outcome.intent["validation"]] == [("Guardrails", "blue", "Passed")]


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        pytest.param(finding(G.LONG_RUNNING_TRANSACTIONS, transient=True), "LongRunningTransactions", id="long-tx"),
        pytest.param(finding(G.DDL_IN_FLIGHT, transient=True), "DdlInFlight", id="ddl-in-flight"),
        pytest.param(finding(G.PREPARED_TRANSACTIONS, transient=True), "PreparedTransactions", id="prepared"),
        pytest.param(finding(G.REPLICATION_LAG, transient=True), "ReplicationLag", id="lag"),
        pytest.param(finding(G.GREEN_WRITABLE, "green"), "GreenWritable", id="green-writable"),
        pytest.param(finding(G.DDL_SINCE_CREATION), "DdlSinceCreation", id="ddl-since-creation"),
    ],
)
def test_an_enforced_finding_holds_where_it_is_checked_and_sends_no_switchover(found: Any, reason: str) -> None:
    upgrade = switching(validation())
    outcome = switch(upgrade, answered(switch(upgrade), findings=(found,)))
    assert isinstance(outcome, Wait) and outcome.reason == reason
    assert outcome.phase is None and outcome.action is None, "held in SwitchingOver, never sent back"
    after = upgrade.status.model_copy(update=dict(outcome.changes))
    assert not switchover_may_have_started(after)
    assert after.switchover_requested_at is None


def test_a_transient_finding_is_looked_at_again_until_its_deadline_then_fails_with_blue_untouched() -> None:
    upgrade = switching(validation())
    found = finding(G.LONG_RUNNING_TRANSACTIONS, transient=True)
    held = switch(upgrade, answered(switch(upgrade), findings=(found,)))
    recorded = deadlines.bounded(upgrade, held, NOW, TIMING)
    assert recorded.reason == "LongRunningTransactions" and recorded.changes["waiting_since"] == rfc3339(NOW)

    holding = {"reason": held.reason, "message": held.message, "waiting_for": held.reason}
    shortly = upgrade.with_status(upgrade.status.model_copy(update={**holding, "waiting_since": ago(60)}))
    again = switch(shortly)
    assert isinstance(again, Ask), "asked again: an answer a minute old is too old at the call"
    assert (again.reason, again.message) == (held.reason, held.message), "the hold's wait runs on, unwritten"
    assert deadlines.bounded(shortly, again, NOW, TIMING).changes["waiting_since"] == ago(60)

    waited = upgrade.with_status(upgrade.status.model_copy(update={**holding, "waiting_since": ago(31 * 60)}))
    for outcome in (switch(waited), switch(waited, answered(switch(waited), findings=(found,)))):
        timed_out = deadlines.bounded(waited, outcome, NOW, TIMING)
        assert isinstance(timed_out, Fail) and timed_out.reason == "LongRunningTransactionsTimedOut"
        assert "blue is untouched" in timed_out.message


def test_warn_switches_over_with_a_warning_per_finding() -> None:
    upgrade = switching(validation("Warn"))
    found = (finding(G.REPLICATION_LAG, transient=True), finding(G.GREEN_WRITABLE, "green"))
    outcome = switch(upgrade, answered(switch(upgrade), findings=found))
    assert isinstance(outcome, Act) and outcome.action.operation == "SwitchoverBlueGreenDeployment"
    assert [(n.reason, n.warning) for n in outcome.notes] == [("ReplicationLag", True), ("GreenWritable", True)]


def test_an_answer_older_than_its_freshness_is_asked_again() -> None:
    upgrade = switching(validation())
    ask = switch(upgrade)
    stale = answered(ask, finished=NOW - TIMING.guardrail_freshness - timedelta(seconds=1))
    assert isinstance(switch(upgrade, stale), Ask)


def test_checks_that_passed_long_before_the_gate_opened_run_again_before_the_call() -> None:
    old = rfc3339(NOW - TIMING.validation_max_age - timedelta(minutes=1))
    upgrade = switching(validation("Off"), validated_at=old)
    ask = switch(upgrade)
    assert isinstance(ask, Ask) and ask.request.checks == ("orders-readable", "smoke-tests")
    assert [n.reason for n in ask.notes] == [Reason.VALIDATION_EXPIRED]
    passed = switch(upgrade, answered(ask))
    assert isinstance(passed, Act) and passed.intent["validated_at"] == rfc3339(NOW)

    failed = switch(upgrade, answered(ask, {"smoke-tests": "Failed"}))
    assert isinstance(failed, Wait) and failed.reason == Reason.VALIDATION_FAILED and failed.action is None
    assert failed.changes["validated_at"] is None


def test_a_verdict_held_at_the_call_is_not_run_again_until_the_spec_changes() -> None:
    upgrade = switching(validation(), validation_held="GreenWritable")
    outcome = switch(upgrade)
    assert isinstance(outcome, Wait) and not isinstance(outcome, Ask) and outcome.reason == "GreenWritable"
    changed = switch(replace(upgrade, generation=2))
    assert isinstance(changed, Ask)


def test_a_hold_is_told_once_and_names_only_what_holds() -> None:
    upgrade = switching(validation())
    found = (finding(G.REPLICATION_LAG, transient=True), finding(G.EXTENSIONS_OUTDATED, "green", blocking=False))
    first = switch(upgrade, answered(switch(upgrade), findings=found))
    assert first.reason == "ReplicationLag" and first.warning, "the hold's own Warning tells the lag"
    assert [n.reason for n in first.notes] == ["ExtensionsOutdated"], "the rest once, as notes"
    holding = upgrade.status.model_copy(update={"reason": first.reason, "message": first.message})
    again = switch(upgrade.with_status(holding), answered(switch(upgrade), findings=found))
    assert again.reason == "ReplicationLag" and again.notes == (), "looked at again: nothing told again"


def test_a_failed_check_s_message_names_the_checks_not_warned_findings() -> None:
    upgrade = validating(validation("Warn"))
    answer = answered(validate(upgrade), {"smoke-tests": "Failed"}, findings=(finding(G.GREEN_WRITABLE, "green"),))
    outcome = validate(upgrade, answer)
    assert outcome.reason == Reason.VALIDATION_FAILED
    assert "smoke-tests on green: Failed" in outcome.message and "GreenWritable" not in outcome.message
    assert ("GreenWritable", True) in [(n.reason, n.warning) for n in outcome.notes]


# --- the review's findings --------------------------------------------------------------------


def test_a_check_added_with_the_approval_runs_before_the_call_a_plain_approval_does_not() -> None:
    """Validating passed at generation 1; then the user adds a check and approves in one edit:
    the new check has never run against green, so it runs right before the call."""
    before = validation("Off", checks=[CHECKS[0]])
    verdict_of = validation_digest(make_spec(validation=before).validation)
    added = validation("Off", checks=[CHECKS[0], {"name": "new-check", "sql": "select false"}])
    upgrade = replace(switching(added, validated_spec=verdict_of), generation=2)
    ask = switch(upgrade)
    assert isinstance(ask, Ask) and ask.request.checks == ("orders-readable", "new-check")
    assert [n.reason for n in ask.notes] == [Reason.VALIDATION_EXPIRED]
    failed = switch(upgrade, answered(ask, {"new-check": "Failed"}))
    assert isinstance(failed, Wait) and failed.reason == Reason.VALIDATION_FAILED and failed.action is None
    assert "new-check on green: Failed" in failed.message

    edited = validation("Off", checks=[{**CHECKS[0], "sql": "select count(*) > 10 from orders"}])
    assert isinstance(switch(replace(switching(edited, validated_spec=verdict_of), generation=2)), Ask)

    approved = replace(switching(before, validated_spec=verdict_of), generation=2)
    outcome = switch(approved)
    assert isinstance(outcome, Act) and outcome.action.operation == "SwitchoverBlueGreenDeployment"


def test_the_validated_condition_is_true_only_for_the_spec_validation_it_was_given_for() -> None:
    spec_validation = make_spec(validation=validation()).validation
    passed = validating(validation(), validated_generation=1, validated_spec=validation_digest(spec_validation))
    same = with_conditions(passed.status, NOW, 2, validation_digest(spec_validation))
    (validated,) = [c for c in same.conditions if c.type == "Validated"]
    assert validated.status == "True"
    other = make_spec(validation=validation(checks=[CHECKS[0]])).validation
    changed = with_conditions(passed.status, NOW, 2, validation_digest(other))
    (validated,) = [c for c in changed.conditions if c.type == "Validated"]
    assert (validated.status, validated.reason) == ("False", "NotYetValidated")


def test_a_verdict_records_the_spec_validation_it_was_given_for() -> None:
    upgrade = validating(validation())
    outcome = validate(upgrade, answered(validate(upgrade)))
    assert outcome.changes["validated_spec"] == validation_digest(upgrade.spec.validation)


@pytest.mark.parametrize("phase", ["validating", "at-the-call"])
def test_a_check_that_could_not_run_is_looked_at_again_not_a_failed_check(phase: str) -> None:
    """Error: the check did not run (no answer in time, unreachable). It is no verdict on green:
    a transient hold with its own reason, asked again, ending in a TimedOut at its deadline."""
    if phase == "validating":
        upgrade, decide = validating(validation("Off")), validate
    else:
        upgrade, decide = switching(validation("Off"), validated_at=None), switch
    ask = decide(upgrade)
    held = decide(upgrade, answered(ask, {"orders-readable": "Error"}))
    assert isinstance(held, Wait) and held.action is None
    assert held.reason == Reason.VALIDATION_CHECK_ERROR and held.warning
    assert "orders-readable could not run" in held.message and "A check did not pass" not in held.message
    assert "validation_held" not in held.changes and "validated_generation" not in held.changes
    entry = entry_of(held.reason)
    assert entry is not None and entry.kind == Kind.WAITING_ON_AWS and entry.pages != "AuroraUpgradeNeedsDecision"

    holding = {"reason": held.reason, "message": held.message, "waiting_for": held.reason, "waiting_since": ago(60)}
    later = upgrade.with_status(upgrade.status.model_copy(update=holding))
    again = decide(later)
    assert isinstance(again, Ask) and again.reason == held.reason, "asked again, the hold's wait runs on"
    passed = decide(later, answered(again))
    assert not isinstance(passed, Wait) or passed.reason != held.reason

    waited = upgrade.with_status(upgrade.status.model_copy(update={**holding, "waiting_since": ago(31 * 60)}))
    timed_out = deadlines.bounded(waited, decide(waited), NOW, TIMING)
    assert isinstance(timed_out, Fail) and timed_out.reason == "ValidationCheckErrorTimedOut"


def test_removed_checks_leave_status_and_the_hold_message() -> None:
    old = [
        ValidationResult(name="gone-check", on="green", result="Failed", message="no", checked_at=ago(600)),
        ValidationResult(name="orders-readable", on="green", result="Passed", message="ok", checked_at=ago(600)),
    ]
    upgrade = validating(validation(checks=[CHECKS[0]]), validation=old)
    outcome = validate(upgrade, answered(validate(upgrade), {"orders-readable": "Failed"}))
    assert [e.name for e in outcome.changes["validation"]] == ["orders-readable", "Guardrails"]
    assert "gone-check" not in outcome.message


def test_a_timeout_before_the_call_says_what_stays_in_aws_and_how_to_remove_green() -> None:
    upgrade = switching(validation())
    found = finding(G.REPLICATION_LAG, transient=True)
    holding = {
        "reason": "ReplicationLag",
        "message": "lag",
        "waiting_for": "ReplicationLag",
        "waiting_since": ago(31 * 60),
    }
    waited = upgrade.with_status(upgrade.status.model_copy(update=holding))
    timed_out = deadlines.bounded(waited, switch(waited, answered(switch(waited), findings=(found,))), NOW, TIMING)
    assert isinstance(timed_out, Fail) and "blue is untouched" in timed_out.message
    assert f"green ({GREEN_CLUSTER_ID})" in timed_out.message and snapshot_id() in timed_out.message
    assert "deletionPolicy Abort deletes green" in timed_out.message


def test_a_timeout_before_a_second_attempt_s_call_says_no_switchover_was_sent() -> None:
    """Attempt 1 was not carried out; attempt 2 is authorised and held by the database: the stall
    says blue is production, never that production needs the remaining steps."""
    spec = make_spec(validation=validation(), switchover={"attempt": 2})
    first = switching(validation(), switchover_attempt=1, switchover_requested_at=ago(3600))
    upgrade = replace(first, spec=spec)
    holding = {
        "reason": "ReplicationLag",
        "message": "lag",
        "waiting_for": "ReplicationLag",
        "waiting_since": ago(31 * 60),
    }
    waited = upgrade.with_status(upgrade.status.model_copy(update=holding))
    found = finding(G.REPLICATION_LAG, transient=True)
    outcome = switch(waited, answered(switch(waited), findings=(found,)))
    timed_out = deadlines.bounded(waited, outcome, NOW, TIMING)
    assert isinstance(timed_out, Wait) and timed_out.reason == "ReplicationLagTimedOut"
    assert "no switchover was sent" in timed_out.message and "blue is still production" in timed_out.message
    assert "production needs the remaining steps" not in timed_out.message


def test_green_writable_s_to_do_says_a_spec_change_checks_again() -> None:
    entry = entry_of("GreenWritable")
    assert entry is not None and "change the spec" in entry.todo and "next look" not in entry.todo
