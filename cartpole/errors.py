"""Typed errors raised by library code; the CLI turns them into click errors."""


class CartpoleError(Exception):
    """Base class for every error the project raises on purpose."""


class ConfigError(CartpoleError, ValueError):
    """A hyperparameter, option or config file has an invalid value."""


class EnvError(CartpoleError):
    """The environment cannot be made or is not supported."""


class OutputError(CartpoleError):
    """An output path cannot be written."""


class RenderError(CartpoleError):
    """On-screen rendering or recording is not possible here."""


class ModelMismatchError(CartpoleError):
    """A model's .h5 and its metadata .json do not belong together (their digests differ)."""


class EventsFileError(OutputError):
    """A trial's events file cannot be written: the trial stops rather than lose events."""
