"""Engine._apply: the intent is saved before the AWS call, the changes after it; and what a
refused call or read means, from the error kind the gateway's `classify` gives AWS's code.

This tier checks ordering only. `StubGateway` is a stub, not a fake RDS: it records the one
call these tests make and knows nothing else. Flows against a simulated RDS live in the
integration tier (moto).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import botocore.exceptions
import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.decisions import switchover
from aurora_upgrade.decisions.outcome import read_failed, wait
from aurora_upgrade.decisions.pacing import waits
from aurora_upgrade.decisions.reboot import RebootObservation, decide_reboot
from aurora_upgrade.engine import Engine, _Writes
from aurora_upgrade.gateway.errors import classify
from aurora_upgrade.models import AuroraUpgradeStatus, HistoryEntry, InvalidManifest, parse_status
from aurora_upgrade.phases import Phase
from aurora_upgrade.resources import ErrorKind, RdsError

from .builders import GREEN_SUFFIX, INSTANCE_IDS, NOW, TIMING, instances, make_upgrade, steps

G1, G2 = (i + GREEN_SUFFIX for i in INSTANCE_IDS)
STAMP = rfc3339(NOW)


@dataclass
class Store:
    """In-memory Store sharing one log with the gateway stub, so order is visible."""

    log: list[tuple[str, Any]]
    saved: list[AuroraUpgradeStatus] = field(default_factory=list)
    folds: bool = True  # as the operator's KubeStore

    def save(self, status: AuroraUpgradeStatus) -> None:
        self.saved.append(status)
        self.log.append(("save", status))

    def event(self, type_: str, reason: str, message: str) -> None:
        self.log.append(("event", (type_, reason, message)))


@dataclass
class StubGateway:
    """Stub: only reboot_instance exists; it logs the call, or raises `error`."""

    log: list[tuple[str, Any]]
    error: RdsError | None = None

    def reboot_instance(self, identifier: str) -> None:
        self.log.append(("reboot_instance", identifier))
        if self.error is not None:
            raise self.error


def reboot_outcome() -> tuple[Any, Any]:
    upgrade = make_upgrade(Phase.REBOOTING_GREEN, reboots=steps(G1, G2))
    observation = RebootObservation(instances(suffix=GREEN_SUFFIX, engine_version="15.10"))
    return upgrade, decide_reboot(upgrade, observation, NOW, TIMING)


def engine() -> Engine:
    return Engine(timing=TIMING, clock=lambda: NOW)


def look(upgrade: Any, outcome: Any, gateway: Any, store: Store, run: Engine | None = None) -> Any:
    """One step of a look and its end: what `Engine.reconcile` does with an outcome that waits."""
    writes = _Writes(store)  # type: ignore[arg-type]
    return writes.end_of_look((run or engine())._apply(upgrade, outcome, gateway, writes))


def test_intent_is_saved_before_the_call_and_a_green_answer_with_the_next_write() -> None:
    log: list[tuple[str, Any]] = []
    upgrade, outcome = reboot_outcome()
    writes = _Writes(Store(log))  # type: ignore[arg-type]

    after = engine()._apply(upgrade, outcome, StubGateway(log), writes)  # type: ignore[arg-type]

    # Green serves no production: its reboot is found again by evidence, so its answer folds.
    assert [kind for kind, _ in log] == ["save", "reboot_instance", "event"]
    intent_saved, call, event = (entry for _, entry in log)
    assert (intent_saved.reboots[0].intended_at, intent_saved.reboots[0].requested_at) == (STAMP, None)
    assert intent_saved.call_in_flight == f"Rebooting DB instance {G1}"
    assert call == G1
    assert event == ("Normal", "RebootDBInstance", f"Rebooting DB instance {G1}")
    assert (after.status.reboots[0].intended_at, after.status.reboots[0].requested_at) == (STAMP, STAMP)
    assert after.status.call_in_flight is None
    assert after.status.reason == "RebootingInstance"
    assert after.status.phase == Phase.REBOOTING_GREEN
    assert after.stored == intent_saved  # the store holds the intent until the next write


def test_a_production_reboot_answer_is_written_at_once() -> None:
    """The answer is the only proof that production was rebooted (a lost one is never repeated)."""
    log: list[tuple[str, Any]] = []
    upgrade = make_upgrade(Phase.REBOOTING_INSTANCES, reboots=steps(*INSTANCE_IDS))
    outcome = decide_reboot(upgrade, RebootObservation(instances(engine_version="15.10")), NOW, TIMING)
    writes = _Writes(Store(log))  # type: ignore[arg-type]

    after = engine()._apply(upgrade, outcome, StubGateway(log), writes)  # type: ignore[arg-type]

    assert [kind for kind, _ in log] == ["save", "reboot_instance", "event", "save"]
    final = log[-1][1]
    assert (final.reboots[0].intended_at, final.reboots[0].requested_at) == (STAMP, STAMP)
    assert final.call_in_flight is None
    assert after.status == final and after.stored is None


def test_a_look_that_changes_nothing_writes_nothing() -> None:
    """A fleet's waits would otherwise cost the API server a status write per look; the first
    look records the wait, the next identical one writes nothing, and a call always writes."""
    log: list[tuple[str, Any]] = []
    store = Store(log)
    upgrade, _ = reboot_outcome()
    waiting = wait("WaitingForReboot", f"Waiting for {G1} to restart")

    first = look(upgrade, waiting, StubGateway(log), store)
    assert len(store.saved) == 1 and first.status.reason == "WaitingForReboot"
    again = look(first, waiting, StubGateway(log), store)
    assert len(store.saved) == 1 and again.status == first.status

    _, calling = reboot_outcome()
    look(first, calling, StubGateway(log), store)
    assert [kind for kind, _ in log][-3:] == ["save", "reboot_instance", "event"]


def test_progress_is_written_once_a_phase() -> None:
    """Progress details change from look to look (instance status, task progress): the first is
    written, later ones only with the next write that means something."""
    log: list[tuple[str, Any]] = []
    store = Store(log)
    upgrade, _ = reboot_outcome()
    entry = HistoryEntry(phase=Phase.REBOOTING_GREEN, started_at=STAMP, message="Green is ready; rebooting it")
    upgrade = replace(upgrade, status=upgrade.status.model_copy(update={"history": [entry], "message": entry.message}))

    first = look(upgrade, wait("WaitingForReboot", f"Waiting for {G1}: rebooting"), StubGateway(log), store)
    later = look(first, wait("WaitingForReboot", f"Waiting for {G1}: available"), StubGateway(log), store)

    assert [s.message for s in store.saved] == [f"Waiting for {G1}: rebooting"]
    assert later.status.message == f"Waiting for {G1}: available" and later.stored == first.status
    stalled = look(later, wait("AWSUnavailable", "DescribeDBInstances failed; will retry"), StubGateway(log), store)
    assert [s.reason for s in store.saved][-1] == "AWSUnavailable" and stalled.stored is None


@pytest.mark.parametrize(
    ("error", "keeps_intent", "phase", "reason"),
    [
        # No answer from AWS: the reboot may have happened, so the intent stays for resume to settle.
        pytest.param(
            RdsError(ErrorKind.RETRYABLE, "ReadTimeoutError", "timed out", "RebootDBInstance", answered=False),
            True,
            Phase.REBOOTING_GREEN,
            "RebootDBInstanceRetry",
            id="no-answer-keeps-intent",
        ),
        # AWS answered with a refusal: nothing happened, so the intent is dropped.
        pytest.param(
            RdsError(ErrorKind.INVALID_STATE, "InvalidDBInstanceStateFault", "busy", "RebootDBInstance"),
            False,
            Phase.REBOOTING_GREEN,
            "RebootDBInstanceRetry",
            id="refused-transient-drops-intent",
        ),
        pytest.param(
            RdsError(ErrorKind.TERMINAL, "InvalidParameterCombination", "nope", "RebootDBInstance"),
            False,
            Phase.FAILED,
            "AWSInvalidParameterCombination",
            id="refused-terminal-fails",
        ),
    ],
)
def test_a_failed_call_keeps_the_intent_only_when_aws_did_not_answer(
    error: RdsError, keeps_intent: bool, phase: Phase, reason: str
) -> None:
    log: list[tuple[str, Any]] = []
    upgrade, outcome = reboot_outcome()
    store = Store(log)

    after = look(upgrade, outcome, StubGateway(log, error), store)

    assert [kind for kind, _ in log][:2] == ["save", "reboot_instance"]
    assert store.saved[0].reboots[0].intended_at == STAMP
    step = after.status.reboots[0]
    assert step.intended_at == (STAMP if keeps_intent else None)
    assert step.requested_at is None
    assert (after.status.phase, after.status.reason) == (phase, reason)
    assert ("event", ("Normal", "RebootDBInstance", f"Rebooting DB instance {G1}")) not in log


@dataclass
class SwitchoverStub:
    """Stub: only switchover exists; it raises `error`."""

    error: RdsError

    def switchover(self, identifier: str, timeout_seconds: int) -> None:
        raise self.error


def refused(code: str, operation: str = "X") -> RdsError:
    """AWS's answer with `code`, classified as the gateway classifies it."""
    answer = {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return classify(operation, botocore.exceptions.ClientError(answer, operation))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("InvalidBlueGreenDeploymentStateFault", ErrorKind.INVALID_STATE),
        ("InvalidDBInstanceStateFault", ErrorKind.INVALID_STATE),
        ("BlueGreenDeploymentAlreadyExistsFault", ErrorKind.ALREADY_EXISTS),
        ("DBClusterSnapshotAlreadyExistsFault", ErrorKind.ALREADY_EXISTS),
        ("DBClusterNotFoundFault", ErrorKind.NOT_FOUND),
        ("ThrottlingException", ErrorKind.RETRYABLE),
        ("AccessDenied", ErrorKind.PERMISSION),
        ("AccessDeniedException", ErrorKind.PERMISSION),
        ("ExpiredTokenException", ErrorKind.CREDENTIALS),
        ("InvalidClientTokenId", ErrorKind.CREDENTIALS),
        ("InvalidParameterValue", ErrorKind.TERMINAL),
    ],
)
def test_the_gateway_classifies_aws_error_codes(code: str, kind: ErrorKind) -> None:
    assert refused(code).kind == kind


