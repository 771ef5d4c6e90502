"""A PNG of a written report, rendered by headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

from cartpole.errors import ConfigError
from cartpole.report.browser import screenshot

_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """``1280x1500`` -> ``(1280, 1500)``; each side 100 to 10000 pixels."""
    match = _SIZE.match(text)
    if not match or not all(100 <= int(v) <= 10_000 for v in match.groups()):
        raise ConfigError(f"screenshot size must be WIDTHxHEIGHT, each 100 to 10000 pixels, "
                          f"got {text!r}")
    return int(match[1]), int(match[2])


def screenshot_report(html: Path, png: Path, size: tuple[int, int]) -> Path:
    """Render ``html`` at ``size`` (width, height) and save the first screen as ``png``."""
    width, height = size
    # plotly draws on load; a few seconds of virtual time covers parsing its 4.8 MB script.
    return screenshot(Path(html).resolve().as_uri(), Path(png), width=width, height=height,
                      wait_ms=8000)
