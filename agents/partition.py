"""Kafka's default partition of a key: murmur2 of the key bytes, as the Java client and aiokafka compute it,
so that records the outbox places land where Faust's own sends and tables expect them.

Why not aiokafka's: its pure-Python murmur2 reads the key byte by byte, about 14 us for a 50-byte key,
and a worker hashes three to four keys per derived footprint. Reading the key as 32-bit words takes about
5 us, and most keys come back (a product's status and label offer are keyed by the product, a Deprecated
footprint by the id its Active one was sent under), so the partitions are also kept in a bounded cache.
"""

from __future__ import annotations

import functools
import struct

SEED, MIX, SHIFT = 0x9747B28C, 0x5BD1E995, 24  # murmur2's seed and mixing constants, as Kafka uses them
WORD = 0xFFFFFFFF
CACHED_KEYS = 1 << 17  # about 20 MB of keys at most


def murmur2(data: bytes) -> int:
    """The unsigned 32-bit murmur2 hash of ``data`` (Kafka's ``Utils.murmur2``, before its sign bit is masked)."""
    length = len(data)
    h = SEED ^ length
    words = length >> 2
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * MIX) & WORD
        k = ((k ^ (k >> SHIFT)) * MIX) & WORD
        h = ((h * MIX) & WORD) ^ k
    tail, end = length & 3, words << 2
    if tail:
        if tail == 3:
            h ^= data[end + 2] << 16
        if tail >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * MIX) & WORD
    h ^= h >> 13
    h = (h * MIX) & WORD
    return h ^ (h >> 15)


@functools.lru_cache(maxsize=CACHED_KEYS)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition, of ``partitions`` numbered from 0, that Kafka's default partitioner gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
