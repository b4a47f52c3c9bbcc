"""Prometheus metrics in the text exposition format (version 0.0.4), without a dependency.

Counters and histograms with labels, thread-safe (the batcher and job threads record too).
``GET /metrics`` renders :data:`METRIC_NAMES` of one :class:`ServiceMetrics`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: Labels = ()) -> str:
    items = labels + extra
    if not items:
        return ""
    esc = (v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for _, v in items)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(items, esc, strict=True)) + "}"


class Counter:
    def __init__(self, name: str, help_: str):
        self.name, self.help = name, help_
        self._values: dict[Labels, float] = defaultdict(float)
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._values[tuple(sorted(labels.items()))] += amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            lines += [f"{self.name}{_labels(k)} {v:g}" for k, v in sorted(self._values.items())]
        return lines


class Histogram:
    """Cumulative buckets ``le``, ``_sum`` and ``_count`` per label set."""

    def __init__(self, name: str, help_: str, buckets: Sequence[float]):
        self.name, self.help, self.buckets = name, help_, tuple(buckets)
        self._data: dict[Labels, list[float]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            d = self._data.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for i, b in enumerate(self.buckets):
                if value <= b:
                    d[i] += 1
            d[-2] += value
            d[-1] += 1

    def count(self, **labels: str) -> int:
        return int(self._data.get(tuple(sorted(labels.items())), [0.0])[-1])

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for key, d in sorted(self._data.items()):
                for i, b in enumerate(self.buckets):
                    lines.append(f"{self.name}_bucket{_labels(key, (('le', f'{b:g}'),))} "
                                 f"{d[i]:g}")
                lines.append(f"{self.name}_bucket{_labels(key, (('le', '+Inf'),))} {d[-1]:g}")
                lines.append(f"{self.name}_sum{_labels(key)} {d[-2]:g}")
                lines.append(f"{self.name}_count{_labels(key)} {d[-1]:g}")
        return lines


class ServiceMetrics:
    """Every metric the service exports; ``gauges`` are read when rendered."""

    def __init__(self):
        self.requests = Counter("fakescope_http_requests_total",
                                "HTTP requests by route and status code.")
        self.request_seconds = Histogram("fakescope_http_request_duration_seconds",
                                         "HTTP request latency by route.", LATENCY_BUCKETS)
        self.detector_seconds = Histogram("fakescope_detector_batch_seconds",
                                          "Seconds per batch forward pass, per detector.",
                                          LATENCY_BUCKETS)
        self.batch_size = Histogram("fakescope_batch_size", "Images per micro-batch.",
                                    BATCH_BUCKETS)
        self.results = Counter("fakescope_detector_results_total",
                               "Results per detector and band (little/uncertain/substantial).")
        self.abstained = Counter("fakescope_detector_abstentions_total",
                                 "Results a detector abstained on, by reason.")
        self.ood = Counter("fakescope_out_of_distribution_total",
                           "Results flagged out of the detector's training distribution.")
        self.rejected = Counter("fakescope_rejected_uploads_total",
                                "Uploads refused, by HTTP status.")
        self.jobs = Counter("fakescope_jobs_total", "Jobs by final state.")
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def gauge(self, name: str, help_: str, read: Callable[[], float]) -> None:
        self.gauges[name] = (help_, read)

    def render(self) -> str:
        lines: list[str] = []
        for m in (self.requests, self.request_seconds, self.detector_seconds, self.batch_size,
                  self.results, self.abstained, self.ood, self.rejected, self.jobs):
            lines += m.render()
        for name, (help_, read) in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {read():g}"]
        return "\n".join(lines) + "\n"
