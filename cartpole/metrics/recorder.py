"""Fan-out of events to sinks that share a two-method interface."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from cartpole.metrics.base import Engine, as_engine

log = logging.getLogger(__name__)


class Sink(Protocol):
    """What the Recorder accepts: anything with ``write(event)`` and ``close()``.

    The full contract, with the optional hooks and their defaults, is ``Engine``
    (``base.py``); a sink that does not subclass it is seen through ``as_engine``.
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
        # (what log lines call the sink: its class, the sink as an Engine)
        self._engines: list[tuple[str, Engine]] = [
            (type(sink).__name__, as_engine(sink)) for sink in self.sinks]
        self.undelivered: dict[str, int] = {}

    def write(self, event: dict[str, Any]) -> None:
        for label, sink in self._engines:
            try:
                sink.write(event)
            except Exception:
                if sink.critical:
                    raise
                log.exception("metrics sink %s failed", label)

    def log_artifacts(self, files: list[Path]) -> None:
        """Hand the trial's saved files to the sinks that keep artifacts."""
        for label, sink in self._engines:
            try:
                sink.log_artifacts(files)
            except Exception:
                log.exception("metrics sink %s failed to take artifacts", label)

    def close(self) -> dict[str, int]:
        """Close every sink (a critical sink's error is raised after all are closed);
        return ``undelivered``."""
        # Sinks with a queue start draining together, so their time limits overlap.
        for _, sink in self._engines:
            sink.begin_close()
        failure: Exception | None = None
        for label, sink in self._engines:
            try:
                sink.close()
            except Exception as exc:
                if sink.critical:
                    failure = failure or exc
                else:
                    log.exception("metrics sink %s failed to close", label)
            lost = sink.undelivered
            if lost:
                name = sink.name or label
                self.undelivered[name] = self.undelivered.get(name, 0) + int(lost)
        if failure is not None:
            raise failure
        return dict(self.undelivered)
