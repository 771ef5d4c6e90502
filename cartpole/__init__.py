"""cartpole: train DQN agents, watch them learn, serve them and play against them.

A subpackage per step of the pipeline: ``training`` (one trial) and ``grid`` (a group of
them) train, ``metrics`` observes, ``report`` shows a group, ``serving`` serves a model and
``remote`` plays against it; ``agent`` and ``envs`` are below them, ``cli`` above them all.
"""

__version__ = "0.1.0"
