"""Where status lives: the AuroraUpgrade's status subresource, or a local state file for `run`.

Both are Stores for the engine: `save` writes the whole status (so a restart resumes from
it) and `event` tells people what happened.
"""

from __future__ import annotations

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
from aurora_upgrade.models import (
    GROUP,
    IMMUTABLE_FIELDS,
    PLURAL,
    VERSION,
    AuroraUpgradeStatus,
    InvalidManifest,
    dump,
    parse_status,
)


class Store(Protocol):
    """Where the engine writes what happened: status for machines, events for people."""

    def save(self, status: AuroraUpgradeStatus) -> None: ...

    def event(self, type_: str, reason: str, message: str) -> None: ...


def status_patch(status: AuroraUpgradeStatus) -> dict[str, Any]:
    """A merge patch for the whole status: fields now unset are sent as null so they go."""
    body = status.model_dump(mode="json", by_alias=True)
    return {"status": body}


class ResourceDeleting(Exception):
    """The resource is being deleted: the finalizer, not the reconcile loop, acts from now on."""


@dataclass
class KubeStore:
    """Status through the status subresource; Events through kopf's poster."""

    namespace: str
    name: str
    custom_api: Any  # kubernetes.client.CustomObjectsApi
    post_event: Callable[[str, str, str], None]
    stop_when_deleting: bool = True

    def save(self, status: AuroraUpgradeStatus) -> None:
        """Write status; refuse to go on (before any further AWS call) once deletion began."""
        saved = self.custom_api.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, PLURAL, self.name, status_patch(status)
        )
        if self.stop_when_deleting and (saved.get("metadata") or {}).get("deletionTimestamp"):
            raise ResourceDeleting(f"{self.namespace}/{self.name}")

    def event(self, type_: str, reason: str, message: str) -> None:
        self.post_event(type_, reason, message)


@dataclass
class FileStore:
    """Status in a JSON state file (written atomically), transitions printed for a person."""

    path: Path
    uid: str
    spec: dict[str, Any]
    generation: int = 1
    out: TextIO = field(default_factory=lambda: sys.stdout)

    @classmethod
    def open(
        cls, path: Path, spec: dict[str, Any], out: TextIO | None = None
    ) -> tuple[FileStore, AuroraUpgradeStatus | None]:
        """Load an earlier run's state, or start a new one with a fresh uid. A changed spec is a
        new generation (as metadata.generation is in Kubernetes); the fields the API server
        keeps immutable are refused here too."""
        stream = out or sys.stdout
        if not path.exists():
            return cls(path, str(uuid.uuid4()), spec, 1, stream), None
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
        return cls(path, data["uid"], spec, generation, stream), status

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
