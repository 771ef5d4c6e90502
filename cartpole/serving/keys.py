"""The API key check that REST and gRPC share: ``Authorization: Bearer KEY`` or
``X-API-Key: KEY``, compared in constant time."""

from __future__ import annotations

import hmac


def key_matches(api_key: str, authorization: str, x_api_key: str) -> bool:
    """Whether the request's credentials carry ``api_key``."""
    given = authorization[7:] if authorization.lower().startswith("bearer ") else x_api_key
    return hmac.compare_digest(given.encode(), api_key.encode())
