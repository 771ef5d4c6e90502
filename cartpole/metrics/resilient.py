"""Network sinks behind a queue: a slow or dead backend never slows or stops training.

``Resilient`` hands events to a background thread. When the backend fails, it logs
one warning, keeps the events in a bounded buffer and retries with exponential
backoff; when the backend comes back, the buffered events are replayed in order and
one line says so. The trial's own events file is written separately and stays
complete whatever happens here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from cartpole.metrics.recorder import Sink

log = logging.getLogger(__name__)

_STOP = object()


class Resilient:
    """Wraps a sink factory; the sink is built, used and rebuilt on the worker thread."""

    def __init__(self, name: str, connect: Callable[[], Sink], buffer: int = 100_000,
                 first_retry: float = 0.5, max_retry: float = 30.0,
                 close_timeout: float = 3.0) -> None:
        self.name = name
        self._connect = connect
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._backlog: deque[dict[str, Any]] = deque(maxlen=buffer)
        self._first_retry, self._max_retry = first_retry, max_retry
        self._close_timeout = close_timeout
        self.dropped = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name=f"metrics-{name}", daemon=True)
        self._thread.start()

    def write(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(self._close_timeout)
        undelivered = len(self._backlog) + self._queue.qsize() + self.dropped
        if undelivered:
            log.warning("metrics engine %s: %d events could not be delivered (the trial's "
                        "events.jsonl has them all)", self.name, undelivered)

    # -- worker thread ---------------------------------------------------------------
    def _run(self) -> None:
        sink: Sink | None = None
        delay = self._first_retry
        retry_at = 0.0
        stop_by: float | None = None  # set when close() asks the thread to finish
        while True:
            now = time.monotonic()
            if self._backlog:
                timeout: float | None = max(0.0, retry_at - now)
            else:
                timeout = 0.0 if stop_by is not None else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                stop_by = time.monotonic() + self._close_timeout
            elif item is not None:
                if len(self._backlog) == self._backlog.maxlen:
                    self.dropped += 1
                self._backlog.append(item)
            if self._backlog and time.monotonic() >= retry_at:
                try:
                    sink = sink or self._connect()
                    while self._backlog:
                        sink.write(self._backlog[0])
                        self._backlog.popleft()
                except Exception as exc:  # noqa: BLE001 - any backend failure is retried
                    sink = self._discard(sink)
                    self.failures += 1
                    if self.failures == 1:
                        log.warning("metrics engine %s is unreachable (%s); buffering events "
                                    "and retrying in the background", self.name, _short(exc))
                    retry_at = time.monotonic() + delay
                    delay = min(delay * 2, self._max_retry)
                else:
                    if self.failures:
                        log.warning("metrics engine %s is back; buffered events were sent",
                                    self.name)
                    self.failures, delay = 0, self._first_retry
            if stop_by is not None and (not self._backlog or retry_at > stop_by):
                break
        self._discard(sink)

    @staticmethod
    def _discard(sink: Sink | None) -> None:
        if sink is not None:
            try:
                sink.close()
            except Exception:
                log.debug("closing a failed sink failed", exc_info=True)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
