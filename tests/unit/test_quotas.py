"""A Region's quota reached is a slow wait, not a loop and not a failure (issue 20, item 6):
what a create refused for a quota means, how soon it is tried again, and how long for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aurora_upgrade.config import Timing
from aurora_upgrade.decisions import deadlines, pacing
from aurora_upgrade.decisions.actions import CreateBlueGreen, CreateSnapshot
from aurora_upgrade.decisions.outcome import Wait, default_call_failed
from aurora_upgrade.gateway.errors import QUOTAS
from aurora_upgrade.phases import Phase
from aurora_upgrade.reasons import Reason
from aurora_upgrade.resources import ErrorKind, Quota, RdsError

from .builders import make_upgrade

CREATE = CreateBlueGreen("bg", "arn:aws:rds:ap-northeast-1:1:cluster:c", "15.10", None, None, {})
SNAPSHOT = CreateSnapshot("snap", "c", {})


def quota_refusal(code: str, operation: str) -> RdsError:
    return RdsError(ErrorKind.QUOTA, code, "quota reached", operation, quota=QUOTAS[code])


@pytest.mark.parametrize(
    ("phase", "action", "code", "reason", "named"),
    [
        (
            Phase.CREATING_BLUE_GREEN,
            CREATE,
            "DBClusterQuotaExceededFault",
            Reason.DB_CLUSTER_QUOTA_REACHED,
            "DB clusters",
        ),
        (Phase.CREATING_BLUE_GREEN, CREATE, "InstanceQuotaExceeded", Reason.DB_INSTANCE_QUOTA_REACHED, "DB instances"),
        (Phase.CREATING_BLUE_GREEN, CREATE, "StorageQuotaExceeded", Reason.STORAGE_QUOTA_REACHED, "total storage"),
        (
            Phase.SNAPSHOTTING,
            SNAPSHOT,
            "SnapshotQuotaExceeded",
            Reason.SNAPSHOT_QUOTA_REACHED,
            "manual DB cluster snapshots",
        ),
    ],
)
def test_a_create_refused_for_a_quota_waits_with_a_reason_naming_it(
    phase: Phase, action: object, code: str, reason: Reason, named: str
) -> None:
    """Not Failed (AWSDBClusterQuotaExceededFault) and not a quick retry: a wait whose reason and
    message name the quota, with a Warning, looked at again at the safety interval."""
    upgrade = make_upgrade(phase)
    now = datetime.now(UTC)
    timing = Timing()
    outcome = default_call_failed(upgrade, action, quota_refusal(code, action.operation), now, timing)  # type: ignore[attr-defined,arg-type]
    assert isinstance(outcome, Wait)
    assert outcome.reason == reason
    assert named in outcome.message and code in outcome.message
    assert outcome.warning
    assert pacing.next_look(upgrade, outcome, now, timing) == timing.safety == 300
    assert timing.safety > 10 * timing.quick  # slow: never a tight loop of refused creates


def test_a_quota_wait_has_a_deadline_after_which_an_untouched_upgrade_fails() -> None:
    """Six hours of refusals (time scale 1): before switchover blue is untouched, so Failed with
    `<Reason>TimedOut`; until then the wait keeps the time it began across retries."""
    timing = Timing()
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    began = now - timedelta(hours=5)
    upgrade = make_upgrade(
        Phase.CREATING_BLUE_GREEN,
        waiting_for=Reason.DB_CLUSTER_QUOTA_REACHED.value,
        waiting_since=began.isoformat().replace("+00:00", "Z"),
    )
    refused = default_call_failed(
        upgrade, CREATE, quota_refusal("DBClusterQuotaExceededFault", CREATE.operation), now, timing
    )
    still = deadlines.bounded(upgrade, refused, now, timing)
    assert still.reason == Reason.DB_CLUSTER_QUOTA_REACHED and still.phase is None
    assert still.changes["waiting_since"] == upgrade.status.waiting_since
    later = deadlines.bounded(upgrade, refused, now + timedelta(hours=1, minutes=1), timing)
    assert later.phase == Phase.FAILED
    assert later.reason == "DBClusterQuotaReachedTimedOut"
    assert "blue is untouched" in later.message


def test_quota_refusals_are_answers_so_the_create_did_not_happen() -> None:
    """A quota refusal is a 4xx answer: the engine drops the create's intent (nothing in flight),
    so the next look may create again; it is never retried by botocore as a transient error."""
    error = quota_refusal("DBClusterQuotaExceededFault", CREATE.operation)
    assert error.answered and not error.retryable
    assert error.quota == Quota.DB_CLUSTERS
