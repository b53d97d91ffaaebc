"""tests/support/runbook.py is what every tier expects of the example: it must agree with what the
operator derives from the example's own spec."""

from __future__ import annotations

from aurora_upgrade.models import API_VERSION, parse_spec
from aurora_upgrade.phases import happy_path
from support.runbook import RUNBOOK_MANIFEST, RUNBOOK_PHASES, RUNBOOK_SPEC, runbook_manifest


def test_the_runbook_phases_are_the_happy_path_of_the_examples_spec() -> None:
    assert [str(phase) for phase in happy_path(parse_spec(RUNBOOK_SPEC))] == RUNBOOK_PHASES


def test_the_example_is_an_aurora_upgrade_of_this_api_version() -> None:
    assert (RUNBOOK_MANIFEST["apiVersion"], RUNBOOK_MANIFEST["kind"]) == (API_VERSION, "AuroraUpgrade")


def test_runbook_manifest_is_a_copy_each_caller_may_change() -> None:
    changed = runbook_manifest("elsewhere", "other", dryRun=True, cleanup={"deleteOldCluster": True})
    assert changed["metadata"] == {"name": "other", "namespace": "elsewhere"}
    assert changed["spec"]["dryRun"] is True
    assert changed["spec"]["cleanup"] == {"deleteOldCluster": True}
    changed["spec"]["switchover"]["mode"] = "Manual"
    assert RUNBOOK_SPEC["switchover"]["mode"] == "Automatic"
    assert "dryRun" not in RUNBOOK_SPEC
    assert runbook_manifest() == RUNBOOK_MANIFEST
