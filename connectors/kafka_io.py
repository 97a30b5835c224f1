"""Plain kafka-python helpers for the edges (CLI commands, connectors, tests): produce, read a topic to its
current end, and wait until the workers have caught up ("settle"). The stream agents use Faust instead."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetSpec, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import RetriableError
from kafka.producer.future import FutureRecordMetadata

from pcfx.agents.partition import partition_of
from pcfx.agents.topics import admin_client
from pcfx.ops.kafka import require_broker
from pcfx.settings import Settings

T = TypeVar("T")
POLL_MS = 200
#: How often ``settle`` asks for the group's commits: one small request, and a worker that goes quiet commits
#: at once (agents/batching.py), so the poll is most of what a settled change still waits for.
SETTLE_POLL_S = 0.05
#: How many times :func:`end_offsets` asks a broker that answered "busy" (a retriable error).
END_OFFSETS_ATTEMPTS = 3
#: The worker's consumption, hop by hop: each stage's outputs are the next stage's inputs.
SETTLE_STAGES = (("footprints", "recipes"), ("graph-updates",), ("label-sources", "recompute-steps"), ("label-inputs",))
#: Topics whose readers write more records to them (the recompute's shards pass results to each other): their
#: stage has settled only when the workers committed every record and no new one came meanwhile.
FEED_THEMSELVES = frozenset({"recompute-steps"})


def producer(settings: Settings) -> KafkaProducer:
    """A producer that waits for the broker's acknowledgement of every record (nothing lost on return).

    Retries are kafka-python's (idempotent, without limit until its 120 s delivery timeout): a topic created
    a moment ago can answer "not the leader" for a while, and a fixed few retries gave up too soon.

    Batches of up to 512 KiB, sent after 10 ms: a caller that validates a batch record by record while it
    sends (``SupplierClient.publish_recipes``) holds the GIL, and kafka-python's sender thread gets it only
    now and then. With its 16 KiB batches (two recipes of a dense table) it fell behind and sent the whole
    import in one burst after the last record; with these it keeps pace. A call that waits for its records
    (``confirm``) flushes them at once, so the linger costs it nothing.
    """
    require_broker(settings.bootstrap_servers)
    return KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=10, batch_size=512 * 1024)


def ask_partitions_early(producer: KafkaProducer, topics: Iterable[str]) -> list[threading.Thread]:
    """Ask for each topic's partitions now, on a daemon thread each, so that the caller's first send finds them.

    kafka-python asks only at the first send to a topic, and its answer takes about 0.1 s on a local broker
    (measured: a fresh producer's ``partitions_for`` took 0.10 s every time, first send and ack after it 2-6
    ms), all of it added to a client's call. Asked here, it overlaps whatever the caller does first, e.g.
    reading a CSV. A failure is left to the send, which reports it."""
    def ask(topic: str) -> None:
        try:
            producer.partitions_for(topic)
        except Exception:  # noqa: BLE001  (the send asks again and raises what is wrong)
            return

    threads = [threading.Thread(target=ask, args=(topic,), name=f"pcfx-metadata-{topic}", daemon=True) for topic in topics]
    for thread in threads:
        thread.start()
    return threads


def confirm(producer: KafkaProducer, futures: Iterable[FutureRecordMetadata]) -> None:
    """Flush ``producer``, then raise the first refusal among ``futures`` (the sends' results): kafka-python
    reports a record it gave up on only through its future, so an unchecked send can vanish silently."""
    producer.flush()
    for future in futures:
        future.get()


def send_all(
    producer: KafkaProducer, topic: str, records: Iterable[tuple[bytes, bytes | None]], headers: Iterable[dict[str, bytes]] | None = None,
    partition_by: Sequence[bytes] | None = None,
) -> None:
    """Send every ``(key, value)`` to ``topic`` (full name) and return once Kafka acknowledged them all;
    ``headers``, if given, has each record's headers, in the same order. ``partition_by``, if given, has for
    each record the bytes whose default partition it goes to (:func:`partition_for`) instead of its key's."""
    if headers is None and partition_by is None:
        confirm(producer, [producer.send(topic, key=key, value=value) for key, value in records])
        return
    records = list(records)
    extras = [{} for _ in records] if headers is None else list(headers)
    partitions = [None] * len(records) if partition_by is None else [partition_for(producer, topic, by) for by in partition_by]
    confirm(producer, [
        producer.send(topic, key=key, value=value, headers=list(extra.items()), partition=partition)
        for (key, value), extra, partition in zip(records, extras, partitions, strict=True)
    ])


def partition_for(producer: KafkaProducer, topic: str, by: bytes) -> int:
    """The partition of ``topic`` that Kafka's default partitioner gives the key ``by`` (murmur2, as
    kafka-python, aiokafka and Faust compute it): a record keyed otherwise still lands beside records keyed ``by``."""
    partitions = sorted(producer.partitions_for(topic))  # waits for the topic's metadata (max_block_ms)
    return partitions[partition_of(by, len(partitions))]


def partitions_of(admin: KafkaAdminClient, topics: Iterable[str]) -> dict[str, list[int]]:
    """The partitions of every topic of ``topics`` (full names) that exists, from one metadata request.

    One request with the client's request timeout, so a busy broker makes it fail rather than hang: a
    consumer's ``partitions_for_topic`` and ``topics`` wait without a bound for kafka-python's background
    metadata refresh, and once in a long test run that wait never ended."""
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return {}
    return {
        entry["name"]: sorted(p["partition_index"] for p in entry["partitions"])
        for entry in admin.describe_topics(wanted)
        if entry["error_code"] == 0
    }


def ends_of(admin: KafkaAdminClient, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The offset the next record of every partition of ``topics`` (full names that exist) will get.

    Asked with the admin client's own requests (metadata, then ListOffsets per leader), each bounded by the
    request timeout. A fresh consumer's ``end_offsets`` leaves out, in kafka-python 3.0, a partition whose
    leader it has not learnt yet, and the caller finds the hole later as a ``KeyError``."""
    partitions = [TopicPartition(t, p) for t, ps in partitions_of(admin, topics).items() for p in ps]
    if not partitions:
        return {}
    answers = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
    return {tp: answers[tp].offset for tp in partitions}


def end_offsets(settings: Settings, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """:func:`ends_of` with a client of its own.

    A broker too busy to answer within the request timeout (a rebalance storm, a SIGKILLed worker's
    connections expiring) raises a retriable error; the question is then asked again with a fresh client, up to
    :data:`END_OFFSETS_ATTEMPTS` times, since callers poll it and a transient "busy" is not their failure."""
    topics = list(topics)
    for attempt in range(1, END_OFFSETS_ATTEMPTS + 1):
        try:
            with admin_client(settings) as admin:
                return ends_of(admin, topics)
        except RetriableError:
            if attempt == END_OFFSETS_ATTEMPTS:
                raise
            time.sleep(POLL_MS / 1000)
    raise AssertionError("unreachable")


def records_to_end(settings: Settings, topic: str, stall_s: float = 60.0) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` (full name) from the beginning up to its end at the time of the call, in
    offset order per partition. ``TimeoutError`` (naming the partitions) when ``stall_s`` seconds pass without
    a record while some are still due: a broker that stops serving fails the read, never hangs it."""
    ends = {tp: end for tp, end in end_offsets(settings, [topic]).items() if end > 0}
    if not ends:
        return
    require_broker(settings.bootstrap_servers)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        pending, moved = dict(ends), time.monotonic()
        while pending:
            polled = consumer.poll(timeout_ms=POLL_MS)
            for tp, records in polled.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            for tp in list(pending):
                position = consumer.position(tp, timeout_ms=POLL_MS)  # bounded: None while it is not known yet
                if position is not None and position >= ends[tp]:
                    del pending[tp]
            if polled:
                moved = time.monotonic()
            elif pending and time.monotonic() - moved > stall_s:
                raise TimeoutError(f"no record of {topic} for {stall_s:.0f} s; still due: "
                                   + ", ".join(f"[{tp.partition}] up to offset {end}" for tp, end in sorted(pending.items())))
    finally:
        consumer.close()


def read_to_end(settings: Settings, topic: str, decode: Callable[[bytes | None, bytes | None], T]) -> Iterator[T]:
    """:func:`records_to_end`, each record given as ``decode(key, value)``."""
    for record in records_to_end(settings, topic):
        yield decode(record.key, record.value)


@dataclass(frozen=True)
class Progress:
    """Where settling stands: the stage waited on (index into ``stages``) and, per logical topic of every
    stage, the records the workers' group has not committed yet (against the topic's end now)."""

    stages: tuple[tuple[str, ...], ...]
    stage: int
    behind: dict[str, int]
    waited_s: float

    def line(self) -> str:
        """One line for a terminal: ``settling 12 s: footprints 0 recipes 0 | graph-updates 388 ... (stage 2/4)``."""
        parts = [" ".join(f"{name} {self.behind.get(name, 0):,}" for name in stage) for stage in self.stages]
        return f"settling {self.waited_s:.0f} s: " + " | ".join(parts) + f" (stage {self.stage + 1}/{len(self.stages)})"


def settle(
    settings: Settings,
    stall_s: float = 120.0,
    group: str | None = None,
    *,
    stages: Sequence[Sequence[str]] = SETTLE_STAGES,
    progress: Callable[[Progress], None] | None = None,
    every_s: float = 1.0,
    settled: Callable[[int, float], None] | None = None,
) -> float:
    """Return once the workers have processed everything published before the call, stage by stage; returns
    the seconds it took.

    Each stage's input end offsets are taken when the previous stage has settled, and the worker's consumer
    group must have committed up to them; Faust flushes its producer before committing, so the outputs of
    a committed record are on Kafka. There is no deadline for the whole: a large import may take long, and
    that is fine as long as it moves. ``TimeoutError`` (naming the lagging partitions) comes when no stage
    got a record nearer for ``stall_s`` seconds. ``progress``, if given, is called every ``every_s`` seconds
    with the records behind per topic (the CLI shows it on a terminal; the demo and the benchmarks use the
    same function). ``settled``, if given, is called with each stage's index and the seconds since the call
    when that stage has settled (the benchmarks' breakdown of where the time went; no request of its own).
    """
    from kafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError, NotCoordinatorError  # noqa: PLC0415

    started = time.monotonic()
    group = group or settings.app_id
    stages = tuple(tuple(stage) for stage in stages)
    admin = admin_client(settings)  # no broker: one line saying so (require_broker), not a client's 30 s of retries
    shown = 0.0

    def ends(names: Iterable[str]) -> dict[TopicPartition, int]:
        return {tp: end for tp, end in ends_of(admin, [settings.topic(name) for name in names]).items() if end > 0}

    def behind(wanted: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        if not wanted:
            return {}
        try:
            committed = admin.list_group_offsets({group: list(wanted)}).get(group, {})
        except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorError):
            committed = {}  # the group has not committed yet, or its coordinator is still being elected: ask again
        late = {}
        for tp, end in wanted.items():
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            if done < end:
                late[tp] = end - done
        return late

    def asked(question: Callable[[], T]) -> T:
        # A broker too busy to answer within a request's timeout is asked again; it is the workers' progress,
        # not one slow answer, that stall_s judges.
        since = time.monotonic()
        while True:
            try:
                return question()
            except RetriableError:
                if time.monotonic() - since > stall_s:
                    raise
                time.sleep(POLL_MS / 1000)

    def show(stage: int, now: float) -> None:
        names = [name for names in stages for name in names]
        late = asked(lambda: behind(ends(names)))
        per_topic = {name: sum(n for tp, n in late.items() if tp.topic == settings.topic(name)) for name in names}
        progress(Progress(stages, stage, per_topic, now - started))  # type: ignore[misc]

    try:
        for index, stage in enumerate(stages):
            wanted = asked(lambda: ends(stage))  # noqa: B023  (called at once)
            last, moved = None, time.monotonic()
            while True:
                late = asked(lambda: behind(wanted))  # noqa: B023
                now = time.monotonic()
                if progress is not None and (now - shown >= every_s or not late):
                    show(index, now)
                    shown = now
                if not late:
                    again = wanted if FEED_THEMSELVES.isdisjoint(stage) else asked(lambda: ends(stage))  # noqa: B023
                    if again == wanted:
                        if settled is not None:
                            settled(index, now - started)
                        break
                    wanted = again
                    continue
                total = sum(late.values())
                if last is None or total < last:
                    last, moved = total, now
                elif now - moved > stall_s:
                    raise TimeoutError(
                        f"workers made no progress for {stall_s:.0f} s: "
                        + ", ".join(f"{tp.topic}[{tp.partition}] {n} behind" for tp, n in late.items())
                    )
                time.sleep(SETTLE_POLL_S)
    finally:
        admin.close()
    return time.monotonic() - started
