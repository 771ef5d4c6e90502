"""A search's space: the hyperparameters it varies, as Optuna distributions.

A grid's values are categorical choices; a sampled search's ranges (``low:high``,
``low:high:log``) are float or integer distributions, and its lists categorical ones.
"""

from __future__ import annotations

from typing import Any

from cartpole.errors import ConfigError
from cartpole.hparams import HPARAM_NAMES, HParams, coerce, field_type


def param_value(name: str, value: Any) -> Any:
    """A hyperparameter's value as an Optuna param (hidden sizes as "64,64")."""
    return ",".join(map(str, value)) if isinstance(value, tuple | list) else value


def grid_distributions(grid: dict[str, list[Any]]) -> dict[str, Any]:
    """One categorical distribution per hyperparameter the grid varies."""
    from optuna.distributions import CategoricalDistribution

    return {n: CategoricalDistribution([param_value(n, v) for v in grid[n]])
            for n in HPARAM_NAMES if n in grid and len(grid[n]) > 1}


def parse_space(name: str, raw: list[str]) -> Any:
    """A sampled search's range for one hyperparameter: ``low:high`` or ``low:high:log``
    (uniform, or log-uniform), or a list of values to choose from; None for one value."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if len(raw) == 1 and isinstance(raw[0], str) and ":" in raw[0]:
        parts = raw[0].split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise ConfigError(f"bad range {raw[0]!r} for {name}: a sampled search takes "
                              "low:high or low:high:log, e.g. 1e-4:1e-2:log")
        kind = field_type(name)
        if kind is tuple:
            raise ConfigError(f"{name} takes no ranges; list the networks, e.g. 64,64 128,128")
        try:
            low, high = coerce(name, parts[0]), coerce(name, parts[1])
        except ConfigError as exc:
            raise ConfigError(f"bad range {raw[0]!r} for {name}: {exc}") from None
        for end in (low, high):
            _check_value(name, end)
        log_scale = len(parts) == 3
        if not low < high or (log_scale and low <= 0):
            raise ConfigError(f"bad range {raw[0]!r} for {name}: need low < high"
                              + (" and low > 0 on a log scale" if log_scale else ""))
        if kind is int:
            return IntDistribution(int(low), int(high), log=log_scale)
        return FloatDistribution(float(low), float(high), log=log_scale)
    values = list(dict.fromkeys(param_value(name, _check_value(name, coerce(name, v)))
                                for v in raw))
    return CategoricalDistribution(values) if len(values) > 1 else None


def _check_value(name: str, value: Any) -> Any:
    """ConfigError unless ``value`` is a valid ``name`` (an end of a range, or a choice)."""
    HParams.from_dict({**HParams().to_dict(), name: value})
    return value


def hparams_from_params(base: HParams, params: dict[str, Any]) -> HParams:
    values = base.to_dict()
    values.update({n: coerce(n, v) for n, v in params.items()})
    return HParams.from_dict(values)
