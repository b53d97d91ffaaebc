"""A DatabaseProbe that answers as a test tells it and records what it was asked.

Mocked on purpose: the engine's tests need the databases' answers, not the databases. The real
probe (gateway/database.py) is tested against real PostgreSQL servers in its own tests; here
the answers are what the engine decides on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aurora_upgrade.clock import rfc3339, utcnow
from aurora_upgrade.database import CheckResult, Endpoint, Finding, Guardrail, GuardrailAnswer, Result


@dataclass
class FakeProbe:
    """`before_create` answers `create`; `before_switchover` answers the next of `switchover`
    (the last one again once they run out); a check answers `checks[name]` (default Passed).
    With `hold` set, every answer waits until it is set: a check that takes its time."""

    create: tuple[Finding, ...] = ()
    switchover: list[tuple[Finding, ...]] = field(default_factory=lambda: [()])
    checks: dict[str, Result] = field(default_factory=dict)
    fingerprint: str = "catalog-1"
    hold: threading.Event | None = None
    clock: Callable[[], datetime] = utcnow
    asked: list[tuple[str, ...]] = field(default_factory=list)

    def _wait(self) -> None:
        if self.hold is not None:
            self.hold.wait(30)

    def before_create(self, blue: Endpoint) -> GuardrailAnswer:
        self.asked.append(("before_create", blue.host, str(blue.port)))
        self._wait()
        return GuardrailAnswer(self.create, rfc3339(self.clock()), self.fingerprint)

    def before_switchover(self, blue: Endpoint, green: Endpoint, fingerprint: str | None) -> GuardrailAnswer:
        self.asked.append(("before_switchover", blue.host, green.host, fingerprint or ""))
        self._wait()
        findings = self.switchover.pop(0) if len(self.switchover) > 1 else self.switchover[0]
        return GuardrailAnswer(findings, rfc3339(self.clock()))

    def run_check(self, check_name: str, green: Endpoint) -> CheckResult:
        self.asked.append(("run_check", check_name, green.host))
        self._wait()
        result = self.checks.get(check_name, "Passed")
        message = "returned true" if result == "Passed" else "returned false"
        return CheckResult(check_name, "green", result, message, rfc3339(self.clock()))

    def count(self, what: str) -> int:
        return sum(1 for asked in self.asked if asked[0] == what)


def finding(guardrail: Guardrail, side: str = "blue", *, blocking: bool = True, transient: bool = False) -> Finding:
    return Finding(guardrail, side, f"{guardrail.value} found", blocking=blocking, transient=transient)  # type: ignore[arg-type]
