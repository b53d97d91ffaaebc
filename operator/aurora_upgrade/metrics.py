"""Prometheus metrics: phase and reason per upgrade, phase durations, RDS calls, reconcile errors.

The chart's alerts (charts/aurora-upgrade-operator/templates/prometheusrule.yaml) are written
against these names and labels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aurora_upgrade.phases import Phase

log = logging.getLogger(__name__)

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
EVENT_QUEUE_MESSAGES = Counter(
    "aurora_upgrade_event_queue_messages_total",
    "Messages received from the EventBridge event queue and deleted: an RDS event of a watched type (event), "
    "or anything else (ignored: another detail-type, or a malformed message)",
    ["outcome"],
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


class _Upgrades(Collector):
    """Each upgrade's phase and reason, kept as one entry per upgrade and written out as series
    when scraped (prometheus_client's custom-collector way): a Gauge child per phase and upgrade
    cost about 11 MB for 1,000 finished upgrades, kept for as long as the operator runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str], Phase] = {}
        self._reasons: dict[tuple[str, str], str] = {}

    def set_phase(self, namespace: str, name: str, phase: Phase) -> None:
        with self._lock:
            self._phases[(namespace, name)] = phase

    def set_reason(self, namespace: str, name: str, reason: str | None) -> None:
        with self._lock:
            if reason:
                self._reasons[(namespace, name)] = reason
            else:
                self._reasons.pop((namespace, name), None)

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._phases.pop((namespace, name), None)
            self._reasons.pop((namespace, name), None)

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            phases, reasons = list(self._phases.items()), list(self._reasons.items())
        phase, reason = self._families()
        for (namespace, name), current in phases:
            for candidate in Phase:
                phase.add_metric([namespace, name, candidate.value], 1 if candidate == current else 0)
        for (namespace, name), value in reasons:
            reason.add_metric([namespace, name, value], 1)
        return [phase, reason]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        """The two series' families, without samples: aurora_upgrade_phase, aurora_upgrade_reason."""
        return [
            GaugeMetricFamily(
                "aurora_upgrade_phase",
                "1 for the phase an upgrade is in, 0 for the others",
                labels=["namespace", "name", "phase"],
            ),
            GaugeMetricFamily(
                "aurora_upgrade_reason",
                "1 for the reason of an upgrade's latest status (status.reason), e.g. AwaitingApproval",
                labels=["namespace", "name", "reason"],
            ),
        ]


_UPGRADES = _Upgrades()
REGISTRY.register(_UPGRADES)


def set_phase(namespace: str, name: str, phase: Phase) -> None:
    _UPGRADES.set_phase(namespace, name, phase)


def set_reason(namespace: str, name: str, reason: str | None) -> None:
    """Tell alerts why an upgrade waits: AwaitingApproval and OutsideMaintenanceWindow share one
    phase, and ClusterBusy or RetainingOldCluster are waits a person asked for, not stalls. A new
    reason replaces the upgrade's series."""
    _UPGRADES.set_reason(namespace, name, reason)


def forget(namespace: str, name: str) -> None:
    _UPGRADES.forget(namespace, name)


def serve(port: int, address: str) -> None:
    server, _ = start_http_server(port, addr=address)
    # Port 0 picks a free one: the log is where a scraper (or a person) learns which.
    log.info("Serving Prometheus metrics on http://%s:%d/metrics", address, server.server_port)
