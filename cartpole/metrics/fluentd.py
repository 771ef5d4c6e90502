"""The fluentd engine: each event as one Fluentd record, tagged ``cartpole.<event>``.

For training outside a container with Docker's fluentd log driver (which ships the
``log`` engine's stdout lines instead). Records go over the Forward protocol to a
Fluentd or Fluent Bit ``forward`` input, by default ``localhost:24224``; with
``scaffold/efk/fluent.conf`` they end up in the ``cartpole-*`` Elasticsearch indices.

    cartpole --metrics-engine fluentd \\
             --metrics-config '{"fluentd": {"host": "fluentd.local"}}' train

The record is the event itself; its time is the event's ``ts``, so events replayed
after an outage keep the time they happened. fluent-logger reports a failed send
only through a return value and keeps the bytes for its next call; this sink raises
``FluentdError`` instead and drops fluent-logger's copy, so that ``Resilient``, which
keeps its own backlog, can retry without sending anything twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fluent.sender import EventTime, FluentSender

from cartpole.errors import CartpoleError
from cartpole.metrics.base import Engine, EngineContext


class FluentdError(CartpoleError, ConnectionError):
    """A record could not be handed to Fluentd."""


def event_time(ts: str) -> EventTime:
    """The Forward protocol's nanosecond time for an ISO-8601 ``ts``."""
    moment = datetime.fromisoformat(ts)
    return EventTime(int(moment.timestamp()), moment.microsecond * 1000)


class FluentdSink(Engine):
    remote = True

    def __init__(self, context: EngineContext | None = None, host: str = "localhost",
                 port: int = 24224, tag_prefix: str = "cartpole", timeout: float = 3.0) -> None:
        self.address = f"{host}:{port}"
        # forward_packet_error=False: a record that cannot be packed raises instead of
        # being replaced by an error record.
        self._sender = FluentSender(tag_prefix, host=host, port=port, timeout=timeout,
                                    nanosecond_precision=True, forward_packet_error=False)

    def write(self, event: dict[str, Any]) -> None:
        sender = self._sender
        if not sender.emit_with_time(event["event"], event_time(event["ts"]), event):
            error = sender.last_error
            sender.clear_last_error()
            sender.pendings = None  # Resilient keeps the event and sends it again
            raise FluentdError(f"fluentd at {self.address}: {error or 'send failed'}") from error

    def write_batch(self, events: list[dict[str, Any]]) -> None:
        """Send the events in order; on the first failure raise, so the batch is retried.

        Events sent before a failure may then arrive twice (at-least-once, as with
        Fluentd's own forwarding); the fluentd config gives each event a content-based
        id, so Elasticsearch still keeps one copy. (The loop is Engine's default; having
        it here is what makes ``Resilient`` send this engine batches, see ``takes_batches``.)
        """
        for event in events:
            self.write(event)

    def close(self) -> None:
        self._sender.close()
