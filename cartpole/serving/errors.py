"""Errors of the serving path, each with the HTTP status a server answers with."""

from __future__ import annotations

from cartpole.errors import CartpoleError, ModelMismatchError


class ServingError(CartpoleError):
    """Base class: ``status`` is the HTTP status code that fits the error."""

    status = 500


class BadRequest(ServingError):
    """The request's data cannot be used: wrong shape or type, NaN, empty."""

    status = 400


class TooLarge(BadRequest):
    """More observations in one request than the server takes."""

    status = 413


class ModelNotReady(ServingError):
    """``predict`` before ``load``, or the model file cannot be read."""

    status = 503


class MismatchedModel(ModelNotReady, ModelMismatchError):
    """The model's .h5 and its metadata .json come from two different models."""
