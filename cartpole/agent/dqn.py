"""Double-DQN learner in numpy: online and target MLPs, Huber loss, Adam.

Why numpy and not a deep-learning framework: the networks here are tiny (two hidden
layers of 64), so one gradient step is a few dozen small array operations, and a
framework's per-process costs dwarf them. TensorFlow took longer to import (4-14 s on
2-core machines) than a whole CartPole training, held a trial process at 840-900 MB,
and compiled the update again in every trial process. ``make bench-startup`` measures
both sides; docs/benchmarks.md has the figures.

The update is the one a Keras model with ``Adam(learning_rate, global_clipnorm)`` and
``Huber(delta=1)`` would make (the same formulas, in float32), so the weights are
those of the Keras ``Sequential`` that ``agent/h5.py`` writes. All parameters live in
one flat float32 vector, with each layer's kernel and bias as views into it, so the
gradient norm and the Adam step are a handful of operations whatever the depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from cartpole.agent.replay import Batch
from cartpole.hparams import HParams

ADAM_BETA_1 = 0.9
ADAM_BETA_2 = 0.999
ADAM_EPSILON = 1e-7  # Keras's default
HUBER_DELTA = 1.0
# Adam's moments of a weight whose gradient stays zero (a dead ReLU) decay geometrically
# into float32's subnormal range, where x86 arithmetic is many times slower: without a
# flush the Adam step took half of all training time. TensorFlow sets the CPU's
# flush-to-zero mode; numpy cannot, so every FLUSH_EVERY steps the moments below
# float32's smallest normal number are set to zero. Their effect on a weight is below
# 1e-30 either way.
FLUSH_EVERY = 16
_TINY = np.finfo(np.float32).tiny


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras's default kernel initialiser, drawn from ``rng``."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


class FlatParams:
    """Kernels and biases of an MLP as views into one flat float32 vector."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.shapes: list[tuple[int, ...]] = []
        for fan_in, fan_out in pairwise(sizes):
            self.shapes += [(fan_in, fan_out), (fan_out,)]
        self.flat = np.zeros(sum(int(np.prod(s)) for s in self.shapes), dtype=np.float32)
        self.arrays = self.views(self.flat)

    def views(self, flat: np.ndarray) -> list[np.ndarray]:
        """``flat`` cut into arrays of this MLP's shapes (views, not copies)."""
        out, offset = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            out.append(flat[offset:offset + size].reshape(shape))
            offset += size
        return out


