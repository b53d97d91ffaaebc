"""Issue 19 through the engine against the simulator: spec.validation's checks and the database
guardrails, run by the process's job runner (validation_jobs.py, real threads) and picked up by
later looks, gate what the simulator is asked to do.

The probe is a fake (support/fake_probe.py): the simulator's clusters have no PostgreSQL behind
their endpoints here; the real probe against real servers is the database gateway's own tests'.
What is asserted is what a user sees: phase, reason, status.validation, Events, and the calls
the simulator answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.config import Timing
from aurora_upgrade.database import Guardrail
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase, switchover_may_have_started
from aurora_upgrade.sim import SimServer
from aurora_upgrade.upgrade import Upgrade
from aurora_upgrade.validation_jobs import Validations
from support.fake_probe import FakeProbe, finding
from support.runbook import runbook_manifest
from support.sim import Recorded, SimFactory

from .runcli import run_cli, write_manifest

SNAPSHOT = "CreateDBClusterSnapshot"
SWITCHOVER = "SwitchoverBlueGreenDeployment"
CREATE = "CreateBlueGreenDeployment"
VALIDATION = {
    "database": {"name": "app"},
    "checks": [
        {"name": "orders-readable", "sql": "select count(*) > 0 from orders"},
        {"name": "smoke-tests", "webhook": {"url": "https://smoke.internal/run"}, "timeoutSeconds": 60},
    ],
}


def _engine(sim: SimServer, probe: FakeProbe, monkeypatch: pytest.MonkeyPatch, woken: threading.Event) -> Engine:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    timing = Timing.compressed(0.1 / 30)  # a poll of 0.1 s, every deadline alike
    jobs = Validations(probes=lambda _u: probe, on_done=lambda _ref: woken.set())
    return Engine(timing=timing, gateways=lambda u: RdsGateway.for_region(u.spec.region), databases=jobs)


def _run(
    engine: Engine, upgrade: Upgrade, store: Recorded, woken: threading.Event, done: Callable[[Upgrade], bool]
) -> Upgrade:
    """Reconcile as `aurora-upgrade run` does (woken when a database job finishes) until `done`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        woken.clear()
        upgrade, delay = engine.reconcile(upgrade, store)
        if done(upgrade):
            return upgrade
        if delay is None:
            break
        woken.wait(min(delay, 0.2))
    status = upgrade.status
    raise AssertionError(f"never got there: {status.phase} {status.reason} {status.message}")


def _start(sim: SimServer, probe: FakeProbe, monkeypatch: pytest.MonkeyPatch, name: str, **spec: Any) -> Any:
    woken = threading.Event()
    engine = _engine(sim, probe, monkeypatch, woken)
    store = Recorded()
    parsed = parse_spec(runbook_manifest(**spec)["spec"])
    upgrade = engine.accept(
        name, "default", f"5e1f0c2a-0000-4000-8000-{abs(hash(name)) % 10**12:012d}", 1, parsed, None, store
    )
    return engine, store, upgrade, woken


