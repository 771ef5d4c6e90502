"""Append events as JSON lines to a file (every trial keeps one in its run folder).

This file is the record every warning points to ("events.jsonl has them all"), so
it is ``critical``: the Recorder lets its errors through, and the trial fails with
an EventsFileError instead of training on without a record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cartpole.errors import EventsFileError
from cartpole.metrics.base import Engine


class JsonLinesSink(Engine):
    critical = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._failed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise self._error("open", exc) from exc

    def write(self, event: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as exc:
            self._failed = True
            raise self._error("write", exc) from exc

    def close(self) -> None:
        try:
            self._file.close()  # closed even when its last flush fails
        except OSError as exc:
            if not self._failed:  # else write() has raised it already
                raise self._error("close", exc) from exc

    def _error(self, what: str, exc: OSError) -> EventsFileError:
        return EventsFileError(f"cannot {what} the events file {self.path}: "
                               f"{exc.strerror or exc}; the trial stops rather than "
                               "train on without its record")
