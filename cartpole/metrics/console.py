"""The console engine: events as log records.

Evaluations and the start and end of a trial or of a remote run are logged at INFO;
episodes (training or remote) and router decisions at DEBUG.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cartpole.metrics.base import Engine

log = logging.getLogger("cartpole.metrics")

_INFO_EVENTS = {"eval", "trial_start", "trial_end", "run_start", "run_end"}


class ConsoleSink(Engine):
    def __init__(self, context: object = None, level: str | None = None) -> None:
        self._level = logging.getLevelName(level.upper()) if level else None
        if level and not isinstance(self._level, int):
            raise ValueError(f"unknown log level {level!r}")

    def write(self, event: dict[str, Any]) -> None:
        level = self._level or (logging.INFO if event["event"] in _INFO_EVENTS else logging.DEBUG)
        if log.isEnabledFor(level):
            log.log(level, "%s", json.dumps(event, separators=(",", ":")))

    def close(self) -> None:
        pass