LONG_REFUSED = rfc3339(NOW - TIMING.refusal_timeout - timedelta(seconds=30))


@pytest.mark.parametrize(
    ("code", "refused_since", "phase", "reason"),
    [
        pytest.param(
            "InvalidBlueGreenDeploymentStateFault",
            None,
            Phase.SWITCHING_OVER,
            "SwitchoverRefused",
            id="transient-state-waits",
        ),
        pytest.param(
            "InvalidBlueGreenDeploymentStateFault",
            LONG_REFUSED,
            Phase.FAILED,
            "SwitchoverRefused",
            id="lasting-state-refusal-fails",
        ),
        pytest.param("InvalidParameterValue", None, Phase.FAILED, "AWSInvalidParameterValue", id="rejected-fails"),
        pytest.param("AccessDenied", None, Phase.SWITCHING_OVER, "PermissionDenied", id="permission-waits"),
        pytest.param(
            "ThrottlingException",
            None,
            Phase.SWITCHING_OVER,
            "SwitchoverBlueGreenDeploymentRetry",
            id="throttled-waits",
        ),
    ],
)
def test_switch_over_only_when_both_sides_are_ready_and_fail_only_on_a_lasting_refusal(
    code: str, refused_since: str | None, phase: Phase, reason: str
) -> None:
    """A switchover refused for a transient state is a wait (AWS answered: nothing happened);
    only a refusal a new attempt cannot fix, or one that lasts past the deadline, fails."""
    from aurora_upgrade.decisions.switchover import SwitchoverObservation, decide_switching

    from .builders import make_blue_green, make_cluster, make_snapshot

    upgrade = make_upgrade(Phase.SWITCHING_OVER, green_cluster_identifier=None, switchover_refused_at=refused_since)
    green = make_cluster("green", engine_version="15.10")
    green_instances = instances(suffix=GREEN_SUFFIX, engine_version="15.10")
    observation = SwitchoverObservation(
        make_blue_green("AVAILABLE"), green, green_instances, make_snapshot(), make_cluster(), instances()
    )
    outcome = decide_switching(upgrade, observation, NOW, TIMING)
    assert outcome.action is not None

    after = look(upgrade, outcome, SwitchoverStub(refused(code, "SwitchoverBlueGreenDeployment")), Store([]))  # type: ignore[arg-type]

    assert (after.status.phase, after.status.reason) == (phase, reason)
    assert after.status.switchover_accepted_at is None
    assert after.status.switchover_requested_at is None  # AWS answered: the next attempt is not a repeat
    assert after.status.switchover_attempt is None  # nor is an attempt recorded for a call that took no effect
    if reason == "SwitchoverRefused" and phase == Phase.SWITCHING_OVER:
        assert after.status.switchover_refused_at == STAMP


