"""Faults injected into the simulator's answers: throttling, 500s, lost and slow answers,
refused permissions (see FaultConfig). One seeded random stream decides, under a lock, so a
run with the same seed and the same sequence of calls meets the same faults.

A fault that refuses the call (throttling, 500, AccessDenied) answers before moto sees the
request, so nothing changes; a lost or slow answer comes after moto carried the call out.
A chosen call's lost answer (FaultConfig.lost_answers) is decided once AWS carried it out: the
connection is closed, or an HTTP 500 answers a call that took effect.
The call record says which answers were faults (its `fault` field).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from .config import FaultConfig
from .recorder import LOST
from .scenarios import RUNBOOK_ACCOUNT_ID

THROTTLED = "throttled"
SERVER_ERROR = "server-error"
DENIED = "denied"
SLOW = "slow"
# Faults whose call never reached moto: it took no effect.
REFUSING = frozenset({THROTTLED, SERVER_ERROR, DENIED})

# RDS answers throttling with either code, depending on the front end that refused the call;
# botocore retries both.
_THROTTLING_CODES = ("Throttling", "ThrottlingException")
# The request parameters that name the resource a call is about, most specific first.
_RESOURCE_PARAMS = (
    "BlueGreenDeploymentIdentifier",
    "DBInstanceIdentifier",
    "DBClusterSnapshotIdentifier",
    "DBClusterIdentifier",
    "Source",
)


def resource_of(params: Mapping[str, Any]) -> str | None:
    """The identifier of the resource a recorded call is about (LostAnswer.resource matches it)."""
    return next((str(params[key]) for key in _RESOURCE_PARAMS if params.get(key)), None)


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()
        self._lost_matched = [0] * len(config.lost_answers)  # calls that took effect, per rule

    def pick(self, operation: str) -> str | None:
        """The fault this call meets, or None."""
        if operation in self.config.denied:
            return DENIED
        c = self.config
        if not (c.throttle_rate or c.error_rate or c.lost_rate or c.slow_rate):
            return None
        with self._lock:
            draw = self._random.random()
        for fault, rate in (
            (THROTTLED, c.throttle_rate),
            (SERVER_ERROR, c.error_rate),
            (LOST, c.lost_rate),
            (SLOW, c.slow_rate),
        ):
            if draw < rate:
                return fault
            draw -= rate
        return None

    def lose_answer(self, operation: str, params: Mapping[str, Any]) -> str | None:
        """How the answer to this call, which took effect, is lost (`reset`, `500`), or None."""
        resource = resource_of(params)
        kind = None
        with self._lock:
            for n, rule in enumerate(self.config.lost_answers):
                if rule.matches(operation, resource):
                    self._lost_matched[n] += 1
                    due = rule.after < self._lost_matched[n] <= rule.after + rule.times
                    kind = kind or (rule.kind if due else None)
        return kind

    def throttling_code(self) -> str:
        with self._lock:
            return self._random.choice(_THROTTLING_CODES)


def refusal(fault: str, operation: str, code: str = "") -> tuple[str, str, bytes]:
    """(HTTP status, AWS error code, body) of a refusing fault, in the RDS query protocol's shape."""
    if fault == THROTTLED:
        status, kind, code, message = "400 Bad Request", "Sender", code or "Throttling", "Rate exceeded"
    elif fault == SERVER_ERROR:
        status, kind, code = "500 Internal Server Error", "Receiver", "InternalFailure"
        message = "An internal error has occurred. Try your request again."
    else:
        status, kind, code = "403 Forbidden", "Sender", "AccessDenied"
        message = (
            f"User: arn:aws:sts::{RUNBOOK_ACCOUNT_ID}:assumed-role/aurora-upgrade-operator/operator is not "
            f"authorized to perform: rds:{operation} because no identity-based policy allows the "
            f"rds:{operation} action"
        )
    body = (
        '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return status, code, body.encode()
