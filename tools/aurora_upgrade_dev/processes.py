"""Stopping a child process we started: one way for the control plane, the operator, the
simulator and the tests that run them."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def stop_process(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Send ``sig`` unless it has exited already, SIGKILL it if it still runs ``timeout`` seconds
    later, and reap it (so no zombie outlives the caller)."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
