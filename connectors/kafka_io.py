"""Plain kafka-python helpers for the edges (CLI commands, connectors, tests): produce, read a topic to its
current end, and wait until the workers have caught up ("settle"). The stream agents use Faust instead."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.producer.future import FutureRecordMetadata

from pcfx.agents.topics import admin_client
from pcfx.settings import Settings

T = TypeVar("T")
POLL_MS = 200
#: The worker's consumption, hop by hop: each stage's outputs are the next stage's inputs.
SETTLE_STAGES = (("footprints", "recipes"), ("graph-updates", "label-sources"))


def producer(settings: Settings) -> KafkaProducer:
    """A producer that waits for the broker's acknowledgement of every record (nothing lost on return).

    Retries are kafka-python's (idempotent, without limit until its 120 s delivery timeout): a topic created
    a moment ago can answer "not the leader" for a while, and a fixed few retries gave up too soon.
    """
    return KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)


def confirm(producer: KafkaProducer, futures: Iterable[FutureRecordMetadata]) -> None:
    """Flush ``producer``, then raise the first refusal among ``futures`` (the sends' results): kafka-python
    reports a record it gave up on only through its future, so an unchecked send can vanish silently."""
    producer.flush()
    for future in futures:
        future.get()


def send_all(producer: KafkaProducer, topic: str, records: Iterable[tuple[bytes, bytes | None]],
             headers: list[tuple[str, bytes]] | None = None) -> None:
    """Send every ``(key, value)`` to ``topic`` (full name), each with ``headers``, and return once Kafka
    acknowledged them all."""
    confirm(producer, [producer.send(topic, key=key, value=value, headers=headers or []) for key, value in records])


def end_offsets(settings: Settings, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The offset the next record of every partition of ``topics`` (full names) will get."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return dict(consumer.end_offsets(partitions)) if partitions else {}
    finally:
        consumer.close()


def read_to_end(settings: Settings, topic: str, decode: Callable[[bytes | None, bytes | None], T]) -> Iterator[T]:
    """Every record of ``topic`` (full name) from the beginning up to its end at the time of the call."""
    ends = {tp: end for tp, end in end_offsets(settings, [topic]).items() if end > 0}
    if not ends:
        return
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        pending = dict(ends)
        while pending:
            for tp, records in consumer.poll(timeout_ms=POLL_MS).items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield decode(record.key, record.value)
                if consumer.position(tp) >= ends[tp]:
                    pending.pop(tp, None)
    finally:
        consumer.close()


def settle(settings: Settings, timeout_s: float = 120.0, group: str | None = None) -> None:
    """Return once the workers have processed everything published before the call, stage by stage.

    Each stage's input end offsets are taken when the previous stage has settled, and the worker's consumer
    group must have committed up to them; Faust flushes its producer before committing, so the outputs of
    a committed record are on Kafka. Raises ``TimeoutError`` naming the lagging partitions.
    """
    deadline = time.monotonic() + timeout_s
    group = group or settings.app_id
    for stage in SETTLE_STAGES:
        wanted = {tp: end for tp, end in end_offsets(settings, [settings.topic(name) for name in stage]).items() if end > 0}
        while True:
            behind = _behind(settings, group, wanted)
            if not behind:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("workers have not caught up: " + ", ".join(f"{tp.topic}[{tp.partition}] {n} behind" for tp, n in behind.items()))
            time.sleep(POLL_MS / 1000)


def _behind(settings: Settings, group: str, wanted: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    if not wanted:
        return {}
    from kafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError, NotCoordinatorError  # noqa: PLC0415

    try:
        with admin_client(settings) as admin:
            committed = admin.list_group_offsets({group: list(wanted)}).get(group, {})
    except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorError):
        committed = {}  # the group has not committed yet, or its coordinator is still being elected: ask again
    behind = {}
    for tp, end in wanted.items():
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        if done < end:
            behind[tp] = end - done
    return behind
