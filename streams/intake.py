"""Admission of raw Kafka records: decode, validate, and either accept the model or build its dead letter.

Any failure, a bad record or a bug in pcfx, is dead-lettered: the agent never crashes on a record (a
crashed Faust agent would skip it), and ``errorType`` tells the two apart.

Pure: the agents hand in the bytes and where they came from, and send what comes back. Nothing is dropped:
every record ends as exactly one accepted model or one :class:`DeadLetter` naming the record and field.

A recipe whose content was accepted before (a re-import) can skip all of it: :class:`AcceptedRecipes`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Generic, TypeVar

from pcfx.schemas.base import ContractModel
from pcfx.schemas.models import DeadLetter, ProductRecipe
from pcfx.streams.codec import DecodeError, decode_model
from pcfx.streams.labels import outline_stem, stamped
from pcfx.streams.shards import stamp_of

M = TypeVar("M", bound=ContractModel)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: What :class:`AcceptedRecipes` keeps at most, counted as its outlines' and product ids' bytes: some 7,000
#: recipes of a dense input-output table's (224 input lines each), many more of a usual bill of materials.
ACCEPTED_BYTES = 64 * 2**20


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


@dataclass(frozen=True)
class Accepted:
    """An accepted recipe as forwarding it needs it: its product ids, content digest and outline."""

    product_ids: tuple[str, ...]
    content: int  # :func:`~pcfx.streams.shards.content_of`, for the router
    outline: bytes  # :func:`~pcfx.streams.labels.outline_bytes`, for the label router


class AcceptedRecipes:
    """The recipes this process has accepted, by content digest (the bytes but ``updated``,
    :func:`~pcfx.streams.shards.stamp_of`): a recipe sent again unchanged but for that time is accepted as
    it was, without decoding and validating it again.

    A re-import of a background database sends every recipe again, stamped with the import's time and
    mostly unchanged; validating each again cost the worker more than the rest of its work on them.
    Sound because validation depends on the bytes alone (no rule reads the clock or another record) and
    ``updated`` meets no rule but being a time, which :meth:`recall` checks by reading it as one.

    Per process, lost with it: a restarted worker validates in full until it meets a content again.
    Bounded by ``max_bytes`` (:data:`ACCEPTED_BYTES`), the least recently met content out first."""

    def __init__(self, max_bytes: int = ACCEPTED_BYTES) -> None:
        self.max_bytes = max_bytes
        self._known: OrderedDict[int, tuple[tuple[str, ...], bytes]] = OrderedDict()  # content -> ids, outline stem
        self._bytes = 0
        self._last: tuple[bytes, tuple[int, int]] | None = None  # the last record stamped, and its stamp

    def __len__(self) -> int:
        return len(self._known)

    def recall(self, raw: bytes) -> Accepted | None:
        """The recipe in ``raw`` as accepted before, with its own ``updated``; None when its content is new
        here, or ``raw`` is no recipe (then the full validation says why)."""
        try:
            content, updated_ms = self._stamp(raw)
            updated = EPOCH + timedelta(milliseconds=updated_ms)
        except (ValueError, OverflowError):  # DecodeError among them
            return None
        known = self._known.get(content)
        if known is None:
            return None
        self._known.move_to_end(content)
        product_ids, stem = known
        return Accepted(product_ids, content, stamped(stem, updated))

    def remember(self, raw: bytes, recipe: ProductRecipe) -> Accepted:
        """Keep ``recipe``, just validated from ``raw``, and return what forwarding it needs."""
        content, _ = self._stamp(raw)
        product_ids, stem = tuple(recipe.product_ids), outline_stem(recipe)
        if content not in self._known:
            self._known[content] = (product_ids, stem)
            self._bytes += _size(product_ids, stem)
            while self._bytes > self.max_bytes:
                ids, old = self._known.popitem(last=False)[1]
                self._bytes -= _size(ids, old)
        return Accepted(product_ids, content, stamped(stem, recipe.updated))

    def _stamp(self, raw: bytes) -> tuple[int, int]:
        """:func:`~pcfx.streams.shards.stamp_of`, made once for the record that :meth:`recall` did not know
        and :meth:`remember` then keeps."""
        if self._last is None or self._last[0] is not raw:
            self._last = (raw, stamp_of(raw))
        return self._last[1]


def _size(product_ids: tuple[str, ...], stem: bytes) -> int:
    return len(stem) + sum(len(p) for p in product_ids)
