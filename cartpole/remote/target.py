"""Where the served model is: host, port, path prefix and credentials.

A Seldon deployment behind its gateway answers under ``/seldon/<namespace>/<name>``;
over gRPC the gateway reads the deployment from the ``seldon`` and ``namespace``
metadata instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cartpole.errors import ConfigError

REST_PORT = 9000  # cartpole serve's and seldon-core-microservice's default
GRPC_PORT = 5000  # seldon-core-microservice's default


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    tls: bool = False
    prefix: str = ""
    deployment: str | None = None
    namespace: str | None = None
    token: str | None = field(default=None, repr=False)  # never printed

    def url(self, path: str = "", grpc: bool = False) -> str:
        scheme = ("grpcs" if self.tls else "grpc") if grpc else (
            "https" if self.tls else "http")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{'' if grpc else self.prefix}{path}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def grpc_metadata(self) -> list[tuple[str, str]]:
        meta = [("authorization", f"Bearer {self.token}")] if self.token else []
        if self.deployment:
            meta += [("seldon", self.deployment),
                     ("namespace", self.namespace or "default")]
        return meta


def parse_target(host: str, port: int | None, grpc: bool = False,
                 path_prefix: str | None = None, deployment: str | None = None,
                 namespace: str | None = None, token: str | None = None,
                 tls: bool = False) -> Target:
    """``host`` is ``NAME``, ``NAME:PORT`` or ``http[s]://NAME[:PORT][/PREFIX]``."""
    text = host.strip()
    if not text:
        raise ConfigError("--host is empty")
    parts = urlsplit(text if "://" in text else f"//{text}")
    if parts.scheme not in ("", "http", "https", "grpc", "grpcs"):
        raise ConfigError(f"--host {host!r}: the scheme must be http or https")
    if parts.query or parts.fragment or not parts.hostname:
        raise ConfigError(f"--host {host!r} is not a host name, host:port or URL")
    try:
        url_port = parts.port
    except ValueError:
        raise ConfigError(f"--host {host!r} has a bad port") from None
    if url_port and port and url_port != port:
        raise ConfigError(f"--host says port {url_port} and --port says {port}")
    tls = tls or parts.scheme in ("https", "grpcs")
    chosen = port or url_port or (GRPC_PORT if grpc else (443 if tls else REST_PORT))
    prefix = _prefix(parts.path, path_prefix, deployment, namespace)
    return Target(parts.hostname, chosen, tls, prefix, deployment, namespace, token or None)


def _prefix(url_path: str, path_prefix: str | None, deployment: str | None,
            namespace: str | None) -> str:
    given = [p for p in (url_path.rstrip("/"), path_prefix) if p]
    if deployment:
        given.append(f"/seldon/{namespace or 'default'}/{deployment}")
    elif namespace:
        raise ConfigError("--namespace needs --deployment")
    if len(given) > 1:
        raise ConfigError("give the path prefix once: in --host, --path-prefix or "
                          "--deployment")
    prefix = given[0] if given else ""
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return prefix.rstrip("/")
