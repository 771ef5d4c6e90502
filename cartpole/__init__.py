"""cartpole: train DQN agents, watch them learn, serve them and play against them."""

__version__ = "0.1.0"
