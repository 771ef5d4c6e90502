"""Stop requests (Ctrl-C, SIGTERM, or ``request_stop``) as a flag the training loop checks.

A KeyboardInterrupt raised at an arbitrary point can land inside TensorFlow's C
code, which turns it into an unrelated SystemError. While a trial trains, the
signals only set this flag, and the loop stops at the next step boundary, keeping
the best model so far. ``request_stop`` does the same from any thread: the Ray
backend's tasks, which no signal of the user's reaches, stop this way.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_ACTIVE: set[threading.Event] = set()
_LOCK = threading.Lock()


def stop_requested() -> bool:
    """Whether a trial training in this process was asked to stop (something that
    blocks inside the training loop, a pruner waiting for peers, checks it)."""
    with _LOCK:
        return any(flag.is_set() for flag in _ACTIVE)


def request_stop() -> None:
    """Ask every trial training in this process to stop, as SIGTERM would."""
    with _LOCK:
        for flag in _ACTIVE:
            flag.set()


@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """Within the block, SIGINT, SIGTERM and ``request_stop`` set the returned event
    instead of raising (signals only in the main thread, where Python handles them)."""
    flag = threading.Event()
    with _LOCK:
        _ACTIVE.add(flag)
    try:
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
    finally:
        with _LOCK:
            _ACTIVE.discard(flag)


@contextmanager
def signals_held() -> Iterator[None]:
    """Within the block (in the main thread), SIGINT, SIGTERM and SIGHUP wait for its end,
    then act as they would have: a write to a database in it (a study's) is never cut
    off halfway, holding a lock the next writer would wait a minute for."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for signum in dict.fromkeys(held):
        os.kill(os.getpid(), signum)
