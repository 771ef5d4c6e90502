"""One trial: the training loop, evaluation and model selection, stopping, and the
trial folder it leaves (model, metadata, events, result)."""
