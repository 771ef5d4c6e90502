"""The remote agent: clients of served models, and runners that play episodes through them."""