@pytest.mark.parametrize(
    ("closed", "reopened", "later"),
    [
        pytest.param(
            {"switchover": {"mode": "Manual", "approved": False}},
            {"switchover": {"mode": "Manual", "approved": True}},
            timedelta(0),
            id="approval-given-again",
        ),
        pytest.param(
            {"switchover": {"window": {"days": ["Fri"], "start": "00:30", "end": "02:00"}}},
            {"switchover": {"window": {"days": ["Fri"], "start": "00:30", "end": "02:00"}}},
            timedelta(days=7),  # next Friday's window, no look having seen it closed
            id="window-opens-again",
        ),
    ],
)
def test_a_refused_switchover_is_retried_in_each_new_opening_of_the_gate(
    closed: dict[str, Any], reopened: dict[str, Any], later: timedelta
) -> None:
    """Through the engine, as status records it: AWS refused the switchover (a transient state)
    longer ago than the refusal timeout, in an earlier opening of the gate. A refusal in the new
    opening is retried (SwitchoverRefused, a wait), not the end of the upgrade."""
    from aurora_upgrade.decisions.switchover import SwitchoverObservation, decide_switching

    from .builders import make_blue_green, make_cluster, make_snapshot, make_spec

    green = make_cluster("green", engine_version="15.10")
    seen = SwitchoverObservation(
        make_blue_green("AVAILABLE"),
        green,
        instances(suffix=GREEN_SUFFIX, engine_version="15.10"),
        make_snapshot(),
        make_cluster(),
        instances(),
    )
    upgrade = make_upgrade(
        Phase.SWITCHING_OVER,
        make_spec(**closed),
        green_cluster_identifier=None,
        switchover_refused_at=LONG_REFUSED,
        waiting_for="SwitchoverRefused",
        waiting_since=LONG_REFUSED,
        snapshot_available_at=rfc3339(NOW + later),  # fresh in the new opening: not retaken (item 7)
    )
    if closed != reopened:  # a look sees the gate closed
        upgrade = look(upgrade, decide_switching(upgrade, seen, NOW, TIMING), None, Store([]))
        assert upgrade.status.reason == "AwaitingApproval"
        upgrade = replace(upgrade, spec=make_spec(**reopened))
    now = NOW + later
    run = Engine(timing=TIMING, clock=lambda: now)
    outcome = decide_switching(upgrade, seen, now, TIMING)
    while outcome.action is None:  # bookkeeping that goes on at once
        upgrade = look(upgrade, outcome, None, Store([]), run)
        outcome = decide_switching(upgrade, seen, now, TIMING)
    refusal = SwitchoverStub(refused("InvalidBlueGreenDeploymentStateFault", "SwitchoverBlueGreenDeployment"))

    after = look(upgrade, outcome, refusal, Store([]), run)  # type: ignore[arg-type]

    assert (after.status.phase, after.status.reason) == (Phase.SWITCHING_OVER, "SwitchoverRefused")
    assert after.status.switchover_refused_at == rfc3339(now)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        pytest.param(Phase.REBOOTING_GREEN, Phase.FAILED, id="before-switchover-fails"),
        pytest.param(Phase.REBOOTING_INSTANCES, Phase.REBOOTING_INSTANCES, id="after-switchover-stalls"),
    ],
)
def test_a_refused_write_after_switchover_stalls_instead_of_failing(phase: Phase, expected: Phase) -> None:
    upgrade = make_upgrade(phase, reboots=steps(G1, G2))
    outcome = decide_reboot(upgrade, RebootObservation(instances(suffix=GREEN_SUFFIX)), NOW, TIMING)
    gateway = StubGateway([], refused("InvalidParameterCombination", "RebootDBInstance"))

    after = look(upgrade, outcome, gateway, Store([]))  # type: ignore[arg-type]

    assert after.status.phase == expected
    if expected != Phase.FAILED:
        assert after.status.reason == "RebootDBInstanceRetry"