def test_passing_checks_and_guardrails_let_the_runbook_upgrade_complete(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, probe = make_sim(), FakeProbe()
    engine, store, upgrade, woken = _start(sim, probe, monkeypatch, "validated", validation=VALIDATION)
    upgrade = _run(engine, upgrade, store, woken, lambda u: u.status.phase == Phase.COMPLETED)

    phases = [h.phase for h in upgrade.status.history]
    assert phases.index(Phase.VALIDATING) == phases.index(Phase.REBOOTING_GREEN) + 1
    assert phases.index(Phase.SNAPSHOTTING) == phases.index(Phase.VALIDATING) + 1
    assert (probe.count("before_create"), probe.count("run_check"), probe.count("before_switchover")) == (1, 2, 2)
    assert [a[1] for a in probe.asked if a[0] == "run_check"] == ["orders-readable", "smoke-tests"]
    assert upgrade.status.blue_catalog_fingerprint == "catalog-1"
    assert {(e.name, e.on, e.result) for e in upgrade.status.validation} >= {
        ("orders-readable", "green", "Passed"),
        ("smoke-tests", "green", "Passed"),
    }
    (validated,) = [c for c in upgrade.status.conditions if c.type == "Validated"]
    assert validated.status == "True"
    passed = [e for e in store.events if e[1] == "ValidationCheckPassed"]
    assert [e[0] for e in passed] == ["Normal", "Normal"]
    # The guardrails right before the call precede it: the check was the last thing before the switchover.
    assert sim.mutating_calls().count(SWITCHOVER) == 1


def test_a_failing_check_holds_in_validating_and_nothing_is_snapshotted_or_switched_over(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, probe = make_sim(), FakeProbe(checks={"orders-readable": "Failed"})
    engine, store, upgrade, woken = _start(sim, probe, monkeypatch, "unverified", validation=VALIDATION)
    upgrade = _run(engine, upgrade, store, woken, lambda u: u.status.reason == "ValidationFailed")
    for _ in range(5):  # more looks change nothing: it waits for a person
        upgrade, _delay = engine.reconcile(upgrade, store)

    assert (upgrade.status.phase, upgrade.status.reason) == (Phase.VALIDATING, "ValidationFailed")
    assert "orders-readable on green: Failed" in (upgrade.status.message or "")
    assert SWITCHOVER not in sim.mutating_calls() and SNAPSHOT not in sim.mutating_calls()
    assert probe.count("run_check") == 1, "the checks after a failed one do not run, and it is not run again"
    warnings = [e for e in store.events if e[:2] == ("Warning", "ValidationFailed")]
    assert len(warnings) == 1 and "orders-readable" in warnings[0][2]

    # The user fixes green and applies the manifest again with a change: the checks run again.
    probe.checks.clear()
    upgrade = replace(upgrade, generation=2)
    upgrade = _run(engine, upgrade, store, woken, lambda u: u.status.phase == Phase.COMPLETED)
    assert probe.count("run_check") == 1 + 2
    assert sim.mutating_calls().count(SWITCHOVER) == 1


def test_an_enforced_guardrail_on_blue_fails_prechecking_with_no_mutating_call(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim()
    probe = FakeProbe(create=(finding(Guardrail.TABLES_WITHOUT_PRIMARY_KEY),))
    engine, store, upgrade, woken = _start(sim, probe, monkeypatch, "no-pk", validation=VALIDATION)
    upgrade = _run(engine, upgrade, store, woken, lambda u: u.status.phase == Phase.FAILED)

    assert (upgrade.status.failed_phase, upgrade.status.reason) == (Phase.PRECHECKING, "TablesWithoutPrimaryKey")
    assert sim.mutating_calls() == []
    assert probe.count("run_check") == 0


def test_a_long_transaction_right_before_the_call_holds_there_until_it_ends(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim()
    long_tx = (finding(Guardrail.LONG_RUNNING_TRANSACTIONS, transient=True),)
    # Validating's run and the first look before the call see it; the next one does not.
    probe = FakeProbe(switchover=[long_tx, long_tx, ()])
    engine, store, upgrade, woken = _start(sim, probe, monkeypatch, "long-tx", validation=VALIDATION)
    upgrade = _run(engine, upgrade, store, woken, lambda u: u.status.reason == "LongRunningTransactions")

    assert upgrade.status.phase == Phase.SWITCHING_OVER, "held where it was checked"
    assert not switchover_may_have_started(upgrade.status)
    assert SWITCHOVER not in sim.mutating_calls()
    assert any(e[:2] == ("Warning", "LongRunningTransactions") for e in store.events)

    upgrade = _run(engine, upgrade, store, woken, lambda u: u.status.phase == Phase.COMPLETED)
    assert probe.count("before_switchover") == 3
    assert sim.mutating_calls().count(SWITCHOVER) == 1


@pytest.mark.parametrize(
    ("validation", "detail"),
    [
        pytest.param({}, "checks nothing", id="empty"),
        pytest.param({"checks": [VALIDATION["checks"][0]]}, "SQL checks need validation.database", id="no-database"),
    ],
)
def test_run_refuses_an_unusable_validation_block_before_any_call(
    make_sim: SimFactory, tmp_path: Path, validation: dict[str, Any], detail: str
) -> None:
    """No API server checks `aurora-upgrade run`'s manifest: it refuses it itself (exit 2)."""
    sim = make_sim()
    result = run_cli(sim, write_manifest(tmp_path, {"validation": validation}), tmp_path / "state.json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "spec.validation" in result.stderr and detail in result.stderr, result.stderr
    assert sim.calls() == []
