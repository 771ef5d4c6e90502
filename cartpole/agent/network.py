"""The Keras Q-network."""

from __future__ import annotations

from collections.abc import Sequence

from cartpole.agent.backend import keras


def build_q_network(obs_dim: int, n_actions: int, hidden_sizes: Sequence[int],
                    name: str = "q_network") -> keras.Model:
    """An MLP: ReLU hidden layers, one linear Q-value output per action."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=(obs_dim,), name="obs")]
    for i, size in enumerate(hidden_sizes):
        layers.append(keras.layers.Dense(size, activation="relu", name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(n_actions, name="q_values"))
    return keras.Sequential(layers, name=name)
