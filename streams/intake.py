"""Admission of raw Kafka records: decode, validate, and either accept the model or build its dead letter.

Any failure, a bad record or a bug in pcfx, is dead-lettered: the agent never crashes on a record (a
crashed Faust agent would skip it), and ``errorType`` tells the two apart.

Pure: the agents hand in the bytes and where they came from, and send what comes back. Nothing is dropped:
every record ends as exactly one accepted model or one :class:`DeadLetter` naming the record and field.

A recipe whose content was accepted before (a re-import) can skip all of it: :class:`AcceptedRecipes`.
The stages after validation in the same process take the model it made instead of decoding the recipe
again: :class:`RecentRecipes`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Generic, NamedTuple, TypeVar

from pcfx.schemas.base import ContractModel
from pcfx.schemas.models import DeadLetter, ProductRecipe
from pcfx.streams.codec import DecodeError, decode_model
from pcfx.streams.labels import outline_stem, stamped
from pcfx.streams.shards import Stamp, stamp_at, updated_start

M = TypeVar("M", bound=ContractModel)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: What :class:`AcceptedRecipes` keeps at most, counted as its outlines' and product ids' bytes: some 7,000
#: recipes of a dense input-output table's (224 input lines each), many more of a usual bill of materials.
ACCEPTED_BYTES = 64 * 2**20
#: Record keys whose last recipe's layout :class:`AcceptedRecipes` keeps (some 100 bytes each): where ``updated``
#: lay, so that the next recipe under the key is stamped without skipping its lines.
LAYOUTS = 200_000
#: What :class:`RecentRecipes` keeps at most, in input lines (a validated line costs some 650 bytes of
#: memory): a dense input-output table's import of 400 recipes and 85,000 lines fits whole.
RECENT_LINES = 150_000
#: How long :class:`RecentRecipes` keeps a recipe: the stages after validation read it within seconds.
RECENT_TTL_S = 120.0


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
    """An accepted recipe as forwarding it needs it: its product ids and content digest."""

    product_ids: tuple[str, ...]
    content: int  # :func:`~pcfx.streams.shards.content_of`, for the router
    updated_ms: int  # its ``updated`` time, for the router (which would otherwise find it in the bytes)


class AcceptedRecipes:
    """The recipes this process has accepted, by content digest (the bytes but ``updated``,
    :func:`~pcfx.streams.shards.stamp_of`): a recipe sent again unchanged but for that time is accepted as
    it was, without decoding and validating it again.

    A re-import of a background database sends every recipe again, stamped with the import's time and
    mostly unchanged; validating each again cost the worker more than the rest of its work on them.
    Sound because validation depends on the bytes alone (no rule reads the clock or another record) and
    ``updated`` meets no rule but being a time, which :meth:`recall` checks by reading it as one.

    Per process, lost with it: a restarted worker validates in full until it meets a content again.
    Bounded by ``max_bytes`` (:data:`ACCEPTED_BYTES`), the least recently met content out first.

    Finding ``updated`` means skipping every input line before it, the bulk of the cost for a dense recipe.
    Under a record key this process stamped before, ``updated`` lies where it lay then if the bytes before it
    are the same (a record reads the same up to any byte for the same bytes before it), which a digest of
    them tells: so a re-sent recipe is stamped at the cost of the one digest pass stamping takes anyway
    (:class:`Layout`; :func:`~pcfx.streams.shards.stamp_at` makes the digest of the bytes before on its way)."""

    def __init__(self, max_bytes: int = ACCEPTED_BYTES, max_layouts: int = LAYOUTS) -> None:
        self.max_bytes, self.max_layouts = max_bytes, max_layouts
        self._known: OrderedDict[int, tuple[tuple[str, ...], bytes]] = OrderedDict()  # content -> ids, outline stem
        self._bytes = 0
        self._layouts: OrderedDict[bytes, Layout] = OrderedDict()  # record key -> the last recipe stamped under it
        self._last: tuple[bytes, tuple[int, int]] | None = None  # the last record stamped, and its stamp

    def __len__(self) -> int:
        return len(self._known)

    def recall(self, raw: bytes, key: bytes | None = None) -> Accepted | None:
        """The recipe in ``raw`` (sent under ``key``) as accepted before, with its own ``updated``; None when
        its content is new here, or ``raw`` is no recipe (then the full validation says why)."""
        try:
            content, updated_ms = self._stamp(raw, key)
            from_millis(updated_ms)  # a time, or no recipe validation would accept
        except (ValueError, OverflowError):  # DecodeError among them
            return None
        known = self._known.get(content)
        if known is None:
            return None
        self._known.move_to_end(content)
        return Accepted(known[0], content, updated_ms)

    def remember(self, raw: bytes, recipe: ProductRecipe) -> Accepted:
        """Keep ``recipe``, just validated from ``raw``, and return what forwarding it needs."""
        content, updated_ms = self._stamp(raw)
        product_ids, stem = tuple(recipe.product_ids), outline_stem(recipe)
        if content not in self._known:
            self._known[content] = (product_ids, stem)
            self._bytes += _size(product_ids, stem)
            while self._bytes > self.max_bytes:
                ids, old = self._known.popitem(last=False)[1]
                self._bytes -= _size(ids, old)
        return Accepted(product_ids, content, updated_ms)

    def outline(self, content: int | None, updated_ms: int | None) -> bytes | None:
        """The label router's outline (:func:`~pcfx.streams.labels.outline_bytes`) of the recipe of that content,
        updated at ``updated_ms``, made from what was kept when it was accepted; None when it is not known here."""
        known = None if content is None or updated_ms is None else self._known.get(content)
        return None if known is None else stamped(known[1], from_millis(updated_ms))

    def _stamp(self, raw: bytes, key: bytes | None = None) -> tuple[int, int]:
        """:func:`~pcfx.streams.shards.stamp_of`, made once for the record that :meth:`recall` did not know
        and :meth:`remember` then keeps; where a recipe under ``key`` had ``updated`` before, tried there first."""
        if self._last is None or self._last[0] is not raw:
            layout = None if key is None else self._layouts.get(key)
            stamp = layout.stamp(raw) if layout is not None else None
            if stamp is None:
                stamp = stamp_at(raw, updated_start(raw))
                if key is not None:
                    self._layouts[key] = Layout(stamp.start, stamp.before)
            if key is not None:
                self._layouts.move_to_end(key)
                if len(self._layouts) > self.max_layouts:
                    self._layouts.popitem(last=False)
            self._last = (raw, (stamp.content, stamp.updated_ms))
        return self._last[1]


class Layout(NamedTuple):
    """Where ``updated`` lay in the last recipe stamped under a record key, and a digest of the bytes before it."""

    start: int
    before: bytes  # Stamp.before of that recipe

    def stamp(self, raw: bytes) -> Stamp | None:
        """The stamp of ``raw`` if its bytes before ``start`` are those of the recipe this layout was taken
        from (then ``updated`` starts there too); None otherwise, or when no long is written there."""
        if len(raw) <= self.start:
            return None
        try:
            stamp = stamp_at(raw, self.start)
        except DecodeError:
            return None
        return stamp if stamp.before == self.before else None


def _size(product_ids: tuple[str, ...], stem: bytes) -> int:
    return len(stem) + sum(len(p) for p in product_ids)


class RecentRecipes:
    """Recipes this process validated lately, by content digest: the router, which needs a changed
    recipe's input ids, and the recompute, which needs its model, take them here instead of decoding and
    validating the bytes again (in a dense import that was a third of the worker's CPU).

    A hand-off, not a store: an entry leaves after ``ttl_s``, and a full memo keeps no new entry rather
    than drop an old one, since the later stages read recipes in the order validation kept them (dropping
    the oldest would make an import larger than the memo miss on every recipe). A miss costs a decode.
    Sound for the reason :class:`AcceptedRecipes` is; the model a reader gets carries the ``updated`` of
    the bytes it asked about. Models handed out are shared: readers must not change them.
    """

    def __init__(self, max_lines: int = RECENT_LINES, ttl_s: float = RECENT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_lines, self.ttl_s, self._clock = max_lines, ttl_s, clock
        self._kept: OrderedDict[int, tuple[ProductRecipe, int, float]] = OrderedDict()  # content -> model, lines, kept at
        self._lines = 0

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, content: int, recipe: ProductRecipe) -> None:
        """Hold ``recipe``, just validated, under its content digest, if there is room."""
        now = self._clock()
        while self._kept and next(iter(self._kept.values()))[2] <= now - self.ttl_s:
            self._lines -= self._kept.popitem(last=False)[1][1]
        lines = len(recipe.inputs) + 1
        if content in self._kept or self._lines + lines > self.max_lines:
            return
        self._kept[content] = (recipe, lines, now)
        self._lines += lines

    def recipe(self, content: int | None, updated_ms: int | None) -> ProductRecipe | None:
        """The recipe of that content, updated at ``updated_ms``; None when not held (or not asked right)."""
        entry = None if content is None or updated_ms is None else self._kept.get(content)
        if entry is None:
            return None
        recipe = entry[0]
        if millis(recipe.updated) != updated_ms:
            recipe = recipe.model_copy(update={"updated": from_millis(updated_ms)})
        return recipe


def millis(moment: datetime) -> int:
    """A UTC time as whole ms since the epoch, as Avro's timestamp-millis holds it."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_millis(ms: int) -> datetime:
    """The UTC time of whole ms since the epoch (:func:`millis` back)."""
    return EPOCH + timedelta(milliseconds=ms)
