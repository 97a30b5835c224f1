"""Batch marks: one bulk change (an import, a multi-record publish) reaches the engine as one change.

A producer stamps every record of a bulk change with a :class:`Mark` in the ``pcfx-batch`` header: the
batch's id, the index of the record's first ``graph-updates`` record, how many it makes (one per product
id it names) and how many the whole batch makes. The validating agents give each ``graph-updates`` record
it makes its own one-record mark (a rejected record still makes as many, as empty *void* records, so the
batch stays countable). The router holds a batch's records (:class:`HeldBatches`, mirrored in a table so a
crash loses none) until every index arrived, then applies them in one micro-batch: each product gets one
new version, never a state in between.

A producer may send a batch's records as it validates them, so that the worker starts before the last is
ready. If a later one then fails, the producer sends a *cancel* record (header ``pcfx-batch-cancel``: the
batch id) instead of the rest: the router drops what it holds of the batch and every record of it that
arrives later. Such a batch can never have been applied, since its failed record was never sent; a cancel
that comes after its batch was applied (a producer that gave up on an acknowledgement Kafka had in fact
written) changes nothing.

Pure: no Kafka, no Faust. The agent hands in what arrived and commits what comes back once Kafka has it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

BATCH_HEADER = "pcfx-batch"
CANCEL_HEADER = "pcfx-batch-cancel"  # on a void record: the id of a batch its producer will not complete
VOID = "void"  # graph-updates key prefix of the stand-in for a rejected record of a batch: void:<batch id>
T = TypeVar("T")


@dataclass(frozen=True)
class Mark:
    """Where a record sits in its batch: indexes ``first .. first + count - 1`` of ``total``."""

    batch_id: str
    first: int
    count: int
    total: int

    def text(self) -> str:
        return f"{self.batch_id}/{self.first}/{self.count}/{self.total}"

    def part(self, k: int) -> Mark:
        """The mark of the ``k``-th ``graph-updates`` record this record makes."""
        return Mark(self.batch_id, self.first + k, 1, self.total)


@dataclass(frozen=True)
class Cancel:
    """A producer's word that batch ``batch_id`` stops here: what arrived of it must leave no trace."""

    batch_id: str


def parse_mark(text: str | None) -> Mark | None:
    """The mark in a header value; None for no header or one that is not a mark (the record then counts as
    a change of its own, as from a producer that marks nothing)."""
    if not text:
        return None
    parts = text.split("/")
    if len(parts) != 4 or not parts[0]:
        return None
    try:
        first, count, total = (int(p) for p in parts[1:])
    except ValueError:
        return None
    if first < 0 or count < 1 or first + count > total:
        return None
    return Mark(parts[0], first, count, total)


def marks_for(counts: Sequence[int], batch_id: str | None = None) -> list[Mark]:
    """The marks of a batch whose records make ``counts[i]`` ``graph-updates`` records each."""
    batch_id = batch_id or uuid.uuid4().hex
    total, marks, first = sum(counts), [], 0
    for count in counts:
        marks.append(Mark(batch_id, first, count, total))
        first += count
    return marks


@dataclass
class Taken(Generic[T]):
    """What a micro-batch does with held batches: items to apply now (in order), items to hold, held
    indexes to drop, batches that completed (to remember as done) and batches cancelled (to remember too)."""

    ready: list[T] = field(default_factory=list)
    hold: dict[tuple[str, int], T] = field(default_factory=dict)
    release: list[tuple[str, int]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # batch id -> its total, for the held ones
    cancelled: list[str] = field(default_factory=list)


class HeldBatches(Generic[T]):
    """The records of incomplete batches, by batch id and index, and the ids of batches already applied or
    cancelled."""

    def __init__(self) -> None:
        self._held: dict[str, dict[int, T]] = {}
        self._totals: dict[str, int] = {}
        self._done: set[str] = set()
        self._cancelled: set[str] = set()

    def load(self, batch_id: str, index: int, total: int, item: T) -> None:
        self._held.setdefault(batch_id, {})[index] = item
        self._totals[batch_id] = total

    def load_done(self, batch_id: str) -> None:
        self._done.add(batch_id)

    def load_cancelled(self, batch_id: str) -> None:
        self._cancelled.add(batch_id)

    def held(self) -> int:
        return sum(len(items) for items in self._held.values())

    def complete(self) -> list[str]:
        """Batches held whole (a crash between holding their last record and applying them)."""
        return [b for b, items in self._held.items() if len(items) >= self._totals[b]]

    def take(self, arrivals: Sequence[tuple[Mark | Cancel | None, T]], due: Sequence[str] = ()) -> Taken[T]:
        """Sort a micro-batch's arrivals; changes nothing here (see :meth:`commit`).

        An unmarked record, or one of a batch already applied (a replay), is ready at once. A marked one is
        held; the arrival that completes its batch makes the whole batch ready there, in index order. A
        cancel drops what is held of its batch (unless the batch was applied already), and a record of a
        cancelled batch is dropped. ``due`` names batches already complete before this micro-batch.
        """
        taken: Taken[T] = Taken()
        seen: dict[str, dict[int, T]] = {}
        new: dict[str, int] = {}  # per batch: indices seen here that were not held before (counted, not re-unioned)

        def applied(batch_id: str) -> bool:
            return batch_id in self._done or batch_id in taken.done

        def cancelled(batch_id: str) -> bool:
            return batch_id in self._cancelled or batch_id in taken.cancelled

        def unhold(batch_id: str) -> dict[int, T]:
            """Everything held of the batch, here or before, let go; returns it by index."""
            items = {**self._held.get(batch_id, {}), **seen.pop(batch_id, {})}
            new.pop(batch_id, None)
            taken.release.extend((batch_id, i) for i in sorted(self._held.get(batch_id, {})))
            for key in [k for k in taken.hold if k[0] == batch_id]:
                del taken.hold[key]
            return items

        def cancel(batch_id: str) -> None:
            unhold(batch_id)
            taken.cancelled.append(batch_id)

        def release(batch_id: str) -> None:
            items = unhold(batch_id)
            taken.ready.extend(items[i] for i in sorted(items))
            taken.done.append(batch_id)

        for batch_id in due:
            release(batch_id)
        for mark, item in arrivals:
            if isinstance(mark, Cancel):
                if not applied(mark.batch_id) and not cancelled(mark.batch_id):
                    cancel(mark.batch_id)
                continue
            if mark is None or applied(mark.batch_id):
                taken.ready.append(item)
                continue
            if cancelled(mark.batch_id):
                continue
            batch, held = seen.setdefault(mark.batch_id, {}), self._held.get(mark.batch_id, {})
            if mark.first not in batch and mark.first not in held:
                new[mark.batch_id] = new.get(mark.batch_id, 0) + 1
            batch[mark.first] = item
            taken.totals[mark.batch_id] = mark.total
            taken.hold[(mark.batch_id, mark.first)] = item
            if len(held) + new.get(mark.batch_id, 0) >= mark.total:  # every index here at last
                release(mark.batch_id)
        return taken

    def commit(self, taken: Taken[T]) -> None:
        """Record what :meth:`take` returned, once the tables hold it."""
        for (batch_id, index), item in taken.hold.items():
            self.load(batch_id, index, taken.totals[batch_id], item)
        for batch_id in (*taken.done, *taken.cancelled):
            self._held.pop(batch_id, None)
            self._totals.pop(batch_id, None)
        self._done.update(taken.done)
        self._cancelled.update(taken.cancelled)
