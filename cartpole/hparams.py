"""Hyperparameters and config files.

`HParams` is the single frozen record of a trial's learning settings. Each field's
`help` metadata becomes the text of its `cartpole train` option, so the dataclass
is the one place where a hyperparameter is named, defaulted and explained.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.errors import ConfigError, first_line


def _hp(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class HParams:
    """Learning settings of one DQN trial."""

    gamma: float = _hp(0.99, "Discount factor, in (0, 1].")
    epsilon: float = _hp(1.0, "Initial exploration rate, in [0, 1].")
    epsilon_min: float = _hp(0.02, "Exploration floor, in [0, epsilon].")
    epsilon_decay: float = _hp(
        0.999, "Epsilon is multiplied by this after every env step, in (0, 1]."
    )
    batch_size: int = _hp(64, "Transitions per gradient step.")
    learning_rate: float = _hp(2.3e-3, "Adam learning rate.")
    hidden_sizes: tuple[int, ...] = _hp((64, 64), "Hidden layer sizes, comma separated.")
    buffer_size: int = _hp(50_000, "Replay buffer capacity, in transitions.")
    learning_starts: int = _hp(1_000, "Env steps collected before the first update.")
    train_freq: int = _hp(256, "Env steps between two updates.")
    gradient_steps: int = _hp(128, "Gradient steps per update.")
    target_update: int = _hp(128, "Gradient steps between two target-network copies.")
    max_grad_norm: float = _hp(10.0, "Gradients are clipped to this global norm.")
    eval_every: int = _hp(2_000, "Env steps between two greedy evaluations.")
    eval_episodes: int = _hp(20, "Episodes per greedy evaluation.")

    def __post_init__(self) -> None:
        _check(0 < self.gamma <= 1, "gamma must be in (0, 1]", self.gamma)
        _check(0 <= self.epsilon <= 1, "epsilon must be in [0, 1]", self.epsilon)
        _check(
            0 <= self.epsilon_min <= self.epsilon,
            "epsilon_min must be in [0, epsilon]",
            self.epsilon_min,
        )
        _check(0 < self.epsilon_decay <= 1, "epsilon_decay must be in (0, 1]", self.epsilon_decay)
        _check(self.learning_rate > 0, "learning_rate must be > 0", self.learning_rate)
        _check(self.max_grad_norm > 0, "max_grad_norm must be > 0", self.max_grad_norm)
        for name in ("batch_size", "buffer_size", "train_freq", "gradient_steps",
                     "target_update", "eval_every", "eval_episodes"):
            _check(getattr(self, name) >= 1, f"{name} must be >= 1", getattr(self, name))
        _check(self.learning_starts >= 0, "learning_starts must be >= 0", self.learning_starts)
        _check(
            self.buffer_size >= self.batch_size,
            "buffer_size must be >= batch_size",
            self.buffer_size,
        )
        _check(
            len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
            "hidden_sizes must be one or more positive integers",
            ",".join(map(str, self.hidden_sizes)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: tuples become lists."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HParams:
        """Build from a mapping of names (dashes or underscores) to values, coercing types."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for raw_name, value in values.items():
            name = raw_name.replace("-", "_")
            if name not in known:
                raise ConfigError(f"unknown hyperparameter {raw_name!r}")
            kwargs[name] = coerce(name, value)
        return cls(**kwargs)


def _check(ok: bool, message: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{message}, got {value}")


def field_type(name: str) -> type:
    """The scalar type of a hyperparameter (``tuple`` for hidden sizes)."""
    default = HParams.__dataclass_fields__[name].default
    return type(default)


def parse_hidden_sizes(text: str | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """``"64,64"`` (or ``"64x64"``) -> ``(64, 64)``."""
    if isinstance(text, list | tuple):
        parts = list(text)
    else:
        parts = [p.strip() for p in re.split(r"[,x]", str(text).strip())]
    try:
        sizes = tuple(int(p) for p in parts)  # int("") fails: no empty sizes
    except (TypeError, ValueError):
        raise ConfigError(f"hidden_sizes must be integers like 64,64, got {text!r}") from None
    return sizes


def coerce(name: str, value: Any) -> Any:
    """Convert a value read from the CLI or a config file to the field's type."""
    kind = field_type(name)
    if kind is tuple:
        return parse_hidden_sizes(value)
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, "
                          f"got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return number


HPARAM_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(HParams))


def _yaml_load(text: str) -> Any:
    """YAML with YAML 1.2 numbers: ``16:32:2`` stays a string (a range), not base 60,
    and ``1e-3`` is a float."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    numeric = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in numeric]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(numeric[0], re.compile(r"^[-+]?(0|[1-9][0-9_]*)$"),
                                 list("-+0123456789"))
    Loader.add_implicit_resolver(
        numeric[1],
        re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$"
                   r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"),
        list("-+0123456789."))
    return yaml.load(text, Loader=Loader)


def load_conf_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON mapping of option names to values."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else _yaml_load(text)
    except Exception as exc:  # noqa: BLE001 - any parser error is a bad file
        raise ConfigError(f"cannot parse config file {path}: {first_line(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}
