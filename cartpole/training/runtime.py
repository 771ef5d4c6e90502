"""Process-wide settings of a trial: numeric threads and seeds."""

from __future__ import annotations

import random

import numpy as np


def limit_threads(threads: int = 1) -> None:
    """Keep numpy's BLAS to ``threads`` threads for the rest of the process.

    The networks are small enough that one thread is the fastest, and two trials on
    two cores must not fight over four threads.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def seed_everything(seed: int) -> None:
    """Seed Python's and numpy's global generators (the trial also has its own)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
