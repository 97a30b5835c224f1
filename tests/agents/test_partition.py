"""The outbox places a record on the partition Kafka's default partitioner gives its key, as aiokafka does
for Faust's own sends: a table keyed like its topic must stay co-partitioned with it."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from pcfx.agents.partition import murmur2, partition_of


@given(st.binary(max_size=300))
def test_murmur2_equals_aiokafkas(key):
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.binary(min_size=1, max_size=120), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_partition_aiokafka_would_pick(key, count):
    assert partition_of(key, count) == DefaultPartitioner()(key, list(range(count)), None)


def signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def test_known_values_of_the_java_client():
    # Kafka's own unit test of Utils.murmur2 lists these hashes (Java ints, so signed)
    assert signed(murmur2(b"21")) == -973932308
    assert signed(murmur2(b"foobar")) == -790332482
    assert signed(murmur2(b"a-little-bit-long-string")) == -985981536
    assert signed(murmur2(b"a-little-bit-longer-string")) == -1486304829
    assert signed(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971
