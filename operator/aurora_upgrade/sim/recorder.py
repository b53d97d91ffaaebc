"""What tests observe of the simulator: a record of the calls it answered, and a response hold.

The record is how tests assert "exactly one CreateBlueGreenDeployment" or "no mutating call
after a failed precheck". The hold lets a test kill a client right after a mutating call
has taken effect but before the client learns so, the crash window that idempotency must
survive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

MUTATING_PREFIXES = (
    "Add",
    "Create",
    "Delete",
    "Failover",
    "Modify",
    "Promote",
    "Reboot",
    "Remove",
    "Restore",
    "Start",
    "Stop",
    "Switchover",
)

# The fault of an answer lost after the call took effect, and what the client then received
# unless the record is told otherwise (an HTTP 500 instead).
LOST = "lost"
LOST_CONNECTION = "connection closed"

# Request parameters never written to the record.
_SECRET_PARAMS = frozenset({"MasterUserPassword", "NewMasterUserPassword"})


# The event queue's calls (`--event-queue`) are in the record too, but change nothing in RDS: the
# operator deleting the messages it handled is no mutation of the account's databases.
SQS_OPERATIONS = frozenset(
    {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "SendMessage", "PurgeQueue", "GetQueueAttributes"}
)


def is_mutating(operation: str) -> bool:
    """An RDS call that changes something (the record's SQS calls never are)."""
    return operation not in SQS_OPERATIONS and operation.startswith(MUTATING_PREFIXES)


class CallRecorder:
    """Every API call the simulator answered, in the order it carried them out.

    Each entry: {"operation", "params" (the request's flat query parameters, e.g.
    "BlueGreenDeploymentIdentifier" or "Tags.Tag.1.Key"), "outcome" ("ok" or the AWS error
    code), "access_key_id" (of the credentials that signed the request, None if unsigned),
    "fault" (None, or the injected fault this answer was, see faults.py), "took_effect" (AWS
    carried the call out: its outcome is "ok", whether or not its answer was then lost),
    "answer" (what the client received: the outcome, or "connection closed" or "InternalFailure"
    for an answer lost after the call took effect), "time" (ISO 8601, UTC)}; an SQS
    ReceiveMessage's entry also has "received": the messages it answered with, each
    {"detail-type", "source" (detail.SourceIdentifier), "message"} of its EventBridge envelope.
    """

    def __init__(self, on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._on_record = on_record
        # The fault of the answer being made on this thread (one request per thread).
        self._marks = threading.local()

    @contextmanager
    def marking(self, fault: str | Callable[[dict[str, Any]], str | None]) -> Iterator[None]:
        """Calls recorded on this thread inside the block were answered with `fault`, or with
        what `fault(entry)` says once the call's outcome is known (None: no fault; it may set
        the entry's "answer")."""
        self._marks.fault = fault
        try:
            yield
        finally:
            self._marks.fault = None

    def record(
        self,
        operation: str,
        params: Mapping[str, Any],
        outcome: str,
        access_key_id: str | None = None,
        fault: str | None = None,
        received: list[dict[str, str]] | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "operation": operation,
            "params": {k: ("***" if k in _SECRET_PARAMS else v) for k, v in params.items()},
            "outcome": outcome,
            "access_key_id": access_key_id,
            "fault": fault,
            "took_effect": outcome == "ok",
            "answer": outcome,
            "time": datetime.now(UTC).isoformat(),
        }
        if received is not None:
            entry["received"] = received
        mark = getattr(self._marks, "fault", None)
        if fault is None and mark is not None:
            entry["fault"] = mark(entry) if callable(mark) else mark
        if entry["took_effect"] and entry["fault"] == LOST and entry["answer"] == outcome:
            entry["answer"] = LOST_CONNECTION
        with self._lock:
            self._calls.append(entry)
        if self._on_record is not None:
            self._on_record(entry)

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry, params=dict(entry["params"])) for entry in self._calls]

    def mutating_calls(self) -> list[str]:
        """Operation names of mutating calls, whatever their outcome, in order."""
        with self._lock:
            return [entry["operation"] for entry in self._calls if is_mutating(entry["operation"])]


def took_effect(entry: Mapping[str, Any]) -> bool:
    """Whether a recorded call changed AWS's state or answered (a lost answer still counts)."""
    return bool(entry.get("took_effect", entry["outcome"] == "ok"))


class ResponseHold:
    """Holds responses to chosen operations until released.

    `hold(op)` arms the hold: every later response to `op` is delayed, after the simulator
    has carried the call out; `hold(op, after=n)` first lets n responses to `op` through.
    `release()` lets all held responses go and disarms every hold.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[str, int] = {}  # operation -> responses still to let through
        self._held: list[str] = []
        self._generation = 0

    def hold(self, operation: str, after: int = 0) -> None:
        with self._cond:
            self._armed[operation] = after

    def release(self) -> None:
        with self._cond:
            self._armed.clear()
            self._generation += 1
            self._cond.notify_all()

    def held(self) -> list[str]:
        """Operations whose responses are waiting right now."""
        with self._cond:
            return list(self._held)

    def wait_until_held(self, operation: str, timeout: float) -> bool:
        """Block until a response to `operation` is being held; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: operation in self._held, timeout)

    def pass_or_wait(self, operation: str) -> None:
        """Called with each finished response: returns at once unless `operation` is held."""
        with self._cond:
            if operation not in self._armed:
                return
            if self._armed[operation] > 0:
                self._armed[operation] -= 1
                return
            generation = self._generation
            self._held.append(operation)
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._generation != generation)
            self._held.remove(operation)
