"""Faust's Prometheus sensor with its per-record series looked up once, not on every record.

``faust.sensors.prometheus.PrometheusMonitor`` calls ``Metric.labels(...)`` on every message fetched and
in, stream event, table read and write and send; each call builds a key from the label values and takes a lock, and
the stream's label goes through a regular expression each time. Measured on this machine with one message,
one event, a table read and write and one send per record: 2.6 us with Faust's plain ``Monitor``, 20 us with
``PrometheusMonitor``, 7 us with this subclass. B8 (docs/benchmarks.md) measures the cost inside a worker.

The series, their names and their values are Faust's; only the lookups are cached. Faust removes the
per-topic series on every rebalance, so the cache is emptied with them.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, CollectionT, EventT, Message, PendingMessage, RecordMetadata, StreamT
from faust.types.transports import ProducerT


class CachedSeriesMonitor(PrometheusMonitor):
    """``PrometheusMonitor`` whose labelled children are kept in dicts keyed by topic, stream or table."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._series: dict[tuple, Any] = {}

    def _child(self, metric: Any, *values: Any) -> Any:
        key = (id(metric), *values)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = metric.labels(*values)
        return child

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        metrics = self._metrics
        metrics.messages_received.inc()
        metrics.active_messages.inc()
        self._child(metrics.messages_received_per_topics, tp.topic).inc()
        self._child(metrics.messages_received_per_topics_partition, tp.topic, tp.partition).set(offset)

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        """Called by Faust's consumer for every record it fetches."""
        Monitor.track_tp_end_offset(self, tp, offset)
        self._child(self._metrics.topic_partition_end_offset, tp.topic, tp.partition).set(offset)

    def on_stream_event_in(self, tp: TP, offset: int, stream: StreamT, event: EventT) -> dict | None:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        metrics = self._metrics
        metrics.total_events.inc()
        metrics.total_active_events.inc()
        series = self._series.get(("stream", stream))
        if series is None:  # the stream's label is normalised once
            label = f"stream.{self._stream_label(stream)}.events"
            series = self._series["stream", stream] = metrics.total_events_per_stream.labels(stream=label)
        series.inc()
        return state

    def on_stream_event_out(self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict | None = None) -> None:
        Monitor.on_stream_event_out(self, tp, offset, stream, event, state)
        self._metrics.total_active_events.dec()
        if state is not None:
            self._metrics.events_runtime_latency.observe(self.secs_to_ms(self.events_runtime[-1]))

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_out(self, tp, offset, message)
        self._metrics.active_messages.dec()

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        self._child(self._metrics.table_operations, f"table.{table.name}", self.KEYS_RETRIEVED).inc()

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        self._child(self._metrics.table_operations, f"table.{table.name}", self.KEYS_UPDATED).inc()

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        self._child(self._metrics.table_operations, f"table.{table.name}", self.KEYS_DELETED).inc()

    def on_send_initiated(self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int) -> Any:
        self._child(self._metrics.topic_messages_sent, f"topic.{topic}").inc()
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        Monitor.on_send_completed(self, producer, state, metadata)
        self._metrics.total_sent_messages.inc()
        self._metrics.producer_send_latency.observe(self.ms_since(state))

    def _clear_partition_related_metrics(self) -> None:
        super()._clear_partition_related_metrics()
        self._series.clear()  # the children were removed from their metrics; new ones must be made
