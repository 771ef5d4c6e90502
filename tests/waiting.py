"""Polling for a state under a generous deadline, instead of sleeping and assuming it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Generous on purpose: a loaded 2-core machine can be many times slower than an idle one.
DEADLINE = 120.0


def wait_until(check: Callable[[], T], what: str, timeout: float = DEADLINE,
               interval: float = 0.05) -> T:
    """Call ``check`` until it returns something truthy, and return that; fail after
    ``timeout`` seconds with ``what`` (the state that never came) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (by SIGSTOP); fails at once if it has exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        stat = ") X"
    state = stat.rsplit(")", 1)[1].split()[0]
    assert state not in ("Z", "X"), f"process {pid} has exited"
    return state in ("T", "t")
