"""The simulator fixtures (support/sim.py): make_sim, sim_server, rds, client_for."""

from support.sim import Recorded, client_for, make_sim, rds, sim_server

__all__ = ["Recorded", "client_for", "make_sim", "rds", "sim_server"]
