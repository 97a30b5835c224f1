"""Faust's aiokafka transport with one change: the worker's consumer long-polls for 100 ms, not 1.5 s.

aiokafka keeps one fetch request in flight per broker, and a partition whose fetched records are still
buffered is left out of it. faust-streaming 0.15.3 creates the worker's consumer with
``fetch_max_wait_ms=1500``: while the agents work through a partition's buffer, the next request goes out
for the other, idle partitions, and the broker holds it until that wait ends. The partition whose buffer
was just emptied is fetched only after it, so every hop of a record through the stages (recipes ->
graph-updates -> recompute-steps -> label-inputs) could wait up to 1.5 s with the data on the broker: gaps
of about a second with the worker idle, in a trace of one re-import (docs/benchmarks.md). A 100 ms wait
bounds that gap; an idle worker sends about ten small fetch requests a second in exchange.

Install with :func:`install` on a new app, before anything asks it for its transport.
"""

from __future__ import annotations

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 100


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, with :data:`FETCH_MAX_WAIT_MS` for the worker's consumer."""

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts and builds its fetcher
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer


def install(app: faust.App) -> None:
    """Give ``app`` the transport above (Faust builds its own on first use, so call this first)."""
    app.transport = Transport(app.conf.broker_consumer, app)
