"""The chart's alerts tell a stall from a wait on a person by `aurora_upgrade_reason`, with the
reasons listed in the PrometheusRule template. They must be the operator's own: the waits
without a deadline (deadlines.ON_PEOPLE) that do not set the Stalled condition (status.py).
A reason missing from the chart's list would page AuroraUpgradeStalled for a wait a person
asked for; a stalling reason in it would silence the page for a real stall."""

from __future__ import annotations

import re
from pathlib import Path

from aurora_upgrade.decisions import deadlines
from aurora_upgrade.decisions.outcome import Pace
from aurora_upgrade.status import STALLING_REASONS, needs_a_person

TEMPLATE = (
    Path(__file__).resolve().parents[2] / "charts" / "aurora-upgrade-operator" / "templates" / "prometheusrule.yaml"
)


def people_waits() -> set[str]:
    (listed,) = re.findall(r'\$peopleWaits := "([A-Za-z|]+)"', TEMPLATE.read_text())
    return set(listed.split("|"))


def test_the_chart_lists_exactly_the_waits_on_a_person_that_are_not_stalls() -> None:
    assert people_waits() == set(deadlines.ON_PEOPLE - STALLING_REASONS)
    assert not any(needs_a_person(reason) for reason in people_waits())
    # The waits that look at AWS only at the safety interval are waits on a person.
    assert people_waits() >= {reason for reason, w in deadlines.WAITS.items() if w.pace == Pace.SAFETY}


def test_the_stalled_alert_excludes_them_and_approval_requires_its_reason() -> None:
    text = TEMPLATE.read_text()
    stalled = text.split("- alert: AuroraUpgradeStalled", 1)[1].split("- alert:", 1)[0]
    assert 'phase!~"Completed|Failed|Aborted"' in stalled, "every working phase, AwaitingSwitchover too"
    assert "aurora_upgrade_reason{reason=~{{ $peopleWaits | quote }}}" in stalled
    approval = text.split("- alert: AuroraUpgradeAwaitingApproval", 1)[1].split("- alert:", 1)[0]
    assert "and on (namespace, name)" in approval and 'reason="AwaitingApproval"' in approval
