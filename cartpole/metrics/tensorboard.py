"""The tensorboard engine: scalars per trial, one run folder per trial.

Scalars go to ``<logdir>/<group>/<trial>/`` (``logdir`` defaults to ``runs/tensorboard``),
so ``tensorboard --logdir runs/tensorboard`` shows every trial of every group. A remote
run (``cartpole run``) writes to ``<logdir>/<run id>/agent/`` (the router demo to
``.../router/``): ``run_episode/score`` per episode, ``route/share`` per router request,
and the ``run_end/...`` summary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from cartpole.metrics.base import Engine, EngineContext

# event -> (step key, scalar keys)
_SCALARS = {
    "episode": ("total_steps", ("score", "epsilon", "loss")),
    "eval": ("step", ("eval_mean", "eval_std", "best")),
    # 1 or 0: solved, stopped by Ctrl-C, stopped early by the search's pruner (--prune)
    "trial_end": ("steps", ("score", "solved", "interrupted", "pruned")),
    "run_episode": ("episode", ("score",)),
    "route": ("request", ("share",)),
    "run_end": ("episodes", ("episodes", "score", "score_min", "score_max", "steps", "seconds",
                             "steps_per_second", "latency_p50_ms", "latency_p99_ms",
                             "requests", "cut_short")),
}


_FLAGS = {"solved", "interrupted", "pruned"}  # booleans written as 1 or 0


def _without_tensorflow() -> None:
    """Make TensorBoard write local files with its own stub of TensorFlow's file API.

    Otherwise its writer imports TensorFlow whenever it is installed: seconds and
    hundreds of MB in processes that never train (``cartpole run``, the group runner).
    ``tensorboard.compat.notf`` is TensorBoard's own switch for that: when the module
    exists, the stub is used. Remote log dirs (gs://, s3://) keep the real API.
    """
    sys.modules.setdefault("tensorboard.compat.notf", ModuleType("tensorboard.compat.notf"))


class TensorBoardSink(Engine):
    def __init__(self, context: EngineContext | None = None,
                 logdir: str = "runs/tensorboard") -> None:
        if "://" not in logdir:
            _without_tensorflow()
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        context = context or EngineContext()
        self.path = Path(logdir) / context.group / context.trial
        self.path.mkdir(parents=True, exist_ok=True)
        self._writer = EventFileWriter(str(self.path))

    def write(self, event: dict[str, Any]) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        spec = _SCALARS.get(event["event"])
        if spec is None:
            return
        step_key, keys = spec
        values = [Summary.Value(tag=f"{event['event']}/{k}", simple_value=float(event[k]))
                  for k in keys if isinstance(event.get(k), int | float)
                  and (k in _FLAGS or not isinstance(event.get(k), bool))]
        if values:
            self._writer.add_event(Event(step=int(event[step_key]),
                                         summary=Summary(value=values)))

    def close(self) -> None:
        self._writer.close()
