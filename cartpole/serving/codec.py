"""Seldon's REST message shapes: observations in, actions (and routing) out.

Messages are read as strictly as ``/openapi.json`` describes them: numbers are JSON
numbers (not strings or booleans) within float32's range, a tensor's values fill its
shape, and feedback to a learning router names the branch as an integer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cartpole.serving.errors import BadRequest
from cartpole.serving.graph import Answer
from cartpole.serving.policy import softmax

FLT_MAX = float(np.finfo(np.float32).max)
_NUMBERS = (int, float)  # what a JSON number decodes to; bool is neither


def is_int(value: Any) -> bool:
    """A JSON integer, as JSON Schema counts them: 3 and 3.0, not True."""
    return type(value) is int or (type(value) is float and value.is_integer())


def check_numbers(values: Any, what: str, width: int, flat: bool = False) -> None:
    """BadRequest unless ``values`` is a list of numbers or (``flat`` False) of lists of
    numbers, each within float32's range. Arrays (binary or gRPC input) are let through:
    ``validate_observations`` checks them."""
    if isinstance(values, np.ndarray):
        return
    if not isinstance(values, list):
        raise BadRequest(f"{what} must be a list of numbers, in rows of {width}")
    for item in values:
        nested = type(item) is list and not flat
        if nested and len(item) != width:
            raise BadRequest(f"{what} must have shape (n, {width}): a row of {len(item)}")
        for v in (item if nested else (item,)):
            if type(v) not in _NUMBERS:
                if type(v) is list:
                    raise BadRequest(f"{what} must have shape (n, {width}): nested too deep")
                raise BadRequest(f"{what} must be numbers, in rows of {width}")
            if not -FLT_MAX <= v <= FLT_MAX:
                raise BadRequest(f"{what} must be finite float32 numbers (|x| <= 3.4e38)")


def observations(message: Any, width: int) -> Any:
    """Rows from ``data.ndarray`` or ``data.tensor`` ({shape, values}), not both."""
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict):
        raise BadRequest('send {"data": {"ndarray": [[...], ...]}}')
    if "ndarray" in data:
        if "tensor" in data:
            raise BadRequest("data takes an 'ndarray' or a 'tensor', not both")
        check_numbers(data["ndarray"], "observations", width)
        return data["ndarray"]
    if "tensor" in data:
        return _tensor(data["tensor"], width)
    raise BadRequest("data needs an 'ndarray' or a 'tensor'")


def _tensor(tensor: Any, width: int) -> np.ndarray:
    if not isinstance(tensor, dict):
        raise BadRequest(f'data.tensor must be {{"shape": [n, {width}], "values": [...]}}')
    shape, values = tensor.get("shape"), tensor.get("values")
    if not (isinstance(shape, list) and all(is_int(d) for d in shape)
            and (shape == [width] or (len(shape) == 2 and shape[0] >= 1
                                      and shape[1] == width))):
        raise BadRequest(f"data.tensor.shape must be [n, {width}] (or [{width}]), "
                         f"got {shape!r}")
    shape = [int(d) for d in shape]
    check_numbers(values, "data.tensor.values", width, flat=True)
    if len(values) != math.prod(shape):
        raise BadRequest(f"data.tensor: values do not fit its shape: {len(values)} values, "
                         f"shape {shape}")
    return np.asarray(values, dtype=np.float64).reshape(shape)


def probabilities(q: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``q / temperature``, NaN-free for any finite ``q`` and any
    temperature > 0: in float64 (in float32, 5e-324 is 0), and ``q - max`` before
    dividing, so that a tiny temperature gives 0 and 1 rather than inf - inf."""
    z = q.astype(np.float64)
    with np.errstate(over="ignore"):  # (q - max) / tiny is -inf: its probability is 0
        return softmax(z - z.max(axis=1, keepdims=True), temperature)


def response(answer: Answer, unit: str, tags: dict[str, Any], distribution: bool,
             temperature: float) -> dict[str, Any]:
    data: dict[str, Any] = {"names": ["action"],
                            "ndarray": answer.actions.reshape(-1, 1).tolist()}
    if distribution:
        data["q_values"] = answer.q_values.tolist()
        data["probabilities"] = probabilities(answer.q_values, temperature).tolist()
    meta: dict[str, Any] = {"tags": tags}
    if answer.branch is not None:
        meta["routing"] = {unit: answer.branch}
    return {"data": data, "meta": meta}


def reward(message: Any, shape: str) -> float:
    """The ``reward`` of a feedback message: a JSON number within float32's range, as
    Seldon's protocol has it (``float reward``), which also keeps a router's running
    mean of rewards from overflowing to inf and NaN."""
    if not isinstance(message, dict) or "reward" not in message:
        raise BadRequest(f"feedback needs {shape}")
    value = message["reward"]
    if type(value) not in _NUMBERS:
        raise BadRequest(f"reward must be a number, got {value!r}")
    if not -FLT_MAX <= value <= FLT_MAX:
        raise BadRequest(f"reward must be a float32 (|r| <= 3.4e38), got {value!r}")
    return float(value)


def member(container: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """``container[key]``, an object when given (null is not one), {} when not."""
    if key not in container:
        return {}
    value = container[key]
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    return value


def _routing(container: dict[str, Any], unit: str | None, where: str) -> Any:
    """A feedback's routing: an object when given; with ``unit`` (a router that learns)
    it must be given, its ``unit`` the branch that answered, an integer."""
    if "routing" not in container and unit is None:
        return None
    value = container.get("routing")
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object like {{{unit or 'unit'!r}: branch}}")
    if unit is None:
        return value
    branch = value.get(unit)
    if not is_int(branch):
        raise BadRequest(f"feedback for a router needs {where}.{unit}: the branch that "
                         f"answered, an integer (got {branch!r})")
    return {**value, unit: int(branch)}


def feedback_parts(message: Any, unit: str | None = None) -> tuple[float, Any]:
    """``reward`` and ``response.meta.routing`` of a feedback message; ``unit`` names the
    router that learns from it, if any."""
    value = reward(message, '{"reward": r, "response": {"meta": {"routing": ...}}}')
    meta = member(member(message, "response", "response"), "meta", "response.meta")
    return value, _routing(meta, unit, "response.meta.routing")


def v2_feedback_parts(message: Any, unit: str | None = None) -> tuple[float, Any]:
    """``reward`` and ``parameters.routing`` of a V2 feedback request."""
    value = reward(message, '{"reward": r, "parameters": {"routing": {...}}}')
    return value, _routing(member(message, "parameters", "parameters"), unit,
                           "parameters.routing")
