"""The agents' bulk sender on the real broker: every record acknowledged, on the partition a Java client or
Faust's own send would choose (so a table keyed like the topic stays co-partitioned), in order, headers kept."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer
from kafka import TopicPartition
from kafka.admin import NewTopic
from kafka.partitioner import murmur2
from prometheus_client import CollectorRegistry

from pcfx.agents.outbox import Outbox
from pcfx.agents.topics import admin_client
from pcfx.connectors.kafka_io import records_to_end
from pcfx.metrics import Metrics

KEYS = [f"urn:pcfx:product:{i:05d}" for i in range(250)] + ["007", "钢卷-HR-2.0", "a" * 300]


async def send_all(settings, metrics: Metrics, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        outbox = Outbox(producer, metrics, settings.topic_prefix)
        for n, key in enumerate(KEYS):
            await outbox.add(topic, key.encode(), b"x" * 400 + str(n).encode(), {"n": str(n).encode()})
        await outbox.flush()  # 100+ kB: many producer batches per partition
    finally:
        await producer.stop()


def read(settings, topic: str) -> list:
    return list(records_to_end(settings, topic))


def test_every_record_lands_acknowledged_on_its_keys_partition_in_order(settings, topics):
    metrics = Metrics.create(CollectorRegistry())
    topic = topics["footprints"]  # 3 partitions in the test settings
    asyncio.run(send_all(settings, metrics, topic))

    records = read(settings, topic)
    assert sorted(r.key.decode() for r in records) == sorted(KEYS)
    for record in records:
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % 3  # the Java client's default partitioner
        assert record.value.endswith(dict(record.headers)["n"])
    for partition in range(3):
        sent_order = [int(dict(r.headers)["n"]) for r in sorted(records, key=lambda r: r.offset) if r.partition == partition]
        assert sent_order == sorted(sent_order)
    assert metrics.registry.get_sample_value("pcfx_records_produced_total", {"topic": "footprints"}) == len(KEYS)


async def leaders_after_a_new_topic_is_looked_up(settings, known: str, created_later: str) -> tuple[bool, bool]:
    """Send to ``known`` through an outbox, then make the producer look up a topic created after it started
    (its metadata then covers only topics tracked by name). Is ``known``'s leader still in the producer's
    metadata, and is that of a topic the producer never sent to?"""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.client.force_metadata_update()  # tracking nothing, it fetches every topic (as in a worker)
        with admin_client(settings) as admin:
            admin.create_topics([NewTopic(created_later, 1, 1)])
        outbox = Outbox(producer, Metrics.create(CollectorRegistry()), settings.topic_prefix)
        await outbox.add(known, b"k", b"v", partition=0)
        await outbox.flush()
        await producer.partitions_for(created_later)
        await producer.client.force_metadata_update()
        cluster = producer.client.cluster
        kept = cluster.leader_for_partition(TopicPartition(known, 0)) is not None
        return kept, bool(cluster.partitions_for_topic(settings.topic("recipes")))
    finally:
        await producer.stop()


def test_the_topics_an_outbox_sends_to_stay_in_the_producers_metadata(settings, topics):
    # A batch queued for a topic whose leader drops out of the metadata waits for it forever: a stalled worker.
    kept, untracked = asyncio.run(leaders_after_a_new_topic_is_looked_up(settings, topics["derived"], settings.topic("created-later")))
    assert kept
    assert not untracked  # what happens to a topic nobody tracks: the reason for tracking


async def flush_seconds(settings, topic: str, linger_ms: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=linger_ms)
    await producer.start()
    try:
        outbox = Outbox(producer, Metrics.create(CollectorRegistry()), settings.topic_prefix)
        await outbox.add(topic, b"warm", b"up")
        await outbox.flush()  # metadata and connections, which the next flush must not count
        started = time.monotonic()
        for key in KEYS[:20]:
            await outbox.add(topic, key.encode(), b"v")
        await outbox.flush()
        return time.monotonic() - started
    finally:
        await producer.stop()


def test_a_flush_sends_at_once_rather_than_wait_out_the_producers_linger(settings, topics):
    # An outbox's batch is complete when it is flushed: the agent waits for its acknowledgement, and a change
    # crosses many agents one after the other, so a linger paid per flush adds up along the way.
    assert asyncio.run(flush_seconds(settings, topics["derived"], linger_ms=5_000)) < 2.5


async def produce_requests(settings, topic: str, batch_bytes: int) -> int:
    """Produce requests a flush of ~600 kB to one partition takes, with batches of at most ``batch_bytes``."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", max_batch_size=batch_bytes)
    await producer.start()
    sender, requests = producer._sender, []
    send_request = sender._send_produce_req

    def counted(node_id, batches):  # noqa: ANN001, ANN202
        requests.append(len(batches))
        return send_request(node_id, batches)

    try:
        outbox = Outbox(producer, Metrics.create(CollectorRegistry()), settings.topic_prefix)
        await outbox.add(topic, b"warm", b"up", partition=0)
        await outbox.flush()  # metadata and connections
        sender._send_produce_req = counted
        for n in range(300):
            await outbox.add(topic, f"k{n}".encode(), b"x" * 2_000, partition=0)
        await outbox.flush()
        return len(requests)
    finally:
        await producer.stop()


def test_a_flush_to_one_partition_goes_out_in_one_request_at_the_workers_batch_size(settings, topics):
    # aiokafka sends a partition's queued batches one request after another, each after the last one's
    # acknowledgement: a step's changelog writes to one partition paid that round trip per 16 KiB.
    assert asyncio.run(produce_requests(settings, topics["derived"], settings.producer_batch_bytes)) == 1
    assert asyncio.run(produce_requests(settings, topics["derived"], 16_384)) > 10  # aiokafka's default: the chain
