"""Fan-out of events to sinks that share a two-method interface."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where events go: ``write`` one event, ``close`` at the end."""

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

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("metrics sink %s failed to close", type(sink).__name__)
