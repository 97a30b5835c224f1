"""Worker observability: Faust's Prometheus sensor and pcfx's metrics on one ``/metrics`` page of the
worker's web server, plus a timer that samples consumer lag and Kafka reachability.

Faust's sensor is named ``faust_*`` (not after the app id) so its series never mix with ``pcfx_*`` ones
and stay the same whatever ``PCFX_APP_ID`` says. Each worker process serves its own page on its own
web port; Prometheus scrapes each as a separate target.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from faust import web
from faust.types import TP
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pcfx.agents.sensor import TallyingMonitor
from pcfx.metrics import METRICS, Metrics, consumer_lags
from pcfx.settings import Settings

log = logging.getLogger(__name__)

FAUST_METRICS_PREFIX = "faust"
LAG_INTERVAL_S = 5.0  # how often the lag gauge is refreshed; a fraction of the 5 s scrape interval is wasted
_REACHABLE: dict[int, bool] = {}  # per Metrics object: could the last sample reach Kafka?
KAFKA_TIMEOUT_S = 10.0  # longest one offset round trip may take before Kafka counts as unreachable


def install_worker_metrics(app: faust.App, settings: Settings, registry: CollectorRegistry | None = None) -> Metrics:
    """Enable Faust's sensor, serve ``/metrics`` and start the lag sampler; returns the metrics to record on.

    Call once per app before the worker starts. ``registry=None`` uses the process-wide :data:`METRICS`
    (call it once per process then); tests pass a fresh ``CollectorRegistry()`` per app.
    """
    metrics = METRICS if registry is None else Metrics.create(registry)
    monitor = TallyingMonitor(metrics=FaustMetrics.create(metrics.registry, FAUST_METRICS_PREFIX))
    app.monitor = monitor

    @app.page("/metrics")
    async def metrics_page(view: web.View, request: web.Request) -> web.Response:
        """Faust's series (tallies flushed first) and pcfx's, in the Prometheus text format."""
        monitor.flush()
        return view.bytes(generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.timer(LAG_INTERVAL_S)
    async def sample_consumer_lag() -> None:
        await sample_lag(app, metrics, settings.topic_prefix)

    return metrics


async def sample_lag(app: faust.App, metrics: Metrics, prefix: str) -> None:
    """Refresh ``pcfx_consumer_lag`` for this worker's partitions and ``pcfx_kafka_connected{client="worker"}``.

    A worker with no partitions makes no round trip and leaves the connection gauge as it was.
    """
    assigned = app.consumer.assignment()
    if not assigned:
        metrics.set_consumer_lag({})
        return
    try:
        ends, committed = await asyncio.wait_for(_offsets(app, assigned), KAFKA_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001  (any failure of the round trip means "cannot reach Kafka")
        metrics.kafka_connected.labels(client="worker").set(0)
        if _REACHABLE.get(id(metrics), True):  # a state change is logged once, not every sample
            log.warning("Kafka unreachable (consumer lag not sampled): %r; logged again when it is back", exc)
        _REACHABLE[id(metrics)] = False
        return
    if not _REACHABLE.get(id(metrics), True):
        log.warning("Kafka reachable again")
    _REACHABLE[id(metrics)] = True
    # .labels() creates the series at 0, so it is touched only once the answer is known
    metrics.kafka_connected.labels(client="worker").set(1)
    metrics.set_consumer_lag(consumer_lags(ends, committed, prefix))


async def _offsets(app: faust.App, assigned: set[TP]) -> tuple[dict[TP, int], dict[TP, int]]:
    """End offsets and committed offsets of ``assigned``; before this worker's first commit on a
    partition, its fetch position stands in for the committed offset (unknown ones are left out)."""
    ends = dict(await app.consumer.highwaters(*assigned))
    committed: dict[TP, int] = {}
    for tp in assigned:
        offset = app.monitor.tp_committed_offsets.get(tp)
        if offset is None:
            offset = await app.consumer.position(tp)
        if offset is not None:
            committed[tp] = offset
    return ends, committed
