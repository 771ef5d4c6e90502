"""A trial's ``events.jsonl`` read back: one JSON object per line, as the metrics wrote it.

The file may still be growing, or have been cut short by a crash: a line that does
not parse (or is not an object) is skipped, never fatal, and a missing or unreadable
file reads as no events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_events(path: Path, tail_bytes: int | None = None) -> list[dict[str, Any]]:
    """The events in ``path``, oldest first; with ``tail_bytes``, only those in its last
    ``tail_bytes`` bytes (a line cut by that boundary is left out)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            start = 0 if tail_bytes is None else max(0, path.stat().st_size - tail_bytes)
            f.seek(start)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    if start > 0:
        lines = lines[1:]
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
