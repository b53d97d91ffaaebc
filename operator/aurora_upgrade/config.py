"""Settings read from the environment, shared by the operator and `aurora-upgrade run`."""

from __future__ import annotations

import os

POLL_ENV = "AURORA_UPGRADE_POLL_SECONDS"


def poll_seconds() -> float:
    """The base poll interval every wait derives from (default 30, fractions allowed)."""
    raw = os.environ.get(POLL_ENV, "30")
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{POLL_ENV} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{POLL_ENV} must be positive, not {raw!r}")
    return value
