"""Faults injected into the simulator's answers: throttling, 500s, lost and slow answers,
refused permissions (see FaultConfig). One seeded random stream decides, under a lock, so a
run with the same seed and the same sequence of calls meets the same faults.

A fault that refuses the call (throttling, 500, AccessDenied) answers before moto sees the
request, so nothing changes; a lost or slow answer comes after moto carried the call out.
The call record says which answers were faults (its `fault` field).
"""

from __future__ import annotations

import random
import threading
import uuid

from .config import FaultConfig
from .scenarios import RUNBOOK_ACCOUNT_ID

THROTTLED = "throttled"
SERVER_ERROR = "server-error"
DENIED = "denied"
LOST = "lost"
SLOW = "slow"
# Faults whose call never reached moto: it took no effect.
REFUSING = frozenset({THROTTLED, SERVER_ERROR, DENIED})

# RDS answers throttling with either code, depending on the front end that refused the call;
# botocore retries both.
_THROTTLING_CODES = ("Throttling", "ThrottlingException")


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()

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
