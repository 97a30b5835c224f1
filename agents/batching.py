"""Faust's stream with one change: a micro-batch waits for its first record without a timer.

faust-streaming 0.15.3's ``Stream.take_events(max_, within)`` waits for a full buffer with a timeout of
``within`` and starts over when the timeout ends with nothing buffered. With ``PCFX_BATCH_WITHIN_S`` at
20 ms, each batching agent of an idle worker woke 50 times a second, each wake-up a handful of asyncio tasks;
together, 5 % of a core per idle worker, and as much again for every worker added to a group (the
scale-out benchmark measures summed worker CPU). Here an empty buffer waits for its first record, then
gives the batch ``within`` seconds to fill, as before.

Everything else is as Faust does it: the stream's own acknowledgements are off while batching, the
records of a batch are acknowledged when the agent hands the batch back (also when it raised), and no
record enters the buffer while a batch is out, so a batch never holds more than ``max_`` records.

A worker that goes quiet commits at once (:class:`QuietCommit`): Faust commits every
``broker_commit_interval`` (0.5 s), so the last batch of a change waited 0.25 s on average, with nothing
left to do, before ``pcfx footprints --settle`` (which waits for the commits) could see it done.

Install with ``faust.App(..., Stream=Stream)``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

import faust
from faust.types import EventT
from mode import Seconds, want_seconds
from mode.utils.aiter import aiter

log = logging.getLogger(__name__)
QUIET_S = 0.02  # no batch handed back for this long: the worker is quiet, commit what it acknowledged


class QuietCommit:
    """Commits the consumer's acknowledged offsets once no batch has come back for :data:`QUIET_S`.

    Each batch handed back pushes the commit further off, so a busy worker commits on Faust's timer alone
    and a quiet one commits once, right after its last batch. The commit is Faust's own (the offsets of
    acknowledged records, whose outputs are on Kafka: agents/outbox.py), only earlier; one already under way
    is not doubled, the quiet commit is tried again after it."""

    def __init__(self, app: faust.App, quiet_s: float = QUIET_S) -> None:
        self.app, self.quiet_s = app, quiet_s
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task | None = None

    def batch_back(self) -> None:
        """A batch was handed back and acknowledged: commit if nothing else comes back within ``quiet_s``."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.quiet_s, self._quiet)

    def _quiet(self) -> None:
        self._timer = None
        consumer = self.app._consumer  # None in Faust's test contexts: nothing to commit to
        if consumer is None or self.app.rebalancing or consumer.should_stop:
            return
        if getattr(consumer, "_commit_fut", None) is not None or (self._task is not None and not self._task.done()):
            self.batch_back()  # a commit is under way and may not cover the latest acknowledgements
            return
        self._task = asyncio.ensure_future(self._commit(consumer))

    async def _commit(self, consumer: Any) -> None:
        try:
            await consumer.commit()
        except Exception as error:  # noqa: BLE001  (Faust's timer commits the same offsets a moment later)
            log.warning("commit after the last batch failed (%r); the periodic commit will take it", error)


_QUIET: weakref.WeakKeyDictionary[faust.App, QuietCommit] = weakref.WeakKeyDictionary()


def quiet_commit(app: faust.App) -> QuietCommit:
    """The app's one :class:`QuietCommit`."""
    found = _QUIET.get(app)
    if found is None:
        found = _QUIET[app] = QuietCommit(app)
    return found


class Stream(faust.Stream):
    """A Faust stream whose :meth:`take_events` sleeps while there is nothing to batch."""

    def take_events(self, max_: int, within: Seconds) -> AsyncIterator[Sequence[EventT]]:
        batches = self._batches(max_, want_seconds(within))
        self._active_agens.add(batches)  # closed by the stream when it stops, as Faust's own are
        return batches

    async def _batches(self, max_: int, within: float) -> AsyncIterator[Sequence[EventT]]:
        events: list[EventT] = []
        started = asyncio.Event()  # the buffer holds a record
        full = asyncio.Event()  # the buffer holds max_ records
        back = asyncio.Event()  # the last batch handed out came back
        back.set()

        async def collect(value: Any) -> Any:
            """Runs for each record the stream reads: buffer it, and hold the reading while a batch is out.
            Nothing awaits between finding no batch out and buffering the record: a record buffered while a
            batch is out would be cleared with that batch, unhandled."""
            try:
                while not back.is_set():  # checked again after each wait: the batch may have gone out meanwhile
                    await self.wait(back)
                    if self.should_stop:
                        return value  # not buffered, not acknowledged: read again after the restart
                event = self.current_event
                if event is None:
                    raise RuntimeError("a record reached the batch buffer without its event")
                events.append(event)
                started.set()
                if len(events) >= max_:
                    full.set()
                    back.clear()  # the next record waits until this batch has been handled
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001  (as Faust does: the stream crashes, loudly)
                self.log.exception("batch buffer failed: %r", error)
                await self.crash(error)
            return value

        acks = self.enable_acks
        self.enable_acks = False  # this generator acknowledges each batch once it is handled
        self.add_processor(collect)
        self._enable_passive(aiter(self.channel))
        try:
            while not self.should_stop:
                if not events:
                    await self.wait_for_stopped(started)
                # mode's wait reports a timeout as "stopped": whether to go on is the stream's to say
                await self.wait_for_stopped(full, timeout=within)
                if not events:
                    continue
                back.clear()
                batch = list(events)
                try:
                    yield batch
                finally:
                    events.clear()
                    for event in batch:
                        await self.ack(event)
                    started.clear()
                    full.clear()
                    back.set()
                    quiet_commit(self.app).batch_back()
        finally:
            self.enable_acks = acks
            self._processors.remove(collect)
