"""The project's own log records, picked out of a process's stderr.

Other libraries may print anything to stderr, and what they print differs from one
machine to the next (TensorFlow's start-up lines appear on some CPUs only), so tests
count only lines in the project's log format: ``<date> <time> LEVEL cartpole...: msg``.
"""

from __future__ import annotations

import re

_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) "
                     r"(?P<logger>cartpole(?:\.[\w.]+)?): ")


def records(stderr: str, level: str | None = None) -> list[str]:
    """The lines of ``stderr`` that are cartpole's log records, of ``level`` if given."""
    found = []
    for line in stderr.splitlines():
        match = _RECORD.match(line)
        if match and (level is None or match["level"] == level):
            found.append(line)
    return found
