"""Fixtures for tests against the simulated RDS API (aurora_upgrade.sim), shared by the sim and
integration tiers (their conftest.py brings them in).

Only simulator fixtures live here. Each starts a SimServer on a free port and stops it at
teardown; moto's state is process-wide, so a test uses one simulator at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from aurora_upgrade.models import AuroraUpgradeStatus
from aurora_upgrade.sim import RoleTrust, SimConfig, SimServer, rds_client

SIM_REGION = "ap-northeast-1"

# For tests that look at the simulator's states on the way (creating, rebooting, deleting,
# not found yet): each lasts long enough for several calls on a busy machine, because a
# window a test must hit in time is a flaky test.
OBSERVABLE = SimConfig(
    provisioning_seconds=2.5,
    switchover_seconds=2.0,
    reboot_seconds=2.0,
    snapshot_seconds=1.5,
    delete_seconds=2.0,
    not_found_after_create_seconds=1.5,
)
# For tests that only need an upgrade to run through, not to catch a state on the way.
QUICK = SimConfig(
    provisioning_seconds=1.0,
    switchover_seconds=0.5,
    reboot_seconds=0.3,
    snapshot_seconds=0.3,
    delete_seconds=0.3,
    not_found_after_create_seconds=0.3,
)

# For whole upgrades through `aurora-upgrade run` that should still take a few seconds (the
# simulator's own defaults keep the runbook's minutes).
FAST = SimConfig(
    provisioning_seconds=2.0,
    switchover_seconds=1.0,
    reboot_seconds=0.5,
    snapshot_seconds=0.5,
    delete_seconds=0.5,
    not_found_after_create_seconds=0.5,
)

SimFactory = Callable[..., SimServer]


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    """Start a simulator: make_sim(config=..., scenario=..., roles=...) -> a running SimServer."""
    started: list[SimServer] = []

    def factory(
        config: SimConfig = QUICK, scenario: str | Mapping[str, Any] = "runbook", roles: RoleTrust | None = None
    ) -> SimServer:
        server = SimServer(config=config, scenario=scenario, port=0, roles=roles).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def sim_server(make_sim: SimFactory) -> SimServer:
    """The runbook's account (with the delays of the module's make_sim)."""
    return make_sim()


def sim_client(server: SimServer) -> Any:
    """A boto3 RDS client for `server`, with the throwaway credentials the simulator accepts."""
    return rds_client(server.endpoint_url, SIM_REGION)


@pytest.fixture
def rds(sim_server: SimServer) -> Any:
    """A boto3 RDS client of `sim_server`."""
    return sim_client(sim_server)


@pytest.fixture
def client_for() -> Callable[[SimServer], Any]:
    """Make boto3 RDS clients for simulators started with make_sim."""
    return sim_client


class Recorded:
    """The engine's Store, in memory: the last status saved and the events."""

    folds = True  # as the operator's KubeStore

    def __init__(self) -> None:
        self.status: AuroraUpgradeStatus | None = None
        self.events: list[tuple[str, str, str]] = []

    def save(self, status: AuroraUpgradeStatus) -> None:
        self.status = status

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))
