"""`aurora-upgrade run`: the engine in the foreground, status in a local state file.

The loop sleeps between polls, or until a database check it waits for finishes; that is fine
here (this is a command, not a handler).
Re-running with the same state file after a crash resumes where the last run stopped.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from aurora_upgrade.config import Timing
from aurora_upgrade.engine import Engine
from aurora_upgrade.models import parse_spec
from aurora_upgrade.phases import Phase
from aurora_upgrade.store import FileStore
from aurora_upgrade.validation_jobs import Validations


def run_manifest(
    manifest: dict[str, Any],
    state: Path,
    timing: Timing,
    engine: Engine | None = None,
    out: TextIO | None = None,
) -> int:
    """Run until Completed (0), Failed or Aborted (1); InvalidManifest for a state file that
    belongs to another upgrade. spec.validation's database password, if any, comes from libpq's
    own conventions (PGPASSWORD, ~/.pgpass): there is no Kubernetes Secret here."""
    woken = threading.Event()  # a database check finished: look at once
    engine = engine or Engine(timing=timing, databases=Validations(on_done=lambda _ref: woken.set()))
    store, status = FileStore.open(state, manifest["spec"], out)
    meta = manifest["metadata"]
    if status is not None:
        store.event("Normal", "Resumed", f"Resuming from {state} in phase {status.phase}")
    upgrade = engine.accept(
        meta["name"],
        meta.get("namespace", "default"),
        store.uid,
        store.generation,
        parse_spec(manifest["spec"]),
        status,
        store,
    )
    while True:
        woken.clear()
        upgrade, delay = engine.reconcile(upgrade, store)
        if delay is None:
            break
        woken.wait(delay)
    final = upgrade.status
    print(f"{final.phase}: {final.message}", file=out or sys.stdout, flush=True)
    return 0 if final.phase == Phase.COMPLETED else 1
