"""agents/state.py: a batch's table writes reach the changelog first and the local store only after Kafka
acknowledged them, on the partition Faust would use, the last write per key winning."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest
from faust.types import TP
from kafka.errors import KafkaTimeoutError

from pcfx.agents.app import bytes_table
from pcfx.agents.records import processing
from pcfx.agents.state import StagedWrites


class Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class Event:
    """The record being handled: StagedWrites reads its partition (and the RocksDB store its whole self)."""

    def __init__(self, partition: int) -> None:
        self.message = Message(partition)


class RecordingOutbox:
    """Records what would go to Kafka; ``flush`` answers with the last offset per partition, or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[str, bytes, bytes | None, int | None, bool]] = []
        self.fail = fail

    async def add(self, topic, key, value, headers=None, *, partition=None, counted=True) -> None:
        self.records.append((topic, key, value, partition, counted))

    async def flush(self) -> dict[tuple[str, int], int]:
        if self.fail:
            raise KafkaTimeoutError("broker unreachable")
        return {(topic, partition): offset for offset, (topic, _, _, partition, _) in enumerate(self.records)}


def make_table(tmp_path: Path, store: str = "memory://", **options) -> faust.types.TableT:
    app = faust.App("state-test", broker="kafka://127.0.0.1:9", store=store, datadir=str(tmp_path))  # never started
    return bytes_table(app, "product_to_input", partitions=3, **options)


async def test_the_store_is_written_only_after_kafka_has_the_changelog_records(tmp_path):
    table, outbox, staged = make_table(tmp_path), RecordingOutbox(), StagedWrites()
    staged.put(table, "steel", b"v1", Event(partition=2))

    assert staged.get(table, "steel") == b"v1"  # the batch reads its own write
    assert "steel" not in table  # the store does not, yet
    await staged.commit(outbox)

    assert table["steel"] == b"v1"
    assert outbox.records == [(table.changelog_topic.get_topic_name(), b'"steel"', b"v1", 2, False)]


async def test_a_failed_flush_leaves_the_store_as_it_was(tmp_path):
    table, staged = make_table(tmp_path), StagedWrites()
    staged.put(table, "steel", b"v1", Event(partition=0))
    await staged.commit(RecordingOutbox())
    staged.put(table, "steel", b"v2", Event(partition=0))
    staged.put(table, "paint", b"v1", Event(partition=0))

    with pytest.raises(KafkaTimeoutError):
        await staged.commit(RecordingOutbox(fail=True))

    assert table["steel"] == b"v1" and "paint" not in table


async def test_the_last_write_per_key_wins_and_none_deletes(tmp_path):
    table, outbox, staged = make_table(tmp_path), RecordingOutbox(), StagedWrites()
    staged.put(table, "steel", b"v1", Event(partition=1))
    await staged.commit(outbox)
    later = StagedWrites()
    later.put(table, "steel", b"v2", Event(partition=1))
    later.put(table, "steel", None, Event(partition=1))

    assert later.get(table, "steel") is None and len(later) == 1
    await later.commit(outbox)

    assert "steel" not in table
    assert outbox.records[-1][1:3] == (b'"steel"', None)  # a tombstone on the changelog


async def test_a_partitioner_table_leaves_the_partition_to_the_key(tmp_path):
    table, outbox, staged = make_table(tmp_path, use_partitioner=True), RecordingOutbox(), StagedWrites()
    staged.put(table, "steel", b"v1", Event(partition=2))
    await staged.commit(outbox)
    assert outbox.records[0][3] is None  # the outbox hashes the key, as Faust's producer would


async def test_rocksdb_records_the_changelog_offset_it_now_holds(tmp_path):
    table, outbox, staged = make_table(tmp_path, store="rocksdb://"), RecordingOutbox(), StagedWrites()
    event = Event(partition=1)
    staged.put(table, "steel", b"v1", event)
    staged.put(table, "paint", b"v1", event)
    await staged.commit(outbox)

    with processing(event):  # the RocksDB store finds the partition's database from the current event
        assert table["steel"] == b"v1" and table["paint"] == b"v1"
    assert table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), 1)) == 1
