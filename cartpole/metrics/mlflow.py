"""The mlflow engine: a parent run per group, a nested run per trial, the best model registered.

- Before the first trial starts, the grid runner opens (or, on ``--resume``, finds)
  the group's parent run, tagged ``cartpole.group``; its id reaches each trial
  through the trial's job.json.
- Each trial logs a run nested under it: its hyperparameters, env and seed as
  params; score, epsilon and loss per episode and the evaluations as metrics
  (step = env steps); its ``model.h5`` and ``metadata.json`` as artifacts under
  ``model/``. An interrupted trial's run ends KILLED; one the search's pruner stopped
  early ends FINISHED with the tag ``cartpole.pruned``.
- When the group has finished, the parent run ends FINISHED (KILLED if interrupted,
  FAILED if no trial completed), trial runs whose worker died end FAILED, and the best
  trial's model becomes a new version of the registered model (``cartpole-rl-remote``
  unless ``registered_model`` is set).

A remote run (``cartpole run``) is one run of its own, named after the run id (the
event group) and tagged ``cartpole.group`` and ``cartpole.role=remote``: ``run_start``
logs the target, transport, runners, batch, env, episodes and feedback as params;
each ``run_episode`` logs ``remote_score`` and ``remote_steps`` (step = episode); the
router demo's ``route`` events log ``route_share`` and ``route_branch`` (step =
request); ``run_end`` logs ``final_`` + its numbers and ends the run FINISHED, FAILED
when it carries an error, KILLED when interrupted. The router demo sends no
``run_end``: its run ends FINISHED when the sink closes.

Credentials: MLflow's client reads ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` (a server started with ``--app-name basic-auth``), or
``MLFLOW_TRACKING_TOKEN``, from the environment. The settings ``username``,
``password`` and ``token`` are moved there (``secrets.py``), never into a param or file.

The client's own retries are turned down when the engine makes its client (unless
MLFLOW_HTTP_REQUEST_MAX_RETRIES is set), because the engine retries in the
background itself and must not block.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cartpole.metrics.base import Engine, EngineContext
from cartpole.metrics.group import GroupInfo
from cartpole.metrics.secrets import CredentialsRefused, mask_url, move_to_environment

# event -> (step key, metric keys)
_METRICS = {
    "episode": ("total_steps", ("score", "epsilon", "loss", "steps")),
    "eval": ("step", ("eval_mean", "eval_std", "best")),
    "trial_end": ("steps", ("score", "eval_std", "episodes", "seconds")),
}
# Remote runs: event -> (step key, {event key: metric name})
_REMOTE_METRICS = {
    "run_episode": ("episode", {"score": "remote_score", "steps": "remote_steps"}),
    "route": ("request", {"share": "route_share", "branch": "route_branch"}),
    "run_end": ("episodes", {k: f"final_{k}" for k in (
        "episodes", "score", "score_min", "score_max", "steps", "seconds", "steps_per_second",
        "latency_p50_ms", "latency_p99_ms", "requests", "cut_short")}),
}
_REMOTE_PARAMS = ("target", "transport", "runners", "batch", "env", "episodes", "feedback")
REMOTE = "remote"  # the role tag of a remote run, and its key in _RUNS
# How MLflow's client words a refusal: "... failed with error code 401 != 200 ...".
_AUTH_STATUS = re.compile(r"error code (401|403)\b")
_MAX_METRICS = 1000  # per log_batch request, the server's limit
GROUP_TAG, TRIAL_TAG, ROLE_TAG = "cartpole.group", "cartpole.trial", "cartpole.role"
PRUNED_TAG = "cartpole.pruned"  # a trial the search's pruner stopped early (--prune)
# Run ids by (tracking uri, group, trial): a sink rebuilt after a failure goes on
# logging into the same run.
_RUNS: dict[tuple[str, str, str], str] = {}


class MlflowSink(Engine):
    remote = True
    # MLflow's client reads these itself, from the environment only.
    secrets: ClassVar[dict[str, str]] = {"username": "MLFLOW_TRACKING_USERNAME",
                                         "password": "MLFLOW_TRACKING_PASSWORD",
                                         "token": "MLFLOW_TRACKING_TOKEN"}

    def __init__(self, context: EngineContext | None = None,
                 tracking_uri: str = "http://localhost:5000", experiment: str = "cartpole",
                 registered_model: str = "cartpole-rl-remote",
                 parent_run_id: str | None = None, username: str | None = None,
                 password: str | None = None, token: str | None = None) -> None:
        move_to_environment("mlflow", {"username": username, "password": password,
                                       "token": token}, self.secrets)
        context = context or EngineContext()
        self.group, self.trial = context.group, context.trial
        self.parent_run_id = parent_run_id
        self._client = _client(tracking_uri)
        self._key = (tracking_uri, self.group, self.trial)
        self._experiment = experiment
        self._remote_open = False  # a remote run this sink logged to, not yet ended

    @property
    def run_id(self) -> str:
        run_id = _RUNS.get(self._key)
        if run_id is None:
            tags = {GROUP_TAG: self.group, TRIAL_TAG: self.trial, ROLE_TAG: "trial"}
            if self.parent_run_id:
                tags["mlflow.parentRunId"] = self.parent_run_id
            run = self._client.create_run(_experiment_id(self._client, self._experiment),
                                          run_name=f"{self.group}/{self.trial}", tags=tags)
            run_id = _RUNS[self._key] = run.info.run_id
        return run_id

    @property
    def remote_run_id(self) -> str:
        """The remote run of this group (``cartpole run``, the router demo)."""
        key = (self._key[0], self.group, REMOTE)
        run_id = _RUNS.get(key)
        if run_id is None:
            run = self._client.create_run(_experiment_id(self._client, self._experiment),
                                          run_name=self.group,
                                          tags={GROUP_TAG: self.group, ROLE_TAG: REMOTE})
            run_id = _RUNS[key] = run.info.run_id
        return run_id

    def write(self, event: dict[str, Any]) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict[str, Any]]) -> None:
        training = [e for e in events if e["event"] not in _REMOTE_EVENTS]
        if len(training) < len(events):
            self._write_remote([e for e in events if e["event"] in _REMOTE_EVENTS])
        if training:
            self._write_training(training)

    def _write_remote(self, events: list[dict[str, Any]]) -> None:
        metrics: list[Metric] = []
        for event in events:
            self._remote_open = True
            if event["event"] == "run_start":
                self._client.log_batch(self.remote_run_id, params=[
                    Param(k, str(event[k]).lower() if isinstance(event[k], bool)
                          else str(event[k])) for k in _REMOTE_PARAMS if k in event])
            metrics.extend(_remote_metrics(event))
            if event["event"] == "run_end":
                self._flush(metrics, self.remote_run_id)
                metrics = []
                status = ("FAILED" if event.get("error") else
                          "KILLED" if event.get("interrupted") else "FINISHED")
                self._client.set_terminated(self.remote_run_id, status)
                self._remote_open = False
        self._flush(metrics, self.remote_run_id)

    def _write_training(self, events: list[dict[str, Any]]) -> None:
        metrics: list[Metric] = []
        for event in events:
            if event["event"] == "trial_start":
                self._flush(metrics)
                metrics = []
                self._client.log_batch(self.run_id, params=_params(event))
            metrics.extend(_metrics(event))
            if event["event"] == "trial_end":
                self._flush(metrics)
                metrics = []
                status = "KILLED" if event.get("interrupted") else "FINISHED"
                if event.get("pruned"):  # MLflow has no such run status: a tag says it
                    self._client.set_tag(self.run_id, PRUNED_TAG, "true")
                self._client.set_terminated(self.run_id, status)
        self._flush(metrics)

    def _flush(self, metrics: list[Metric], run_id: str | None = None) -> None:
        for start in range(0, len(metrics), _MAX_METRICS):
            self._client.log_batch(run_id or self.run_id,
                                   metrics=metrics[start:start + _MAX_METRICS])

    def log_artifacts(self, files: list[Path]) -> None:
        for path in files:
            self._client.log_artifact(self.run_id, str(path), artifact_path="model")

    def close(self) -> None:
        """A trial's run ends with its trial_end event, a remote run with run_end; the
        router demo's run, which has none, ends here."""
        if self._remote_open:
            self._remote_open = False
            self._client.set_terminated(self.remote_run_id, "FINISHED")

    # -- group level (see metrics/group.py) ------------------------------------------
    @classmethod
    def open_group(cls, group: GroupInfo, tracking_uri: str = "http://localhost:5000",
                   experiment: str = "cartpole", registered_model: str = "cartpole-rl-remote",
                   parent_run_id: str | None = None) -> dict[str, Any]:
        """Find or start the group's parent run; its id goes to every trial."""
        client = _client(tracking_uri)
        experiment_id = _experiment_id(client, experiment)
        parent = _find_parent(client, experiment_id, group.group)
        if parent is None:
            parent = client.create_run(experiment_id, run_name=group.group,
                                       tags={GROUP_TAG: group.group, ROLE_TAG: "group"}).info
        elif parent.status != "RUNNING":
            client.update_run(parent.run_id, status="RUNNING")
        return {"parent_run_id": parent.run_id}

    @classmethod
    def close_group(cls, group: GroupInfo, trials: list[dict[str, Any]],
                    best: dict[str, Any] | None, state: str = "completed",
                    tracking_uri: str = "http://localhost:5000", experiment: str = "cartpole",
                    registered_model: str = "cartpole-rl-remote",
                    parent_run_id: str | None = None) -> None:
        """End the parent run, adopt orphan trial runs, register the best model."""
        client = _client(tracking_uri)
        experiment_id = _experiment_id(client, experiment)
        if parent_run_id is None:  # the server was down when the group started
            parent_run_id = cls.open_group(group, tracking_uri, experiment)["parent_run_id"]
        runs = {r.data.tags.get(TRIAL_TAG): r for r in _trial_runs(client, experiment_id,
                                                                    group.group)}
        status = {t["trial"]: t.get("status") for t in trials}
        for trial, run in runs.items():
            if run.data.tags.get("mlflow.parentRunId") != parent_run_id:
                client.set_tag(run.info.run_id, "mlflow.parentRunId", parent_run_id)
            if run.info.status == "RUNNING":  # its worker died before trial_end
                client.set_terminated(run.info.run_id, "KILLED"
                                      if status.get(trial) == "interrupted" else "FAILED")
        scores = [float(t["score"]) for t in trials if t.get("score") is not None]
        if scores:
            client.log_metric(parent_run_id, "best_score", max(scores))
        client.log_metric(parent_run_id, "trials_completed",
                          sum(t.get("status") == "completed" for t in trials))
        pruned = sum(t.get("status") == "pruned" for t in trials)
        if pruned:
            client.log_metric(parent_run_id, "trials_pruned", pruned)
        client.set_terminated(parent_run_id, {"interrupted": "KILLED", "failed": "FAILED"}
                              .get(state, "FINISHED"))
        if best is not None and best["trial"] in runs:
            _register(client, registered_model, runs[best["trial"]], best, group.group)


