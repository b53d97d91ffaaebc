"""docs/crd-reference.md is exactly what `aurora-upgrade crd --markdown` prints from the models."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from aurora_upgrade.cli import main
from aurora_upgrade.crd_reference import render
from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus, SwitchoverSpec

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "crd-reference.md"


def test_committed_reference_matches_the_generator() -> None:
    assert COMMITTED.read_text() == render(), "docs/crd-reference.md drifted from the models: run `make crd` and commit"


def test_the_command_prints_it() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["crd", "--markdown"]) == 0
    assert out.getvalue() == render()


def test_every_field_has_a_row_with_what_the_api_server_enforces() -> None:
    text = render()
    for prefix, model in (("spec", AuroraUpgradeSpec), ("status", AuroraUpgradeStatus)):
        for name, field in model.model_fields.items():
            assert f"| `{prefix}.{field.alias or name}` |" in text, (prefix, name)
    for name, field in SwitchoverSpec.model_fields.items():
        assert f"| `spec.switchover.{field.alias or name}` |" in text, name
    row = next(line for line in text.splitlines() if line.startswith("| `spec.switchover.timeoutSeconds` |"))
    assert row == (
        "| `spec.switchover.timeoutSeconds` | integer | `300` | SwitchoverTimeout passed to "
        "SwitchoverBlueGreenDeployment; ≥ 30; ≤ 3600 |"
    )
    region = next(line for line in text.splitlines() if line.startswith("| `spec.region` |"))
    assert "required; immutable" in region, region
