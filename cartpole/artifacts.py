"""What a trial leaves on disk: the .h5 model, its metadata, its result."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from cartpole import __version__
from cartpole.fileio import copy_file, write_json, write_with

MODEL_FILE = "model.h5"
METADATA_FILE = "metadata.json"
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
    """Save an MLP with ``weights`` as a Keras .h5 file, atomically."""
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

    write_with(path, write)


def model_paths(file_name: str | Path) -> tuple[Path, Path]:
    """``-f`` value -> (.h5 path, metadata .json path); a trailing .h5 is optional."""
    base = Path(file_name)
    if base.suffix in (".h5", ".hdf5"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".h5"), base.with_name(base.name + ".json")


def publish_model(trial_dir: Path, file_name: str | Path) -> tuple[Path, Path]:
    """Copy a trial's model and metadata to the ``-f`` location."""
    h5, meta = model_paths(file_name)
    copy_file(trial_dir / MODEL_FILE, h5)
    copy_file(trial_dir / METADATA_FILE, meta)
    return h5, meta


def write_metadata(path: Path, data: dict[str, Any]) -> None:
    write_json(path, {"format": METADATA_FORMAT, **data, "versions": library_versions()})
