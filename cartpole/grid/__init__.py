"""Grid search: ``cartpole train`` as library code, the grid spec and the group's plan, a
runner with its backends, and the group's live status and leaderboard."""
