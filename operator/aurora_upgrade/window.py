"""The maintenance window of `spec.switchover.window`: whether it is open, and when it opens."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aurora_upgrade.models import MaintenanceWindow, Weekday

if TYPE_CHECKING:
    from aurora_upgrade.upgrade import Upgrade

_DAYS = tuple(Weekday)  # Mon..Sun, in datetime.weekday() order


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(window: MaintenanceWindow, now: datetime) -> bool:
    """Is `now` inside the window? A window whose end is before its start runs past midnight
    and belongs to the day it opened on."""
    local = now.astimezone(zoneinfo.ZoneInfo(window.time_zone))
    start, end = _minutes(window.start), _minutes(window.end)
    minute = local.hour * 60 + local.minute
    today = _DAYS[local.weekday()]
    yesterday = _DAYS[(local.weekday() - 1) % 7]
    if start < end:
        return today in window.days and start <= minute < end
    if start == end:  # a whole day
        return today in window.days
    return (today in window.days and minute >= start) or (yesterday in window.days and minute < end)


def next_window_start(window: MaintenanceWindow, now: datetime) -> datetime:
    local = now.astimezone(zoneinfo.ZoneInfo(window.time_zone)).replace(second=0, microsecond=0)
    hours, minutes = window.start.split(":")
    for offset in range(8):
        day = local + timedelta(days=offset)
        candidate = day.replace(hour=int(hours), minute=int(minutes))
        if _DAYS[candidate.weekday()] in window.days and candidate > local:
            return candidate
    return local


def window_opens(upgrade: Upgrade, now: datetime) -> datetime | None:
    """When the maintenance window next opens, if the spec has one."""
    window = upgrade.spec.switchover.window
    return next_window_start(window, now) if window is not None else None
