"""Typed errors raised by library code, each with the exit code the CLI ends with.

``exit_code`` follows the CLI's contract: 2 when the user's input cannot be used
(an option, a config file, an env, an output path, a display), 1 when the work itself
failed. The CLI's one handler (``cartpole.cli``) prints ``Error: <message>`` and exits
with the error's code.
"""


class CartpoleError(Exception):
    """Base class for every error the project raises on purpose: a runtime failure."""

    exit_code = 1


class ConfigError(CartpoleError, ValueError):
    """A hyperparameter, option or config file has an invalid value."""

    exit_code = 2


class EnvError(CartpoleError):
    """The environment cannot be made or is not supported."""

    exit_code = 2


class OutputError(CartpoleError):
    """An output path cannot be written."""

    exit_code = 2


class RenderError(CartpoleError):
    """On-screen rendering or recording is not possible here."""

    exit_code = 2


class ModelMismatchError(CartpoleError):
    """A model's .h5 and its metadata .json do not belong together (their digests differ)."""

    exit_code = 1


class EventsFileError(OutputError):
    """A trial's events file cannot be written: the trial stops rather than lose events."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of ``exc``'s message (its class name when empty), cut to ``limit``."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit]
