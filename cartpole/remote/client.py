"""What every transport offers the runners: predict a batch, send feedback, close.

A ``Reply`` keeps the server's response so that feedback can send it back: Seldon
reads the branch that answered from ``response.meta.routing``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from cartpole.remote.errors import Unreachable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Reply:
    actions: np.ndarray  # one int per observation row
    routing: dict[str, int] = field(default_factory=dict)
    response: Any = None  # the transport's own response object, for feedback
    seconds: float = 0.0  # wall time of the request, retries included


class Client(Protocol):
    def predict(self, rows: np.ndarray) -> Reply: ...

    def feedback(self, rows: np.ndarray, reply: Reply, reward: float) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on connection errors and timeouts, waiting ``backoff`` doubling each time."""

    retries: int = 3
    backoff: float = 0.2
    timeout: float = 10.0

    def call(self, what: str, attempt: Callable[[], T],
             transient: tuple[type[BaseException], ...],
             reset: Callable[[], None] | None = None,
             stop: Callable[[], bool] | None = None) -> T:
        """``attempt()``; on a ``transient`` error, ``reset()`` and try again."""
        delay = self.backoff
        for n in range(self.retries + 1):
            try:
                return attempt()
            except transient as exc:
                if reset is not None:
                    reset()
                if n == self.retries or (stop is not None and stop()):
                    raise Unreachable(f"{what}: {_reason(exc)}"
                                      + (f" (after {n} retries)" if n else "")) from None
                log.info("%s failed (%s); retry %d of %d in %.1f s", what, _reason(exc),
                         n + 1, self.retries, delay)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else type(exc).__name__
