"""The sink contract: what every metrics engine is, and the hooks it may override.

An engine is a subclass of ``Engine`` named by an entry point of the
``cartpole.metrics_engines`` group (see ``engines.py``), and built as
``Engine(context, **settings)``: ``context`` says which group and trial its events
come from, ``settings`` are the user's ``--metrics-config`` for it, checked against
the constructor's parameters. ``write`` and ``close`` are all an engine needs;
everything else has a default that does nothing, the way stable-baselines3's
``KVWriter`` keeps its writers to two methods.

Objects written before this class existed (any sink with ``write`` and ``close``,
any engine class or factory registered under the entry points) keep working:
``as_engine`` and ``engine_class`` give them this interface, with the defaults for
the hooks they lack. They are the only code that looks hooks up by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class EngineContext:
    """Where the engine's events come from."""

    group: str = "local"
    trial: str = "t000"
    trial_dir: Path | None = None


@dataclass(frozen=True)
class GroupInfo:
    """What the group-level steps (``open_group``, ``close_group``) know about the group."""

    group: str
    group_dir: Path
    labels: dict[str, str] = field(default_factory=dict)  # trial -> its varying hparams


class Engine(ABC):
    """A destination for metric events: ``write`` each event, ``close`` at the end.

    Per trial (or remote run), the ``Recorder`` sends every event to every engine.
    An engine that talks to a server sets ``remote = True`` and is then driven by
    ``Resilient`` on a thread of its own, rebuilt after a failure.
    """

    remote: ClassVar[bool] = False
    """True for an engine that talks to a server: it runs behind ``Resilient``'s queue."""
    critical: ClassVar[bool] = False
    """True when a failure must stop the trial: the ``Recorder`` raises its errors."""
    name: str = ""
    """What ``Recorder.undelivered`` calls this sink (the class name when empty)."""
    undelivered: int = 0
    """How many events this sink gave up on, known once ``close`` has returned."""
    secrets: ClassVar[dict[str, str]] = {}
    """Credential settings -> the environment variable each is read from when not given
    (see ``secrets.py``): such a setting is moved to the environment, never written."""

    # Below, B027 marks the hooks that do nothing by default: deliberately so.

    def __init__(self, context: EngineContext | None = None) -> None:  # noqa: B027
        """Take the context, and no settings (an engine with settings has its own)."""

    @abstractmethod
    def write(self, event: dict[str, Any]) -> None:
        """Take one event (a flat JSON-ready dict); raise if it cannot be delivered."""

    @abstractmethod
    def close(self) -> None:
        """Deliver what is pending and release the engine's resources."""

    def write_batch(self, events: list[dict[str, Any]]) -> None:
        """Take events in order; a bulk API overrides this to send them at once."""
        for event in events:
            self.write(event)

    def takes_batches(self) -> bool:
        """True when the class overrides ``write_batch``: ``Resilient`` then sends batches."""
        return self.overrides("write_batch")

    @classmethod
    def overrides(cls, hook: str) -> bool:
        """True when the class has its own ``hook``, not ``Engine``'s default."""
        return next((k for k in cls.__mro__ if hook in vars(k)), Engine) is not Engine

    def log_artifacts(self, files: list[Path]) -> None:  # noqa: B027
        """Take the trial's saved files (its model and metadata); ignored by default."""

    def begin_close(self) -> None:  # noqa: B027
        """Start closing without waiting, so that several engines drain side by side."""

    @classmethod  # noqa: B027
    def check(cls, **settings: Any) -> None:
        """Before training, check the settings it names (raise a CartpoleError); create nothing."""

    @classmethod
    def open_group(cls, group: GroupInfo, **settings: Any) -> dict[str, Any] | None:
        """Before a grid's first trial; a dict returned joins every trial's settings."""
        return None

    @classmethod  # noqa: B027
    def close_group(cls, group: GroupInfo, trials: list[dict[str, Any]],
                    best: dict[str, Any] | None, state: str = "completed",
                    **settings: Any) -> None:
        """Once a grid's group has ended (``state``: completed, partial, failed, interrupted)."""


def as_engine(sink: Any) -> Engine:
    """``sink`` itself if it is an ``Engine``; else a view of it as one."""
    return sink if isinstance(sink, Engine) else _Plain(sink)


def engine_class(engine: Any) -> type[Engine]:
    """The class-level hooks (``remote``, ``check``, ``open_group``, ``close_group``) of
    what an entry point names: the class itself if it subclasses ``Engine``; else a
    class with the hooks it has and the defaults for the others."""
    if isinstance(engine, type) and issubclass(engine, Engine):
        return engine
    found = {hook: _static(getattr(engine, hook)) for hook in _CLASS_HOOKS
             if hasattr(engine, hook)}
    return type(Engine)(getattr(engine, "__name__", "Engine"), (Engine,), found)


_CLASS_HOOKS = ("remote", "secrets", "check", "open_group", "close_group")


def _static(value: Any) -> Any:
    """A hook as found, kept from being bound again by the class that now holds it."""
    return staticmethod(value) if callable(value) else value


class _Plain(Engine):
    """A sink written without ``Engine`` (``write`` and ``close``, maybe some hooks),
    seen through the contract."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    @property
    def critical(self) -> bool:
        return bool(getattr(self.sink, "critical", False))

    @property
    def name(self) -> str:
        return str(getattr(self.sink, "name", type(self.sink).__name__))

    @property
    def undelivered(self) -> int:
        return int(getattr(self.sink, "undelivered", 0) or 0)

    def write(self, event: dict[str, Any]) -> None:
        self.sink.write(event)

    def close(self) -> None:
        self.sink.close()

    def write_batch(self, events: list[dict[str, Any]]) -> None:
        batch = getattr(self.sink, "write_batch", None)
        if batch is None:
            super().write_batch(events)
        else:
            batch(events)

    def takes_batches(self) -> bool:
        return getattr(self.sink, "write_batch", None) is not None

    def log_artifacts(self, files: list[Path]) -> None:
        upload = getattr(self.sink, "log_artifacts", None)
        if upload is not None:
            upload(files)

    def begin_close(self) -> None:
        begin = getattr(self.sink, "begin_close", None)
        if begin is not None:
            begin()
