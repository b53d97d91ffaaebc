"""Prometheus metrics: phase and reason per upgrade, phase durations, RDS calls, reconcile errors.

The chart's alerts (charts/aurora-upgrade-operator/templates/prometheusrule.yaml) are written
against these names and labels.
"""

from __future__ import annotations

import contextlib
import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from aurora_upgrade.phases import Phase

log = logging.getLogger(__name__)

UPGRADE_PHASE = Gauge(
    "aurora_upgrade_phase",
    "1 for the phase an upgrade is in, 0 for the others",
    ["namespace", "name", "phase"],
)
UPGRADE_REASON = Gauge(
    "aurora_upgrade_reason",
    "1 for the reason of an upgrade's latest status (status.reason), e.g. AwaitingApproval",
    ["namespace", "name", "reason"],
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
RECONCILES = Counter(
    "aurora_upgrade_reconciles_total",
    "Looks at an upgrade: its object read, its stage observed and decided (whether or not AWS was called)",
)
RECONCILE_ERRORS = Counter(
    "aurora_upgrade_reconcile_errors_total",
    "Reconcile steps that ended in an unexpected error",
    ["kind"],
)


def set_phase(namespace: str, name: str, phase: Phase) -> None:
    for candidate in Phase:
        UPGRADE_PHASE.labels(namespace=namespace, name=name, phase=candidate.value).set(1 if candidate == phase else 0)


# The reason each upgrade's series carries now, so a new reason replaces it.
_reasons: dict[tuple[str, str], str] = {}


def set_reason(namespace: str, name: str, reason: str | None) -> None:
    """Tell alerts why an upgrade waits: AwaitingApproval and OutsideMaintenanceWindow share one
    phase, and ClusterBusy or RetainingOldCluster are waits a person asked for, not stalls."""
    previous = _reasons.pop((namespace, name), None)
    if previous is not None and previous != reason:
        with contextlib.suppress(KeyError):
            UPGRADE_REASON.remove(namespace, name, previous)
    if reason:
        UPGRADE_REASON.labels(namespace=namespace, name=name, reason=reason).set(1)
        _reasons[(namespace, name)] = reason


def forget(namespace: str, name: str) -> None:
    for candidate in Phase:
        with contextlib.suppress(KeyError):
            UPGRADE_PHASE.remove(namespace, name, candidate.value)
    set_reason(namespace, name, None)


def serve(port: int, address: str) -> None:
    server, _ = start_http_server(port, addr=address)
    # Port 0 picks a free one: the log is where a scraper (or a person) learns which.
    log.info("Serving Prometheus metrics on http://%s:%d/metrics", address, server.server_port)
