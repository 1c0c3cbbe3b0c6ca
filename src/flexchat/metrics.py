"""Prometheus metrics: a small registry and the text exposition format, written here.

Why not prometheus-client: the request hot path updates a counter and a histogram on
every request, and that update was measured (``docs/operations.md``) at 3.2 us with
prometheus-client's ``labels()`` (1.2 us with the label children cached by the caller)
against 0.18 us for the dictionary update below. On a list page served in ~120 us that
is 2.7 % against 0.15 %. The exposition format is a page of text; writing it is less
code than adapting the library's collectors to asyncpg's pool and the outbox.

Figures are per process. Counters never go backwards within a process; with
``--workers N`` each scrape reaches one worker (see docs/operations.md).

Other modules register their own figures on the app's :class:`Metrics`
(``context.metrics``): :meth:`Metrics.counter` and :meth:`Metrics.histogram` for
figures they update (delivery attempts and failures), :meth:`Metrics.gauge` for figures
read when Prometheus scrapes (outbox depth and age, the database pool).
"""

from __future__ import annotations

import bisect
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from . import __version__

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. A list page takes 0.1-5 ms on one worker; 5 and 10 s hold the database
# deadline (settings.db_timeout) and what lies past it.
DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Methods a client may send are unbounded; each label value is a time series.
KNOWN_METHODS = frozenset({"GET", "POST", "DELETE", "OPTIONS", "HEAD", "PUT", "PATCH"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"

Labels = tuple[str, ...]
Sample = tuple[Labels, float]
M = TypeVar("M", bound="Metric")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value != value:
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    pairs = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


class Metric:
    """A named family of time series; subclasses hold and render the samples."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Labels = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = labels

    def render(self) -> Iterator[str]:
        """The metric's lines in the text exposition format."""
        yield f"# HELP {self.name} {_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self.samples()

    def samples(self) -> Iterator[str]:
        raise NotImplementedError


class Counter(Metric):
    """A value that only goes up, per label values."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Labels = ()) -> None:
        super().__init__(name, help_text, labels)
        self.values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` (default 1) to the series of ``labels``."""
        if amount < 0:
            raise ValueError("a counter only goes up")
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def samples(self) -> Iterator[str]:
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class _Series:
    """One histogram series: a non-cumulative count per bucket (the last is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.total = 0.0

    def lines(self, name: str, names: Labels, values: Labels, bounds: tuple[float, ...]) -> Iterator[str]:
        running = 0
        for bound, count in zip((*bounds, math.inf), self.counts, strict=True):
            running += count
            # Spelled as Python's repr, as prometheus-client does ("1.0", "+Inf"), so the
            # series keep their identity if either ever replaces the other.
            le = 'le="' + ("+Inf" if bound == math.inf else repr(float(bound))) + '"'
            yield f"{name}_bucket{_labels(names, values, le)} {running}"
        yield f"{name}_count{_labels(names, values)} {running}"
        yield f"{name}_sum{_labels(names, values)} {_number(self.total)}"


class Histogram(Metric):
    """Observations counted into buckets, with their count and sum, per label values."""

    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labels: Labels = (), buckets: tuple[float, ...] = DEFAULT_BUCKETS
    ) -> None:
        super().__init__(name, help_text, labels)
        self.bounds = tuple(sorted(buckets))
        self.series: dict[Labels, _Series] = {}

    def observe(self, labels: Labels, value: float) -> None:
        """Count ``value`` in the series of ``labels``."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = _Series(len(self.bounds))
        # bisect_left: the first bound >= value, as "le" includes its bound.
        series.counts[bisect.bisect_left(self.bounds, value)] += 1
        series.total += value

    def count(self, labels: Labels) -> int:
        """How many observations the series of ``labels`` holds."""
        series = self.series.get(labels)
        return sum(series.counts) if series is not None else 0

    def samples(self) -> Iterator[str]:
        for labels, series in sorted(self.series.items(), key=lambda item: item[0]):
            yield from series.lines(self.name, self.label_names, labels, self.bounds)


class Gauge(Metric):
    """Values read when Prometheus scrapes, from a function that returns the samples."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Labels, read: Callable[[], Iterable[Sample]]) -> None:
        super().__init__(name, help_text, labels)
        self.read = read

    def samples(self) -> Iterator[str]:
        for labels, value in sorted(self.read()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Requests(Metric):
    """``flexchat_http_requests_total`` and ``flexchat_http_request_duration_seconds``: one
    series per route, method and status holds both, so the hot path updates both figures
    with one dictionary lookup (the counter is the histogram's count)."""

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        super().__init__("flexchat_http_requests", "", ("route", "method", "status"))
        self.bounds = tuple(sorted(buckets))
        self.series: dict[tuple[str, str, int], _Series] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One finished request: its route pattern (not its path), method, status and duration."""
        key = (route, method, status)
        series = self.series.get(key)
        if series is None:
            if method not in KNOWN_METHODS:
                method = OTHER_METHOD
                key = (route, method, status)
                series = self.series.get(key)
            if series is None:
                series = self.series[key] = _Series(len(self.bounds))
        series.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        series.total += seconds

    def count(self, route: str, method: str, status: int) -> int:
        """Requests seen for one route, method and status."""
        series = self.series.get((route, method, status))
        return sum(series.counts) if series is not None else 0

    def render(self) -> Iterator[str]:
        names = self.label_names
        items = sorted(self.series.items(), key=lambda item: item[0])
        yield "# HELP flexchat_http_requests_total Requests answered, by route pattern, method and status."
        yield "# TYPE flexchat_http_requests_total counter"
        for (route, method, status), series in items:
            labels = _labels(names, (route, method, str(status)))
            yield f"flexchat_http_requests_total{labels} {sum(series.counts)}"
        name = "flexchat_http_request_duration_seconds"
        yield f"# HELP {name} Time from the request's arrival to its last byte handed to the server."
        yield f"# TYPE {name} histogram"
        for (route, method, status), series in items:
            yield from series.lines(name, names, (route, method, str(status)), self.bounds)


def _resident_bytes() -> Iterable[Sample]:
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return []  # not Linux: the figure is simply absent
    return [((), float(pages * os.sysconf("SC_PAGE_SIZE")))]


class Metrics:
    """Every metric of one application instance (one process), and their exposition."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self.requests = self.register(Requests())
        started = time.time()
        self.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
                   read=lambda: [((), started)])
        self.gauge("process_resident_memory_bytes", "Resident memory of the process.", read=_resident_bytes)
        self.gauge("flexchat_info", "flexchat's version.", ("version",), read=lambda: [((__version__,), 1.0)])

    def register(self, metric: M) -> M:
        """Add ``metric``; a second metric with the same name is a programming error."""
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered already")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labels: Labels = ()) -> Counter:
        """A new counter (e.g. ``flexchat_delivery_attempts_total``); call ``inc(*label_values)``."""
        return self.register(Counter(name, help_text, labels))

    def histogram(
        self, name: str, help_text: str, labels: Labels = (), buckets: tuple[float, ...] = DEFAULT_BUCKETS
    ) -> Histogram:
        """A new histogram; call ``observe(label_values, value)``."""
        return self.register(Histogram(name, help_text, labels, buckets))

    def gauge(
        self, name: str, help_text: str, labels: Labels = (), *, read: Callable[[], Iterable[Sample]]
    ) -> Gauge:
        """A gauge whose samples ``read()`` returns at each scrape, as ``(label_values, value)``
        pairs (e.g. the outbox's depth and the age of its oldest entry)."""
        return self.register(Gauge(name, help_text, labels, read))

    def render(self) -> bytes:
        """The whole exposition, as ``/metrics`` sends it."""
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.render())
        lines.append("")
        return "\n".join(lines).encode()

