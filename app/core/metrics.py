"""The process's own metrics: requests served, delivery attempts made, scheduled job runs.

Counted where they happen (the access-log middleware, the relay, the scheduler) in
prometheus-client's default registry. With several uvicorn workers, set
``PROMETHEUS_MULTIPROC_DIR`` before start: each process then writes its values to that
directory and a scrape adds them up (``process_registry``). The database's figures (queues,
seats) are not here: they are the same from every process and are read at scrape time
(`app.metrics`).
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

HTTP_REQUESTS = Counter(
    "dl_http_requests_total",
    "Requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "dl_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DELIVERY_ATTEMPTS = Counter(
    "dl_delivery_attempts_total",
    "Delivery attempts by channel and outcome: succeeded, retry (failed, tried again later) "
    "or failed (failed for good).",
    ["channel", "outcome"],
)
JOB_RUNS = Counter(
    "dl_scheduled_job_runs_total",
    "Runs of the scheduled jobs, by job and outcome (succeeded or failed).",
    ["job", "outcome"],
)
# Requests no route serves share one label value: a raw path would make a series per URL.
UNMATCHED_ROUTE = "(unmatched)"


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    route = route or UNMATCHED_ROUTE
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def process_registry() -> CollectorRegistry:
    """What a scrape reports of the processes: this one's registry, or in multiprocess mode
    every process's values gathered from ``PROMETHEUS_MULTIPROC_DIR``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
