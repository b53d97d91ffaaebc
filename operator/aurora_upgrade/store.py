"""Where status lives: the AuroraUpgrade's status subresource, or a local state file for `run`.

Both are Stores for the engine: `save` writes the whole status (so a restart resumes from
it) and `event` tells people what happened.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from aurora_upgrade.clock import rfc3339, utcnow
from aurora_upgrade.kube import CustomObjects, KubeError
from aurora_upgrade.models import (
    IMMUTABLE_FIELDS,
    AuroraUpgradeStatus,
    InvalidManifest,
    dump,
    parse_status,
)


class Store(Protocol):
    """Where the engine writes what happened: status for machines, events for people. `folds`:
    whether a change that means little waits for the next write (docs/events.md, "When status is
    written"): a store whose writes cost an API server folds, a state file records every change."""

    folds: bool

    def save(self, status: AuroraUpgradeStatus) -> None: ...

    def event(self, type_: str, reason: str, message: str) -> None: ...


def status_patch(status: AuroraUpgradeStatus) -> dict[str, Any]:
    """A merge patch for the whole status: fields now unset are sent as null so they go."""
    body = status.model_dump(mode="json", by_alias=True)
    return {"status": body}


class StateInUse(Exception):
    """Another `aurora-upgrade run` holds the state file."""


def _lock(path: Path) -> TextIO:
    """An exclusive lock for the state file, or StateInUse naming the process holding it."""
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115  # held for the process's life
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StateInUse(
            f"{path} is in use by another `aurora-upgrade run` ({holder}); wait for it to finish, "
            "or use another --state file for another upgrade"
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


class ResourceDeleting(Exception):
    """The resource is being deleted: the finalizer, not the reconcile loop, acts from now on."""


class StatusConflict(Exception):
    """The object changed since it was read (another writer, or deletion began): nothing was
    written, and no AWS call may follow; read again and decide again."""


@dataclass
class KubeStore:
    """Status through the status subresource; Events through kopf's poster."""

    namespace: str
    name: str
    objects: CustomObjects
    post_event: Callable[[str, str, str], None]
    resource_version: str | None = None  # of the object the decision was made on
    stop_when_deleting: bool = True
    answer: dict[str, Any] | None = None  # the object as the last PATCH returned it
    folds: bool = True  # every write is a PATCH, a watch event to every watcher, and parsed again

    def save(self, status: AuroraUpgradeStatus) -> None:
        """Write status only over the version that was read (optimistic concurrency, as
        CloudNativePG's status transactions do): a second operator, or a deletion, that changed
        the object since makes the write fail with StatusConflict, so an intent is never saved
        (nor its AWS call made) on stale grounds, and an older status never overwrites a newer
        one. Refuse to go on (before any further AWS call) once deletion began."""
        patch = status_patch(status)
        if self.resource_version is not None:
            patch["metadata"] = {"resourceVersion": self.resource_version}
        try:
            saved = self.objects.patch_status(self.namespace, self.name, patch)
        except KubeError as error:
            if error.status == 409:
                raise StatusConflict(f"{self.namespace}/{self.name} changed since it was read") from error
            raise
        self.answer = saved
        metadata = saved.get("metadata") or {}
        self.resource_version = metadata.get("resourceVersion", self.resource_version)
        if self.stop_when_deleting and metadata.get("deletionTimestamp"):
            raise ResourceDeleting(f"{self.namespace}/{self.name}")

    def event(self, type_: str, reason: str, message: str) -> None:
        self.post_event(type_, reason, message)


@dataclass
class FileStore:
    """Status in a JSON state file (written atomically), transitions printed for a person.
    One run at a time: `open` takes an exclusive lock beside the state file (`<state>.lock`,
    since the state file itself is replaced on every save), held until the process ends."""

    path: Path
    uid: str
    spec: dict[str, Any]
    generation: int = 1
    out: TextIO = field(default_factory=lambda: sys.stdout)
    lock: TextIO | None = None
    # A local file costs no API server: every change is recorded, as a person re-running after a
    # crash expects the file to say where the run was.
    folds: bool = False

    @classmethod
    def open(
        cls, path: Path, spec: dict[str, Any], out: TextIO | None = None
    ) -> tuple[FileStore, AuroraUpgradeStatus | None]:
        """Load an earlier run's state, or start a new one with a fresh uid. A changed spec is a
        new generation (as metadata.generation is in Kubernetes); the fields the API server
        keeps immutable are refused here too."""
        stream = out or sys.stdout
        lock = _lock(path)
        if not path.exists():
            return cls(path, str(uuid.uuid4()), spec, 1, stream, lock), None
        data = json.loads(path.read_text())
        before, generation = data.get("spec", spec), int(data.get("generation", 1))
        changed = [f for f in IMMUTABLE_FIELDS if before.get(f) != spec.get(f)]
        if changed:
            raise InvalidManifest(
                f"spec.{changed[0]} is immutable: {path} holds an upgrade with "
                f"{changed[0]} {before.get(changed[0])!r}; use another --state file for another upgrade"
            )
        if before != spec:
            generation += 1
        status = parse_status(data.get("status"))
        return cls(path, data["uid"], spec, generation, stream, lock), status

    def save(self, status: AuroraUpgradeStatus) -> None:
        payload = json.dumps(
            {"uid": self.uid, "generation": self.generation, "spec": self.spec, "status": dump(status)}, indent=2
        )
        fd, tmp = tempfile.mkstemp(dir=self.path.parent or Path("."), prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w") as handle:
            handle.write(payload + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def event(self, type_: str, reason: str, message: str) -> None:
        marker = "!" if type_ == "Warning" else " "
        print(f"{rfc3339(utcnow())} {marker} {reason}: {message}", file=self.out, flush=True)
