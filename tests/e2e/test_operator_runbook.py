"""The runbook's upgrade as a user runs it: `kubectl apply -f examples/...`, `kubectl wait`,
`kubectl get aup`, `kubectl describe aup`; the operator and the simulated RDS are real
processes. AWS ends in the runbook's end state after exactly the runbook's mutating calls."""

from __future__ import annotations

import itertools
import re

import pytest
from operator_fixtures import CLUSTER, EXAMPLE_NAME, Stack, apply_example_and_wait, assert_runbook_completed

NAME = EXAMPLE_NAME


@pytest.fixture
def namespace(crd: None) -> str:
    """The example manifest names namespace default; the operator watches only it here."""
    return "default"


def test_example_manifest_upgrades_the_runbook_cluster(stack: Stack) -> None:
    stack.start()
    apply_example_and_wait(stack)

    # kubectl get aup: the printer columns.
    table = stack.kubectl("-n", "default", "get", "aup", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "CLUSTER", "FROM", "TO", "PHASE", "READY", "AGE"], table
    row = next(line.split() for line in table[1:] if line.startswith(NAME + " "))
    assert row[:6] == [NAME, CLUSTER, "15.6", "15.10", "Completed", "True"], table

    # The long names and the category find it too.
    for resource in ("auroraupgrades", "auroraupgrade", "dbupgrade"):
        listed = stack.kubectl("-n", "default", "get", resource, "-o", "name", check=True).stdout.split()
        assert f"auroraupgrade.dbupgrade.dev/{NAME}" in listed, (resource, listed)

    # Status in full, and AWS in the runbook's end state after exactly its mutating calls.
    status = assert_runbook_completed(stack)

    wide = stack.kubectl("-n", "default", "get", "aup", NAME, "-o", "wide", check=True).stdout.splitlines()
    header = wide[0].split()
    assert header[:7] == ["NAME", "CLUSTER", "FROM", "TO", "PHASE", "READY", "AGE"], wide
    assert header[7:] == ["BLUEGREEN", "MESSAGE"], wide
    assert status["blueGreenDeploymentIdentifier"] in wide[1], wide
    assert status["message"].split()[0] in wide[1], wide

    # kubectl describe: an Event per phase transition, "A -> B".
    phases = [entry["phase"] for entry in status["history"]]
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
