"""Process-wide TensorFlow settings: threads, determinism and seeds."""

from __future__ import annotations

import logging
import random

import numpy as np

log = logging.getLogger(__name__)


def configure_tensorflow(threads: int = 1) -> None:
    """Limit TensorFlow's thread pools and make its ops deterministic.

    Thread counts can be set only before TensorFlow runs its first op; later
    calls keep whatever was set first.
    """
    from cartpole.agent.backend import tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        log.debug("TensorFlow already initialised; keeping its thread settings")
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel(logging.ERROR)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy's global state and TensorFlow/Keras."""
    from cartpole.agent.backend import keras

    random.seed(seed)
    np.random.seed(seed % 2**32)
    keras.utils.set_random_seed(seed % 2**32)
