"""Grid search: trial specs, backends that run them, and the group's leaderboard."""
