"""Seldon's REST message shapes: observations in, actions (and routing) out."""

from __future__ import annotations

from typing import Any

import numpy as np

from cartpole.serving.errors import BadRequest
from cartpole.serving.graph import Answer
from cartpole.serving.policy import softmax


def observations(message: Any) -> Any:
    """Rows from ``data.ndarray`` or ``data.tensor`` ({shape, values})."""
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict):
        raise BadRequest('send {"data": {"ndarray": [[...], ...]}}')
    if "ndarray" in data:
        return data["ndarray"]
    tensor = data.get("tensor")
    if isinstance(tensor, dict) and "values" in tensor:
        try:
            return np.asarray(tensor["values"], dtype=np.float32).reshape(tensor["shape"])
        except (ValueError, TypeError, KeyError):
            raise BadRequest("data.tensor: values do not fit its shape") from None
    raise BadRequest("data needs an 'ndarray' or a 'tensor'")


def response(answer: Answer, unit: str, tags: dict[str, Any], distribution: bool,
             temperature: float) -> dict[str, Any]:
    data: dict[str, Any] = {"names": ["action"],
                            "ndarray": answer.actions.reshape(-1, 1).tolist()}
    if distribution:
        data["q_values"] = answer.q_values.tolist()
        data["probabilities"] = softmax(answer.q_values, temperature).tolist()
    meta: dict[str, Any] = {"tags": tags}
    if answer.branch is not None:
        meta["routing"] = {unit: answer.branch}
    return {"data": data, "meta": meta}


def feedback_parts(message: Any) -> tuple[float, Any]:
    """``reward`` and ``response.meta.routing`` of a feedback message."""
    if not isinstance(message, dict) or "reward" not in message:
        raise BadRequest('feedback needs {"reward": r, "response": {"meta": {"routing": ...}}}')
    try:
        reward = float(message["reward"])
    except (TypeError, ValueError):
        raise BadRequest("reward must be a number") from None
    routing = ((message.get("response") or {}).get("meta") or {}).get("routing")
    return reward, routing
