"""Screenshots of local pages with headless Chromium (reports, the Visdom page)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cartpole.errors import CartpoleError

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# No first-run work and no calls home: the page is all Chromium should load.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--mute-audio")


class BrowserError(CartpoleError):
    """Chromium is missing or could not render the page."""


def find_chromium() -> str:
    """Path of a Chromium binary: ``$CHROMIUM`` or the first one on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("no Chromium found; install it (Debian: apt-get install chromium) "
                       "or set CHROMIUM to its path")


def screenshot(url: str, out: Path, width: int = 1280, height: int = 900,
               wait_ms: int = 5000, timeout: float = 90.0) -> Path:
    """Render ``url`` headless and save a PNG of the first ``width`` x ``height`` pixels.

    ``wait_ms`` is Chromium's virtual time budget: scripts and timers run for that long
    (faster than real time when the page is idle) before the picture is taken.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(url, [f"--window-size={width},{height}", f"--screenshot={out}"], wait_ms, timeout)
    if not out.exists():
        raise BrowserError(f"Chromium could not render {url}: no picture written")
    return out


def dump_dom(url: str, width: int = 1280, height: int = 900, wait_ms: int = 5000,
             timeout: float = 90.0) -> str:
    """The document of ``url`` as its scripts left it after ``wait_ms`` of virtual time."""
    return _run(url, [f"--window-size={width},{height}", "--dump-dom"], wait_ms, timeout)


def _run(url: str, args: list[str], wait_ms: int, timeout: float) -> str:
    """Run headless Chromium on ``url`` with ``args``; its stdout."""
    with tempfile.TemporaryDirectory(prefix="cp-chromium-") as profile:
        cmd = [find_chromium(), *_FLAGS, f"--user-data-dir={profile}",
               f"--virtual-time-budget={wait_ms}", *args, url]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"Chromium took more than {timeout:.0f} s to render {url}") \
                from None
        except OSError as exc:
            raise BrowserError(f"cannot start Chromium: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BrowserError(f"Chromium could not render {url}: {tail}")
    return proc.stdout
