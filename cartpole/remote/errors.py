"""Errors of the remote agent; the CLI turns them into one-line messages and exit code 1."""

from __future__ import annotations

from cartpole.errors import CartpoleError


class RemoteError(CartpoleError):
    """The served model could not be used: a runtime failure, exit code 1."""

    exit_code = 1


class Unreachable(RemoteError):
    """No answer: connection refused or reset, or a timeout, after every retry."""


class ServerError(RemoteError):
    """The server answered with an error status (``status`` is HTTP's or gRPC's code)."""

    def __init__(self, message: str, status: int | str | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadAnswer(RemoteError):
    """The server answered, but not with one action per observation."""


class AuthError(RemoteError):
    """The token was refused, or no token could be obtained."""
