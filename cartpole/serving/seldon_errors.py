"""Bad input as Seldon's error shape, with a 4xx status, inside seldon-core's wrapper.

The wrapper answers every exception with a 500 unless the user class offers a Flask
blueprint as ``model_error_handler``; Flask exists only in seldon-core's environment,
so the blueprint is made on first use there.
"""

from __future__ import annotations

from typing import Any

from cartpole.serving.errors import ServingError

_BLUEPRINT: Any = None


def seldon_error(exc: ServingError) -> dict[str, Any]:
    """The body seldon-core gives an error: ``{"status": {status, info, code, reason}}``."""
    reason = "MICROSERVICE_BAD_DATA" if exc.status < 500 else "MICROSERVICE_INTERNAL_ERROR"
    return {"status": {"status": 1, "info": str(exc), "code": exc.status, "reason": reason}}


def error_blueprint() -> Any:
    """A Flask blueprint that turns ``ServingError`` into its status; AttributeError
    without Flask, so that ``hasattr(model, "model_error_handler")`` is False there."""
    global _BLUEPRINT
    if _BLUEPRINT is None:
        try:
            import flask
        except ImportError:
            raise AttributeError("model_error_handler needs Flask") from None
        blueprint = flask.Blueprint("cartpole_errors", __name__)

        @blueprint.app_errorhandler(ServingError)
        def handle(exc: ServingError) -> Any:
            response = flask.jsonify(seldon_error(exc))
            response.status_code = exc.status
            return response

        _BLUEPRINT = blueprint
    return _BLUEPRINT


class SeldonErrors:
    """Mixin for the Seldon classes: the wrapper registers this blueprint."""

    @property
    def model_error_handler(self) -> Any:
        return error_blueprint()
