"""B1 client vs broker: Kafka's own perf tools (Java, from the broker's jars) against pcfx's clients moving
the same number of ~300-byte records through the same broker, on 1 and 6 partitions.

Baseline: ``ProducerPerformance`` (records of the encoded footprint's size, acks=all, linger 5 ms, as pcfx's
producer) and ``ConsumerPerformance`` (its ``fetch.nMsg.sec``: first fetch to last record). pcfx:
:func:`pcfx.connectors.kafka_io.producer` (kafka-python, what ``SupplierClient`` and ``pcfx import`` use)
publishing pre-encoded footprints, and the worker's own path out (:class:`pcfx.agents.outbox.Outbox` on
aiokafka, as the recompute and label agents send); kafka-python consuming (the edges' reader) and aiokafka consuming (the
worker's client), both timed from the first record to the last, without decoding (B4 adds that).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from pcfx.agents.app import PRODUCER_LINGER_S
from pcfx.agents.outbox import Outbox

from pcfx.agents.topics import admin_client
from pcfx.bench.common import Run, kafka_classpath, report, repeated, scratch
from pcfx.bench.workload import footprint, leaf_id
from pcfx.connectors.kafka_io import producer, send_all
from pcfx.metrics import Metrics
from pcfx.settings import Settings
from pcfx.streams.codec import encode_model

TOOLS = "org.apache.kafka.tools."
ANCHOR = "a localhost broker does several hundred thousand 100-byte msgs/s; Python clients roughly 80k-140k msgs/s"


def java_tool(settings: Settings, tool: str, *args: str) -> str:
    command = ["java", "-Xmx512m", "-cp", kafka_classpath(settings), TOOLS + tool, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def kafka_producer_rate(settings: Settings, topic: str, count: int, size: int) -> float:
    out = java_tool(settings, "ProducerPerformance", "--topic", topic, "--num-records", str(count),
                    "--record-size", str(size), "--throughput", "-1", "--producer-props",
                    f"bootstrap.servers={settings.bootstrap_servers}", "acks=all", "linger.ms=5")
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    return float(re.search(r"([\d.]+) records/sec", last).group(1))


def kafka_consumer_rate(settings: Settings, topic: str, count: int) -> float:
    out = java_tool(settings, "ConsumerPerformance", "--bootstrap-server", settings.bootstrap_servers,
                    "--topic", topic, "--messages", str(count), "--timeout", "60000")
    lines = [line for line in out.splitlines() if line.strip()]
    header = [name.strip() for name in lines[-2].split(",")]
    return float(lines[-1].split(",")[header.index("fetch.nMsg.sec")])


def pcfx_producer_rate(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    send = producer(settings)
    start = time.perf_counter()
    send_all(send, topic, records)
    elapsed = time.perf_counter() - start
    send.close()
    return len(records) / elapsed


async def outbox_producer_rate(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Records/s through the worker's path out: an Outbox on an aiokafka producer set as Faust's (acks=all,
    linger 5 ms), one flush for the lot, timed from the first add to the last acknowledgement."""
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=PRODUCER_LINGER_S * 1000)
    await client.start()
    try:
        outbox = Outbox(client, Metrics.create(CollectorRegistry()), settings.topic_prefix)
        await outbox.add(topic, *records[0])  # looks the topic's partitions up, outside the timing
        await outbox.flush()
        start = time.perf_counter()
        for key, value in records:
            await outbox.add(topic, key, value)
        await outbox.flush()
        return len(records) / (time.perf_counter() - start)
    finally:
        await client.stop()


def kafka_python_consumer_rate(settings: Settings, topic: str, count: int) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
    seen, start = 0, None
    try:
        while seen < count:
            for batch in consumer.poll(timeout_ms=1000).values():
                start = start or time.perf_counter()
                seen += len(batch)
    finally:
        consumer.close()
    return count / (time.perf_counter() - start)


async def aiokafka_consumer_rate(settings: Settings, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    seen, start = 0, None
    try:
        while seen < count:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                start = start or time.perf_counter()
                seen += len(batch)
    finally:
        await consumer.stop()
    return count / (time.perf_counter() - start)


def partitions_case(settings: Settings, partitions: int, count: int, repeats: int) -> dict:
    topic = settings.topic(f"b1-p{partitions}")
    with admin_client(settings) as admin:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    value = encode_model(footprint(leaf_id(0), 1))
    records = [(leaf_id(i).encode(), value) for i in range(count)]

    def measure(_repeat: int) -> dict[str, float]:
        produced = {
            "kafka_producer_per_s": kafka_producer_rate(settings, topic, count, len(value)),
            "pcfx_producer_per_s": pcfx_producer_rate(settings, topic, records),
            "outbox_producer_per_s": asyncio.run(outbox_producer_rate(settings, topic, records)),
        }
        consumed = {
            "kafka_consumer_per_s": kafka_consumer_rate(settings, topic, count),
            "kafka_python_consumer_per_s": kafka_python_consumer_rate(settings, topic, count),
            "aiokafka_consumer_per_s": asyncio.run(aiokafka_consumer_rate(settings, topic, count)),
        }
        return {**produced, **consumed}

    result = repeated(measure, repeats)
    m = result["median"]
    m["producer_ratio"] = m["pcfx_producer_per_s"] / m["kafka_producer_per_s"]
    m["outbox_producer_ratio"] = m["outbox_producer_per_s"] / m["kafka_producer_per_s"]
    m["kafka_python_consumer_ratio"] = m["kafka_python_consumer_per_s"] / m["kafka_consumer_per_s"]
    m["aiokafka_consumer_ratio"] = m["aiokafka_consumer_per_s"] / m["kafka_consumer_per_s"]
    return {"partitions": partitions, "records": count, "record_bytes": len(value), **result}


def main(run: Run) -> dict:
    count = run.size(5_000, 50_000)
    with scratch(run, "b1") as settings:
        cases = [partitions_case(settings, p, count, run.repeats) for p in (1, 6)]
    one, six = (case["median"] for case in cases)
    summary = (
        f"1 partition: pcfx produces {one['pcfx_producer_per_s'] / 1e3:.0f}k/s = {one['producer_ratio']:.2f}x Kafka's "
        f"tool ({one['kafka_producer_per_s'] / 1e3:.0f}k/s), the worker's outbox "
        f"{one['outbox_producer_per_s'] / 1e3:.0f}k/s = {one['outbox_producer_ratio']:.2f}x, consumes {one['aiokafka_consumer_per_s'] / 1e3:.0f}k/s "
        f"(aiokafka) = {one['aiokafka_consumer_ratio']:.2f}x ({one['kafka_consumer_per_s'] / 1e3:.0f}k/s); "
        f"6 partitions: {six['producer_ratio']:.2f}x, {six['outbox_producer_ratio']:.2f}x / "
        f"{six['aiokafka_consumer_ratio']:.2f}x"
    )
    return report("b1", run, {"cases": cases, "anchor": ANCHOR}, summary)
