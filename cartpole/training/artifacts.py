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
from cartpole.agent.h5 import h5_writer
from cartpole.agent.modelfile import read_pair
from cartpole.agent.publish import publish_pair, publish_pair_bytes
from cartpole.fileio import write_json
from cartpole.paths import METADATA_FILE, MODEL_FILE, model_paths

METADATA_FORMAT = "cartpole-model/1"

_VERSIONED = ("numpy", "gymnasium", "h5py")


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
    shapes = [w.shape for w in weights[0::2]]
    expected = list(zip([obs_dim, *hidden_sizes], [*hidden_sizes, n_actions], strict=True))
    if shapes != expected:
        raise ValueError(f"weights of shapes {shapes} are not a {expected} MLP")
    publish_pair(h5, meta, h5_writer(weights), _with_versions(metadata))


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