def test_a_refused_read_after_switchover_stalls() -> None:
    stalled = read_failed(refused("InvalidParameterValue"), stall=True)
    failed = read_failed(refused("InvalidParameterValue"), stall=False)

    assert (stalled.phase, stalled.warning, waits(stalled)) == (None, True, True)
    assert failed.phase == Phase.FAILED


@pytest.mark.parametrize(
    ("code", "untouched", "stall", "phase", "reason"),
    [
        pytest.param("AccessDenied", True, False, Phase.FAILED, "PermissionDenied", id="denied-before-any-change"),
        pytest.param("ExpiredTokenException", True, False, Phase.FAILED, "AWSCredentialsInvalid", id="expired"),
        pytest.param("AccessDenied", False, False, None, "PermissionDenied", id="denied-once-green-exists"),
        pytest.param("AccessDenied", False, True, None, "PermissionDenied", id="denied-after-switchover"),
    ],
)
def test_refused_permissions_and_credentials_are_not_aws_unavailable(
    code: str, untouched: bool, stall: bool, phase: Phase | None, reason: str
) -> None:
    """Before anything was created, refused permissions or credentials fail the upgrade naming
    the IAM action to allow; afterwards they stall with a Warning that says what to fix."""
    outcome = read_failed(refused(code, "DescribeDBClusters"), stall=stall, untouched=untouched)

    assert (outcome.phase, outcome.reason) == (phase, reason)
    assert "rds:DescribeDBClusters" in outcome.message
    assert "will retry" not in outcome.message
    if phase is None:
        assert (outcome.warning, waits(outcome)) == (True, True)
        assert outcome.message.endswith("the upgrade waits until this is fixed")


