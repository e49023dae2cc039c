"""Prometheus metrics of one app (its own registry: no process-wide singleton)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# supplier capacity per campaign: campaign_id -> supplier_id -> (used, capacity)
CapacityReader = Callable[[], Mapping[str, Mapping[str, tuple[int, int]]]]


class _CapacityCollector(Collector):
    def __init__(self, read: CapacityReader) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        used = GaugeMetricFamily(
            "igent_capacity_used",
            "Registrations booked per supplier",
            labels=["campaign", "supplier"],
        )
        total = GaugeMetricFamily(
            "igent_capacity", "Capacity per supplier", labels=["campaign", "supplier"]
        )
        for campaign_id, suppliers in self._read().items():
            for supplier_id, (booked, capacity) in suppliers.items():
                used.add_metric([campaign_id, supplier_id], booked)
                total.add_metric([campaign_id, supplier_id], capacity)
        yield used
        yield total


class ServiceMetrics:
    """The service's counters and histograms, in a registry of their own."""

    def __init__(self, capacity: CapacityReader) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "igent_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "igent_decision_seconds",
            "Time to decide one registration (pipeline and commit)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.llm_calls = Counter("igent_llm_calls", "Model calls made", registry=self.registry)
        self.llm_tokens = Counter(
            "igent_llm_tokens", "Model tokens used", ["kind"], registry=self.registry
        )
        self.llm_cost = Counter("igent_llm_cost_usd", "Model cost in USD", registry=self.registry)
        self.registry.register(_CapacityCollector(capacity))
        # Labelled children looked up once: ``labels()`` takes a lock and builds a key per call.
        self._prompt_tokens = self.llm_tokens.labels("prompt")
        self._completion_tokens = self.llm_tokens.labels("completion")
        self._request_counts: dict[tuple[str, str, int], Any] = {}

    def count_request(self, route: str, method: str, status: int) -> None:
        """Count one answered request."""
        key = (route, method, status)
        child = self._request_counts.get(key)
        if child is None:
            child = self._request_counts[key] = self.requests.labels(route, method, str(status))
        child.inc()

    def observe_decision(
        self, duration_s: float, calls: int, prompt_tokens: int, completion_tokens: int, cost: float
    ) -> None:
        """Record one decision's latency and model usage."""
        self.decision_seconds.observe(duration_s)
        if calls:  # a rules decision makes no model call: nothing to add
            self.llm_calls.inc(calls)
            self._prompt_tokens.inc(prompt_tokens)
            self._completion_tokens.inc(completion_tokens)
            self.llm_cost.inc(cost)

    def render(self) -> bytes:
        """Return the exposition text."""
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Count requests by route template, method and status (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.count_request(template, scope["method"], status)


__all__ = ["CapacityReader", "RequestMetricsMiddleware", "ServiceMetrics"]
