"""Publish a model's ``.h5`` and its metadata ``.json`` so that no one uses a mixed pair.

Two files cannot change in one step, and the paths are a contract: users, the
Seldon image (``COPY`` of ``MODEL_FILE`` and ``MODEL_META``) and their scripts read
plain files at ``runs/<group>/<trial>/model.h5`` + ``metadata.json`` and at
``.models/cartpole-rl-remote.h5`` + ``.json``. A folder or pointer swap would turn
those paths into symlinks, which the Seldon build context (``.dockerignore`` keeps
only ``.models/*.h5`` and ``*.json``) and copying tools do not follow reliably. So
the pair stays two plain files, and the metadata names its ``.h5`` by content:

1. the new ``.h5`` is written and fsynced beside its target, then renamed to a
   hidden ``.NAME.h5.pending``; its sha256 digest goes into the metadata as
   ``model_sha256``;
2. the metadata is renamed into place first (written and fsynced as every file in
   ``fileio``), then the pending ``.h5``; the folder is fsynced after each.

Every loader (``agent.h5``, ``serving.policy``, hence the Seldon classes)
hashes the bytes it parses and compares them with the metadata's digest
(``agent.modelfile.read_pair``), so:

- a concurrent reader that straddles the two renames sees a mismatch and reads
  again a moment later: it gets the old pair or the new one;
- a crash between the renames leaves the new ``.json`` (which always carries a
  digest) beside the old ``.h5``: loaders refuse that pair with ModelMismatchError
  rather than serve weights under another model's metadata, and ``repair_pair``
  (run by ``--resume`` on a trial folder, and superseded by any later publish)
  completes the publish from the pending file. The metadata goes first because
  the other order could leave a new ``.h5`` beside an older ``.json`` without a
  digest, which nothing could tell apart from a true pair.

Writers of one pair are serialised: a trial folder has one worker at a time (the
group lock), and the ``-f`` location is published under a lock on its folder.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cartpole.agent.modelfile import DIGEST_KEY, pending_path, sha256_hex
from cartpole.fileio import fsync_dir, fsync_file, temp_beside, write_json

log = logging.getLogger(__name__)


def _between_renames() -> None:
    """Nothing; tests put a fault here (a crash between the two renames)."""


def publish_pair(h5: Path, meta: Path, fill: Callable[[Path], None],
                 metadata: dict[str, Any]) -> str:
    """Let ``fill`` write the ``.h5`` (to a temporary path with its suffix), then put it
    and ``metadata`` (plus the digest) in place; return the ``.h5``'s sha256 digest."""
    h5, meta = Path(h5), Path(meta)
    h5.parent.mkdir(parents=True, exist_ok=True)
    pending = pending_path(h5)
    pending.unlink(missing_ok=True)  # left by a publish that never finished: superseded
    tmp = temp_beside(h5, h5.suffix)
    try:
        fill(tmp)
        fsync_file(tmp)
        digest = sha256_hex(tmp.read_bytes())
        os.replace(tmp, pending)
    finally:
        tmp.unlink(missing_ok=True)
    write_json(meta, {**metadata, DIGEST_KEY: digest})  # fsyncs the folder: pending too
    _between_renames()
    os.replace(pending, h5)
    fsync_dir(h5.parent)
    return digest


def publish_pair_bytes(h5: Path, meta: Path, data: bytes, metadata: dict[str, Any]) -> str:
    """``publish_pair`` for a ``.h5`` already in memory."""
    return publish_pair(h5, meta, lambda tmp: tmp.write_bytes(data), metadata)


def repair_pair(h5: Path, meta: Path) -> bool:
    """Finish a publish that stopped between its renames; True if it did.

    A pending ``.h5`` that the metadata names is moved into place; one that it does
    not name (the crash came before the metadata's rename) is deleted, since the
    pair in place is then the old, consistent one. Call it only where no publish of
    this pair can be running.
    """
    h5, meta = Path(h5), Path(meta)
    pending = pending_path(h5)
    if not pending.exists():
        return False
    try:
        expected = json.loads(meta.read_text()).get(DIGEST_KEY)
    except (OSError, ValueError, AttributeError):
        expected = None
    if expected is not None and sha256_hex(pending.read_bytes()) == expected:
        os.replace(pending, h5)
        fsync_dir(h5.parent)
        log.warning("completed the interrupted publish of %s (and %s)", h5, meta.name)
        return True
    pending.unlink()
    return False
