"""Structured metric events and the sinks they fan out to."""

from cartpole.metrics.base import Engine, EngineContext
from cartpole.metrics.events import make_event
from cartpole.metrics.recorder import Recorder, Sink

__all__ = ["Engine", "EngineContext", "Recorder", "Sink", "make_event"]
