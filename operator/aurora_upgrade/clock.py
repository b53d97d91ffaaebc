"""Time as status records it: RFC 3339 in UTC, and how long ago a recorded time was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def since(status_time: str | None, now: datetime) -> timedelta:
    """How long ago a recorded time was (zero when none was recorded)."""
    return now - parse_time(status_time) if status_time else timedelta(0)
