"""Faust's Prometheus sensor with no per-record Prometheus work: its series are brought up to date from
the counts Faust's plain ``Monitor`` keeps anyway, when ``/metrics`` is read.

``faust.sensors.prometheus.PrometheusMonitor`` updates labelled series on every record fetched and taken
in, every stream event, table read and write and send: each update looks its series up by label values
and takes the series' lock. Measured inside a B4(e) worker on the slower machine (docs/benchmarks.md, B8),
that cost 8-12 % more CPU per update than a worker without it, where the target is 3 %. Yet the plain
``Monitor`` underneath, which every Faust worker runs, already counts messages per topic, events per
stream, table operations per table, sends per topic and the offsets per partition.
:meth:`TallyingMonitor.flush` adds to each of Faust's series what that count grew by since the last flush
(gauges: sets it), and the worker's ``/metrics`` page flushes before it renders. What a record adds on
top of the plain ``Monitor`` is one list append per latency observed; the observations are flushed every
:data:`MOST_PENDING` too, so a worker nobody scrapes does not grow.

Once flushed, the series hold what Faust's own sensor would show (a test runs both). Faust removes the
per-topic and per-partition series on every rebalance; the counts are flushed first, so those series
end, and start again, as Faust's would.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, CollectionT, EventT, Message, PendingMessage, RecordMetadata, StreamT
from faust.types.transports import ProducerT

MOST_PENDING = 10_000  # latency observations held before a flush without a scrape

_Series = tuple[Any, tuple[Any, ...]]  # (prometheus metric, label values; () for an unlabelled one)


class TallyingMonitor(PrometheusMonitor):
    """``PrometheusMonitor`` whose series are written by :meth:`flush`, from the plain ``Monitor``'s counts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._flushed: dict[_Series, float] = {}  # counter series -> the count it was brought up to
        self._sends_completed = 0  # Faust's sensor counts a send when it completes, the plain Monitor when it starts
        self._observed: list[tuple[Any, float]] = []  # histograms: the observations, in order

    def flush(self) -> None:
        """Bring Faust's series up to date (the ``/metrics`` page calls this before rendering)."""
        metrics = self._metrics
        self._count(metrics.messages_received, (), self.messages_received_total)
        for topic, count in self.messages_received_by_topic.items():
            self._count(metrics.messages_received_per_topics, (topic,), count)
        for tp, offset in self.tp_read_offsets.items():
            metrics.messages_received_per_topics_partition.labels(tp.topic, tp.partition).set(offset)
        for tp, offset in self.tp_end_offsets.items():
            metrics.topic_partition_end_offset.labels(tp.topic, tp.partition).set(offset)
        metrics.active_messages.set(self.messages_active)
        self._count(metrics.total_events, (), self.events_total)
        metrics.total_active_events.set(self.events_active)
        for label, count in self._events_by_label().items():
            self._count(metrics.total_events_per_stream, (label,), count)
        for name, table in self.tables.items():
            label = f"table.{name}"
            self._count(metrics.table_operations, (label, self.KEYS_RETRIEVED), table.keys_retrieved)
            self._count(metrics.table_operations, (label, self.KEYS_UPDATED), table.keys_updated)
            self._count(metrics.table_operations, (label, self.KEYS_DELETED), table.keys_deleted)
        for topic, count in self.messages_sent_by_topic.items():
            self._count(metrics.topic_messages_sent, (f"topic.{topic}",), count)
        self._count(metrics.total_sent_messages, (), self._sends_completed)
        observed, self._observed = self._observed, []
        for metric, value in observed:
            metric.observe(value)

    def _events_by_label(self) -> dict[str, int]:
        """Events per stream label: Faust's ``Monitor`` counts them by the stream's ``str``, its Prometheus
        sensor by a label it derives from the stream; streams that share a label share a series."""
        keys: dict[str, set[str]] = {}
        for stream, key in self.stream_lookup.items():
            keys.setdefault(f"stream.{self._stream_label(stream)}.events", set()).add(key)
        return {label: sum(self.events_by_stream[key] for key in same) for label, same in keys.items()}

    def _count(self, metric: Any, labels: tuple[Any, ...], total: float) -> None:
        """Add to a counter series what ``total`` grew by since the last flush (a series Faust's sensor
        would not have made yet, one that never counted, stays absent)."""
        series = (metric, labels)
        grown = total - self._flushed.get(series, 0)
        if grown:
            (metric.labels(*labels) if labels else metric).inc(grown)
            self._flushed[series] = total

    def _observe(self, metric: Any, value: float) -> None:
        self._observed.append((metric, value))
        if len(self._observed) >= MOST_PENDING:
            self.flush()

    # The per-record hooks: the plain Monitor's counting, and latencies set aside for the histograms.

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        Monitor.track_tp_end_offset(self, tp, offset)

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_in(self, tp, offset, message)

    def on_stream_event_in(self, tp: TP, offset: int, stream: StreamT, event: EventT) -> dict | None:
        return Monitor.on_stream_event_in(self, tp, offset, stream, event)

    def on_stream_event_out(self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict | None = None) -> None:
        Monitor.on_stream_event_out(self, tp, offset, stream, event, state)
        if state is not None:
            self._observe(self._metrics.events_runtime_latency, self.secs_to_ms(self.events_runtime[-1]))

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_out(self, tp, offset, message)

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_get(self, table, key)

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_del(self, table, key)

    def on_send_initiated(self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int) -> Any:
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        Monitor.on_send_completed(self, producer, state, metadata)
        self._sends_completed += 1
        self._observe(self._metrics.producer_send_latency, self.ms_since(state))

    def _clear_partition_related_metrics(self) -> None:
        """Faust's start and end of a rebalance: the per-topic and per-partition series go, once up to date."""
        self.flush()
        super()._clear_partition_related_metrics()
