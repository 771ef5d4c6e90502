"""The fluentd engine against a real TCP listener: the bytes on the wire are decoded with
msgpack as the Forward protocol defines them, whatever mode fluent-logger chose."""

import gzip
import logging
import socket
import struct
import threading
from datetime import datetime

import msgpack
import pytest

from cartpole.metrics.engines import EngineContext, build_sinks
from cartpole.metrics.events import make_event
from cartpole.metrics.fluentd import FluentdError, FluentdSink
from cartpole.metrics.resilient import _WARNED, Resilient
from tests.servers import free_port
from tests.waiting import wait_until


def sample_events(trial="t001"):
    """One event of each kind, shaped as a trial emits them (negative and null values too)."""
    hparams = {"gamma": 0.99, "learning_rate": 2.3e-3, "hidden_sizes": [16, 16], "batch_size": 64}
    return [
        make_event("trial_start", "g1", trial, hparams=hparams, env="CartPole-v1", seed=3),
        make_event("episode", "g1", trial, episode=1, score=12.0, steps=12, total_steps=12,
                   epsilon=0.99, loss=None),
        make_event("episode", "g1", trial, episode=2, score=-3.5, steps=9, total_steps=21,
                   epsilon=0.97, loss=-0.125),
        make_event("eval", "g1", trial, step=21, episode=2, eval_mean=9.5, eval_std=0.5,
                   eval_episodes=2, best=9.5),
        make_event("trial_end", "g1", trial, score=9.5, eval_std=0.5, steps=21, episodes=2,
                   seconds=0.25, solved=False, solved_at_step=None, interrupted=False),
    ]


