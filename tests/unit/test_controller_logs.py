"""kopf's log lines about the operator's own handlers (controller.KOPF_LOG_FILTERS): the
finalizer's waits for AWS are logged at INFO and not posted as Events, and a wake-up's success is
not logged (at kopf's default level). kopf offers no setting for either and its records carry only the message, so
the filters read the text kopf writes: these tests run kopf's own handler execution, and fail if a
kopf release words those lines differently."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from kopf._core.actions import execution

from aurora_upgrade import controller

BODY = {"apiVersion": "dbupgrade.dev/v1alpha1", "kind": "AuroraUpgrade", "metadata": {"name": "u1", "namespace": "ns"}}


@pytest.fixture
def kopf_lines() -> Iterator[list[logging.LogRecord]]:
    """The records kopf's object logger hands its handlers (the log, the Event poster) once the
    operator's filters are in place, as the startup handler puts them."""
    kopf_objects = logging.getLogger("kopf.objects")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep(level=logging.DEBUG)
    level = kopf_objects.level
    kopf_objects.setLevel(logging.DEBUG)
    kopf_objects.addHandler(keep)
    for log_filter in controller.KOPF_LOG_FILTERS:
        kopf_objects.addFilter(log_filter)
    try:
        yield seen
    finally:
        kopf_objects.removeHandler(keep)
        kopf_objects.setLevel(level)


def run_handler(handler_id: str, fn: Callable[..., Any]) -> None:
    """One execution of a handler as kopf's reactor makes it (kopf logs its outcome there)."""
    settings = kopf.OperatorSettings()
    handler = execution.Handler(
        id=kopf.HandlerId(handler_id), fn=fn, param=None, errors=None, timeout=None, retries=None, backoff=None
    )
    cause = execution.Cause(logger=kopf.ObjectLogger(body=kopf.Body(BODY), settings=settings))
    state = SimpleNamespace(retries=0, started=datetime.datetime.now(datetime.UTC), runtime=datetime.timedelta(0))
    asyncio.run(execution.execute_handler_once(settings=settings, handler=handler, cause=cause, state=state))  # type: ignore[arg-type]


@pytest.mark.parametrize("message", [controller.WAITING_FOR_DELETION, controller.CHANGED_WHILE_DELETING])
def test_the_finalizers_wait_for_aws_is_progress_not_an_error(
    kopf_lines: list[logging.LogRecord], message: str
) -> None:
    def finalize(**_: Any) -> None:
        raise kopf.TemporaryError(message, delay=5)

    run_handler("finalize", finalize)

    retries = [record for record in kopf_lines if message in record.getMessage()]
    assert retries, [record.getMessage() for record in kopf_lines]
    assert all(record.levelno == logging.INFO and record.levelname == "INFO" for record in retries)


def test_another_handlers_retry_stays_an_error(kopf_lines: list[logging.LogRecord]) -> None:
    def finalize(**_: Any) -> None:
        raise kopf.TemporaryError("AWS refused the deletion", delay=5)

    run_handler("finalize", finalize)

    assert [record.levelno for record in kopf_lines if "AWS refused" in record.getMessage()] == [logging.ERROR]


def test_a_wake_up_is_not_logged(kopf_lines: list[logging.LogRecord]) -> None:
    async def spec_changed(**_: Any) -> None:
        pass

    async def other(**_: Any) -> None:
        pass

    run_handler("spec_changed", spec_changed)
    logged = [record for record in kopf_lines if record.levelno >= logging.INFO]
    assert not [record for record in logged if "spec_changed" in record.getMessage()]

    # The filter has kopf's wording right: the same line of another handler is there.
    run_handler("other", other)
    assert any("'other'" in record.getMessage() and record.levelno == logging.INFO for record in kopf_lines)
