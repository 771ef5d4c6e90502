"""The Keras Q-network."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cartpole.agent.backend import keras


def build_q_network(obs_dim: int, n_actions: int, hidden_sizes: Sequence[int],
                    name: str = "q_network",
                    weights: Sequence[np.ndarray] | None = None) -> keras.Model:
    """An MLP: ReLU hidden layers, one linear Q-value output per action; with ``weights``
    (kernels and biases in layer order) instead of fresh ones."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=(obs_dim,), name="obs")]
    for i, size in enumerate(hidden_sizes):
        layers.append(keras.layers.Dense(size, activation="relu", name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(n_actions, name="q_values"))
    model = keras.Sequential(layers, name=name)
    if weights is not None:
        model.set_weights(list(weights))
    return model
