"""The DQN agent: replay buffer, Q-network, learner and a numpy policy for acting."""
