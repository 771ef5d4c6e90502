"""The README's main command solves CartPole whichever BLAS kernels the CPU gets.

numpy's OpenBLAS picks its matrix kernels by CPU (Haswell's on an AMD EPYC, SkylakeX's
on an Intel Xeon with AVX-512, ...). Their rounding differs, and a DQN's learning curve
diverges from it: the same seed can solve on one machine and not on the next. With
``OPENBLAS_CORETYPE`` this machine computes with each kernel family its CPU can run, as
other machines would, and the default training of seed 0 must solve under every one.
(numpy's own SIMD loops, switched off with ``NPY_DISABLE_CPU_FEATURES``, changed nothing
here: only the BLAS kernels did.)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a whole training per kernel family

EXE = str(Path(sys.executable).with_name("cartpole"))
# OpenBLAS's x86-64 kernel families since x86-64-v2, oldest first, with the CPU flags
# each one needs.
KERNELS = {
    "Nehalem": {"sse4_2"},
    "SandyBridge": {"avx"},
    "Haswell": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"},
}


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines()
                 if line.startswith("flags")), set())


def _blas_architecture(env: dict[str, str]) -> str | None:
    """The kernel family numpy's OpenBLAS uses under ``env`` (None: not OpenBLAS)."""
    code = ("import numpy, json; from threadpoolctl import threadpool_info; "
            "print(json.dumps([i.get('architecture') for i in threadpool_info() "
            "if i.get('internal_api') == 'openblas']))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    found = json.loads(out)
    return found[0] if found else None


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_the_default_training_of_seed_0_solves_with_each_blas_kernel(tmp_path, kernel):
    if platform.machine() != "x86_64":
        pytest.skip("OpenBLAS's kernel families are named here for x86-64")
    if not KERNELS[kernel] <= _cpu_flags():
        pytest.skip(f"this CPU cannot run OpenBLAS's {kernel} kernels")
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
    architecture = _blas_architecture(env)
    if architecture is None:
        pytest.skip("numpy's BLAS here is not OpenBLAS")
    assert architecture.lower() == kernel.lower()  # the variable took effect

    done = subprocess.run([EXE, "train", "--seed", "0", "-f", "model"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    trial = json.loads(done.stdout.strip().splitlines()[-1])["trials"][0]
    assert trial["solved_at_step"] is not None, (kernel, trial["score"])
    assert trial["score"] >= 475
