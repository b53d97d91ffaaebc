"""A switchover AWS did not carry out, through the engine against the simulator (issue 18,
item 2): after a switchover call whose answer was lost and a deployment AVAILABLE again, the
upgrade holds for a person and sends nothing; re-applying the same manifest authorises nothing;
raising spec.switchover.attempt authorises exactly one more call, and the upgrade completes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from aurora_upgrade.clock import rfc3339
from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.models import AuroraUpgradeStatus, parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.upgrade import Upgrade
from support.runbook import runbook_manifest
from support.sim import SimFactory

SWITCHOVER = "SwitchoverBlueGreenDeployment"


@dataclass
class Recorded:
    """The Store of a test: the last status saved and every Event."""

    status: AuroraUpgradeStatus | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)
    folds: bool = True  # as the operator's KubeStore

    def save(self, status: AuroraUpgradeStatus) -> None:
        self.status = status

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


def run_until(engine: Engine, upgrade: Upgrade, store: Recorded, done: str, seconds: float = 60) -> Upgrade:
    """Reconcile until status.reason (or phase) is `done`, as the operator's daemon would."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        upgrade, delay = engine.reconcile(upgrade, store)
        if done in (upgrade.status.reason, upgrade.status.phase):
            return upgrade
        if delay is None:
            break
        time.sleep(min(delay, 0.2))
    raise AssertionError(
        f"never reached {done}: {upgrade.status.phase} {upgrade.status.reason} {upgrade.status.message}"
    )


def with_attempt(upgrade: Upgrade, attempt: int, generation: int) -> Upgrade:
    """The manifest applied again (Argo CD, Flux, kubectl), with spec.switchover.attempt."""
    spec = upgrade.spec.model_copy(
        update={"switchover": upgrade.spec.switchover.model_copy(update={"attempt": attempt})}
    )
    return replace(upgrade, spec=spec, generation=generation)


def test_a_second_switchover_is_never_sent_without_a_person(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    timing = Timing.compressed(0.1 / 30)  # a poll of 0.1 s, every deadline alike
    engine = Engine(timing=timing, gateways=lambda u: RdsGateway.for_region(u.spec.region))
    manifest = runbook_manifest(switchover={"mode": "Manual", "approved": False, "snapshotBeforeSwitchover": False})
    store = Recorded()
    spec = parse_spec(manifest["spec"])
    upgrade = engine.accept("switch", "default", "5e1f0c2a-0000-4000-8000-00000000a7e1", 1, spec, None, store)
    upgrade = run_until(engine, upgrade, store, "AwaitingApproval")

    # Approved, and a switchover call recorded whose answer was lost and that AWS never carried
    # out: the deployment stays AVAILABLE, blue keeps production's name.
    approved = upgrade.spec.model_copy(
        update={"switchover": upgrade.spec.switchover.model_copy(update={"approved": True})}
    )
    lost = rfc3339(datetime.now(UTC) - 2 * timing.consistency_grace - timedelta(seconds=1))
    status = upgrade.status.model_copy(
        update={"phase": Phase.SWITCHING_OVER, "switchover_requested_at": lost, "switchover_attempt": 1}
    )
    upgrade = replace(upgrade, spec=approved, generation=2, status=status)
    upgrade = run_until(engine, upgrade, store, "SwitchoverNotCarriedOut")
    assert SWITCHOVER not in sim.mutating_calls()
    assert any(e[0] == "Warning" and e[1] == "SwitchoverNotCarriedOut" for e in store.events)
    assert "set spec.switchover.attempt: 2" in (upgrade.status.message or "")

    # The same manifest applied again authorises nothing.
    upgrade = with_attempt(upgrade, 1, generation=3)
    for _ in range(3):
        upgrade, _delay = engine.reconcile(upgrade, store)
    assert (upgrade.status.phase, upgrade.status.reason) == (Phase.SWITCHING_OVER, "SwitchoverNotCarriedOut")
    assert SWITCHOVER not in sim.mutating_calls()

    # Raising the attempt authorises exactly one call, recorded with its number.
    upgrade = run_until(engine, with_attempt(upgrade, 2, generation=4), store, Phase.COMPLETED)
    assert sim.mutating_calls().count(SWITCHOVER) == 1
    assert upgrade.status.switchover_attempt == 2
    assert any(e[1] == SWITCHOVER and "attempt 2" in e[2] for e in store.events)


def test_deleting_after_a_failed_switchover_deletes_green_only_on_names_proof(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, item 3: AWS rolled the switchover back (SWITCHOVER_FAILED). The upgrade ends
    Failed only because names and versions prove blue is still production, and deleting it
    (deletionPolicy Abort) deletes the deployment with its target on the same proof, read from
    AWS by the finalizer: production's name on blue's resource id at 15.6, green under its own."""
    sim = make_sim(scenario="runbook-switchover-fails")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    timing = Timing.compressed(0.1 / 30)
    engine = Engine(timing=timing, gateways=lambda u: RdsGateway.for_region(u.spec.region))
    store = Recorded()
    spec = parse_spec(runbook_manifest()["spec"])
    upgrade = engine.accept("rolled-back", "default", "5e1f0c2a-0000-4000-8000-00000000b0b1", 1, spec, None, store)
    upgrade = run_until(engine, upgrade, store, Phase.FAILED)
    assert upgrade.status.reason == "BlueGreenSwitchoverFailed"
    assert "names and versions show blue is still production" in (upgrade.status.message or "")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delay = engine.finalize(upgrade, store)
        assert store.status is not None
        upgrade = replace(upgrade, status=store.status)
        if delay is None:
            break
        time.sleep(min(delay, 0.2))
    else:
        raise AssertionError(f"the finalizer never let go: {upgrade.status.reason} {upgrade.status.message}")

    deletes = [c["params"] for c in sim.calls() if c["operation"] == "DeleteBlueGreenDeployment"]
    assert len(deletes) == 1 and str(deletes[0].get("DeleteTarget")).lower() == "true", deletes
    assert (upgrade.status.phase, upgrade.status.reason) == (Phase.ABORTED, "Aborted")
    assert not any(e[1] == "GreenLeftInAWS" for e in store.events)
