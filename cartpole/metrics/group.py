"""Group-level steps of the metrics engines, run by the grid runner around all trials.

An engine class may override two class methods of ``Engine`` (whose defaults do nothing):

- ``open_group(group: GroupInfo, **settings) -> dict`` before the first trial starts;
  what it returns is added to that engine's settings for every trial (the MLflow
  engine passes the parent run's id this way, through each trial's job.json);
- ``close_group(group: GroupInfo, trials: list[dict], best: dict | None, state: str,
  **settings)`` once the group has finished (``state`` is the group's: completed,
  partial, failed or interrupted): the Visdom summary chart, the MLflow registry.

Both talk to servers that may be down: the engines' steps run side by side, and a
failure or a step still running after ``timeout`` seconds gives one warning and
training goes on. Engines whose settings include ``labels`` get each trial's label
(its varying hyperparameters), whether or not their server answers.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cartpole.metrics.base import Engine, GroupInfo, engine_class
from cartpole.metrics.engines import export_secrets, load_engine
from cartpole.metrics.resilient import mark_reachable, short_error, warn_unreachable

log = logging.getLogger(__name__)


class GroupMetrics:
    """Calls the selected engines' group-level steps, side by side, within one deadline."""

    def __init__(self, names: tuple[str, ...], config: dict[str, Any], info: GroupInfo,
                 timeout: float = 10.0) -> None:
        self.names, self.info, self.timeout = tuple(names), info, timeout
        config = export_secrets(config)  # credentials are read from the environment
        self.config = {name: dict(config.get(name) or {}) for name in self.names}
        self.down: set[str] = set()
        for name in self.names:  # trial labels go to engines that take them
            if "labels" in inspect.signature(load_engine(name)).parameters:
                self.config[name]["labels"] = info.labels

    def open(self) -> dict[str, Any]:
        """Run every ``open_group``; return the metrics config the trials should use."""
        results = self._run_all("start the group", "open_group",
                                lambda name, engine: engine.open_group(
                                    self.info, **self.config[name]))
        for name, added in results.items():
            if isinstance(added, dict):
                self.config[name].update(added)
        return {name: settings for name, settings in self.config.items() if settings}

    def close(self, trials: list[dict[str, Any]], best: dict[str, Any] | None,
              state: str = "completed") -> None:
        self._run_all("finish the group", "close_group",
                      lambda name, engine: engine.close_group(
                          self.info, trials, best, state=state, **self.config[name]))

    def _run_all(self, what: str, hook: str,
                 call: Callable[[str, type[Engine]], Any]) -> dict[str, Any]:
        boxes: dict[str, dict[str, Any]] = {}
        threads = []
        for name in self.names:
            engine = engine_class(load_engine(name))
            # Engines that keep the default (which does nothing) are left out: a step that
            # succeeds marks the engine reachable, and theirs says nothing about a server.
            if not engine.overrides(hook):
                continue
            box = boxes[name] = {}
            thread = threading.Thread(target=_capture, args=(box, call, name, engine),
                                      name=f"metrics-{name}-group", daemon=True)
            thread.start()
            threads.append((name, thread))
        deadline = time.monotonic() + self.timeout
        results: dict[str, Any] = {}
        for name, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            box = boxes[name]
            if thread.is_alive():
                box["error"] = TimeoutError(f"no answer within {self.timeout:.0f} s")
            if "error" not in box:
                mark_reachable(name)
                results[name] = box.get("value")
            elif name in self.down:  # already said when the group started
                log.info("metrics engine %s could not %s either: %s", name, what,
                         short_error(box["error"]))
            else:
                self.down.add(name)
                warn_unreachable(name, box["error"])
        return results


def _capture(box: dict[str, Any], call: Callable[[str, type[Engine]], Any], name: str,
             engine: type[Engine]) -> None:
    try:
        box["value"] = call(name, engine)
    except Exception as exc:  # noqa: BLE001 - a metrics backend never stops training
        box["error"] = exc
