"""Prometheus metrics: phase per upgrade, phase durations, RDS calls, reconcile errors."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from aurora_upgrade.phases import Phase

UPGRADE_PHASE = Gauge(
    "aurora_upgrade_phase",
    "1 for the phase an upgrade is in, 0 for the others",
    ["namespace", "name", "phase"],
)
PHASE_DURATION = Histogram(
    "aurora_upgrade_phase_duration_seconds",
    "Time spent in a phase, observed when the phase ends",
    ["phase"],
    buckets=(1, 5, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400),
)
RDS_CALLS = Counter(
    "aurora_upgrade_rds_api_calls_total",
    "RDS API calls by operation and outcome (ok or the AWS error code)",
    ["operation", "outcome"],
)
RECONCILE_ERRORS = Counter(
    "aurora_upgrade_reconcile_errors_total",
    "Reconcile steps that ended in an unexpected error",
    ["kind"],
)


def set_phase(namespace: str, name: str, phase: Phase) -> None:
    for candidate in Phase:
        UPGRADE_PHASE.labels(namespace=namespace, name=name, phase=candidate.value).set(1 if candidate == phase else 0)


def forget(namespace: str, name: str) -> None:
    for candidate in Phase:
        with contextlib.suppress(KeyError):
            UPGRADE_PHASE.remove(namespace, name, candidate.value)


def serve(port: int, address: str) -> None:
    start_http_server(port, addr=address)
