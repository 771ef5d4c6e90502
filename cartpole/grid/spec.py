"""Grid specs: lists of values per hyperparameter, range syntax, and expansion.

A value list is written as separate values (``--gamma 0.9 0.95 0.99``) or as a range
``start:stop:count``: ``count`` evenly spaced values from ``start`` to ``stop``, both
included (``--gamma 0.9:0.99:4`` is 0.9, 0.93, 0.96, 0.99). Integer
hyperparameters need a range whose values are whole numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cartpole.errors import ConfigError
from cartpole.hparams import HPARAM_NAMES, HParams, coerce, field_type

MAX_RANGE_COUNT = 1000
CONFIRM_ABOVE = 64  # trials; a larger grid needs --yes or a yes at the prompt


def parse_values(name: str, raw: Any) -> list[Any]:
    """All the values one hyperparameter takes: a scalar, a list, or range strings."""
    if name not in HPARAM_NAMES:
        raise ConfigError(f"unknown hyperparameter {name!r}")
    is_list = isinstance(raw, list | tuple)
    if field_type(name) is tuple:
        # [64, 64] is one network; ["64,64", [128, 128]] is two.
        items = list(raw) if is_list and all(isinstance(x, list | tuple | str) for x in raw) \
            else [raw]
    else:
        items = list(raw) if is_list else [raw]
    values: list[Any] = []
    for item in items:
        if isinstance(item, str) and ":" in item:
            if field_type(name) is tuple:
                raise ConfigError(f"{name} takes no ranges; list the networks, "
                                  "e.g. 64,64 128,128")
            if item.count(":") != 2:
                raise ConfigError(f"bad range {item!r} for {name}: use start:stop:count, "
                                  "e.g. 0.9:0.99:4")
            values.extend(expand_range(name, item))
        else:
            values.append(coerce(name, item))
    if not values:
        raise ConfigError(f"{name} has an empty list of values")
    return list(dict.fromkeys(values))  # drop repeats, keep order


def expand_range(name: str, text: str) -> list[Any]:
    """``start:stop:count`` -> ``count`` evenly spaced values, both ends included."""
    parts = text.split(":")
    if parts[-1] == "log":
        raise ConfigError(f"bad range {text!r} for {name}: a grid takes start:stop:count; "
                          "low:high:log ranges are for --search random or tpe")
    try:
        start, stop = float(parts[0]), float(parts[1])
        count_f = float(parts[2])
    except ValueError:
        raise ConfigError(f"bad range {text!r} for {name}: use start:stop:count, "
                          "e.g. 0.9:0.99:4") from None
    if not count_f.is_integer() or not 1 <= count_f <= MAX_RANGE_COUNT:
        raise ConfigError(f"bad range {text!r} for {name}: count must be a whole number "
                          f"from 1 to {MAX_RANGE_COUNT}")
    count = int(count_f)
    if count == 1 and start != stop:
        raise ConfigError(f"bad range {text!r} for {name}: a count of 1 needs start == stop")
    points = np.linspace(start, stop, count)
    if field_type(name) is int:
        if not np.allclose(points, np.round(points)):
            raise ConfigError(f"bad range {text!r} for {name}: its values "
                              f"{', '.join(f'{p:g}' for p in points)} are not whole numbers")
        return [int(v) for v in np.round(points)]
    return [coerce(name, float(f"{p:.10g}")) for p in points]


def expand(grid: Mapping[str, list[Any]]) -> list[HParams]:
    """Every combination of the grid's values, in a stable order, as validated HParams."""
    names = [n for n in HPARAM_NAMES if n in grid]
    combos: list[HParams] = []
    for values in itertools.product(*(grid[n] for n in names)):
        combos.append(HParams(**dict(zip(names, values, strict=True))))
    return combos


def build_grid(sources: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Merge value lists from several sources; later sources override earlier ones."""
    grid: dict[str, list[Any]] = {}
    for source in sources:
        for raw_name, raw in source.items():
            name = raw_name.replace("-", "_")
            grid[name] = parse_values(name, raw)
    return grid


def varying(combos: list[HParams]) -> list[str]:
    """Names of the hyperparameters that differ between combinations."""
    if not combos:
        return []
    dicts = [c.to_dict() for c in combos]
    return [n for n in HPARAM_NAMES if any(d[n] != dicts[0][n] for d in dicts[1:])]
