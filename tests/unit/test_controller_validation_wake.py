"""The operator's hook on the database job runner: a job that finishes on its own thread wakes
the upgrade's daemon in the event loop, so the look that picks the answer up comes at once
rather than at the next poll (validation_jobs.py, controller.Controller.job_done)."""

from __future__ import annotations

import asyncio
import threading

from aurora_upgrade import controller
from aurora_upgrade.config import Timing
from aurora_upgrade.database import DatabaseRequest, Endpoint
from support.fake_probe import FakeProbe

from .builders import NOW, make_upgrade


def test_a_finished_database_job_wakes_its_upgrades_daemon() -> None:
    probe = FakeProbe(hold=threading.Event())  # the database gateway's probe, faked
    operator = controller.Controller(
        timing=Timing(),
        api=None,
        looks=None,
        feed_reads=None,
        probes=lambda _u: probe,  # type: ignore[arg-type]
    )
    upgrade = make_upgrade()
    green = Endpoint("green", "green.example", 5432, "green")
    request = DatabaseRequest("validate", upgrade.uid, 1, green=green, checks=("smoke",), timeouts=30)

    async def scenario() -> tuple[bool, bool]:
        operator.loop = asyncio.get_running_loop()
        mine = operator.daemons[f"{upgrade.namespace}/{upgrade.name}"] = controller.UpgradeDaemon()
        other = operator.daemons["default/another"] = controller.UpgradeDaemon()
        assert operator.engine.databases.answer(upgrade, request, NOW) is None
        assert probe.hold is not None
        probe.hold.set()
        await asyncio.wait_for(mine.wake.wait(), 10)
        return mine.wake.is_set(), other.wake.is_set()

    assert asyncio.run(scenario()) == (True, False)
    assert operator.engine.databases.answer(upgrade, request, NOW) is not None
