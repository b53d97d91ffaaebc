"""One answered request into the call record: operation, parameters, outcome, and the access
key id that signed it (so tests see whose credentials made each call; never the secret)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import BaseResponse

from .simulation import active

# SigV4: "AWS4-HMAC-SHA256 Credential=<access key id>/<date>/<region>/<service>/aws4_request, ...".
_CREDENTIAL = re.compile(r"\bCredential=([^/,\s]+)/")


def record_call(response: BaseResponse, answer: Callable[[], TYPE_RESPONSE]) -> TYPE_RESPONSE:
    """`answer()` the request `response` holds, and record it."""
    operation = response._get_action()
    params = {
        key: values[0] if len(values) == 1 else values
        for key, values in response.querystring.items()
        if key not in ("Action", "Version")
    }
    access_key_id = access_key_of(response.headers.get("Authorization", ""))
    recorder = active().recorder
    try:
        status, headers, body = answer()
    except NotImplementedError:
        recorder.record(operation, params, "NotImplemented", access_key_id=access_key_id)
        raise
    if status >= 400:
        body = as_aws_sends(body)
    outcome = _outcome(status, body)
    recorder.record(operation, params, outcome, access_key_id=access_key_id)
    backend = getattr(response, "backend", None)
    schedule = getattr(backend, "schedule_happening", None)
    if outcome == "ok" and schedule is not None:
        # What someone else does once this call took effect (FaultConfig.happenings).
        for happening in active().aws.due_after_call(operation):
            schedule(happening)
    return status, headers, body


def record_queue_call(response: BaseResponse, answer: Callable[[], TYPE_RESPONSE]) -> TYPE_RESPONSE:
    """`answer()` an SQS request (JSON protocol) and record it, a ReceiveMessage with the
    EventBridge envelopes it answered with, so tests see which receive carried which event."""
    operation = response._get_action()
    params = {key: response._get_param(key) for key in ("QueueUrl", "WaitTimeSeconds", "MaxNumberOfMessages")}
    status, headers, body = answer()
    received = None
    if operation == "ReceiveMessage" and status < 400:
        received = [_envelope_of(message.get("Body", "")) for message in json.loads(body or "{}").get("Messages", [])]
    outcome = "ok" if status < 400 else str(json.loads(body or "{}").get("__type", f"HTTP{status}")).split("#")[-1]
    active().recorder.record(
        operation,
        {k: v for k, v in params.items() if v is not None},
        outcome,
        access_key_id=access_key_of(response.headers.get("Authorization", "")),
        received=received,
    )
    return status, headers, body


def _envelope_of(body: str) -> dict[str, str]:
    try:
        envelope = json.loads(body)
        detail = envelope.get("detail") or {}
        return {
            "detail-type": str(envelope.get("detail-type", "")),
            "source": str(detail.get("SourceIdentifier", "")),
            "message": str(detail.get("Message", "")),
        }
    except (ValueError, AttributeError):
        return {"detail-type": "", "source": "", "message": body[:200]}


# moto's codes that differ from the wire code AWS sends (each error shape's `error.code` in
# botocore's RDS model), with a phrase of moto's message where one code stands for two faults.
_MOTO_CODES = (
    ("InvalidDBInstanceStateFault", "", "InvalidDBInstanceState"),
    ("DBParameterGroupNotFound", "DBClusterParameterGroup not found", "DBClusterParameterGroupNotFound"),
)


def as_aws_sends(body: Any) -> Any:
    """An error answer of moto's with the code AWS sends for it."""
    text = body.decode() if isinstance(body, bytes) else str(body)
    for moto_code, phrase, code in _MOTO_CODES:
        if f"<Code>{moto_code}</Code>" in text and phrase in text:
            text = text.replace(f"<Code>{moto_code}</Code>", f"<Code>{code}</Code>")
            return text.encode() if isinstance(body, bytes) else text
    return body


def access_key_of(authorization: str) -> str | None:
    """The access key id of a SigV4 `Authorization` header, None if unsigned."""
    match = _CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def _outcome(status: int, body: Any) -> str:
    if status < 400:
        return "ok"
    text = body.decode() if isinstance(body, bytes) else str(body)
    match = re.search(r"<Code>([^<]+)</Code>", text)
    return match.group(1) if match else f"HTTP{status}"
