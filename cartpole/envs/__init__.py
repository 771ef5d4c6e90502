"""Gymnasium environments: making and describing them, and recording an episode as a GIF."""