def _client(tracking_uri: str) -> MlflowClient:
    """A client that fails fast: the engine retries in the background itself."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    # Its "View run at" lines would land among the log engine's JSON lines on stdout.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    return MlflowClient(tracking_uri)


def _experiment_id(client: MlflowClient, name: str) -> str:
    """The experiment's id, made if missing; the first call of every path, so the one
    that tells a refused credential apart."""
    try:
        found = client.get_experiment_by_name(name)
    except MlflowException as exc:
        status = _AUTH_STATUS.search(str(exc))
        if status is None:
            raise
        raise CredentialsRefused(
            f"MLflow at {mask_url(client.tracking_uri)} answered {status[1]}: set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or "
            "MLFLOW_TRACKING_TOKEN)") from None
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # created meanwhile by another trial
        return client.get_experiment_by_name(name).experiment_id


def _find_parent(client: MlflowClient, experiment_id: str, group: str) -> Any:
    runs = client.search_runs([experiment_id], max_results=1,
                              filter_string=f"tags.`{GROUP_TAG}` = '{group}' and "
                                            f"tags.`{ROLE_TAG}` = 'group'")
    return runs[0].info if runs else None


def _trial_runs(client: MlflowClient, experiment_id: str, group: str) -> Iterator[Any]:
    """The group's trial runs, the oldest first, so a trial's latest attempt wins."""
    runs = client.search_runs([experiment_id], max_results=10_000,
                              filter_string=f"tags.`{GROUP_TAG}` = '{group}' and "
                                            f"tags.`{ROLE_TAG}` = 'trial'",
                              order_by=["attributes.start_time ASC"])
    yield from runs


def _register(client: MlflowClient, name: str, run: Any, best: dict[str, Any],
              group: str) -> None:
    try:
        client.create_registered_model(name, description="Best DQN policy of a cartpole "
                                                          "grid group (Keras .h5 + metadata)")
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    client.create_model_version(
        name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id,
        tags={"score": str(best.get("score")), GROUP_TAG: group, TRIAL_TAG: best["trial"]},
        description=f"group {group}, trial {best['trial']}, score {best.get('score')}",
        await_creation_for=0)


def _params(event: dict[str, Any]) -> list[Param]:
    values = {**{f"hparams.{k}": v for k, v in event.get("hparams", {}).items()},
              "env": event.get("env"), "seed": event.get("seed")}
    return [Param(k, str(v)) for k, v in values.items() if v is not None]


def _metrics(event: dict[str, Any]) -> list[Metric]:
    spec = _METRICS.get(event["event"])
    if spec is None:
        return []
    step_key, keys = spec
    timestamp = _millis(event["ts"])
    prefix = "final_" if event["event"] == "trial_end" else ""
    return [Metric(prefix + k, float(event[k]), timestamp, int(event[step_key]))
            for k in keys if isinstance(event.get(k), int | float)
            and not isinstance(event.get(k), bool)]


_REMOTE_EVENTS = {"run_start", *_REMOTE_METRICS}


def _remote_metrics(event: dict[str, Any]) -> list[Metric]:
    spec = _REMOTE_METRICS.get(event["event"])
    if spec is None:
        return []
    step_key, names = spec
    timestamp = _millis(event["ts"])
    return [Metric(name, float(event[k]), timestamp, int(event[step_key]))
            for k, name in names.items() if isinstance(event.get(k), int | float)
            and not isinstance(event.get(k), bool)]


def _millis(ts: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)

