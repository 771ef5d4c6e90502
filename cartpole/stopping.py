"""Stop requests (Ctrl-C, SIGTERM) as a flag that the training loop checks.

A KeyboardInterrupt raised at an arbitrary point can land inside TensorFlow's C
code, which turns it into an unrelated SystemError. While a trial trains, the
signals only set this flag, and the loop stops at the next step boundary, keeping
the best model so far.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """Within the block, SIGINT and SIGTERM set the returned event instead of raising."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def request(signum: int, frame: object) -> None:
        flag.set()

    previous = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
