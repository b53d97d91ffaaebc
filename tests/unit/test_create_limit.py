"""The operator's optional per-Region limit on upgrades creating green at once
(AURORA_UPGRADE_MAX_CREATING_PER_REGION): who counts as creating, who waits first, and the wait
that holds a create while the limit is taken (decisions/bluegreen.py, pure)."""

from __future__ import annotations

import pytest

from aurora_upgrade.config import MAX_CREATING_ENV, max_creating_per_region
from aurora_upgrade.decisions.actions import CreateBlueGreen
from aurora_upgrade.decisions.bluegreen import CreateSlots, CreateTurn, create_slots, hold_create
from aurora_upgrade.decisions.outcome import Act, Wait, advance
from aurora_upgrade.phases import Phase
from aurora_upgrade.reasons import TABLE, Kind, Reason

from .builders import make_upgrade

CREATE = Act(
    to=Phase.PROVISIONING_GREEN,
    reason=Reason.BLUE_GREEN_DEPLOYMENT_CREATED,
    message="Created",
    call=CreateBlueGreen("bg", "arn:aws:rds:ap-northeast-1:1:cluster:c", "15.10", None, None, {}),
)
T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


def waiting(ref: str, since: str) -> CreateTurn:
    return CreateTurn(ref, Phase.CREATING_BLUE_GREEN, since, create_requested=False)


def test_creating_is_a_create_sent_and_green_not_yet_available() -> None:
    assert CreateTurn("a", Phase.CREATING_BLUE_GREEN, T0, create_requested=True).creating
    assert CreateTurn("a", Phase.PROVISIONING_GREEN, T0, create_requested=True).creating
    assert not waiting("a", T0).creating and waiting("a", T0).waiting
    assert not CreateTurn("a", Phase.REBOOTING_GREEN, T0, create_requested=True).creating


@pytest.mark.parametrize(
    ("turns", "me", "expected"),
    [
        pytest.param([], "ns/me", CreateSlots(1, 0, 0), id="alone"),
        pytest.param(
            [CreateTurn("ns/a", Phase.PROVISIONING_GREEN, T0, True), waiting("ns/me", T1)],
            "ns/me",
            CreateSlots(1, 1, 0),
            id="one-creating",
        ),
        pytest.param(
            [waiting("ns/first", T0), waiting("ns/me", T1), waiting("ns/later", T2)],
            "ns/me",
            CreateSlots(1, 0, 1),
            id="first-come-first-served",
        ),
        pytest.param([waiting("ns/b", T1), waiting("ns/a", T1)], "ns/b", CreateSlots(1, 0, 1), id="same-time-by-name"),
        pytest.param([waiting("ns/a", T2)], "ns/new", CreateSlots(1, 0, 1), id="not-indexed-yet-goes-last"),
    ],
)
def test_slots_count_those_creating_and_those_that_began_waiting_earlier(
    turns: list[CreateTurn], me: str, expected: CreateSlots
) -> None:
    assert create_slots(me, turns, 1) == expected


def test_a_create_waits_while_the_limit_is_taken_and_goes_ahead_when_a_slot_is_free() -> None:
    upgrade = make_upgrade(Phase.CREATING_BLUE_GREEN)

    held = hold_create(upgrade, CREATE, CreateSlots(limit=2, creating=1, ahead=1))

    assert isinstance(held, Wait) and held.action is None
    assert held.reason == Reason.CREATE_LIMIT_REACHED
    assert "1 upgrade(s) are creating green in ap-northeast-1" in held.message
    assert "at most 2 at once" in held.message and "AURORA_UPGRADE_MAX_CREATING_PER_REGION" in held.message
    assert hold_create(upgrade, CREATE, CreateSlots(limit=2, creating=1, ahead=0)) is CREATE
    assert hold_create(upgrade, CREATE, None) is CREATE, "no limit"
    # Only a create is held: any other outcome (found ours, a failure, ...) goes as it is.
    other = advance(Phase.PROVISIONING_GREEN, Reason.BLUE_GREEN_DEPLOYMENT_FOUND, "found")
    assert hold_create(upgrade, other, CreateSlots(limit=1, creating=5, ahead=0)) is other


def test_the_reason_waits_on_other_upgrades_without_a_deadline() -> None:
    entry = TABLE[Reason.CREATE_LIMIT_REACHED]
    assert entry.kind == Kind.WAITING_ON_PERSON
    assert not entry.warning


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("1", 1), ("40", 40)])
def test_the_limit_is_off_unless_set(monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: int | None) -> None:
    if raw is None:
        monkeypatch.delenv(MAX_CREATING_ENV, raising=False)
    else:
        monkeypatch.setenv(MAX_CREATING_ENV, raw)
    assert max_creating_per_region() == expected


@pytest.mark.parametrize("raw", ["0", "-3", "many"])
def test_a_limit_that_is_no_positive_whole_number_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(MAX_CREATING_ENV, raw)
    with pytest.raises(ValueError, match="AURORA_UPGRADE_MAX_CREATING_PER_REGION must be a whole number"):
        max_creating_per_region()
