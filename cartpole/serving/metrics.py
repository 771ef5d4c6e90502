"""``cartpole serve``'s Prometheus metrics: counted in plain dicts, turned into metric
families only when ``/metrics`` is scraped.

prometheus_client's ``Counter.inc`` and ``Histogram.observe`` take a lock and check
their state on every call: about 1 µs each, four per prediction, measured as a sixth of
a prediction's time in the app. Here a request costs a few dict updates; the exposition
is prometheus_client's own (``generate_latest`` over a custom collector), with the
same names as before: ``cartpole_requests_total{endpoint,status}``,
``cartpole_request_seconds`` (histogram), ``cartpole_actions_total{action}`` and
``cartpole_routed_total{branch}``. Counts are made on the event loop's thread only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25)  # seconds


class ServeMetrics:
    """Requests by endpoint and status, prediction latency, actions and branches."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.actions: dict[str, int] = {}
        self.routed: dict[str, int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last: over the largest bound
        self.latency_sum = 0.0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def request(self, endpoint: str, status: int) -> None:
        key = (endpoint, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1

    def latency(self, seconds: float) -> None:
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def action(self, actions: Iterable[object]) -> None:
        counts = self.actions
        for a in actions:
            key = str(a)
            counts[key] = counts.get(key, 0) + 1

    def branch(self, branch: object) -> None:
        key = str(branch)
        self.routed[key] = self.routed.get(key, 0) + 1

    def exposition(self) -> bytes:
        """The Prometheus text format, as ``/metrics`` answers it."""
        return generate_latest(self.registry)

    # -- prometheus_client's Collector -------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("cartpole_requests", "Requests by endpoint and status",
                                       labels=["endpoint", "status"])
        for (endpoint, status), n in sorted(self.requests.items()):
            requests.add_metric([endpoint, status], n)
        yield requests
        cumulative, running = [], 0
        for bound, n in zip((*map(str, BUCKETS), "+Inf"), self.buckets, strict=True):
            running += n
            cumulative.append((bound, running))
        yield HistogramMetricFamily("cartpole_request_seconds", "Prediction latency",
                                    buckets=cumulative, sum_value=self.latency_sum)
        for name, doc, label, counts in (
                ("cartpole_actions", "Actions returned", "action", self.actions),
                ("cartpole_routed", "Requests per branch", "branch", self.routed)):
            family = CounterMetricFamily(name, doc, labels=[label])
            for value, n in sorted(counts.items()):
                family.add_metric([value], n)
            yield family
