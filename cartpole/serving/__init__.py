"""Serving a trained policy: loading with numpy and h5py only, bandit routers, Seldon
components. Nothing here imports TensorFlow, Keras, gymnasium or click."""
