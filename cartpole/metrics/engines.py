"""Metric engines by name. Issue-by-issue more engines join this table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cartpole.errors import ConfigError
from cartpole.metrics.recorder import Sink


def _console(**settings: Any) -> Sink:
    from cartpole.metrics.console import ConsoleSink

    return ConsoleSink(**settings)


ENGINES: dict[str, Callable[..., Sink]] = {"console": _console}
ENGINE_NAMES: tuple[str, ...] = tuple(ENGINES)


def build_sinks(names: tuple[str, ...], config: dict[str, Any]) -> list[Sink]:
    """Instantiate the named engines with their settings from ``config``."""
    sinks: list[Sink] = []
    for name in names:
        if name not in ENGINES:
            raise ConfigError(f"unknown metrics engine {name!r}")
        settings = config.get(name) or {}
        if not isinstance(settings, dict):
            raise ConfigError(f"settings of metrics engine {name!r} must be a JSON object")
        try:
            sinks.append(ENGINES[name](**settings))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad settings for metrics engine {name!r}: {exc}") from None
    return sinks
