"""The per-Region limit on upgrades creating green at once (AURORA_UPGRADE_MAX_CREATING_PER_REGION=1
here): of two upgrades applied together, one creates green and the other waits in
CreateLimitReached until that green is available, then creates its own. The simulator's record
and transitions say when each create came and when green was ready; no create overlapped."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kopf.testing import KopfRunner
from kopf_tier import Sim, Upgrades, fleet_cluster, kopf_runner, standard_streams

MANUAL = {"switchover": {"mode": "Manual", "timeoutSeconds": 300}}


@pytest.fixture(scope="module")
def operator(operator_env: None, upgrades: Upgrades) -> Iterator[KopfRunner]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AURORA_UPGRADE_MAX_CREATING_PER_REGION", "1")
        with standard_streams(), kopf_runner(upgrades.namespace, "--standalone") as runner:
            yield runner
    assert runner.exit_code == 0, runner.output


def test_the_second_upgrade_waits_for_the_first_green_then_creates_its_own(
    operator: KopfRunner, upgrades: Upgrades, sim: Sim
) -> None:
    start = len(sim.calls())
    seen: dict[str, set[str]] = {"first": set(), "second": set()}
    done = threading.Event()

    def watch() -> None:  # the reasons each status showed on the way
        while not done.wait(0.05):
            for name in seen:
                reason = upgrades.status(name).get("reason")
                if reason:
                    seen[name].add(reason)

    watcher = threading.Thread(target=watch, daemon=True)
    upgrades.apply("first", fleet_cluster(7), **MANUAL)
    upgrades.apply("second", fleet_cluster(8), **MANUAL)
    watcher.start()
    try:
        ready = {name: upgrades.wait_reason(name, "AwaitingApproval", timeout=90) for name in seen}
    finally:
        done.set()
        watcher.join()

    creates = [c for c in sim.calls()[start:] if c["operation"] == "CreateBlueGreenDeployment"]
    assert [c["outcome"] for c in creates] == ["ok", "ok"], creates
    waited = [name for name, reasons in seen.items() if "CreateLimitReached" in reasons]
    assert len(waited) == 1, seen
    first_creator = next(name for name in seen if name not in waited)
    assert "CreateLimitReached" not in seen[first_creator]
    earlier = ready[first_creator]["blueGreenDeploymentIdentifier"]
    provisioned = [t["time"] for t in sim.transitions() if t["label"] == f"{earlier} provisioned"]
    # The waiting one created only once the other's green was available: never two creating.
    assert provisioned and creates[1]["time"] >= provisioned[0], (creates, provisioned)
