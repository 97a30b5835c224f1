"""agents/observe.py: a worker's /metrics page serves Faust's sensor and the pcfx metrics together."""

from __future__ import annotations

import faust
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from pcfx.agents.observe import install_worker_metrics
from pcfx.settings import Settings


class Message:
    time_in = time_out = time_total = None


def make_app(app_id: str) -> faust.App:
    return faust.App(app_id, broker="kafka://127.0.0.1:9", store="memory://")  # never started: no broker needed


async def test_one_page_serves_faust_and_pcfx_metrics():
    registry = CollectorRegistry()
    app = make_app("observe-test")
    metrics = install_worker_metrics(app, Settings.from_env({}), registry)
    metrics.records_consumed.labels(topic="footprints").inc(2)
    app.monitor.on_message_in(TP("pcfx.footprints", 0), 7, Message())  # tallied until the page is read

    response = await app.web.views["/metrics"].get(None)

    body = response.body.decode()
    assert 'pcfx_records_consumed_total{topic="footprints"} 2.0' in body
    assert "faust_messages_received_total 1.0" in body
    assert 'faust_messages_received_per_topics_partition{partition="0",topic="pcfx.footprints"} 7.0' in body
    assert isinstance(app.monitor, PrometheusMonitor)
    assert metrics.registry is registry


def test_faust_metrics_are_named_faust_whatever_the_app_id():
    registry = CollectorRegistry()
    install_worker_metrics(make_app("pcfx-staging.eu"), Settings.from_env({}), registry)
    names = {family.name for family in registry.collect()}
    assert "faust_messages_received" in names
    assert not any(name.startswith("pcfx_staging") for name in names)
