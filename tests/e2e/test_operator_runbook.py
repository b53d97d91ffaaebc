"""The runbook's upgrade as a user runs it: `kubectl apply -f examples/...`, `kubectl wait`,
`kubectl get aup`, `kubectl describe aup`; the operator and the simulated RDS are real
processes. AWS ends in the runbook's end state after exactly the runbook's mutating calls."""

from __future__ import annotations

import itertools
import re

import pytest
from operator_fixtures import Stack

from support.runbook import CLUSTER, EXAMPLE, NAME, RUNBOOK_CALLS, RUNBOOK_PHASES, assert_runbook_end_state


@pytest.fixture
def namespace(crd: None) -> str:
    """The example manifest names namespace default; the operator watches only it here."""
    return "default"


def test_example_manifest_upgrades_the_runbook_cluster(stack: Stack) -> None:
    stack.start()
    applied = stack.kubectl("apply", "-f", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr
    assert f"auroraupgrade.dbupgrade.dev/{NAME} created" in applied.stdout

    waited = stack.kubectl("-n", "default", "wait", "--for=condition=Ready", f"aup/{NAME}", "--timeout=120s")
    assert waited.returncode == 0, f"kubectl wait failed: {waited.stderr}\n{stack.diagnose()}"
    assert f"auroraupgrade.dbupgrade.dev/{NAME} condition met" in waited.stdout

    # kubectl get aup: the printer columns.
    table = stack.kubectl("-n", "default", "get", "aup", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "CLUSTER", "FROM", "TO", "PHASE", "READY", "AGE"], table
    row = next(line.split() for line in table[1:] if line.startswith(NAME + " "))
    assert row[:6] == [NAME, CLUSTER, "15.6", "15.10", "Completed", "True"], table

    # The long names and the category find it too.
    for resource in ("auroraupgrades", "auroraupgrade", "dbupgrade"):
        listed = stack.kubectl("-n", "default", "get", resource, "-o", "name", check=True).stdout.split()
        assert f"auroraupgrade.dbupgrade.dev/{NAME}" in listed, (resource, listed)

    wide = stack.kubectl("-n", "default", "get", "aup", NAME, "-o", "wide", check=True).stdout.splitlines()
    header = wide[0].split()
    assert header[:7] == ["NAME", "CLUSTER", "FROM", "TO", "PHASE", "READY", "AGE"], wide
    assert header[7:] == ["BLUEGREEN", "MESSAGE"], wide
    status = stack.status(NAME)
    bg_id = status["blueGreenDeploymentIdentifier"]
    assert bg_id.startswith("bgd-"), status
    assert bg_id in wide[1], wide
    assert "engine_version" in status["message"] and "15.10" in status["message"], status
    assert status["message"].split()[0] in wide[1], wide

    # Status in full.
    assert status["phase"] == "Completed"
    assert status["sourceEngineVersion"] == "15.6"
    assert status["oldClusterIdentifier"] == f"{CLUSTER}-old1"
    assert status["snapshotIdentifier"].startswith(f"{CLUSTER}-before-switchover-")
    assert status["greenClusterEndpoint"], status
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Ready": "True", "Reconciling": "False", "Stalled": "False", "Upgraded": "True"}
    phases = [entry["phase"] for entry in status["history"]]
    assert phases == RUNBOOK_PHASES, status["history"]

    # kubectl describe: an Event per phase transition, "A -> B".
    described = stack.kubectl("-n", "default", "describe", "aup", NAME, check=True).stdout
    assert "Events:" in described
    transitions = list(itertools.pairwise(phases))

    def all_transitions_described() -> bool:
        text = stack.kubectl("-n", "default", "describe", "aup", NAME, check=True).stdout
        return all(f"{a} -> {b}" in text for a, b in transitions)

    stack.wait_for("an Event per phase transition in kubectl describe", all_transitions_described, timeout=20)
    described = stack.kubectl("-n", "default", "describe", "aup", NAME, check=True).stdout
    for a, b in transitions:
        assert re.search(rf"Normal\s+\S+\s+.*{a} -> {b}", described), f"no Event for {a} -> {b}:\n{described}"

    # AWS: the runbook's end state, after exactly the runbook's mutating calls.
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose()
    assert_runbook_end_state(stack.rds_sim.rds())
