"""What a trial leaves on disk: the .h5 model and its metadata, and their publication.

The file names are in ``cartpole/paths.py``; the .h5 writer is in ``agent/h5.py``.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from cartpole import __version__
from cartpole.agent.h5 import keras_writer
from cartpole.agent.modelfile import read_pair
from cartpole.agent.publish import publish_pair, publish_pair_bytes
from cartpole.fileio import write_json
from cartpole.paths import METADATA_FILE, MODEL_FILE, model_paths

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


def save_model(h5: Path, meta: Path, obs_dim: int, n_actions: int,
               hidden_sizes: Sequence[int], weights: Sequence[np.ndarray],
               metadata: dict[str, Any]) -> None:
    """Save the .h5 and its metadata as one pair (see ``cartpole/agent/publish.py``)."""
    from cartpole.agent.network import build_q_network  # TensorFlow: only when saving

    model = build_q_network(obs_dim, n_actions, hidden_sizes, weights=weights)
    publish_pair(h5, meta, keras_writer(model), _with_versions(metadata))


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
