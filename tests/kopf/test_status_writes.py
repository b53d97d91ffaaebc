"""How often the operator writes status in the runbook's case (the example manifest as it is),
counted on the API server: every version of the object its watch delivers whose status differs
from the version before is one status write (a PATCH that changes nothing makes no version).
Each write costs the API server a version and every watcher an event, so status is written when
it means something: a transition, an intent before a call, the answer of a call that is the only
proof of an action on production, a new Warning, progress at most once per phase
(docs/events.md, "When status is written").
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kopf_tier import Upgrades, fleet_cluster, kopf_runner, standard_streams
from kubernetes import watch as k8s_watch
from urllib3.exceptions import ProtocolError

from aurora_upgrade.models import GROUP, PLURAL, VERSION
from support.runbook import RUNBOOK_PHASES

# The runbook's case: 10 transitions, 8 AWS calls (each with its intent written first), the
# answers of the switchover and the two production reboots written at once. Issue 20 measured
# 42 before writes were folded.
MOST_WRITES = 18


class StatusWatch:
    """The namespace's AuroraUpgrades as the API server's watch delivers them, in order."""

    def __init__(self, upgrades: Upgrades) -> None:
        self.versions: list[dict[str, Any]] = []
        self._watch = k8s_watch.Watch()
        listed = upgrades.objects.list_namespaced_custom_object(GROUP, VERSION, upgrades.namespace, PLURAL)
        self._thread = threading.Thread(
            target=self._read, args=(upgrades, listed["metadata"]["resourceVersion"]), daemon=True
        )
        self._thread.start()

    def _read(self, upgrades: Upgrades, version: str) -> None:
        stream = self._watch.stream(
            upgrades.objects.list_namespaced_custom_object,
            GROUP,
            VERSION,
            upgrades.namespace,
            PLURAL,
            resource_version=version,
        )
        with contextlib.suppress(ProtocolError):  # stop() ends the stream mid-read
            for event in stream:
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.versions.append(event["object"])

    def status_writes(self, name: str) -> list[dict[str, Any]]:
        """The statuses written, one per version whose status changed."""
        written: list[dict[str, Any]] = []
        previous: dict[str, Any] | None = None
        for obj in list(self.versions):
            if obj["metadata"]["name"] != name:
                continue
            status = obj.get("status") or {}
            if previous is not None and status != previous:
                written.append(status)
            previous = status
        return written

    def stop(self) -> None:
        self._watch.stop()


@pytest.fixture(scope="module")
def operator(operator_env: None, upgrades: Upgrades) -> Iterator[KopfRunner]:
    with standard_streams(), kopf_runner(upgrades.namespace, "--standalone") as runner:
        yield runner
    assert runner.exit_code == 0, runner.output


def test_the_runbook_case_writes_status_when_it_means_something(operator: KopfRunner, upgrades: Upgrades) -> None:
    watch = StatusWatch(upgrades)
    try:
        upgrades.apply("runbook", fleet_cluster(9))
        done = upgrades.wait_phase("runbook", "Completed", timeout=120)
    finally:
        watch.stop()
    written = watch.status_writes("runbook")

    assert [entry["phase"] for entry in done["history"]] == RUNBOOK_PHASES, done["history"]
    summary = [(s.get("phase"), s.get("reason"), s.get("callInFlight")) for s in written]
    print(f"\n{len(written)} status writes:", *summary, sep="\n  ", file=sys.__stderr__)  # past KopfRunner's capture
    assert len(written) <= MOST_WRITES, summary
    # Every phase of the history was written while it lasted, except those a look passed through
    # without waiting or calling (Pending into Prechecking, Verifying into CleaningUp).
    phases_written = {s.get("phase") for s in written}
    assert {"ProvisioningGreen", "RebootingGreen", "Snapshotting", "SwitchingOver", "RebootingInstances"} <= (
        phases_written
    ), summary
    # Each of the eight calls had its intent written before it was made.
    intents = [s["callInFlight"] for s in written if s.get("callInFlight")]
    assert len(intents) == 8, summary
    # The answers that are the only proof of an action on production were written at once.
    accepted = [s for s in written if s.get("switchoverAcceptedAt") and not s.get("callInFlight")]
    assert accepted and accepted[0]["phase"] == "SwitchingOver", summary
