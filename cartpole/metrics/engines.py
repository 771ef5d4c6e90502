"""Metric engines by name, found through the ``cartpole.metrics_engines`` entry points.

An engine is a subclass of ``Engine`` (``base.py``, the contract) called as
``Engine(context, **settings)``. Its module is imported only when the engine is
selected, so a missing optional dependency costs nothing until then, and then gives
an install hint. Engines that talk to a server set ``remote = True`` and run behind
a queue (see ``resilient.py``).
"""

from __future__ import annotations

import inspect
import json
import os
from importlib.metadata import entry_points
from typing import Any

from cartpole.errors import CartpoleError, ConfigError
from cartpole.metrics.base import EngineContext, engine_class
from cartpole.metrics.recorder import Sink
from cartpole.metrics.secrets import MASK, masked, move_to_environment, secret_settings

GROUP = "cartpole.metrics_engines"
# Used only when the package metadata is not installed (running from a bare source tree).
_BUILTIN = {
    "console": "cartpole.metrics.console:ConsoleSink",
    "log": "cartpole.metrics.log:LogSink",
    "tensorboard": "cartpole.metrics.tensorboard:TensorBoardSink",
    "visdom": "cartpole.metrics.visdom.sink:VisdomSink",
    "mlflow": "cartpole.metrics.mlflow:MlflowSink",
    "fluentd": "cartpole.metrics.fluentd:FluentdSink",
    "elasticsearch": "cartpole.metrics.elasticsearch:ElasticsearchSink",
}
EXTRAS = {"tensorboard": "tensorboard", "visdom": "visdom", "mlflow": "mlflow",
          "fluentd": "efk", "elasticsearch": "efk"}


def _targets() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return found or dict(_BUILTIN)


ENGINE_NAMES: tuple[str, ...] = tuple(sorted(_targets()))


def load_engine(name: str) -> Any:
    """Import an engine's class, with an install hint when its extra is missing."""
    target = _targets().get(name)
    if target is None:
        raise ConfigError(f"unknown metrics engine {name!r} "
                          f"(available: {', '.join(ENGINE_NAMES)})")
    module_name, _, attr = target.partition(":")
    try:
        module = __import__(module_name, fromlist=[attr])
    except ImportError as exc:
        extra = EXTRAS.get(name, name)
        raise ConfigError(f"metrics engine {name!r} needs {exc.name or 'a missing package'}: "
                          f"pip install 'cartpole[{extra}]'") from None
    return getattr(module, attr)


def check_engines(names: tuple[str, ...], config: dict[str, Any]) -> None:
    """Validate engine names, their imports and their settings, creating nothing."""
    for name in names:
        settings = config.get(name) or {}
        if not isinstance(settings, dict):
            raise ConfigError(f"settings of metrics engine {name!r} must be a JSON object")
        _check_settings(name, load_engine(name), settings)


def build_sinks(names: tuple[str, ...], config: dict[str, Any],
                context: EngineContext | None = None) -> list[Sink]:
    """Instantiate the named engines with their settings from ``config``."""
    from cartpole.metrics.resilient import Resilient
    config = export_secrets(config)  # credentials are read from the environment
    context = context or EngineContext()
    sinks: list[Sink] = []
    for name in names:
        engine = load_engine(name)
        settings = config.get(name) or {}
        if not isinstance(settings, dict):
            raise ConfigError(f"settings of metrics engine {name!r} must be a JSON object")
        _check_settings(name, engine, settings)
        if engine_class(engine).remote:
            # Built once here so that a bad setting is an error now (their constructors
            # do no network I/O); after a failure, the queue's thread builds new ones.
            first = _build(name, engine, context, settings, remote=True)
            sinks.append(Resilient(name, _first_then(first, engine, context, settings)))
            continue
        sinks.append(_build(name, engine, context, settings))
    return sinks


def export_secrets(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (engine -> settings) without credentials: each goes to the environment
    variable its engine reads (``Engine.secrets``). Idempotent; unknown names pass."""
    public: dict[str, Any] = {}
    for name, settings in config.items():
        if name not in ENGINE_NAMES or not isinstance(settings, dict):
            public[name] = settings
            continue
        public[name] = move_to_environment(name, settings,
                                           secret_settings(load_engine(name)))
    return public


def shown_settings(names: tuple[str, ...], config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each selected engine's settings as a user may see them: credentials, whether
    given as settings or found in the environment, as ``***``."""
    shown = {}
    for name in names:
        variables = secret_settings(load_engine(name))
        settings = dict(config.get(name) or {})
        settings.update({key: MASK for key, var in variables.items()
                         if key not in settings and os.environ.get(var)})
        shown[name] = masked(settings, variables)
    return shown


def _build(name: str, engine: Any, context: EngineContext, settings: dict[str, Any],
           remote: bool = False) -> Any:
    try:
        return engine(context, **settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad settings for metrics engine {name!r}: {exc}") from None
    except OSError as exc:
        if remote:
            return None  # the queue's thread tries again, with backoff
        raise ConfigError(f"bad settings for metrics engine {name!r}: {exc}") from None


def _first_then(first: Any, engine: Any, context: EngineContext,
                settings: dict[str, Any]) -> Any:
    """A factory that hands out ``first`` once, then builds new sinks."""
    spare = [first] if first is not None else []

    def connect() -> Sink:
        return spare.pop() if spare else engine(context, **settings)

    return connect


def _check_settings(name: str, engine: Any, settings: dict[str, Any]) -> None:
    params = inspect.signature(engine).parameters
    accepted = [p for p in params if p != "context"]
    unknown = [k for k in settings if k not in params]
    if unknown:
        raise ConfigError(f"metrics engine {name!r} has no setting {unknown[0]!r} "
                          f"(its settings: {', '.join(accepted) or 'none'})")
    for key, value in settings.items():
        expected = _expected_type(params[key].annotation)
        if expected and not _fits(value, expected):
            raise ConfigError(f"setting {key!r} of metrics engine {name!r} must be "
                              f"{expected.__name__}, got {json.dumps(value)}")
    check = engine_class(engine).check  # the engine's own checks, creating nothing
    try:
        check(**{k: v for k, v in settings.items() if k in inspect.signature(check).parameters})
    except CartpoleError as exc:
        raise ConfigError(f"metrics engine {name!r}: {exc}") from None


_SIMPLE = {"bool": bool, "int": int, "float": float, "str": str}


def _expected_type(annotation: Any) -> type | None:
    """The type a setting must have, when its annotation is a plain bool, int, float or
    str (a union such as ``str | None`` is left to the engine)."""
    if isinstance(annotation, str):
        return _SIMPLE.get(annotation.strip())
    return annotation if annotation in (bool, int, float, str) else None


def _fits(value: Any, expected: type) -> bool:
    if expected is bool or isinstance(value, bool):
        return isinstance(value, bool) and expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)
