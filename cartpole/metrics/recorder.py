"""Fan-out of events to sinks that share a two-method interface."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where events go: ``write`` one event, ``close`` at the end.

    Optional: ``write_batch(events)`` for bulk APIs (used behind ``Resilient``) and
    ``log_artifacts(files)``, called once the trial's model and metadata are saved.
    """

    def write(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class Recorder:
    """Sends every event to every sink; one failing sink never stops the others."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks = list(sinks)

    def write(self, event: dict[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.write(event)
            except Exception:
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

    def close(self) -> None:
        # Sinks with a queue start draining together, so their time limits overlap.
        for sink in self.sinks:
            begin = getattr(sink, "begin_close", None)
            if begin is not None:
                begin()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("metrics sink %s failed to close", type(sink).__name__)
