"""The simulated RDS backend, assembled from its areas, and its place in moto's registry."""

from __future__ import annotations

import time
from collections.abc import Iterator

from moto.rds.models import RDSBackend, rds_backends

from .bluegreen import BlueGreenDeployments
from .simulation import Simulation, activate, deactivate


class SimRDSBackend(BlueGreenDeployments):
    """moto's RDS backend with AWS's timing and the blue/green behaviour of Aurora.

    Each area builds on the one before: base (clock, events), instances and reboots,
    snapshots and deletions, blue/green deployments.
    """


def install(simulation: Simulation) -> None:
    """Make moto's RDS registry build simulated backends, starting from empty state.

    moto keeps its state in process-wide registries, so one simulation runs per process.
    """
    activate(simulation)
    rds_backends.clear()
    rds_backends.backend = SimRDSBackend


def uninstall() -> None:
    """Drop the simulated state and give moto its own RDS backend back."""
    rds_backends.clear()
    rds_backends.backend = RDSBackend
    deactivate()


def backend_for(account_id: str, region: str) -> SimRDSBackend:
    backend = rds_backends[account_id][region]
    assert isinstance(backend, SimRDSBackend)
    return backend


def sim_backends() -> Iterator[SimRDSBackend]:
    # Copies: moto may create a regional backend lazily from another request thread.
    for account in list(rds_backends.values()):
        for backend in list(account.values()):
            if isinstance(backend, SimRDSBackend):
                yield backend


def advance_all() -> None:
    """Apply every delayed transition that is due, in every region."""
    now = time.monotonic()
    for backend in sim_backends():
        backend.timeline.advance(now)