class DQNLearner:
    """Owns the networks and the optimizer; one ``update`` call runs many gradient steps.

    ``seed`` draws the initial weights (Glorot-uniform kernels, zero biases), so the
    same seed gives the same learner.
    """

    def __init__(self, obs_dim: int, n_actions: int, hparams: HParams, seed: int = 0) -> None:
        self.hparams = hparams
        sizes = [obs_dim, *hparams.hidden_sizes, n_actions]
        self._online = FlatParams(sizes)
        rng = np.random.default_rng(seed)
        for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
            self._online.arrays[2 * i][...] = glorot_uniform(rng, fan_in, fan_out)
        self._target_flat = self._online.flat.copy()
        self._target = self._online.views(self._target_flat)
        self._grad_flat = np.zeros_like(self._online.flat)
        self._grads = self._online.views(self._grad_flat)
        self._m = np.zeros_like(self._online.flat)
        self._v = np.zeros_like(self._online.flat)
        self._steps = 0
        self._n_actions = n_actions
        self._gamma = np.float32(hparams.gamma)
        self._clip = np.float32(hparams.max_grad_norm)

    @property
    def gradient_steps_done(self) -> int:
        return self._steps

    def weights(self) -> list[np.ndarray]:
        """Copies of the online network's weights, kernel and bias alternating."""
        return [a.copy() for a in self._online.arrays]

    def target_weights(self) -> list[np.ndarray]:
        """Copies of the target network's weights, kernel and bias alternating."""
        return [a.copy() for a in self._target]

    def set_target_weights(self, weights: Sequence[np.ndarray]) -> None:
        for dst, src in zip(self._target, weights, strict=True):
            dst[...] = src

    def update(self, batch: Batch) -> float:
        """Run one gradient step per leading slice of ``batch``; return the last loss."""
        n, size = batch.actions.shape
        # What does not depend on the weights is prepared for all steps at once: the
        # online net sees next_obs and obs stacked, in one pass per step.
        stacked = np.concatenate([batch.next_obs, batch.obs], axis=1)
        discounts = (self._gamma * (1.0 - batch.terminated)).astype(np.float32)
        rewards = batch.rewards.astype(np.float32, copy=False)
        chosen = np.eye(self._n_actions, dtype=np.float32)[batch.actions]
        rows = np.arange(size)
        loss = 0.0
        for i in range(n):
            loss = self._step(stacked[i], batch.next_obs[i], chosen[i], rewards[i],
                              discounts[i], rows, last=i == n - 1)
        return loss

    def _step(self, stacked: np.ndarray, next_obs: np.ndarray, chosen: np.ndarray,
              rewards: np.ndarray, discounts: np.ndarray, rows: np.ndarray,
              last: bool) -> float:
        size = len(rows)
        acts = _forward(self._online.arrays, stacked)
        # Double DQN: the online net picks the next action, the target net values it.
        next_action = acts[-1][:size].argmax(axis=1)
        next_q = _forward(self._target, next_obs)[-1][rows, next_action]
        y = rewards + discounts * next_q
        q = acts[-1][size:]
        err = (q * chosen).sum(axis=1) - y
        loss = _huber(err) if last else 0.0
        grad_out = chosen * (np.clip(err, -HUBER_DELTA, HUBER_DELTA) / size)[:, None]
        self._backward([a[size:] for a in acts], grad_out)
        self._adam()
        self._steps += 1
        if self._steps % self.hparams.target_update == 0:
            self._target_flat[...] = self._online.flat
        return loss

    def _backward(self, acts: list[np.ndarray], grad: np.ndarray) -> None:
        params, grads = self._online.arrays, self._grads
        for layer in range(len(params) // 2 - 1, -1, -1):
            np.matmul(acts[layer].T, grad, out=grads[2 * layer])
            np.sum(grad, axis=0, out=grads[2 * layer + 1])
            if layer:
                grad = grad @ params[2 * layer].T
                grad *= acts[layer] > 0  # ReLU

    def _adam(self) -> None:
        g = self._grad_flat
        norm = np.sqrt(np.dot(g, g))
        if norm > self._clip:
            g *= self._clip / norm
        t = self._steps + 1
        self._m += (g - self._m) * np.float32(1 - ADAM_BETA_1)
        self._v += (g * g - self._v) * np.float32(1 - ADAM_BETA_2)
        rate = np.float32(self.hparams.learning_rate * np.sqrt(1 - ADAM_BETA_2**t)
                          / (1 - ADAM_BETA_1**t))
        self._online.flat -= rate * self._m / (np.sqrt(self._v) + np.float32(ADAM_EPSILON))
        if t % FLUSH_EVERY == 0:
            for moment in (self._m, self._v):
                moment[np.abs(moment) < _TINY] = 0.0


def _forward(params: Sequence[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output (ReLU applied), the input first."""
    acts = [x]
    last = len(params) // 2 - 1
    for layer in range(last + 1):
        x = x @ params[2 * layer] + params[2 * layer + 1]
        if layer < last:
            np.maximum(x, 0.0, out=x)
        acts.append(x)
    return acts


def _huber(err: np.ndarray) -> float:
    a = np.abs(err)
    return float(np.where(a <= HUBER_DELTA, 0.5 * err * err,
                          HUBER_DELTA * (a - 0.5 * HUBER_DELTA)).mean())
