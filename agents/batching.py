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

Install with ``faust.App(..., Stream=Stream)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import faust
from faust.types import EventT
from mode import Seconds, want_seconds
from mode.utils.aiter import aiter


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
        finally:
            self.enable_acks = acks
            self._processors.remove(collect)
