"""precheck.claimed_by: one active AuroraUpgrade per (region, cluster)."""

from __future__ import annotations

import pytest

from aurora_upgrade.decisions.precheck import Claim, claim_key, claimed_by

OLDEST = "2025-03-14T00:00:00Z"
MIDDLE = "2025-03-14T00:05:00Z"
NEWEST = "2025-03-14T00:10:00Z"


@pytest.mark.parametrize(
    ("claims", "me", "expected"),
    [
        pytest.param([Claim("ns/a", OLDEST, "Pending")], "ns/a", None, id="alone"),
        pytest.param(
            [Claim("ns/a", OLDEST, "Pending"), Claim("ns/b", NEWEST, "Pending")],
            "ns/b",
            "ns/a",
            id="oldest-pending-wins",
        ),
        pytest.param(
            [Claim("ns/a", OLDEST, "Pending"), Claim("ns/b", NEWEST, "Pending")],
            "ns/a",
            None,
            id="oldest-pending-is-me",
        ),
        pytest.param(
            [Claim("ns/b", OLDEST, "Pending"), Claim("ns/a", OLDEST, "Pending")],
            "ns/b",
            "ns/a",
            id="same-age-name-breaks-tie",
        ),
        pytest.param(
            [Claim("ns/a", OLDEST, "Pending"), Claim("ns/b", NEWEST, "Prechecking")],
            "ns/a",
            "ns/b",
            id="one-past-pending-beats-an-older-pending",
        ),
        pytest.param(
            [Claim("ns/a", OLDEST, "Pending"), Claim("ns/b", NEWEST, "SwitchingOver")],
            "ns/b",
            None,
            id="the-working-one-goes-on",
        ),
        pytest.param(
            [Claim("ns/a", OLDEST, "Completed"), Claim("ns/b", MIDDLE, "Failed"), Claim("ns/c", NEWEST, "Pending")],
            "ns/c",
            None,
            id="terminal-ones-ignored",
        ),
        pytest.param(
            [Claim("ns/a", OLDEST, "Aborted"), Claim("ns/b", MIDDLE, "Pending"), Claim("ns/c", NEWEST, "Pending")],
            "ns/c",
            "ns/b",
            id="oldest-non-terminal-pending-wins",
        ),
        pytest.param([Claim("ns/a", OLDEST, "ProvisioningGreen")], "ns/new", "ns/a", id="me-not-yet-indexed"),
    ],
)
def test_claimed_by(claims: list[Claim], me: str, expected: str | None) -> None:
    assert claimed_by(claims, me) == expected


def test_cluster_identifiers_are_case_insensitive() -> None:
    """AWS stores cluster identifiers lower-case and matches them case-insensitively: an
    upgrade of `Aurora-BG-Aurora-Cluster` and one of `aurora-bg-aurora-cluster` claim one cluster."""
    assert claim_key("ap-northeast-1", "Aurora-BG-Aurora-Cluster") == claim_key(
        "ap-northeast-1", "aurora-bg-aurora-cluster"
    )
    assert claim_key("ap-northeast-1", "a") != claim_key("us-east-1", "a")
