"""agents/sensor.py: once flushed, the tallying sensor reports exactly what Faust's Prometheus sensor reports,
rebalances too."""

from __future__ import annotations

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from pcfx.agents import sensor
from pcfx.agents.sensor import TallyingMonitor

FOOTPRINTS, UPDATES = TP("pcfx.footprints", 0), TP("pcfx.graph-updates", 0)


class Message:
    time_in = time_out = time_total = None


class Task:
    """A stream's owner; Faust's monitor keeps a weak reference to it."""


class Stream:
    def __init__(self, name: str) -> None:
        self.shortlabel, self.task_owner = f"Stream: <agent: {name}>", Task()

    def __str__(self) -> str:
        return self.shortlabel


class Table:
    name = "product_to_input"


def records(monitor: PrometheusMonitor, tp: TP, stream: Stream, count: int) -> None:
    """``count`` records through the hooks Faust calls for each: fetched, in, event, table read and write, send, out."""
    for offset in range(count):
        message = Message()
        monitor.track_tp_end_offset(tp, offset + 10)
        monitor.on_message_in(tp, offset, message)
        state = monitor.on_stream_event_in(tp, offset, stream, None)
        monitor.on_table_get(Table(), "k")
        monitor.on_table_set(Table(), "k", b"v")
        monitor.on_send_completed(None, monitor.on_send_initiated(None, "pcfx.derived", None, 1, 1), None)
        monitor.on_stream_event_out(tp, offset, stream, None, state)
        monitor.on_message_out(tp, offset, message)


def samples(registry: CollectorRegistry) -> dict[tuple, float]:
    """Every sample but the latency histograms' buckets and sums, which depend on the clock."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith(("_bucket", "_sum", "_created"))
    }


def run(monitor_type: type[PrometheusMonitor]) -> dict[tuple, float]:
    registry = CollectorRegistry()
    monitor = monitor_type(metrics=FaustMetrics.create(registry, "faust"))
    validate, recompute = Stream("pcfx.agents.ingest.validate_footprints"), Stream("pcfx.agents.recompute.recompute_products")
    records(monitor, FOOTPRINTS, validate, 3)
    records(monitor, UPDATES, recompute, 2)
    monitor._clear_partition_related_metrics()  # what a rebalance does  # noqa: SLF001
    records(monitor, FOOTPRINTS, validate, 4)
    if isinstance(monitor, TallyingMonitor):
        monitor.flush()  # what the /metrics page does first
    return samples(registry)


def test_the_tallying_sensor_reports_what_faust_reports():
    assert run(TallyingMonitor) == run(PrometheusMonitor)


def test_tallies_reach_the_series_when_flushed():
    registry = CollectorRegistry()
    monitor = TallyingMonitor(metrics=FaustMetrics.create(registry, "faust"))
    records(monitor, FOOTPRINTS, Stream("validate"), 2)
    assert samples(registry)["faust_messages_received_total", ()] == 0
    monitor.flush()
    assert samples(registry)["faust_messages_received_total", ()] == 2
    monitor.flush()  # nothing is added twice
    assert samples(registry)["faust_messages_received_total", ()] == 2


def test_latency_observations_are_flushed_without_a_scrape_once_enough_wait(monkeypatch):
    monkeypatch.setattr(sensor, "MOST_PENDING", 3)
    registry = CollectorRegistry()
    monitor = TallyingMonitor(metrics=FaustMetrics.create(registry, "faust"))
    # each record: a send latency, then an event latency; the third observation flushes all three
    records(monitor, FOOTPRINTS, Stream("validate"), 2)
    reported = samples(registry)
    assert (reported["faust_producer_send_latency_count", ()], reported["faust_events_runtime_ms_count", ()]) == (2, 1)
    assert [metric for metric, _ in monitor._observed] == [monitor._metrics.events_runtime_latency]  # noqa: SLF001


def test_after_a_rebalance_the_topic_series_start_again_and_keep_counting():
    reported = run(TallyingMonitor)
    assert reported["faust_messages_received_per_topic_total", (("topic", "pcfx.footprints"),)] == 4
    assert ("faust_messages_received_per_topic_total", (("topic", "pcfx.graph-updates"),)) not in reported
    assert reported["faust_messages_received_total", ()] == 3 + 2 + 4
    assert reported["faust_topic_partition_end_offset", (("partition", "0"), ("topic", "pcfx.footprints"))] == 3 + 10
    assert reported["faust_table_operations_total", (("operation", "keys_updated"), ("table", "table.product_to_input"))] == 9
