"""`aurora-upgrade run`: the engine in the foreground, status in a local state file.

The loop sleeps between polls; that is fine here (this is a command, not a handler).
Re-running with the same state file after a crash resumes where the last run stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from aurora_upgrade.decisions.common import Timing, Upgrade
from aurora_upgrade.engine import Engine, utcnow
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.status import initial, with_conditions
from aurora_upgrade.store import FileRecorder


def run_manifest(
    manifest: dict[str, Any],
    state: Path,
    poll: float,
    engine: Engine | None = None,
    out: TextIO | None = None,
) -> int:
    """Run until Completed (0), Failed or Aborted (1); InvalidManifest for a state file that
    belongs to another upgrade."""
    engine = engine or Engine(timing=Timing(poll=poll))
    recorder, status = FileRecorder.open(state, manifest["spec"], out)
    meta = manifest["metadata"]
    spec = parse_spec(manifest["spec"])
    generation = recorder.generation
    if status is None:
        status = with_conditions(initial(utcnow()), utcnow(), generation)
        recorder.save(status)
        recorder.event("Normal", "Accepted", f"Upgrade of {spec.cluster_identifier} to {spec.target_engine_version}")
    else:
        recorder.event("Normal", "Resumed", f"Resuming from {state} in phase {status.phase}")
    upgrade = Upgrade(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        uid=recorder.uid,
        generation=generation,
        spec=spec,
        status=status,
    )
    while True:
        delay = engine.reconcile(upgrade, recorder)
        assert recorder.last is not None
        upgrade = Upgrade(upgrade.name, upgrade.namespace, upgrade.uid, generation, spec, recorder.last)
        if delay is None:
            break
        time.sleep(delay)
    final = upgrade.status
    print(f"{final.phase}: {final.message}", file=out or sys.stdout, flush=True)
    return 0 if final.phase == Phase.COMPLETED else 1
