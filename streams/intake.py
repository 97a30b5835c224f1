"""Admission of raw Kafka records: decode, validate, and either accept the model or build its dead letter.

Any failure, a bad record or a bug in pcfx, is dead-lettered: the agent never crashes on a record (a
crashed Faust agent would skip it), and ``errorType`` tells the two apart.

Pure: the agents hand in the bytes and where they came from, and send what comes back. Nothing is dropped:
every record ends as exactly one accepted model or one :class:`DeadLetter` naming the record and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar

from pcfx.schemas.base import ContractModel
from pcfx.schemas.models import DeadLetter
from pcfx.streams.codec import DecodeError, decode_model

M = TypeVar("M", bound=ContractModel)


@dataclass(frozen=True)
class Origin:
    """Where a record was read: enough to find it again in Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int  # the producer's (supplier's) publish time, ms since the epoch


@dataclass(frozen=True)
class Admission(Generic[M]):
    """Either ``model`` is set, or ``dead_letter`` and the ``error`` it was made from."""

    model: M | None = None
    dead_letter: DeadLetter | None = None
    error: Exception | None = None


def admit(cls: type[M], raw: bytes | None, origin: Origin, *, stage: str, now_ms: int) -> Admission[M]:
    """Decode ``raw`` as ``cls``; a bad record becomes a dead letter carrying the original bytes and reason."""
    try:
        if raw is None:
            raise DecodeError("empty value (a tombstone): pcfx topics take no deletes by tombstone")
        return Admission(model=decode_model(cls, raw))
    except Exception as error:  # noqa: BLE001  (a bug must not lose the record either: it is dead-lettered too)
        return Admission(dead_letter=dead_letter(raw, origin, error, stage=stage, now_ms=now_ms), error=error)


def dead_letter(raw: bytes | None, origin: Origin, error: Exception, *, stage: str, now_ms: int) -> DeadLetter:
    """The record whole, where it was read, and why ``stage`` could not use it."""
    return DeadLetter(
        original_bytes=raw or b"",
        source_topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        key=origin.key,
        error=f"{origin.topic}[{origin.partition}]@{origin.offset}: {error}",
        error_type=type(error).__name__,
        failed_at=datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc),
        stage=stage,
    )
