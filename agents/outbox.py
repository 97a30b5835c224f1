"""Bulk sends for an agent that emits many records per input: aiokafka's batch API under Faust's producer.

``Topic.send`` wraps every record in Faust's futures, callbacks and sensor calls, and aiokafka gives each
its own future: about 100 us of a worker's CPU per record in a shock profile, more than the recompute
that produced the record. An :class:`Outbox` appends the records to one aiokafka batch per partition
(a few microseconds each) and waits for one acknowledgement per batch.

Records land on the partition Faust would have chosen (Kafka's default partitioner, murmur2 of the
key, as the Java client and aiokafka: :mod:`pcfx.agents.partition`), so a table keyed like the topic stays co-partitioned with it. Within a
partition, records keep the order they were added in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from pcfx.agents.partition import partition_of
from pcfx.metrics import Metrics, topic_label

log = logging.getLogger(__name__)
RETRY_S = 5.0  # pause before a batch is tried again after Kafka or a table failed, in seconds


class Outbox:
    """Collects records, then :meth:`flush` sends them and returns once Kafka acknowledged every one."""

    def __init__(self, producer: AIOKafkaProducer, metrics: Metrics, prefix: str) -> None:
        """``producer``: a started one (a worker's: :func:`pcfx.agents.app.aiokafka_producer`); ``prefix``: the
        topic prefix left out of the ``topic`` label of the produced-records counter."""
        self._producer = producer
        self._metrics, self._prefix = metrics, prefix
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], BatchBuilder] = {}
        self._sent: list[tuple[str, int, int, asyncio.Future]] = []  # topic, partition, records, ack
        self._counts: dict[str, int] = {}  # records added per topic since the last flush

    async def add(
        self,
        topic: str,
        key: bytes,
        value: bytes | None,
        headers: Mapping[str, bytes] | None = None,
        *,
        partition: int | None = None,
        counted: bool = True,
    ) -> None:
        """Queue one record for ``topic`` (its full name) on ``partition``, by default the key's; a full batch
        is handed to the producer at once. ``counted=False`` leaves it out of ``pcfx_records_produced_total``
        (changelog records: Faust's sensor counts table writes)."""
        partitions = self._partitions.get(topic) or await self._partitions_of(topic)
        if partition is None:
            partition = partitions[partition_of(key, len(partitions))]
        record = {"timestamp": None, "key": key, "value": value, "headers": list((headers or {}).items())}
        batch = self._open.get((topic, partition))
        if batch is None or batch.append(**record) is None:
            if batch is not None:
                await self._submit(topic, partition, batch)
            batch = self._open[(topic, partition)] = self._producer.create_batch()
            batch.append(**record)  # an empty batch takes any record; the broker judges its size on flush
        if counted:
            self._counts[topic] = self._counts.get(topic, 0) + 1

    async def flush(self) -> dict[tuple[str, int], int]:
        """Send every queued record and return once Kafka acknowledged them: the offset of the last record
        per (topic, partition). ``pcfx_records_produced_total`` counts them then (records of a failed flush
        that did reach Kafka go uncounted)."""
        for (topic, partition), batch in list(self._open.items()):
            await self._submit(topic, partition, batch)
        sent, counts = self._sent, self._counts
        self._sent, self._counts = [], {}
        last: dict[tuple[str, int], int] = {}
        acks = await asyncio.gather(*(future for *_, future in sent))
        for (topic, partition, records, _), metadata in zip(sent, acks):
            last[(topic, partition)] = max(last.get((topic, partition), -1), metadata.offset + records - 1)
        for topic, count in counts.items():
            self._metrics.records_produced.labels(topic=topic_label(topic, self._prefix)).inc(count)
        return last

    async def _submit(self, topic: str, partition: int, batch: BatchBuilder) -> None:
        del self._open[(topic, partition)]
        records = batch.record_count()
        # Complete: closed, it goes out with the sender's next request. An open batch waits out the producer's
        # linger (aiokafka's MessageBatch.remaining_linger), 5 ms per flush for nothing, a flush after another
        # along a change. The batches of one flush are all queued before the sender runs, so they still share
        # one request per broker.
        batch.close()
        self._sent.append((topic, partition, records, await self._producer.send_batch(batch, topic, partition=partition)))

    async def _partitions_of(self, topic: str) -> list[int]:
        """The topic's partitions, once it is tracked by name in the producer's metadata: a batch queued for
        an untracked topic can lose its leader on the next refresh (:func:`pcfx.agents.app.track_producer_topics`)."""
        await self._producer.client.add_topic(topic)
        known = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return known


async def until_done(action: Callable[[], Awaitable[None]], what: str, on_failure: Callable[[], None] = lambda: None) -> None:
    """Run ``action`` until it completes, every :data:`RETRY_S` seconds, calling ``on_failure`` after each failure.

    Faust's ``take_events`` acknowledges a batch even when the agent raises, so a batch whose records could
    not be sent must never escape: it is held (the lag grows, visibly) and tried again, whole. Records a
    failed attempt did send go out again; every consumer downstream takes duplicates.
    """
    while True:
        try:
            await action()
            return
        except Exception:  # noqa: BLE001  (Kafka or a table, not a record: never skip the batch)
            on_failure()
            log.exception("%s could not be sent; retrying in %.0f s", what, RETRY_S)
            await asyncio.sleep(RETRY_S)