class ForwardListener:
    """A TCP server that keeps every byte it receives, one buffer per connection."""

    def __init__(self, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections: list[bytearray] = []
        self.drop = threading.Event()  # close the connection being read, once
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            buffer = bytearray()
            with self._lock:
                self.connections.append(buffer)
            threading.Thread(target=self._read, args=(conn, buffer), daemon=True).start()

    def _read(self, conn, buffer):
        with conn:
            conn.settimeout(0.05)
            while True:
                if self.drop.is_set():
                    self.drop.clear()
                    return
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                with self._lock:
                    buffer.extend(chunk)

    def messages(self):
        with self._lock:
            return [m for buffer in self.connections for m in decode_forward(bytes(buffer))]

    def wait_for(self, count):
        return wait_until(lambda: (got := self.messages()) and len(got) >= count and got,
                          f"{count} records (got {len(self.messages())} so far)")

    def close(self):
        self.sock.close()


def _ext(code, data):
    assert code == 0, f"unknown msgpack extension {code}"
    seconds, nanos = struct.unpack(">II", data)  # the Forward protocol's EventTime
    return seconds + nanos / 1e9


def decode_forward(data):
    """(tag, time, record) for every entry, in the Message, Forward or PackedForward mode."""
    entries = []
    for message in _unpack(data):
        tag, second = message[0], message[1]
        if isinstance(second, list):  # Forward: [tag, [[time, record], ...], option?]
            entries += [(tag, t, r) for t, r in second]
        elif isinstance(second, bytes):  # PackedForward: [tag, msgpack stream, option?]
            option = message[2] if len(message) > 2 else {}
            stream = gzip.decompress(second) if option.get("compressed") == "gzip" else second
            entries += [(tag, t, r) for t, r in _unpack(stream)]
        else:  # Message: [tag, time, record, option?]
            entries.append((tag, second, message[2]))
    return entries


def _unpack(data):
    unpacker = msgpack.Unpacker(raw=False, ext_hook=_ext, strict_map_key=False)
    unpacker.feed(data)
    return list(unpacker)


def ts_seconds(ts):
    return datetime.fromisoformat(ts).timestamp()


@pytest.fixture
def listener():
    server = ForwardListener()
    yield server
    server.close()


def test_records_on_the_wire_are_the_events(listener):
    events = sample_events()
    sink = FluentdSink(EngineContext("g1", "t001"), host="127.0.0.1", port=listener.port)
    for event in events[:2]:
        sink.write(event)
    sink.write_batch(events[2:])
    sink.close()
    received = listener.wait_for(len(events))
    assert [r for _, _, r in received] == events
    assert [tag for tag, _, _ in received] == [f"cartpole.{e['event']}" for e in events]
    # the record's time is the event's own ts, to the millisecond
    for (_, when, _), event in zip(received, events, strict=True):
        assert when == pytest.approx(ts_seconds(event["ts"]), abs=1e-6)
    # numbers stay numbers, with their sign; nulls stay null
    assert received[2][2]["loss"] == -0.125 and received[1][2]["loss"] is None


def test_tag_prefix_is_a_setting(listener):
    sink = FluentdSink(host="127.0.0.1", port=listener.port, tag_prefix="lab.cartpole")
    sink.write(sample_events()[1])
    sink.close()
    [(tag, _, _)] = listener.wait_for(1)
    assert tag == "lab.cartpole.episode"


def test_nothing_listening_raises():
    port = free_port()  # nothing listens there
    sink = FluentdSink(host="127.0.0.1", port=port, timeout=1.0)
    with pytest.raises(FluentdError, match=f"127.0.0.1:{port}"):
        sink.write(sample_events()[0])
    with pytest.raises(FluentdError):
        sink.write_batch(sample_events())
    sink.close()  # nothing is left pending, so closing has nothing to send


def test_a_failed_send_is_not_sent_again_by_fluent_logger(listener):
    """fluent-logger keeps unsent bytes and prepends them to the next record; the sink
    drops that copy, because Resilient resends the event itself."""
    sink = FluentdSink(host="127.0.0.1", port=listener.port)
    first, second, third = sample_events()[:3]
    sink.write(first)
    listener.wait_for(1)
    listener.drop.set()  # the server goes away
    wait_until(lambda: not listener.drop.is_set(), "the listener to drop the connection")
    with pytest.raises(FluentdError):
        sink.write(second)
    sink.write(second)  # the retry, on a new connection
    sink.write(third)
    sink.close()
    received = [r for _, _, r in listener.wait_for(3)]
    assert received == [first, second, third]


def test_behind_resilient_events_wait_for_the_server(caplog):
    """The engine as the CLI builds it: down at first, then up; every event arrives once."""
    _WARNED.discard("fluentd")
    port = free_port()
    events = sample_events() + sample_events("t002")
    [sink] = build_sinks(("fluentd",), {"fluentd": {"host": "127.0.0.1", "port": port,
                                                    "timeout": 1.0}},
                         EngineContext("g1", "t001"))
    assert isinstance(sink, Resilient)
    with caplog.at_level(logging.WARNING, logger="cartpole.metrics.resilient"):
        for event in events[:4]:
            sink.write(event)
        wait_until(lambda: sink.failures, "the engine to try the dead server")
        server = ForwardListener(port)
        try:
            for event in events[4:]:
                sink.write(event)
            received = server.wait_for(len(events))
            sink.close()
        finally:
            server.close()
    assert [r for _, _, r in received] == events
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


def test_decoder_reads_every_forward_mode():
    """The decoder the tests rely on, on hand-made Forward and PackedForward messages."""
    record = {"event": "episode", "score": -1.0}
    time_ext = msgpack.ExtType(0, struct.pack(">II", 1_700_000_000, 500_000_000))
    packed = msgpack.packb([time_ext, record])
    stream = (msgpack.packb(["a", time_ext, record])
              + msgpack.packb(["b", [[time_ext, record], [1_700_000_001, record]]])
              + msgpack.packb(["c", packed + packed, {"size": 2}])
              + msgpack.packb(["d", gzip.compress(packed), {"compressed": "gzip"}]))
    entries = decode_forward(stream)
    assert [tag for tag, _, _ in entries] == ["a", "b", "b", "c", "c", "d"]
    assert all(r == record for _, _, r in entries)
    assert entries[0][1] == 1_700_000_000.5 and entries[2][1] == 1_700_000_001
