"""Credentials of the metrics engines: read from the environment, never written down.

An engine names its credential settings in ``Engine.secrets`` (setting -> environment
variable, e.g. ``{"password": "VISDOM_PASSWORD"}``) and reads each one with
``credential()``. A credential given in ``--metrics-config`` is moved into that
variable by ``move_to_environment`` before anything is written, so the settings that
reach ``job.json``, the MLflow params, the report or a log line never hold it, and
the processes the run starts (grid workers, a local Ray) inherit it with the rest
of the environment. ``masked`` shows settings with every credential as ``***``.
(``export_secrets`` and ``shown_settings`` in ``engines.py`` apply these to every
selected engine.)
"""

from __future__ import annotations

import os
import re
from typing import Any

from cartpole.errors import CartpoleError, ConfigError
from cartpole.metrics.base import engine_class

MASK = "***"


class CredentialsRefused(CartpoleError, ConnectionError):
    """A server refused an engine's credentials (or asked for some): a password that is
    wrong stays wrong, so the message says which variables to set."""

_PASSWORD_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def credential(given: str | None, variable: str) -> str | None:
    """``given`` if set, else the environment variable ``variable`` (None when empty)."""
    return given or os.environ.get(variable) or None


def secret_settings(engine: Any) -> dict[str, str]:
    """An engine's credential settings and their environment variables."""
    return dict(getattr(engine_class(engine), "secrets", {}) or {})


def move_to_environment(name: str, settings: dict[str, Any],
                        variables: dict[str, str]) -> dict[str, Any]:
    """Engine ``name``'s settings without the credentials named by ``variables``
    (setting -> environment variable), which are put into those variables. A URL with
    a password in it is refused: it would be written wherever the settings go."""
    kept = {}
    for key, value in settings.items():
        if key in variables:
            if value is not None:
                os.environ[variables[key]] = str(value)
            continue
        if isinstance(value, str) and _PASSWORD_URL.search(value):
            where = ", ".join(sorted(set(variables.values()))) or "its own settings"
            raise ConfigError(f"setting {key!r} of metrics engine {name!r} has a password "
                              f"in its URL; give credentials through {where} instead")
        kept[key] = value
    return kept


def masked(settings: dict[str, Any], secrets: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings fit to show: credentials as ``***``, passwords in URLs removed."""
    names = set(secrets or {}) | _SECRET_NAMES
    return {k: (MASK if k in names and v is not None
                else mask_url(v) if isinstance(v, str) else v)
            for k, v in settings.items()}


def mask_url(text: str) -> str:
    """``https://user:pw@host/...`` -> ``https://***@host/...`` wherever it occurs."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


# Setting names that hold a credential whatever the engine says.
_SECRET_NAMES = {"password", "api_key", "token", "secret", "shared_key"}

