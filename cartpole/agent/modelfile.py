"""A model's ``.h5`` and its metadata ``.json``, read as one consistent pair (no TensorFlow).

The metadata names the ``.h5`` it describes by the sha256 digest of its bytes
(``model_sha256``; ``cartpole/agent/publish.py`` explains how the pair is written). A
loader reads the ``.h5`` bytes once, hashes them and parses the weights from those
same bytes, so what it checked is what it uses. When the digests differ a writer may
be between its two renames, so the pair is read again for up to ``settle`` seconds;
a pair that still differs is refused with ``ModelMismatchError``. Metadata without a
digest (older models, or written by hand) and a missing ``.json`` have nothing to
check against, and load as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartpole.errors import ModelMismatchError
from cartpole.paths import METADATA_FILE, MODEL_FILE, PENDING_SUFFIX

DIGEST_KEY = "model_sha256"
SETTLE_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPair:
    """The bytes of a ``.h5`` and the metadata that goes with them (None if absent)."""

    data: bytes
    metadata: dict[str, Any] | None
    digest: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata_path(h5: str | Path) -> Path:
    """The ``.json`` beside a ``.h5``: ``NAME.json``, or a trial folder's ``metadata.json``."""
    h5 = Path(h5)
    beside = h5.with_suffix(".json")
    if h5.name == MODEL_FILE and not beside.exists():
        return h5.with_name(METADATA_FILE)
    return beside


def pending_path(h5: str | Path) -> Path:
    """Where a publish keeps the new ``.h5`` between its two renames (see publish.py)."""
    h5 = Path(h5)
    return h5.with_name(f".{h5.name}{PENDING_SUFFIX}")


def read_pair(h5: str | Path, meta: str | Path | None = None,
              settle: float = SETTLE_SECONDS) -> ModelPair:
    """Read ``h5`` and its metadata as a pair whose digests agree.

    Raises OSError when the ``.h5`` cannot be read, and ModelMismatchError when the
    metadata names another ``.h5`` for longer than ``settle`` seconds.
    """
    h5 = Path(h5)
    meta = Path(meta) if meta is not None else metadata_path(h5)
    deadline = time.monotonic() + settle
    while True:
        data = h5.read_bytes()
        metadata = _read_metadata(meta)
        digest = sha256_hex(data)
        expected = (metadata or {}).get(DIGEST_KEY)
        if expected is None or expected == digest:
            return ModelPair(data, metadata, digest)
        if time.monotonic() >= deadline:
            raise ModelMismatchError(_mismatch_message(h5, meta, digest, str(expected)))
        time.sleep(0.05)


def _read_metadata(meta: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(meta.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read the model's metadata %s (%s); loading without it", meta, exc)
        return None
    return data if isinstance(data, dict) else None


def _mismatch_message(h5: Path, meta: Path, digest: str, expected: str) -> str:
    message = (f"{h5} (sha256 {digest[:12]}) is not the model that {meta} describes "
               f"(sha256 {expected[:12]}): the pair comes from two different models")
    if pending_path(h5).exists():
        message += (f"; a publish was interrupted between its two renames and left the "
                    f"new model in {pending_path(h5)} (the next publish or --resume "
                    "completes it)")
    return message
