"""Prometheus metrics: requests by route template, method and status, latency histograms, and
the service gauges (audit log size, last checkpoint, last completed sweep, review backlog,
data-subject requests overdue and due within 7 days by type, as of the app's clock).

Each app has its own registry (tests build many apps in one process). With several workers
each process counts its own requests and a scrape reaches one of them: scrape each worker or
run one. `/metrics` answers only to loopback clients or to the token in `[api]
metrics_token_file` (`Authorization: Bearer <token>`, compared in constant time).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import StateDep
from retention.clock import Clock, utc_now
from retention.install import Installation, secret_is_private
from retention.operations import service_gauges

__all__ = ["ApiMetrics", "is_loopback", "router"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

router = APIRouter(tags=["operations"])


class _ServiceCollector(Collector):
    """The gauges, read from the database at scrape time (one short read)."""

    def __init__(self) -> None:
        self.installation: Installation | None = None
        self.clock: Clock = utc_now

    def collect(self) -> Iterator[Metric]:
        if self.installation is None:
            return
        gauges = service_gauges(self.installation, self.clock)
        yield GaugeMetricFamily(
            "gdpr_audit_log_entries", "Entries in the audit log", value=gauges.audit_log_size
        )
        yield GaugeMetricFamily(
            "gdpr_review_backlog", "Subjects waiting for a review decision", gauges.review_backlog
        )
        for name, doc, at in (
            ("gdpr_last_checkpoint_timestamp_seconds", "Last signed checkpoint", gauges.last_checkpoint_at),
            ("gdpr_last_sweep_timestamp_seconds", "Last completed sweep", gauges.last_sweep_at),
        ):  # fmt: skip
            yield GaugeMetricFamily(name, doc, value=at.timestamp() if at else 0.0)
        for name, doc, counts in (
            ("gdpr_requests_overdue", "Open data-subject requests past their deadline, by type",
             gauges.requests_due.overdue),
            ("gdpr_requests_due_soon", "Open data-subject requests due within 7 days, by type",
             gauges.requests_due.due_soon),
        ):  # fmt: skip
            family = GaugeMetricFamily(name, doc, labels=["type"])
            for kind, n in sorted(counts.items()):
                family.add_metric([kind], n)
            yield family
        group = self.installation.audit_group
        if group is not None:
            stats = group.stats
            for name, doc, value in (
                ("gdpr_audit_group_commits", "Shared audit appends committed or failed", stats.groups),
                ("gdpr_audit_group_callers", "Audited actions that went through a group", stats.callers),
                ("gdpr_audit_group_failures", "Shared audit appends that failed", stats.failed_groups),
            ):  # fmt: skip
                yield CounterMetricFamily(name, doc, value=value)


class ApiMetrics:
    """The app's registry and its request metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gdpr_api_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gdpr_api_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.service = _ServiceCollector()
        self.registry.register(self.service)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _metrics_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        if not secret_is_private(path):
            return None  # a readable token file is no secret: refuse rather than trust it
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _allowed(request: Request, token_file: Path | None) -> bool:
    client = request.client.host if request.client else None
    if is_loopback(client):
        return True
    expected = _metrics_token(token_file)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), expected.encode())
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (loopback or the metrics token)",
    response_class=Response,
    responses={
        **problems(ProblemKind.FORBIDDEN, authenticated=False),
        200: {"content": {CONTENT_TYPE_LATEST: {}}},
    },
)
def metrics(request: Request, state: StateDep) -> Response:
    if not _allowed(request, state.installation.config.api.metrics_token_path):
        raise ApiProblem(ProblemKind.FORBIDDEN, "metrics answer loopback or the metrics token only")
    registry: ApiMetrics = request.app.state.metrics
    registry.service.installation = state.installation
    registry.service.clock = state.clock
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
