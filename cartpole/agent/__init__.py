"""The DQN agent: Q-network, replay buffer, learner, a numpy policy for acting, and its
.h5 model file (written, read, published with its metadata). TensorFlow loads only
through ``backend``; nothing here imports cli, grid or metrics."""
