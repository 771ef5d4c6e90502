"""Errors of the serving path, each with the HTTP status a server answers with.

``exit_code`` is what ``cartpole serve`` ends with when loading its models fails
before the port opens: the models named on the command line cannot be used (2).
"""

from __future__ import annotations

from cartpole.errors import CartpoleError, ModelMismatchError


class ServingError(CartpoleError):
    """Base class: ``status`` is the HTTP status code that fits the error."""

    status = 500


class BadRequest(ServingError):
    """The request's data cannot be used: wrong shape or type, NaN, empty."""

    status = 400
    exit_code = 2


class TooLarge(BadRequest):
    """More observations in one request than the server takes."""

    status = 413


class ModelNotReady(ServingError):
    """``predict`` before ``load``, or the model file cannot be read."""

    status = 503
    exit_code = 2  # at the CLI: a model file named by the user


class MismatchedModel(ModelNotReady, ModelMismatchError):
    """The model's .h5 and its metadata .json come from two different models."""

    exit_code = 2  # ModelNotReady's, as ``serve`` reports it
