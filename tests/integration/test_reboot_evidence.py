"""Reboots decided on evidence from AWS, not on hope (issue 18, items 1 and 5): the runbook's
upgrade in-process against the simulator, with the gateway losing one answer after the call took
effect, hiding what AWS emits on a best-effort basis, or production's instances changing after
switchover. Counted are the calls the simulator carried out (its call record)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.gateway.rds import RdsGateway
from aurora_upgrade.resources import ErrorKind, Instance, RdsError
from aurora_upgrade.runner import run_manifest
from aurora_upgrade.sim import SimConfig, SimServer
from support.runbook import CLUSTER, INSTANCES, REGION, runbook_manifest
from support.sim import OBSERVABLE, QUICK, SimFactory, sim_client

TIMING = Timing.compressed(0.1 / 30)  # a poll of 0.1 s; the consistency grace keeps its 5 s floor
WRITER = INSTANCES[0]  # production's first instance after switchover (blue's had the same name)


class ProductionGateway(RdsGateway):
    """The gateway, with hooks on production's reboots after switchover: `after_reboot` runs
    once RebootDBInstance of `instance` took effect; with `lose_answer` its first answer is lost
    (a read timeout), and AWS's events of its restart are missing (events are best effort); with
    `too_quick` no describe shows it `rebooting`."""

    instance = WRITER
    lose_answer = False
    lost = False
    too_quick = False
    after_reboot: Callable[[], None] | None = None

    def reboot_instance(self, identifier: str) -> None:
        super().reboot_instance(identifier)
        if identifier != self.instance:
            return
        if self.after_reboot is not None:
            self.after_reboot()
        if self.lose_answer and not self.lost:
            self.lost = True
            raise RdsError(ErrorKind.RETRYABLE, "ReadTimeoutError", "timed out", "RebootDBInstance", answered=False)

    def describe_cluster_instances(self, cluster: str) -> list[Instance]:
        found = super().describe_cluster_instances(cluster)
        if not self.too_quick:
            return found
        return [Instance(**{**vars(i), "status": "available"}) if i.identifier == self.instance else i for i in found]

    def _missing(self, instance: str) -> bool:
        return self.lose_answer and instance == self.instance

    def instance_restarts_since(self, instance: str, since: datetime) -> list[datetime]:
        return [] if self._missing(instance) else super().instance_restarts_since(instance, since)

    def instance_restarts_asked(self, instance: str, since: datetime) -> list[datetime]:
        return [] if self._missing(instance) else super().instance_restarts_asked(instance, since)


@dataclass
class BoundedEngine(Engine):
    """The engine, for a test: an upgrade that has not finished in `seconds` fails the test
    (one stalled after switchover would otherwise keep looking)."""

    seconds: float = 120.0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def reconcile(self, *args: Any, **kwargs: Any) -> Any:
        assert time.monotonic() < self.deadline, "the upgrade did not finish in time"
        return super().reconcile(*args, **kwargs)


def run(sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **hooks: Any) -> tuple[int, str, Path]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", sim.endpoint_url)
    hooked = {k: staticmethod(v) if callable(v) else v for k, v in hooks.items()}
    gateway = type("Hooked", (ProductionGateway,), hooked).for_region(REGION)
    engine = BoundedEngine(timing=TIMING, gateways=lambda _u: gateway)
    out, state = io.StringIO(), tmp_path / "state.json"
    code = run_manifest(runbook_manifest(), state, TIMING, engine, out)
    return code, out.getvalue(), state


def reboots_carried_out(sim: SimServer) -> dict[str, int]:
    """RebootDBInstance calls that took effect, by instance."""
    counted: dict[str, int] = {}
    for call in sim.calls():
        if call["operation"] == "RebootDBInstance" and call["outcome"] == "ok":
            name = call["params"]["DBInstanceIdentifier"]
            counted[name] = counted.get(name, 0) + 1
    return counted


@pytest.mark.parametrize(
    ("config", "too_quick"),
    [pytest.param(OBSERVABLE, False, id="rebooting-seen"), pytest.param(QUICK, True, id="no-sign-at-all")],
)
def test_a_lost_reboot_answer_never_reboots_production_twice(
    make_sim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: SimConfig, too_quick: bool
) -> None:
    """The answer to production's reboot lost after AWS carried it out, its restart events
    missing: seen `rebooting` during the in-flight grace it is found; with no sign at all it is
    recorded unconfirmed, and the Completed message says so. Either way, one reboot."""
    sim = make_sim(config=config)

    code, output, state = run(sim, tmp_path, monkeypatch, lose_answer=True, too_quick=too_quick)

    assert code == 0, output
    assert reboots_carried_out(sim) == {name: 1 for name in reboots_carried_out(sim)}
    assert reboots_carried_out(sim)[WRITER] == 1
    status = json.loads(state.read_text())["status"]
    if too_quick:
        assert status["unconfirmedReboots"] == [WRITER]
        assert f"Reboot not confirmed after switchover: {WRITER}" in status["message"]
        assert "RebootUnconfirmed" in output
    else:
        assert "RebootUnconfirmed" not in output and not status["unconfirmedReboots"]


def test_production_instances_changing_after_switchover_never_fail_the_upgrade(
    make_sim: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While production's first instance reboots, a person deletes the second and auto scaling
    adds a third: the second is skipped, the third never rebooted, the upgrade completes with
    Warnings naming them."""
    sim = make_sim(config=QUICK)
    rds = sim_client(sim)
    added = "aurora-bg-aurora-instance-3"

    def change_members() -> None:
        rds.delete_db_instance(DBInstanceIdentifier=INSTANCES[1], SkipFinalSnapshot=True)
        rds.create_db_instance(
            DBInstanceIdentifier=added,
            DBClusterIdentifier=CLUSTER,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )

    code, output, state = run(sim, tmp_path, monkeypatch, after_reboot=change_members)

    assert code == 0, output
    assert "InstanceGone" in output and INSTANCES[1] in output
    assert "InstancesChanged" in output and added in output
    assert added not in reboots_carried_out(sim)
    assert json.loads(state.read_text())["status"]["phase"] == "Completed"