def test_two_writers_never_both_act() -> None:
    """A call recorded as sent and not yet answered (by this or another writer) is waited for,
    not decided on again; a mark left by a writer that died lapses after the consistency grace."""
    from aurora_upgrade.decisions.outcome import call_in_flight

    young = make_upgrade(Phase.CLEANING_UP, call_in_flight="Deleting blue/green deployment bgd-1", call_sent_at=STAMP)
    waiting = call_in_flight(young, NOW, TIMING)
    assert waiting is not None and (waiting.reason, waiting.action) == ("CallInFlight", None)
    stale = rfc3339(NOW - TIMING.consistency_grace - timedelta(seconds=1))
    old = make_upgrade(Phase.CLEANING_UP, call_in_flight="Deleting blue/green deployment bgd-1", call_sent_at=stale)
    assert call_in_flight(old, NOW, TIMING) is None


def test_a_call_is_marked_in_flight_while_it_is_sent() -> None:
    log: list[tuple[str, Any]] = []
    upgrade, outcome = reboot_outcome()

    after = look(upgrade, outcome, StubGateway(log), Store(log))  # type: ignore[arg-type]

    claimed = log[0][1]
    assert (claimed.call_in_flight, claimed.call_sent_at) == (f"Rebooting DB instance {G1}", STAMP)
    assert (after.status.call_in_flight, after.status.call_sent_at) == (None, None)


