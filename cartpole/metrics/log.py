"""The log engine: one JSON object per line, on stdout or appended to a file.

On stdout this is the form a Docker fluentd log driver ships: the container's
output lines, each one event.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cartpole.metrics.base import Engine


class LogSink(Engine):
    def __init__(self, context: object = None, path: str | None = None) -> None:
        self._own = path is not None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._stream: TextIO = (
            Path(path).open("a", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
        )

    @classmethod
    def check(cls, path: str | None = None) -> None:
        """Before training: the file can be written (nothing is created)."""
        if path is not None:
            from cartpole.fileio import check_writable_file

            check_writable_file(path, "log engine path")

    def write(self, event: dict[str, Any]) -> None:
        # One write call per line keeps lines whole when several workers share stdout.
        self._stream.write(json.dumps(event, separators=(",", ":")) + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._own:
            self._stream.close()
