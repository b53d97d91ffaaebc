"""The Helm chart's copies of what the repository generates or declares elsewhere."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from aurora_upgrade.config import METRICS_PORT_ENV, POLL_ENV

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "aurora-upgrade-operator"
CRD = "auroraupgrades.dbupgrade.dev.yaml"


def test_chart_crd_is_the_generated_crd() -> None:
    """Helm installs the chart's crds/ copy; it must be the CRD `make crd` generates."""
    assert (CHART / "crds" / CRD).read_text() == (REPO / "crds" / CRD).read_text(), (
        f"charts/aurora-upgrade-operator/crds/{CRD} drifted from crds/{CRD}: "
        f"cp crds/{CRD} charts/aurora-upgrade-operator/crds/"
    )


def test_chart_app_version_is_the_package_version() -> None:
    """The default image tag is the appVersion, so it must name the version the image holds."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]


def test_deployment_sets_the_variables_the_operator_reads() -> None:
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    for name in (POLL_ENV, METRICS_PORT_ENV):
        assert f"- name: {name}\n" in deployment, name
