"""Network sinks behind a queue: a slow or dead backend never slows or stops training.

``Resilient`` hands events to a background thread. When the backend fails, it logs
one warning, keeps the events in a bounded buffer and retries with exponential
backoff; when the backend comes back, the buffered events are replayed in order and
one line says so. The trial's own events file is written separately and stays
complete whatever happens here.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartpole.errors import first_line
from cartpole.metrics.base import Engine, as_engine
from cartpole.metrics.recorder import Sink
from cartpole.metrics.secrets import CredentialsRefused, mask_url

log = logging.getLogger(__name__)

_STOP = object()
# Engines this process has already warned about: one warning per outage, not one per
# trial or per retry. The group runner's first attempt counts too.
_WARNED: set[str] = set()


def warn_unreachable(name: str, error: BaseException) -> None:
    """Warn that engine ``name`` is down, or refused its credentials, once until it is
    seen up again."""
    detail = short_error(error)
    if name in _WARNED:
        log.debug("metrics engine %s is still unreachable: %s", name, detail)
        return
    _WARNED.add(name)
    what = (": its server refused the credentials" if isinstance(error, CredentialsRefused)
            else " is unreachable")
    log.warning("metrics engine %s%s (%s); its events are buffered and retried "
                "in the background (events.jsonl keeps them all)", name, what, detail)


def mark_reachable(name: str) -> None:
    if name in _WARNED:
        _WARNED.discard(name)
        log.info("metrics engine %s is back; buffered events were sent", name)


@dataclass(frozen=True)
class Artifacts:
    """A request to upload a trial's files, kept in order with the events around it."""

    files: tuple[Path, ...]


class Resilient(Engine):
    """Wraps a sink factory; the sink is built, used and rebuilt on the worker thread.

    A sink that overrides ``write_batch(events)`` (see ``Engine.takes_batches``) gets
    events in batches of up to ``max_batch``, collected for at most ``flush_interval``
    seconds; a failed batch is retried whole. Other sinks get one event at a time.
    Its ``log_artifacts(files)`` gets the trial's files once they are written.
    """

    def __init__(self, name: str, connect: Callable[[], Sink], buffer: int = 100_000,
                 first_retry: float = 0.5, max_retry: float = 30.0,
                 close_timeout: float = 3.0, flush_interval: float = 0.25,
                 max_batch: int = 500) -> None:
        self.name = name
        self._connect = connect
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._backlog: deque[dict[str, Any] | Artifacts] = deque(maxlen=buffer)
        self._first_retry, self._max_retry = first_retry, max_retry
        self._close_timeout = close_timeout
        self._flush_interval, self._max_batch = flush_interval, max_batch
        self.dropped = 0
        self.failures = 0
        self.undelivered = 0  # set by close()
        self._closing: float | None = None
        self._stop_taken = False
        self._thread = threading.Thread(target=self._run, name=f"metrics-{name}", daemon=True)
        self._thread.start()

    def write(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def log_artifacts(self, files: list[Path]) -> None:
        self._queue.put(Artifacts(tuple(files)))

    def begin_close(self) -> None:
        """Ask the thread to deliver what it can within ``close_timeout`` and stop."""
        if self._closing is None:
            self._closing = time.monotonic() + self._close_timeout
            self._queue.put(_STOP)

    def close(self) -> int:
        """Deliver what can be delivered in time; return (and keep in ``undelivered``)
        how many events never reached the backend."""
        self.begin_close()
        assert self._closing is not None
        # A request in flight when the time is up is not waited for: the thread is a
        # daemon, and the warning below counts what had not been delivered by then.
        self._thread.join(max(0.0, self._closing - time.monotonic()) + 0.5)
        queued = self._queue.qsize() - (0 if self._stop_taken else 1)  # not the STOP
        pending = self._backlog.copy()  # one C call: the thread may still be running
        events = sum(not isinstance(item, Artifacts) for item in pending)
        self.undelivered = events + max(0, queued) + self.dropped
        if self.undelivered:
            log.warning("metrics engine %s: %d events could not be delivered (the trial's "
                        "events.jsonl has them all)", self.name, self.undelivered)
        return self.undelivered

    # -- worker thread ---------------------------------------------------------------
    def _run(self) -> None:
        sink: Engine | None = None
        delay = self._first_retry
        retry_at = 0.0  # no sending before this time (backoff after a failure)
        flush_at: float | None = None  # when the oldest waiting item must go out
        stop_by: float | None = None  # set when close() asks the thread to finish
        while True:
            wake = [t for t in (flush_at, retry_at if self._backlog else None) if t is not None]
            if stop_by is not None:
                wake.append(time.monotonic())
            timeout = max(0.0, max(wake) - time.monotonic()) if wake else None
            if self._take(timeout):
                stop_by = self._closing or time.monotonic() + self._close_timeout
                retry_at = 0.0  # one last attempt now: the backend may be back
            now = time.monotonic()
            if self._backlog and flush_at is None:
                flush_at = now + self._flush_interval
            due = stop_by is not None or len(self._backlog) >= self._max_batch or (
                flush_at is not None and now >= flush_at)
            if self._backlog and due and now >= retry_at:
                try:
                    sink = sink or as_engine(self._connect())
                    self._send(sink, stop_by)
                except Exception as exc:  # noqa: BLE001 - any backend failure is retried
                    sink = self._discard(sink)
                    self.failures += 1
                    if self.failures == 1:
                        warn_unreachable(self.name, exc)
                    retry_at = time.monotonic() + delay
                    delay = min(delay * 2, self._max_retry)
                else:
                    mark_reachable(self.name)
                    self.failures, delay = 0, self._first_retry
                    flush_at = None
            if stop_by is not None and (not self._backlog or retry_at > stop_by
                                        or time.monotonic() > stop_by):
                break
        self._discard(sink)

    def _take(self, timeout: float | None) -> bool:
        """Move everything queued into the backlog, waiting up to ``timeout`` for the first
        item; True once close() has asked to stop."""
        stop = False
        try:
            item = self._queue.get(timeout=timeout)
            while True:
                if item is _STOP:
                    stop = self._stop_taken = True
                else:
                    if len(self._backlog) == self._backlog.maxlen:
                        self.dropped += 1
                    self._backlog.append(item)
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        return stop

    def _send(self, sink: Engine, stop_by: float | None) -> None:
        """Deliver the backlog in order; what was delivered leaves it."""
        batches = sink.takes_batches()
        while self._backlog and (stop_by is None or time.monotonic() < stop_by):
            head = self._backlog[0]
            if isinstance(head, Artifacts):
                sink.log_artifacts(list(head.files))
                self._backlog.popleft()
            elif batches:
                batch = list(itertools.islice(self._events_at_head(), self._max_batch))
                sink.write_batch(batch)
                for _ in batch:
                    self._backlog.popleft()
            else:
                sink.write(head)
                self._backlog.popleft()

    def _events_at_head(self) -> Iterator[dict[str, Any]]:
        for item in self._backlog:
            if isinstance(item, Artifacts):
                return
            yield item

    @staticmethod
    def _discard(sink: Engine | None) -> None:
        if sink is not None:
            try:
                sink.close()
            except Exception:
                log.debug("closing a failed sink failed", exc_info=True)


def short_error(exc: BaseException) -> str:
    """The first line of ``exc``, at most 200 characters, no password of a URL in it:
    what a warning shows."""
    return mask_url(first_line(exc, 200))
