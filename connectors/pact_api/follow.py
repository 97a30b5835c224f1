"""Follow Kafka topics into SQLite, exactly once: each batch and its offsets commit in one transaction.

The host does not use a consumer group: it assigns itself every partition and keeps the next offset per
partition in the ``offsets`` table. A restart resumes where the last commit left off; nothing is applied
twice and nothing is skipped. Deleting a follower's offsets makes it replay from the beginning.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from pcfx.agents.topics import admin_client
from pcfx.connectors.kafka_io import partitions_of
from pcfx.connectors.pact_api.store import Store
from pcfx.ops.kafka import BrokerUnreachable
from pcfx.settings import Settings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
)
"""
POLL_MS = 200  # longest a poll waits for records, in milliseconds
BATCH_MAX = 500  # records applied per transaction
RESCAN_S = 10.0  # how often new topics and partitions are picked up, in seconds
RETRY_S = 2.0  # pause after a failed batch before it is read again, in seconds

Apply = Callable[[sqlite3.Connection, ConsumerRecord], None]


class Follower:
    """Applies every record of ``topics`` with ``apply(conn, record)`` inside the batch's transaction."""

    def __init__(self, settings: Settings, store: Store, topics: list[str], apply: Apply, name: str) -> None:
        self.settings = settings
        self.store = store
        self.topics = topics
        self.apply = apply
        self.name = name
        self.applied = 0  # records applied since start (for logs and tests)
        self._admin: KafkaAdminClient | None = None  # made on the first scan for partitions

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set; errors are logged and the batch is read again, never skipped."""
        while not stop.is_set():
            try:
                consumer = KafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers, client_id=f"pcfx-api-{self.name}",
                                         group_id=None, enable_auto_commit=False)
            except KafkaError as error:
                log.warning("%s: cannot reach Kafka (%s); retrying in %s s", self.name, error, RETRY_S)
                stop.wait(RETRY_S)
                continue
            try:
                self._follow(consumer, stop)
            finally:
                consumer.close()
                self._close_admin()

    def forget_offsets(self, conn: sqlite3.Connection) -> None:
        """Start over from the beginning of every topic at the next run (inside the caller's transaction)."""
        conn.executemany("DELETE FROM offsets WHERE topic = ?", [(t,) for t in self.topics])

    def _follow(self, consumer: KafkaConsumer, stop: threading.Event) -> None:
        assigned: set[TopicPartition] = set()
        rescan_at = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= rescan_at:
                    assigned = self._assign(consumer, assigned)
                    rescan_at = time.monotonic() + RESCAN_S
                if not assigned:
                    stop.wait(POLL_MS / 1000)
                    continue
                batch = consumer.poll(timeout_ms=POLL_MS, max_records=BATCH_MAX)
                if batch and not self._commit(batch):
                    self._seek_stored(consumer, assigned)
                    stop.wait(RETRY_S)
            except (KafkaError, BrokerUnreachable) as error:  # broker away: keep trying, from the stored offsets
                log.warning("%s: Kafka unavailable (%s); retrying in %s s", self.name, error, RETRY_S)
                self._close_admin()
                assigned, rescan_at = set(), 0.0
                stop.wait(RETRY_S)

    def _commit(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        try:
            with self.store.transaction() as conn:
                for tp, records in batch.items():
                    for record in records:
                        self.apply(conn, record)
                    conn.execute(
                        "INSERT OR REPLACE INTO offsets VALUES (?, ?, ?)", (tp.topic, tp.partition, records[-1].offset + 1)
                    )
        except Exception:
            log.exception("%s: batch failed and will be read again", self.name)
            return False
        self.applied += sum(len(records) for records in batch.values())
        return True

    def _assign(self, consumer: KafkaConsumer, assigned: set[TopicPartition]) -> set[TopicPartition]:
        """Take every partition of the followed topics; topics that do not exist yet are picked up later."""
        if self._admin is None:
            self._admin = admin_client(self.settings)
        existing = partitions_of(self._admin, self.topics)  # bounded by a request timeout, unlike consumer.topics()
        wanted = {TopicPartition(topic, partition) for topic, partitions in existing.items() for partition in partitions}
        missing = [t for t in self.topics if t not in existing]
        if missing:
            log.warning("%s: waiting for topics %s", self.name, ", ".join(missing))
        if wanted != assigned:
            consumer.assign(sorted(wanted))
            self._seek_stored(consumer, wanted)
        return wanted

    def _seek_stored(self, consumer: KafkaConsumer, partitions: set[TopicPartition]) -> None:
        stored = {
            (row["topic"], row["partition"]): row["next_offset"]
            for row in self.store.conn.execute("SELECT topic, partition, next_offset FROM offsets")
        }
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
