"""The router: turns ``graph-updates`` into steps, one plan per shard concerned, on ``recompute-steps``.

It reads the single ``graph-updates`` partition, holds the records of bulk changes until each is whole
(:mod:`pcfx.streams.batches`), drops records identical to those in force, and hands each step to
:meth:`pcfx.streams.shards.Shape.plan`: which shard takes which update, which products move, who sends whom
a result. It decodes a recipe only as far as its input product ids; it solves nothing. Each recipe a step
takes also goes to ``label-sources``, as the outline the label router needs (:func:`~pcfx.streams.labels.outline_bytes`):
the label router hears of exactly the recipes the engine takes, never of one of a batch that was cancelled
or of one identical to the recipe in force.

Tables (on the ``graph-updates`` partition, changelog-backed):
- ``product_to_shape``: product id -> :class:`~pcfx.streams.shards.ShapeEntry` (inputs, owner, digests).
- ``router_progress``: ``step`` -> the last step, the graph-updates offsets it covers, and whether its plans
  may be only partly sent (``open``).
- ``batch_to_held``: records of bulk changes not yet whole, as before the split, and the ids of batches
  applied (``done``) or cancelled by their producer (``cancelled``); ``replay/<offset>`` while a step is
  being re-planned (below).

Exactly once: a step's plans must reach the shards once and the same, or not at all. So before sending
them the router writes the step's offsets as ``open``; after Kafka acknowledged every plan it writes the
shape and closes the step. A router that dies in between re-plans the same offsets after a restart, from
the same shape, into the same plans (every choice in ``Shape.plan`` is sorted), and the shards take the
repeated parts as the duplicates they are; the label router likewise takes an outline sent again as the
same version (nothing changes). Records of the open step that arrive in a micro-batch that ends
before the step's last offset are kept in ``batch_to_held`` until the rest arrives.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP, EventT

from pcfx.agents.app import Wiring, aiokafka_producer
from pcfx.agents.outbox import Outbox, until_done
from pcfx.agents.records import (
    CONTENT_HEADER,
    UPDATED_HEADER,
    batch_mark,
    header,
    origin_of,
    processing,
    published_header,
    published_ms,
    send_dead_letter,
)
from pcfx.agents.state import StagedWrites
from pcfx.schemas.models import ProductRecipe
from pcfx.streams.batches import CANCEL_HEADER, VOID, Cancel, HeldBatches, Mark, Taken, parse_mark
from pcfx.streams.codec import codec_for
from pcfx.streams.intake import Origin, RecentRecipes
from pcfx.streams.keys import RECIPE, split_key
from pcfx.streams.labels import outline_bytes, outline_of_record
from pcfx.streams.shards import PLAN, Incoming, Shape, ShapeEntry, content_of, plan_records, updated_of

log = logging.getLogger(__name__)
STAGE = "route_updates"
SHARD_HEADER = "pcfx-shard"  # what a recompute-steps record is: plan, handover or boundary
STEP_HEADER = "pcfx-step"
REPLAY_HEADER = "pcfx-replay"  # set by the expiry timer on a record it sends again to withdraw it
REPLAY_PREFIX = "replay/"
CANCELLED = b"cancelled"  # batch_to_held: a batch its producer cancelled (b"done": one applied)


@dataclass(frozen=True)
class Arrival:
    """A ``graph-updates`` record as it arrived: what the router and a held batch keep of it."""

    key: str
    raw: bytes
    published: int
    origin: Origin
    replay: bool = False
    mark: Mark | None = None
    content: int | None = None  # a recipe's content digest, from the header validate_recipes set
    updated_ms: int | None = None  # a recipe's `updated` time, from the header validate_recipes set
    cancel: Cancel | None = None  # on a void record: the batch its producer cancelled

    @property
    def void(self) -> bool:
        return self.key.startswith(VOID + ":")


def arrival_of(event: EventT) -> Arrival:
    content, updated, cancel = (header(event, name) for name in (CONTENT_HEADER, UPDATED_HEADER, CANCEL_HEADER))
    return Arrival(event.message.key.decode(), event.message.value or b"", published_ms(event), origin_of(event),
                   header(event, REPLAY_HEADER) is not None, batch_mark(event), None if content is None else int(content),
                   None if updated is None else int(updated), None if not cancel else Cancel(cancel))


def arrival_bytes(arrival: Arrival, total: int = 0) -> bytes:
    """A held record as the table keeps it: a JSON line of where it came from, then its bytes."""
    o = arrival.origin
    meta = {"key": arrival.key, "published": arrival.published, "total": total, "topic": o.topic, "replay": arrival.replay,
            "partition": o.partition, "offset": o.offset, "timestamp": o.timestamp_ms,
            "mark": None if arrival.mark is None else arrival.mark.text(), "content": arrival.content,
            "updated": arrival.updated_ms, "cancel": None if arrival.cancel is None else arrival.cancel.batch_id}
    return json.dumps(meta).encode() + b"\n" + arrival.raw


def arrival_from(value: bytes) -> tuple[Arrival, int]:
    line, _, raw = value.partition(b"\n")
    meta = json.loads(line)
    origin = Origin(meta["topic"], meta["partition"], meta["offset"], meta["key"].encode(), meta["timestamp"])
    return Arrival(meta["key"], raw, meta["published"], origin, meta.get("replay", False), parse_mark(meta.get("mark")),
                   meta.get("content"), meta.get("updated"), Cancel(meta["cancel"]) if meta.get("cancel") else None), meta["total"]


def content_digest(arrival: Arrival) -> int:
    """What tells a record from the one in force: for a recipe, everything but its ``updated`` time (an
    import stamps every recipe with its own time, and the same files imported again change nothing), as
    :func:`~pcfx.streams.shards.content_of` gives it: the digest ``validate_recipes`` sent, else (a record
    sent by an older pcfx, without it) made here from the bytes."""
    if split_key(arrival.key)[0] != RECIPE:
        return zlib.crc32(arrival.raw)
    if arrival.content is not None:
        return arrival.content
    return content_of(arrival.raw)


def read_recipe(arrival: Arrival, digest: int, recent: RecentRecipes) -> tuple[int, ProductRecipe | dict[str, Any]]:
    """A recipe record's ``updated`` time and the recipe: the model ``validate_recipes`` made in this process if
    it is still in ``recent``, else the decoded Avro record (validated upstream: read, not validated again).
    The time comes from the header ``validate_recipes`` set, else from the bytes (a record of an older pcfx)."""
    updated_ms = updated_of(arrival.raw) if arrival.updated_ms is None else arrival.updated_ms
    recipe = recent.recipe(digest, updated_ms)
    return updated_ms, codec_for(ProductRecipe.avro_name).decode(arrival.raw) if recipe is None else recipe


def incoming_of(arrival: Arrival, digest: int, recent: RecentRecipes,
                read: tuple[int, ProductRecipe | dict[str, Any]] | None = None) -> Incoming:
    """What the router needs of a record: for a recipe, its input product ids and ``updated`` time, from what
    :func:`read_recipe` read (``read``, if the caller read it already)."""
    o = arrival.origin
    origin = (o.topic, o.partition, o.offset, o.timestamp_ms)
    if split_key(arrival.key)[0] != RECIPE:
        return Incoming(arrival.key, arrival.raw, arrival.published, origin, replay=arrival.replay, content=digest)
    updated_ms, recipe = read or read_recipe(arrival, digest, recent)
    if isinstance(recipe, ProductRecipe):
        inputs = tuple(line.product_id for line in recipe.inputs)
    else:
        inputs = tuple(line["productId"] for line in recipe["inputs"])
    return Incoming(arrival.key, arrival.raw, arrival.published, origin, inputs, updated_ms, arrival.replay, digest)


class Router:
    """The router's state: the shape, the held batches, and where the steps are."""

    def __init__(self, wiring: Wiring) -> None:
        self.app, self.metrics, self.settings = wiring.app, wiring.metrics, wiring.settings
        self.shapes, self.progress, self.held = (wiring.tables[n] for n in ("product_to_shape", "router_progress", "batch_to_held"))
        self.dead_letters = wiring.topics["dlq.graph-updates"]
        self.recent, self.accepted = wiring.recent_recipes, wiring.accepted_recipes
        self.steps_topic, self.label_sources = wiring.settings.topic("recompute-steps"), wiring.settings.topic("label-sources")
        self.prefix = wiring.settings.topic_prefix
        self._shape: Shape | None = None
        self._batches: HeldBatches[Arrival] = HeldBatches()
        self._due: list[str] = []
        self._step = {"step": 0, "from": -1, "through": -1, "open": False}
        self._replay: dict[int, Arrival] = {}  # offset -> record of the open step, held until it is whole

    def forget(self) -> None:
        self._shape = None

    def _current(self) -> Shape:
        if self._shape is None:
            shape = Shape(self.settings.partitions)
            for key, value in self.shapes.items():
                if value is not None:
                    shape.load(key, ShapeEntry.from_bytes(value))
            raw = self.progress.get("step")
            self._step = json.loads(raw) if raw else {"step": 0, "from": -1, "through": -1, "open": False}
            self._load_held()
            self._shape = shape
            log.info("router: shape of %d products loaded, at step %d", len(shape.entries), self._step["step"])
        return self._shape

    def _load_held(self) -> None:
        self._batches, self._replay = HeldBatches(), {}
        for key, value in self.held.items():
            if value is None:
                continue
            if key.startswith(REPLAY_PREFIX):
                self._replay[int(key[len(REPLAY_PREFIX):])] = arrival_from(value)[0]
                continue
            batch_id, _, index = key.partition("/")
            if not index:
                (self._batches.load_cancelled if value == CANCELLED else self._batches.load_done)(batch_id)
                continue
            arrival, total = arrival_from(value)
            self._batches.load(batch_id, int(index), total, arrival)
        self._due = self._batches.complete()

    async def process(self, events: Sequence[EventT]) -> None:
        shape = self._current()
        arrivals = sorted((arrival_of(e) for e in events), key=lambda a: a.origin.offset)
        fresh = [a for a in arrivals if a.origin.offset > self._step["through"]]
        staged = StagedWrites()
        event = events[-1]
        if self._step["open"]:  # a step planned before a restart: plan the very same records again
            end = self._step["through"]
            redone = {a.origin.offset: a for a in arrivals if self._step["from"] <= a.origin.offset <= end}
            self._replay.update(redone)
            if max(self._replay, default=-1) < end:
                for offset, arrival in redone.items():
                    staged.put(self.held, f"{REPLAY_PREFIX}{offset}", arrival_bytes(arrival), event)
                await staged.commit(self._outbox())
                return
            replayed = [self._replay[o] for o in sorted(self._replay)]
            await self._step_over(shape, replayed, self._step["step"], event, reopen=False)
            fresh = [a for a in fresh if a.origin.offset > end]
        if fresh:
            await self._step_over(shape, fresh, self._step["step"] + 1, event, reopen=True)

    async def _step_over(self, shape: Shape, arrivals: Sequence[Arrival], step: int, event: EventT, *, reopen: bool) -> None:
        """Plan the arrivals as step ``step``, send the plans, then write what the step changed."""
        started = time.perf_counter()
        first, last = arrivals[0].origin.offset, arrivals[-1].origin.offset
        taken = self._batches.take([(a.cancel or a.mark, a) for a in arrivals], self._due)
        incoming, outlines, seen = [], [], set()
        for arrival in taken.ready:
            if arrival.void:
                continue
            try:
                digest = content_digest(arrival)
                kind, product = split_key(arrival.key)
                if not arrival.replay and arrival.key not in seen and shape.in_force(kind, product, digest):
                    continue  # the record in force again: nothing to decode, nothing to route
                seen.add(arrival.key)
                read = read_recipe(arrival, digest, self.recent) if kind == RECIPE else None
                item = incoming_of(arrival, digest, self.recent, read)
                outline = None if read is None else self._outline(item, read[1])
            except Exception as error:  # noqa: BLE001  (a record it cannot read must not cost the others)
                await send_dead_letter(self.dead_letters, self.metrics, "graph-updates", arrival.raw, arrival.origin, error, STAGE)
                continue
            incoming.append(item)
            if outline is not None:
                outlines.append((item, outline))
        plans, changed = shape.plan(step, incoming)
        outbox = self._outbox()
        if plans and reopen:  # write-ahead: these offsets make this step, whatever happens next
            self._step = {"step": step, "from": first, "through": last, "open": True}
            ahead = StagedWrites()
            ahead.put(self.progress, "step", json.dumps(self._step).encode(), event)
            await ahead.commit(outbox)
        for partition, plan in plans.items():
            for record in plan_records(plan):
                headers = {SHARD_HEADER: PLAN.encode(), STEP_HEADER: str(step).encode()}
                await outbox.add(self.steps_topic, str(step).encode(), record, headers, partition=partition)
        for item, outline in outlines:  # the label router learns of a recipe as the engine takes it
            await outbox.add(self.label_sources, item.key.encode(), outline, published_header(item.published_ms))
        await outbox.flush()
        staged = StagedWrites()
        for product, entry in changed.items():
            staged.put(self.shapes, product, entry.to_bytes(), event)
        self._stage_held(staged, taken, event)
        for offset in self._replay:
            staged.put(self.held, f"{REPLAY_PREFIX}{offset}", None, event)
        self._step = {"step": step if plans else self._step["step"], "from": first, "through": last, "open": False}
        staged.put(self.progress, "step", json.dumps(self._step).encode(), event)
        await staged.commit(outbox)
        self._batches.commit(taken)
        self.metrics.batches_cancelled.inc(len(taken.cancelled))
        self._due = [b for b in self._due if b not in taken.done]
        self._replay = {}
        if plans:
            self.metrics.steps_routed.inc()
            log.debug("router: step %d, %d update(s) to %d shard(s) in %.3f s", step, len(incoming), len(plans),
                      time.perf_counter() - started)

    def _outline(self, item: Incoming, recipe: ProductRecipe | dict[str, Any]) -> bytes:
        """What the label router needs of a recipe the step takes: as validation kept it in this process, else
        made from the recipe as :func:`read_recipe` read it."""
        kept = self.accepted.outline(item.content, item.updated)
        if kept is not None:
            return kept
        return outline_bytes(recipe if isinstance(recipe, ProductRecipe) else outline_of_record(recipe))

    def _stage_held(self, staged: StagedWrites, taken: Taken[Arrival], event: EventT) -> None:
        for (batch_id, index), arrival in taken.hold.items():
            staged.put(self.held, f"{batch_id}/{index}", arrival_bytes(arrival, taken.totals[batch_id]), event)
        for batch_id, index in taken.release:
            staged.put(self.held, f"{batch_id}/{index}", None, event)
        for batch_id in taken.done:
            staged.put(self.held, batch_id, b"done", event)  # a replayed record of it then goes straight on
        for batch_id in taken.cancelled:
            staged.put(self.held, batch_id, CANCELLED, event)  # a late record of it is then dropped
            log.info("router: batch %s cancelled by its producer; %d record(s) of it dropped", batch_id,
                     sum(1 for b, _ in taken.release if b == batch_id))

    def _outbox(self) -> Outbox:
        return Outbox(aiokafka_producer(self.app), self.metrics, self.prefix)


def register(wiring: Wiring) -> None:
    """Declare ``route_updates`` on the wiring's app, and the hook that drops its shape on a rebalance."""
    app, settings = wiring.app, wiring.settings
    router = Router(wiring)
    graph_updates = settings.topic("graph-updates")

    @app.on_partitions_revoked.connect
    def forget_shape(_app: faust.App, revoked: set[TP], **_: object) -> None:
        if any(tp.topic == graph_updates for tp in revoked):
            router.forget()

    @app.agent(wiring.topics["graph-updates"], name=STAGE)
    async def route_updates(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            wiring.metrics.records_consumed.labels(topic="graph-updates").inc(len(events))

            async def process() -> None:
                with processing(events[-1]):
                    await router.process(events)

            await until_done(process, f"router: a batch of {len(events)}", on_failure=router.forget)
