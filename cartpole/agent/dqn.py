"""Double-DQN learner: online and target networks, and a compiled update."""

from __future__ import annotations

import numpy as np

from cartpole.agent.backend import keras, tf
from cartpole.agent.network import build_q_network
from cartpole.agent.replay import Batch
from cartpole.hparams import HParams


class DQNLearner:
    """Owns the networks and the optimizer; one `update` call runs many gradient steps.

    All gradient steps of one update run inside a single XLA-compiled
    ``tf.function`` loop, so Python is entered once per update, not per step.
    """

    def __init__(self, obs_dim: int, n_actions: int, hparams: HParams) -> None:
        self.hparams = hparams
        self.online = build_q_network(obs_dim, n_actions, hparams.hidden_sizes)
        self.target = build_q_network(obs_dim, n_actions, hparams.hidden_sizes,
                                      name="target_network")
        self.target.set_weights(self.online.get_weights())
        self.optimizer = keras.optimizers.Adam(
            learning_rate=hparams.learning_rate, global_clipnorm=hparams.max_grad_norm
        )
        self.optimizer.build(self.online.trainable_variables)
        self._huber = keras.losses.Huber(delta=1.0)
        self._grad_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._update = tf.function(self._update_fn, jit_compile=True, reduce_retracing=True)

    @property
    def gradient_steps_done(self) -> int:
        return int(self._grad_steps.numpy())

    def weights(self) -> list[np.ndarray]:
        """The online network's weights, kernel and bias alternating."""
        return [v.numpy() for v in self.online.trainable_variables]

    def update(self, batch: Batch) -> float:
        """Run one gradient step per leading slice of ``batch``; return the last loss."""
        loss = self._update(
            tf.constant(batch.obs), tf.constant(batch.actions), tf.constant(batch.rewards),
            tf.constant(batch.next_obs), tf.constant(batch.terminated),
        )
        return float(loss)

    def _update_fn(self, obs, actions, rewards, next_obs, terminated):  # noqa: ANN001
        gamma = tf.constant(self.hparams.gamma, tf.float32)
        period = tf.constant(self.hparams.target_update, tf.int64)
        online_vars = self.online.trainable_variables
        target_vars = self.target.trainable_variables
        loss = tf.constant(0.0)
        for i in tf.range(tf.shape(obs)[0]):
            # Double DQN: the online net picks the next action, the target net values it.
            next_action = tf.argmax(self.online(next_obs[i]), axis=1, output_type=tf.int32)
            next_q = tf.gather(self.target(next_obs[i]), next_action, batch_dims=1)
            y = tf.stop_gradient(rewards[i] + gamma * (1.0 - terminated[i]) * next_q)
            with tf.GradientTape() as tape:
                q = tf.gather(self.online(obs[i], training=True), actions[i], batch_dims=1)
                loss = self._huber(y, q)
            grads = tape.gradient(loss, online_vars)
            self.optimizer.apply_gradients(zip(grads, online_vars, strict=True))
            self._grad_steps.assign_add(1)
            if self._grad_steps % period == 0:
                for t, s in zip(target_vars, online_vars, strict=True):
                    t.assign(s)
        return loss
