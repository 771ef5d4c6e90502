"""What a trial leaves on disk: the .h5 model, its metadata, its result."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from cartpole import __version__
from cartpole.agent.modelfile import METADATA_FILE, MODEL_FILE, read_pair
from cartpole.agent.publish import publish_pair, publish_pair_bytes
from cartpole.fileio import write_json, write_with

EVENTS_FILE = "events.jsonl"
RESULT_FILE = "result.json"
METADATA_FORMAT = "cartpole-model/1"

_VERSIONED = ("numpy", "tensorflow", "tensorflow-cpu", "keras", "gymnasium", "h5py")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "cartpole": __version__}
    for name in _VERSIONED:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def save_keras_h5(path: str | Path, obs_dim: int, n_actions: int,
                  hidden_sizes: Sequence[int], weights: Sequence[np.ndarray]) -> None:
    """Save an MLP with ``weights`` as a Keras .h5 file, atomically (no metadata)."""
    write_with(path, _keras_writer(obs_dim, n_actions, hidden_sizes, weights))


def save_model(h5: Path, meta: Path, obs_dim: int, n_actions: int,
               hidden_sizes: Sequence[int], weights: Sequence[np.ndarray],
               metadata: dict[str, Any]) -> None:
    """Save the .h5 and its metadata as one pair (see ``cartpole/agent/publish.py``)."""
    publish_pair(h5, meta, _keras_writer(obs_dim, n_actions, hidden_sizes, weights),
                 _with_versions(metadata))


def _keras_writer(obs_dim: int, n_actions: int, hidden_sizes: Sequence[int],
                  weights: Sequence[np.ndarray]) -> Callable[[Path], None]:
    from cartpole.agent.network import build_q_network

    model = build_q_network(obs_dim, n_actions, hidden_sizes)
    model.set_weights(list(weights))

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import absl.logging

            level = absl.logging.get_verbosity()
            absl.logging.set_verbosity(absl.logging.ERROR)
            try:
                model.save(tmp)
            finally:
                absl.logging.set_verbosity(level)

    return write


def model_paths(file_name: str | Path) -> tuple[Path, Path]:
    """``-f`` value -> (.h5 path, metadata .json path); a trailing .h5 is optional."""
    base = Path(file_name)
    if base.suffix in (".h5", ".hdf5"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".h5"), base.with_name(base.name + ".json")


def publish_model(trial_dir: Path, file_name: str | Path) -> tuple[Path, Path]:
    """Copy a trial's model and metadata to the ``-f`` location, as one pair.

    The trial's pair is read and checked first, so a mixed pair is never copied.
    """
    h5, meta = model_paths(file_name)
    pair = read_pair(trial_dir / MODEL_FILE, trial_dir / METADATA_FILE)
    publish_pair_bytes(h5, meta, pair.data, pair.metadata or {})
    return h5, meta


def _with_versions(data: dict[str, Any]) -> dict[str, Any]:
    return {"format": METADATA_FORMAT, **data, "versions": library_versions()}


def write_metadata(path: Path, data: dict[str, Any]) -> None:
    """Metadata of a trial that has no model (it never reached an evaluation)."""
    write_json(path, _with_versions(data))
