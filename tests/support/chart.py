"""The Helm chart rendered by a tier's ``helm`` fixture (no API server needed), for the tests of
its schema, monitoring objects and alerts. Values go to helm as a values file on stdin, as a
user's ``-f values.yaml`` would."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from support.runbook import REPO
from support.runner import Runner

CHART = REPO / "charts" / "aurora-upgrade-operator"
RELEASE = "aup"
RELEASE_NAMESPACE = "aurora-upgrade-system"
FULLNAME = f"{RELEASE}-aurora-upgrade-operator"

Objects = dict[tuple[str, str], dict[str, Any]]


def template(helm: Runner, values: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with `values`; the exit status is the caller's to judge."""
    return helm(
        "template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE, "--values", "-",
        input=yaml.safe_dump(dict(values or {})),
    )  # fmt: skip


def render(helm: Runner, values: Mapping[str, Any] | None = None) -> Objects:
    """The rendered objects, keyed by (kind, name)."""
    result = template(helm, values)
    assert result.returncode == 0, f"helm template refused {dict(values or {})}:\n{result.stderr}"
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}


def write_rule_file(helm: Runner, path: Path, values: Mapping[str, Any] | None = None) -> Path:
    """The PrometheusRule the chart renders, as the rule file Prometheus loads from it (its
    `spec` is a rule file's content): what promtool and a real Prometheus are given."""
    settings = {**(values or {}), "prometheusRule": {"enabled": True, **(values or {}).get("prometheusRule", {})}}
    rule = render(helm, settings)[("PrometheusRule", FULLNAME)]
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    return path
