"""Prometheus metrics: counted in `Runner.run` (every invocation passes there), plus the
supervisor's state read from the executors at scrape time.

Each app has its own registry (no process-global state), so several servers in one
process do not share counts. Label values are bounded: at most `MAX_NAMESPACES` distinct
namespaces get their own `namespace` label, later ones are counted as `other`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_NAMESPACES = 1000
OTHER = "other"

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CPU_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class SupervisorCollector(Collector):
    """Executor state from the latest `Supervisor.stats()` snapshot (set just before a scrape)."""

    def __init__(self) -> None:
        self.snapshot: list[dict[str, Any]] = []
        self.restarts = 0
        self.retirements = 0

    def collect(self) -> Iterable[Metric]:
        restarts = CounterMetricFamily("isolane_executor_restarts", "Executor processes replaced after they exited.")
        restarts.add_metric([], float(self.restarts))
        yield restarts
        retirements = CounterMetricFamily(
            "isolane_executor_retirements", "Executors replaced because an isolate ignored termination (none of their work failed)."
        )
        retirements.add_metric([], float(self.retirements))
        yield retirements
        alive = GaugeMetricFamily("isolane_executors_alive", "Executor processes that answered the last scrape.")
        alive.add_metric([], float(sum(1 for e in self.snapshot if e.get("alive"))))
        yield alive
        idle = GaugeMetricFamily("isolane_isolates_idle", "Idle (warm) isolates cached by an executor.", labels=["executor"])
        evictions = CounterMetricFamily(
            "isolane_isolate_evictions", "Idle isolates evicted from an executor's cache (resets when it restarts).", labels=["executor"]
        )
        for executor in self.snapshot:
            if not executor.get("alive"):
                continue
            label = [str(executor.get("index"))]
            idle.add_metric(label, float(executor.get("idle_isolates") or 0))
            evictions.add_metric(label, float(executor.get("evictions") or 0))
        yield idle
        yield evictions


class PipelineCollector(Collector):
    """The record pipeline and the live tail, from values set just before a scrape."""

    def __init__(self) -> None:
        self.records_dropped = 0
        self.tail_subscribers = 0
        self.tail_dropped = 0
        self.queued = 0
        self.refused = 0
        self.tail_buffered_bytes = 0

    def collect(self) -> Iterable[Metric]:
        lost = CounterMetricFamily("isolane_records_dropped", "Invocation records lost: the writer's queue was full, or they could not be stored (a full disk, a failing database).")
        lost.add_metric([], float(self.records_dropped))
        yield lost
        subscribers = GaugeMetricFamily("isolane_tail_subscribers", "Live tail streams open on this server.")
        subscribers.add_metric([], float(self.tail_subscribers))
        yield subscribers
        dropped = CounterMetricFamily("isolane_tail_dropped", "Records not sent to live tail subscribers that read too slowly.")
        dropped.add_metric([], float(self.tail_dropped))
        yield dropped
        queued = GaugeMetricFamily("isolane_invocations_queued", "Invocations waiting for an admission slot.")
        queued.add_metric([], float(self.queued))
        yield queued
        refused = CounterMetricFamily("isolane_invocations_refused", "Invocations refused 503 overloaded by admission.")
        refused.add_metric([], float(self.refused))
        yield refused
        buffered = GaugeMetricFamily(
            "isolane_tail_buffered_bytes", "Bytes of records held for live tail subscribers (each record counted once)."
        )
        buffered.add_metric([], float(self.tail_buffered_bytes))
        yield buffered


class Metrics:
    def __init__(self, max_namespaces: int = MAX_NAMESPACES) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._max_namespaces = max_namespaces
        self._namespaces: set[str] = set()
        self._invocations = Counter(
            "isolane_invocations", "Invocations by namespace, trigger and outcome.", ["namespace", "trigger", "outcome"], registry=self.registry
        )
        self._duration = Histogram(
            "isolane_invocation_duration_seconds", "Wall-clock time of invocations.", ["trigger", "outcome"],
            buckets=DURATION_BUCKETS, registry=self.registry,
        )
        self._cpu = Histogram(
            "isolane_invocation_cpu_seconds", "CPU time of invocations.", ["trigger", "outcome"], buckets=CPU_BUCKETS, registry=self.registry
        )
        self._cold = Counter("isolane_cold_starts", "Invocations that had to load their script into an isolate.", registry=self.registry)
        self.inflight = Gauge("isolane_inflight_invocations", "Invocations running now.", registry=self.registry)
        self._subrequests = Counter("isolane_subrequests", "Subrequests (fetch) made by invocations.", registry=self.registry)
        self._late_cpu = Counter(
            "isolane_cpu_after_limit_seconds",
            "CPU that isolates ended by a limit burnt before they stopped (work that ignores termination).",
            ["namespace"],
            registry=self.registry,
        )
        self.supervisor = SupervisorCollector()
        self.registry.register(self.supervisor)
        self.pipeline = PipelineCollector()
        self.registry.register(self.pipeline)
        # Label children by key: the hot path skips prometheus-client's label validation.
        self._children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    def _namespace(self, namespace: str) -> str:
        if namespace in self._namespaces:
            return namespace
        if len(self._namespaces) < self._max_namespaces:
            self._namespaces.add(namespace)
            return namespace
        return OTHER

    def observe(self, namespace: str, trigger: str, outcome: str, wall_ms: float, cpu_ms: float, cold: bool, subrequests: int) -> None:
        """Count one finished invocation."""
        key = (self._namespace(namespace), trigger, outcome)
        children = self._children.get(key)
        if children is None:
            children = (self._invocations.labels(*key), self._duration.labels(trigger, outcome), self._cpu.labels(trigger, outcome))
            self._children[key] = children
        count, duration, cpu = children
        count.inc()
        duration.observe(wall_ms / 1000)
        cpu.observe(cpu_ms / 1000)
        if cold:
            self._cold.inc()
        if subrequests:
            self._subrequests.inc(subrequests)

    def late_cpu(self, namespace: str, cpu_ms: float) -> None:
        """CPU an isolate burnt after its invocation ended at a limit."""
        self._late_cpu.labels(self._namespace(namespace)).inc(cpu_ms / 1000)

    def render(
        self,
        executors: list[dict[str, Any]],
        restarts: int,
        *,
        records_dropped: int = 0,
        tail_subscribers: int = 0,
        tail_dropped: int = 0,
        retirements: int = 0,
        queued: int = 0,
        refused: int = 0,
        tail_buffered_bytes: int = 0,
    ) -> bytes:
        """The text exposition, with the state as given (no await in between)."""
        self.supervisor.snapshot = executors
        self.supervisor.restarts = restarts
        self.supervisor.retirements = retirements
        self.pipeline.records_dropped = records_dropped
        self.pipeline.tail_subscribers = tail_subscribers
        self.pipeline.tail_dropped = tail_dropped
        self.pipeline.queued = queued
        self.pipeline.refused = refused
        self.pipeline.tail_buffered_bytes = tail_buffered_bytes
        return generate_latest(self.registry)