def test_upgrades_looked_at_in_many_threads_at_once_share_one_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's first reconciles run in kopf's executor threads at once: every one of them
    must get the Region's one gateway (a gateway made beside it loads botocore's models again,
    which took the operator of ten upgrades from 112 to 270 MiB, and shares no reads)."""
    import threading
    import time

    from aurora_upgrade import engine
    from aurora_upgrade.gateway.rds import RdsGateway

    made: list[tuple[object, ...]] = []

    def slow_for_region(*key: object) -> object:
        made.append(key)
        time.sleep(0.05)  # as long as botocore takes to load a client's models, or longer
        return object()

    monkeypatch.setattr(engine, "_GATEWAYS", {})
    monkeypatch.setattr(RdsGateway, "for_region", staticmethod(slow_for_region))
    upgrade = make_upgrade(Phase.PRECHECKING)
    start = threading.Barrier(16)
    got: list[object] = []

    def look() -> None:
        start.wait()
        got.append(engine.default_gateways(upgrade))

    threads = [threading.Thread(target=look) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(made) == 1
    assert len({id(g) for g in got}) == 1 and len(got) == 16


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(None, id="no-status"),
        # What the API server shows before the operator's first write: the CRD's status default.
        pytest.param(parse_status({"observedGeneration": 0, "phase": "Pending"}), id="the-crd-default"),
    ],
)
def test_a_new_upgrade_is_accepted_with_its_first_status_and_an_accepted_event(
    stored: AuroraUpgradeStatus | None,
) -> None:
    store = Store([])
    upgrade = make_upgrade(Phase.PENDING)

    accepted = engine().accept(upgrade.name, upgrade.namespace, upgrade.uid, 1, upgrade.spec, stored, store)  # type: ignore[arg-type]

    assert [entry[1][1] for entry in store.log if entry[0] == "event"] == ["Accepted"]
    assert store.saved == [accepted.status]
    assert (accepted.status.phase, accepted.status.reason, accepted.status.observed_generation) == (
        Phase.PENDING, "Created", 1,
    )  # fmt: skip
    assert accepted.status.started_at == STAMP and [h.phase for h in accepted.status.history] == [Phase.PENDING]


def test_an_upgrade_already_accepted_is_not_accepted_again() -> None:
    store = Store([])
    upgrade = make_upgrade(Phase.PROVISIONING_GREEN)
    status = upgrade.status.model_copy(update={"observed_generation": 1})

    accepted = engine().accept(upgrade.name, upgrade.namespace, upgrade.uid, 1, upgrade.spec, status, store)  # type: ignore[arg-type]

    assert store.log == [] and accepted.status == status


def test_a_spec_refused_before_the_first_write_fails_from_a_first_status() -> None:
    store = Store([])
    unobserved = parse_status({"observedGeneration": 0, "phase": "Pending"})

    engine().reject(unobserved, 1, InvalidManifest("spec.switchover.window.timeZone: unknown"), store)  # type: ignore[arg-type]

    [saved] = store.saved
    assert (saved.phase, saved.reason, saved.observed_generation) == (Phase.FAILED, "InvalidSpec", 1)
    assert [h.phase for h in saved.history] == [Phase.PENDING, Phase.FAILED]


@dataclass
class InstancesStub:
    """Stub: production's instances with these statuses, no restart event, and reboot_instance
    logged (these tests expect it never to be called)."""

    log: list[tuple[str, Any]]
    statuses: tuple[str, ...]
    suffix: str = ""

    def describe_cluster_instances(self, cluster: str) -> Any:
        return instances(*self.statuses, suffix=self.suffix, engine_version="15.10")

    def instance_restarts_asked(self, instance: str, since: Any) -> Any:
        return ()

    def instance_restarts_since(self, instance: str, since: Any) -> Any:
        return ()

    def reboot_instance(self, identifier: str) -> None:
        self.log.append(("reboot_instance", identifier))


def lost_reboot(phase: Phase = Phase.REBOOTING_INSTANCES) -> Any:
    """A reboot of the first instance whose answer was lost a moment ago: its intent and the
    in-flight mark are in status, its answer is not."""
    young = rfc3339(NOW - timedelta(seconds=2))
    first, second = (i + (GREEN_SUFFIX if phase == Phase.REBOOTING_GREEN else "") for i in INSTANCE_IDS)
    return make_upgrade(
        phase,
        reboots=steps({"instance": first, "intended_at": young}, second),
        call_in_flight=f"Rebooting DB instance {first}",
        call_sent_at=young,
        green_cluster_identifier="aurora-bg-aurora-cluster" + GREEN_SUFFIX,
    )


def test_a_reboot_whose_answer_was_lost_is_looked_at_during_the_in_flight_grace() -> None:
    """`rebooting` shows for a moment only: the look during the call's in-flight grace sees it
    and records the reboot as found, and nothing is called."""
    log: list[tuple[str, Any]] = []
    stub = InstancesStub(log, ("rebooting", "available"))
    eng = Engine(timing=TIMING, clock=lambda: NOW, gateways=lambda _u: stub)  # type: ignore[arg-type,return-value]

    after, _ = eng.reconcile(lost_reboot(), Store(log))

    step = after.status.reboots[0]
    assert (step.requested_at, step.rebooting_seen_at) == (STAMP, STAMP)
    assert ("reboot_instance", INSTANCE_IDS[0]) not in log
    assert not [entry for entry in log if entry[0] == "reboot_instance"]


@pytest.mark.parametrize("phase", [Phase.REBOOTING_GREEN, Phase.REBOOTING_INSTANCES], ids=str)
def test_nothing_is_called_while_another_call_may_be_in_flight(phase: Phase) -> None:
    """Green's next reboot would be asked for at once; in flight, the look calls nothing."""
    log: list[tuple[str, Any]] = []
    stub = InstancesStub(log, ("available", "available"), GREEN_SUFFIX if phase == Phase.REBOOTING_GREEN else "")
    eng = Engine(timing=TIMING, clock=lambda: NOW, gateways=lambda _u: stub)  # type: ignore[arg-type,return-value]

    after, _ = eng.reconcile(lost_reboot(phase), Store(log))

    assert not [entry for entry in log if entry[0] == "reboot_instance"]
    assert after.status.reason in ("CallInFlight", "CheckingEarlierReboot")


def test_a_snapshot_setting_changed_after_the_switchover_call_is_ignored_with_a_warning_event() -> None:
    """Issue 18, item 7: snapshotBeforeSwitchover turned off after the switchover (on when the
    call was sent): before anything is read, a Warning says it is ignored, once per value."""
    from .builders import ago, make_spec

    upgrade = make_upgrade(
        Phase.VERIFYING,
        make_spec(switchover={"snapshotBeforeSwitchover": False}),
        switchover_requested_at=ago(600),
        switchover_attempt=1,
        switchover_completed_at=ago(300),
        snapshot_before_switchover=True,
    )
    outcome, gateway = engine()._decide(upgrade, None)
    assert (outcome.reason, outcome.action, gateway) == ("SnapshotSettingIgnored", None, None)

    store = Store([])
    after = look(upgrade, outcome, None, store)
    warnings = [e[1] for k, e in store.log if k == "event" and e[0] == "Warning"]
    assert warnings == ["SnapshotSettingIgnored"]
    assert after.status.ignored_snapshot_setting is False
    assert switchover.snapshot_setting_ignored(after) is None, "said once"
