"""Bearer tokens: given as is, or fetched with OAuth2's client-credentials grant."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from cartpole.remote.errors import AuthError, Unreachable


def fetch_oauth_token(url: str, key: str, secret: str, timeout: float = 10.0) -> str:
    """POST ``grant_type=client_credentials`` with HTTP basic auth; return ``access_token``."""
    basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": f"Basic {basic}", "Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = reply.read()
    except urllib.error.HTTPError as exc:
        raise AuthError(f"the OAuth server at {url} refused the client credentials "
                        f"(HTTP {exc.code})") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Unreachable(f"cannot reach the OAuth server at {url}: {reason}") from None
    try:
        token = json.loads(body)["access_token"]
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"the OAuth server at {url} sent no access_token") from None
    if not isinstance(token, str) or not token:
        raise AuthError(f"the OAuth server at {url} sent an empty access_token")
    return token
