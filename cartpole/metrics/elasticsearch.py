"""The elasticsearch engine: events bulk-indexed straight into ``cartpole-YYYY.MM.DD``.

For a stack without Fluentd. The index names are the ones ``scaffold/efk/fluent.conf``
produces (``<index_prefix>-`` and the event's UTC day), so the index template and the
Kibana objects in ``scaffold/efk/`` serve both routes:

    ELASTICSEARCH_PASSWORD=... cartpole --metrics-engine elasticsearch \\
        --metrics-config '{"elasticsearch": {"hosts": "https://es.local:9200",
                                             "username": "cartpole_writer"}}' train

Credentials: ``api_key``, or ``username`` (default ``elastic``) and ``password``; each
from its setting or else from ``ELASTICSEARCH_API_KEY``, ``ELASTICSEARCH_USERNAME``,
``ELASTICSEARCH_PASSWORD``. A credential given as a setting is moved to that variable
before anything is written (``secrets.py``), so no file holds it.

Behind ``Resilient``, each batch of events is one ``_bulk`` request. Every document
gets an id derived from the event (the same one the fluentd config's ``genid`` filter
computes), so a batch that is sent again after a failure overwrites its earlier copies
instead of duplicating them. A failed request, or any document the bulk response
reports as failed for a retryable reason (429, 5xx), raises ``ElasticsearchSinkError``
and the batch is retried whole; a document rejected for good (a mapping conflict) is
dropped with one warning, so that it cannot block every later batch.
The client's own retries are off: ``Resilient`` retries, with backoff, in the background.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any, ClassVar

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from cartpole.errors import CartpoleError
from cartpole.metrics.base import Engine, EngineContext
from cartpole.metrics.secrets import CredentialsRefused, credential, mask_url

# The document id is a hash of these keys, joined by ID_SEPARATOR, as fluent.conf's
# elasticsearch_genid filter computes it (a missing key counts as an empty string).
ID_KEYS = ("group", "trial", "event", "episode", "step", "ts")
ID_SEPARATOR = "|"
# The transport warns on every failed request; Resilient warns once per outage instead.
_NODE_POOL_LOG = "elastic_transport.node_pool"
log = logging.getLogger(__name__)


class ElasticsearchSinkError(CartpoleError, ConnectionError):
    """Elasticsearch did not take every event of a batch."""


def index_name(prefix: str, ts: str) -> str:
    """``cartpole-2026.01.02`` for an event of that UTC day, as logstash_format names it."""
    day = datetime.fromisoformat(ts).astimezone(UTC)
    return f"{prefix}-{day:%Y.%m.%d}"


def document_id(event: dict[str, Any]) -> str:
    """Base64 of the SHA-1 of the event's identifying keys: stable across resends."""
    seed = ID_SEPARATOR.join("" if event.get(k) is None else str(event[k]) for k in ID_KEYS)
    return base64.b64encode(hashlib.sha1(seed.encode()).digest()).decode()


def bulk_operations(events: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The ``_bulk`` body: an ``index`` action line, then the event, for every event."""
    operations: list[dict[str, Any]] = []
    for event in events:
        operations.append({"index": {"_index": index_name(prefix, event["ts"]),
                                     "_id": document_id(event)}})
        operations.append(event)
    return operations


class ElasticsearchSink(Engine):
    remote = True
    secrets: ClassVar[dict[str, str]] = {"username": "ELASTICSEARCH_USERNAME",
                                         "password": "ELASTICSEARCH_PASSWORD",
                                         "api_key": "ELASTICSEARCH_API_KEY"}

    def __init__(self, context: EngineContext | None = None,
                 hosts: str | list[str] = "http://localhost:9200",
                 index_prefix: str = "cartpole", api_key: str | None = None,
                 username: str | None = None, password: str | None = None,
                 verify_certs: bool = True, timeout: float = 10.0) -> None:
        nodes = [h.strip() for h in hosts.split(",")] if isinstance(hosts, str) else list(hosts)
        self.hosts = ", ".join(mask_url(n) for n in nodes)
        self.index_prefix = index_prefix
        api_key = credential(api_key, self.secrets["api_key"])
        username = credential(username, self.secrets["username"])
        password = credential(password, self.secrets["password"])
        auth: dict[str, Any] = {}
        if api_key:
            auth["api_key"] = api_key
        elif password is not None:
            auth["basic_auth"] = (username or "elastic", password)
        quiet = logging.getLogger(_NODE_POOL_LOG)
        if quiet.level == logging.NOTSET:  # unless the user configured it
            quiet.setLevel(logging.ERROR)
        self.rejected = 0
        self._warned = False
        self._client = Elasticsearch(nodes, verify_certs=verify_certs, request_timeout=timeout,
                                     max_retries=0, retry_on_timeout=False, **auth)

    def write(self, event: dict[str, Any]) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        try:
            response = self._client.bulk(operations=bulk_operations(events, self.index_prefix))
        except ApiError as exc:  # an HTTP error status: auth, request too large, ...
            if exc.meta.status in (401, 403):
                raise CredentialsRefused(
                    f"elasticsearch at {self.hosts} answered {exc.meta.status}: set "
                    "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, or "
                    "ELASTICSEARCH_API_KEY") from None
            raise ElasticsearchSinkError(f"elasticsearch at {self.hosts}: {exc}") from exc
        except TransportError as exc:  # no answer: refused, timed out, TLS
            raise ElasticsearchSinkError(
                f"elasticsearch at {self.hosts}: {type(exc).__name__}: {exc.message}") from exc
        if response.get("errors"):
            failed = [item for entry in response["items"] for item in entry.values()
                      if item.get("error") or item.get("status", 200) >= 300]
            retryable = [item for item in failed if _retryable(item.get("status", 500))]
            if retryable:  # overload or a node down: the whole batch again (ids dedupe)
                raise ElasticsearchSinkError(
                    f"elasticsearch at {self.hosts} could not take {len(retryable)} of "
                    f"{len(events)} events{_first_reason(retryable)}")
            # A document Elasticsearch will never accept (a mapping conflict, say) would
            # block every later batch if retried: it is dropped, and said once.
            self.rejected += len(failed)
            if not self._warned:
                self._warned = True
                log.warning("elasticsearch at %s rejected %d events%s; such events are "
                            "dropped (events.jsonl keeps them)", self.hosts, len(failed),
                            _first_reason(failed))

    def close(self) -> None:
        self._client.close()


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _first_reason(failed: list[dict[str, Any]]) -> str:
    if not failed:
        return ""
    error = failed[0].get("error") or {}
    if isinstance(error, dict):
        error = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return f" (first: {failed[0].get('status')} {error})"
