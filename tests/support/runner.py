"""How tests run kubectl and helm: the command's arguments in, its text-mode result out."""

from __future__ import annotations

import subprocess
from typing import Protocol


class Runner(Protocol):
    def __call__(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        token: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]: ...
