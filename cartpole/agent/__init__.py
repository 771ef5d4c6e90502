"""The DQN agent: replay buffer, numpy learner, a numpy policy for acting, and its
.h5 model file (written, read, published with its metadata). Nothing here imports a
deep-learning framework, nor cli, grid or metrics."""
