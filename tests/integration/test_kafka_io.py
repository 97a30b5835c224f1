"""The edge helpers' questions to the broker: which partitions a topic has, where each one ends."""

from __future__ import annotations

from kafka import TopicPartition

from pcfx.agents.topics import admin_client
from pcfx.connectors.kafka_io import end_offsets, partitions_of, producer, records_to_end, send_all
from pcfx.settings import Settings


def test_partitions_of_lists_every_partition_of_the_topics_that_exist(settings: Settings) -> None:
    recipes, missing = settings.topic("recipes"), settings.topic("no-such-topic")
    with admin_client(settings) as admin:
        assert partitions_of(admin, [recipes, missing, recipes]) == {recipes: [0, 1, 2]}
        assert partitions_of(admin, []) == {}


def test_end_offsets_counts_the_records_of_each_partition(settings: Settings) -> None:
    topic = settings.topic("recipes")
    out = producer(settings)
    try:
        send_all(out, topic, [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], partition_by=[b"a", b"a", b"b"])
    finally:
        out.close()
    ends = end_offsets(settings, [topic, settings.topic("no-such-topic")])
    assert set(ends) == {TopicPartition(topic, p) for p in range(3)}
    assert sum(ends.values()) == 3
    assert max(ends.values()) >= 2  # the two records sent beside key "a" share a partition


def test_records_to_end_reads_each_partition_in_order_up_to_its_end_at_the_call(settings: Settings) -> None:
    topic = settings.topic("recipes")
    out = producer(settings)
    try:
        send_all(out, topic, [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")], partition_by=[b"a", b"b", b"a"])
        reading = records_to_end(settings, topic)
        first = next(reading)  # the ends are taken here
        send_all(out, topic, [(b"a", b"4")], partition_by=[b"a"])  # after the call: not read
        records = [first, *reading]
    finally:
        out.close()
    assert sorted(r.value for r in records) == [b"1", b"2", b"3"]
    assert [r.value for r in records if r.key == b"a"] == [b"1", b"3"]
