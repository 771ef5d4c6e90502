"""Metric events: one flat JSON object per event, the same for every sink."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds, e.g. ``2026-01-02T03:04:05.678Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(event: str, group: str, trial: str, **fields: Any) -> dict[str, Any]:
    """Build an event with the required keys first, then the event's own keys."""
    return {"ts": utc_now(), "event": event, "group": group, "trial": trial, **fields}
