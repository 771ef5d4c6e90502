"""Group-level steps of the metrics engines, run by the grid runner around all trials.

An engine class may define two class methods:

- ``open_group(group: GroupInfo, **settings) -> dict`` before the first trial starts;
  what it returns is added to that engine's settings for every trial (the MLflow
  engine passes the parent run's id this way, through each trial's job.json);
- ``close_group(group: GroupInfo, trials: list[dict], best: dict | None, **settings)``
  once the group has finished (the Visdom summary chart, the MLflow model registry).

Both talk to servers that may be down: a failure or a call that takes longer than
``timeout`` seconds gives one warning and training goes on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.metrics.engines import load_engine
from cartpole.metrics.resilient import mark_reachable, short_error, warn_unreachable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupInfo:
    """What the group-level steps know about the group."""

    group: str
    group_dir: Path
    labels: dict[str, str] = field(default_factory=dict)  # trial -> its varying hparams


class GroupMetrics:
    """Calls the selected engines' group-level steps, each bounded in time."""

    def __init__(self, names: tuple[str, ...], config: dict[str, Any], info: GroupInfo,
                 timeout: float = 15.0) -> None:
        self.names, self.info, self.timeout = tuple(names), info, timeout
        self.config = {name: dict(config.get(name) or {}) for name in self.names}
        self.down: set[str] = set()

    def open(self) -> dict[str, Any]:
        """Run every ``open_group``; return the metrics config the trials should use."""
        for name in self.names:
            opener = getattr(load_engine(name), "open_group", None)
            if opener is not None:
                added = self._call(name, "start the group", opener, self.info,
                                   **self.config[name])
                if isinstance(added, dict):
                    self.config[name].update(added)
        return {name: settings for name, settings in self.config.items() if settings}

    def close(self, trials: list[dict[str, Any]], best: dict[str, Any] | None) -> None:
        for name in self.names:
            closer = getattr(load_engine(name), "close_group", None)
            if closer is not None:
                self._call(name, "finish the group", closer, self.info, trials, best,
                           **self.config[name])

    def _call(self, name: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a metrics backend never stops training
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"metrics-{name}-group", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            box["error"] = TimeoutError(f"no answer within {self.timeout:.0f} s")
        if "error" not in box:
            mark_reachable(name)
            return box.get("value")
        if name in self.down:  # already said when the group started
            log.info("metrics engine %s could not %s either: %s", name, what,
                     short_error(box["error"]))
        else:
            self.down.add(name)
            warn_unreachable(name, short_error(box["error"]))
        return None
