"""Fan-out of events to sinks that share a two-method interface."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where events go: ``write`` one event, ``close`` at the end.

    Optional: ``write_batch(events)`` for bulk APIs (used behind ``Resilient``),
    ``log_artifacts(files)``, called once the trial's model and metadata are saved,
    ``critical = True`` for a sink whose failure must stop the trial (the events
    file), and ``name`` with ``undelivered`` (set by ``close``) for a sink that can
    give up on events.
    """

    def write(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class Recorder:
    """Sends every event to every sink; one failing sink never stops the others,
    except a ``critical`` one, whose error is raised.

    After ``close``, ``undelivered`` maps each engine that gave up on events to how
    many it could not deliver.
    """

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks = list(sinks)
        self.undelivered: dict[str, int] = {}

    def write(self, event: dict[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.write(event)
            except Exception:
                if getattr(sink, "critical", False):
                    raise
                log.exception("metrics sink %s failed", type(sink).__name__)

    def log_artifacts(self, files: list[Path]) -> None:
        """Hand the trial's saved files to the sinks that keep artifacts."""
        for sink in self.sinks:
            upload = getattr(sink, "log_artifacts", None)
            if upload is None:
                continue
            try:
                upload(files)
            except Exception:
                log.exception("metrics sink %s failed to take artifacts", type(sink).__name__)

    def close(self) -> dict[str, int]:
        """Close every sink (a critical sink's error is raised after all are closed);
        return ``undelivered``."""
        # Sinks with a queue start draining together, so their time limits overlap.
        for sink in self.sinks:
            begin = getattr(sink, "begin_close", None)
            if begin is not None:
                begin()
        failure: Exception | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                if getattr(sink, "critical", False):
                    failure = failure or exc
                else:
                    log.exception("metrics sink %s failed to close", type(sink).__name__)
            lost = getattr(sink, "undelivered", 0)
            if lost:
                name = str(getattr(sink, "name", type(sink).__name__))
                self.undelivered[name] = self.undelivered.get(name, 0) + int(lost)
        if failure is not None:
            raise failure
        return dict(self.undelivered)
