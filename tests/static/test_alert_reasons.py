"""The chart's alerts tell a stall from a wait on a person by `aurora_upgrade_reason`, with the
reasons listed in the PrometheusRule template. They must be the operator's own: the reasons
of kind "waiting on a person" in reasons.py (no deadline, not a stall). The Argo CD health
script calls a subset of them Suspended.
A reason missing from the chart's list would page AuroraUpgradeStalled for a wait a person
asked for; a stalling reason in it would silence the page for a real stall."""

from __future__ import annotations

import re
from pathlib import Path

from aurora_upgrade.reasons import TABLE, Pace, decisions_asked, is_stall, waits_on_a_person

TEMPLATE = (
    Path(__file__).resolve().parents[2] / "charts" / "aurora-upgrade-operator" / "templates" / "prometheusrule.yaml"
)


def people_waits() -> set[str]:
    (listed,) = re.findall(r'\$peopleWaits := "([A-Za-z|]+)"', TEMPLATE.read_text())
    return set(listed.split("|"))


def test_the_chart_lists_exactly_the_waits_on_a_person_that_are_not_stalls() -> None:
    assert people_waits() == {reason.value for reason in waits_on_a_person()}
    assert not any(is_stall(reason) for reason in people_waits())
    # The waits that look at AWS only at the safety interval are waits on a person.
    assert people_waits() >= {reason.value for reason, e in TABLE.items() if e.pace == Pace.SAFETY}


def test_the_chart_pages_at_once_for_exactly_the_decisions_the_operator_asks_for() -> None:
    (listed,) = re.findall(r'\$decisions := "([A-Za-z|]+)"', TEMPLATE.read_text())
    assert set(listed.split("|")) == {reason.value for reason in decisions_asked()}
    assert set(listed.split("|")) <= people_waits()
    rule = TEMPLATE.read_text().split("- alert: AuroraUpgradeNeedsDecision", 1)[1].split("- alert:", 1)[0]
    assert "aurora_upgrade_reason{reason=~{{ $decisions | quote }}}" in rule


HEALTH = Path(__file__).resolve().parents[2] / "docs" / "argocd" / "resource_customizations" / "dbupgrade.dev"


def test_argo_cd_suspends_exactly_the_waits_on_a_person() -> None:
    script = (HEALTH / "AuroraUpgrade" / "health.lua").read_text()
    suspended = set(re.findall(r'status\.reason == "([A-Za-z]+)"', script))
    assert suspended, "the health script names no reason any more: is this test reading it?"
    assert suspended == {reason.value for reason in waits_on_a_person()}


def test_the_stalled_alert_excludes_them_and_approval_requires_its_reason() -> None:
    text = TEMPLATE.read_text()
    stalled = text.split("- alert: AuroraUpgradeStalled", 1)[1].split("- alert:", 1)[0]
    assert 'phase!~"Completed|Failed|Aborted"' in stalled, "every working phase, AwaitingSwitchover too"
    assert "aurora_upgrade_reason{reason=~{{ $peopleWaits | quote }}}" in stalled
    approval = text.split("- alert: AuroraUpgradeAwaitingApproval", 1)[1].split("- alert:", 1)[0]
    assert "and on (namespace, name)" in approval and 'reason="AwaitingApproval"' in approval
