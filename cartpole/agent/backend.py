"""TensorFlow and Keras, imported once with TensorFlow's C++ start-up noise kept off stderr.

While its shared libraries load, TensorFlow logs through absl before absl's log is
initialised. Those lines ignore ``TF_CPP_MIN_LOG_LEVEL`` and, on CPUs with AVX-512,
appear at every import, twice ("All log messages before absl::InitializeLog() ...",
"oneDNN custom operations are on ..."). Other CPUs print nothing. So the import runs
with file descriptor 2 pointed at a temporary file; afterwards every captured line
that is not such a start-up notice is written back to stderr, in order. Nothing about
TensorFlow's settings changes (oneDNN stays as TensorFlow sets it).

The same import also keeps scikit-learn, pandas and matplotlib out of the process.
They are installed beside TensorFlow (MLflow, skops and Visdom need them), and
Keras's scikit-learn wrapper and TensorFlow's optional pandas support import them
when they can: over a second on a fast machine, a third of the whole import, for
code that training never calls. While TensorFlow loads they are made unimportable
(TensorFlow and Keras treat them as optional); afterwards anyone may import them.

Import ``tf`` and ``keras`` from here, never directly, so the first import in any
process is this one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# C++ log lines ("I0000 00:00:1796225430.359190    2705 port.cc:153] ...") at INFO or
# WARNING level, absl's preamble, the second line of the CPU-feature notice, and the
# CUDA plug-in registrations that GPU builds log on machines without a GPU.
_NOISE = re.compile(
    r"^(?:[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions:"
    r"|E\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] Unable to register cu(?:DNN|FFT|BLAS) factory"
    r"|E\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] failed call to cuInit"
    r"|TF-TRT Warning: Could not find TensorRT)"
)


def is_startup_noise(line: str) -> bool:
    """True for a line TensorFlow prints while loading, whatever the log level says."""
    return bool(_NOISE.match(line))


# Optional dependencies of TensorFlow and Keras that training never uses.
UNUSED_BY_TRAINING = ("sklearn", "pandas", "matplotlib")


class _Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = set(packages)

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"{fullname} is kept out while TensorFlow loads",
                                      name=fullname)
        return None


@contextmanager
def without(packages: Sequence[str]) -> Iterator[None]:
    """Within the block, importing any of ``packages`` (not yet imported) fails."""
    finder = _Refuse(packages)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def quiet_import(name: str, keep_out: Sequence[str] = ()) -> ModuleType:
    """Import module ``name`` with TensorFlow's start-up noise filtered out of fd 2, and
    ``keep_out`` unimportable meanwhile."""
    if name in sys.modules:
        return sys.modules[name]
    _flush_stderr()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            with without(keep_out):
                return importlib.import_module(name)
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True)
                    if not is_startup_noise(line.decode(errors="replace"))]
            _write_all(2, b"".join(kept))


def _flush_stderr() -> None:
    for stream in {id(s): s for s in (sys.stderr, sys.__stderr__) if s is not None}.values():
        stream.flush()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


tf = quiet_import("tensorflow", keep_out=UNUSED_BY_TRAINING)

import keras  # noqa: E402 - after TensorFlow's quiet import, which Keras would repeat loudly

__all__ = ["UNUSED_BY_TRAINING", "is_startup_noise", "keras", "quiet_import", "tf", "without"]
