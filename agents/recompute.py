"""The recompute shards: each solves the products of the components it owns and publishes their results:
footprints on ``derived`` (each new Active one also on ``label-inputs``, for its product's labels), statuses
on ``product-status``, requests for missing inputs on ``outbound-requests``, all through
:class:`~pcfx.agents.outbox.Outbox`.

A shard is a partition of ``recompute-steps``. The router (:mod:`pcfx.agents.route`) writes each shard the
plan of each step; the shards write each other the results the others' products use (boundaries) and the
records of products that move (handovers). :class:`~pcfx.streams.shards.StepProgress` says what a step still
waits for; the engine solves nothing downstream of a result still on its way, so each product is solved
once per step. docs/engine.md ("Shards") has the protocol and why no shard waits forever.

Tables (partitioned like ``recompute-steps``, changelog-backed; keys start with ``<partition>|`` because a
product may live on another partition later, and one worker may hold both):
- ``product_to_input``: ``leaf:<id>`` / ``recipe:<id>`` -> the supplier footprint or recipe in force;
  the shard's engine is rebuilt from it (and ``product_to_boundary``) when a worker gains the partition.
- ``product_to_published``: product id -> its Active derived footprint (to deprecate, and to skip
  re-publishing figures that did not change). The shard keeps what the step needs of each one
  (:class:`~pcfx.streams.derive.Published`) in memory, and likewise of each input (``InputSummaries``).
- ``product_to_request``: product id -> the request sent for it while it was missing.
- ``product_to_boundary``: product of another shard -> its latest result, as that shard sent it.
- ``shard_to_held``: plan parts, handovers and boundaries not yet applied (one arrives before its step).
- ``shard_to_progress``: ``done`` (the last step finished), ``started`` (the step whose plan is in the
  engine), ``gave`` (the step whose handovers went out).

A shard sends a round's records and waits for Kafka's acknowledgement before it writes its table entries
(:class:`~pcfx.agents.state.StagedWrites`). A crash in between leaves records sent but not recorded: the
rebuild sends them again under the same ids (derived ids are uuid5 of product and predecessor), boundaries
and handovers again under the same step (the receiver takes one per product and step), so nothing is lost
and nothing counts twice.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone

import faust
from faust.types import TP, EventT

from pcfx.agents.app import Wiring, aiokafka_producer
from pcfx.agents.outbox import Outbox, until_done
from pcfx.agents.records import (
    OFFER,
    header,
    label_input_headers,
    offer_input,
    processing,
    published_header,
    send_dead_letter,
)
from pcfx.agents.route import REPLAY_HEADER, SHARD_HEADER, STEP_HEADER
from pcfx.agents.state import StagedWrites
from pcfx.metrics import Stage
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.streams.codec import codec_for, decode_model, encode_model
from pcfx.streams.derive import Deprecation, Published, inputs_schema_url, leaf_of, product_urn, published_of, recipe_of, valid_until
from pcfx.streams.engine import Engine
from pcfx.streams.intake import Origin
from pcfx.streams.keys import LEAF, RECIPE, key_of, split_key
from pcfx.streams.recompute import InputSummaries, StepOutput, TableView, Update, recompute, restore, summary_in
from pcfx.streams.shards import (
    BOUNDARY,
    HANDOVER,
    PLAN,
    Boundary,
    Handover,
    Incoming,
    Plan,
    StepProgress,
    boundaries_of,
    boundary_record,
    boundary_records,
    plan_of,
    plan_part,
)

log = logging.getLogger(__name__)
STAGE = "recompute_products"
SHARD_TABLES = ("product_to_input", "product_to_published", "product_to_request", "product_to_boundary",
                "shard_to_held", "shard_to_progress")
HANDED = ("leaf", "recipe", "published", "requested")  # what a handover carries of a product


def decode_update(key: str, raw: bytes, published: int) -> Update:
    """A ``graph-updates`` record back into its model (it was validated on the way in)."""
    cls = ProductFootprint if split_key(key)[0] == LEAF else ProductRecipe
    return Update(key, decode_model(cls, raw), published)


def deprecated_bytes(active: bytes | None, pf_id: str) -> bytes:
    """The Deprecated copy of the encoded Active footprint ``pf_id`` (PACT v3 §7): its bytes with the status
    changed, so the copy is the very record that went out, and costs no decode or encode."""
    codec = codec_for(ProductFootprint.avro_name)
    if active is None or codec.string_field(active, "id") != pf_id:
        held = "no footprint" if active is None else "another footprint"
        raise LookupError(f"product_to_published holds {held} where {pf_id} should be deprecated")
    return codec.with_string_field(active, "status", "Deprecated")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ExpiryWatch:
    """When each supplier footprint in force stops being valid, earliest first, so that the worker's timer
    looks at one heap top instead of the inputs table: expiry is a matter of time, no record announces it.

    ``_ends`` is the truth (table key -> (end, pf id) of the footprint in force); the heap may hold entries of
    footprints replaced since, skipped when they come up and dropped when they outnumber the live ones."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str, str]] = []  # (validity end, table key, pf id)
        self._ends: dict[str, tuple[datetime, str]] = {}

    def watch(self, entries: Iterable[tuple[str, object]], now: datetime | None) -> None:
        """Note the footprints among ``(key, model)`` still valid at ``now`` (None: all of them); a key whose
        model is not a footprint (a recipe, a deletion) is no longer watched."""
        for key, model in entries:
            if not isinstance(model, ProductFootprint):
                self._ends.pop(key, None)
                continue
            end = valid_until(model)
            if now is not None and end <= now:  # withdrawn by the batch that brought it
                self._ends.pop(key, None)
                continue
            self._ends[key] = (end, model.id)
            heapq.heappush(self._heap, (end, key, model.id))
        if len(self._heap) > 2 * len(self._ends) + 1024:
            self._heap = [(end, key, pf_id) for key, (end, pf_id) in self._ends.items()]
            heapq.heapify(self._heap)

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(key, pf id) of every watched footprint whose validity ended by ``now``, each once."""
        found = []
        while self._heap and self._heap[0][0] <= now:
            end, key, pf_id = heapq.heappop(self._heap)
            if self._ends.get(key) == (end, pf_id):
                del self._ends[key]
                found.append((key, pf_id))
        return found

    def clear(self) -> None:
        self._heap.clear()
        self._ends.clear()




class _Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class AtPartition:
    """Stands for a record of a shard's partition where a table write has none to go by (the expiry timer
    rebuilding a shard after a restart): stores and changelogs ask an event only for its partition."""

    def __init__(self, partition: int) -> None:
        self.message = _Message(partition)


def _step_name(kind: str, step: int, rest: str) -> str:
    """A held record's name: kind, step (zero-padded, so names sort by step) and what tells it apart."""
    return f"{kind}|{step:012d}|{rest}"


class Shard:
    """One partition of the recompute: its engine, what it read of its tables, and the step it is in."""

    def __init__(self, wiring: Wiring, partition: int) -> None:
        self.partition = partition
        self.prefix = f"{partition}|"
        self.metrics, self.app = wiring.metrics, wiring.app
        (self.inputs, self.published, self.requested, self.boundaries, self.held_table,
         self.progress_table) = (wiring.tables[n] for n in SHARD_TABLES)
        self.dead_letters = wiring.topics["dlq.graph-updates"]
        self.recent = wiring.recent_recipes
        self.topic_names = {n: wiring.settings.topic(n) for n in
                            ("derived", "label-inputs", "product-status", "outbound-requests", "recompute-steps", "graph-updates")}
        self.topic_prefix = wiring.settings.topic_prefix
        self.inputs_schema_url = inputs_schema_url(wiring.settings.api_base_url())
        self.lock = asyncio.Lock()  # a micro-batch and the expiry timer never interleave
        self.expiries = ExpiryWatch()
        self.engine: Engine | None = None
        self.forget()

    def forget(self) -> None:
        """Drop the engine and what was read of the tables: they are the truth, the next batch rebuilds from them."""
        self.engine = None
        #: What ``product_to_published`` holds, as read or written by this shard; None where it holds nothing.
        #: The misses are kept too: most recipe lines name supplier footprints, which never have an entry, and
        #: a dense table's first import asked the table 87,000 times for nothing.
        self._published: dict[str, Published | None] = {}
        self._inputs_read = InputSummaries(self._input)
        self.external: dict[str, Boundary] = {}  # product of another shard -> its latest result
        self.expiries.clear()
        self.step: StepProgress | None = None
        self.held: dict[str, bytes] = {}
        self.marks = {"done": 0, "started": 0, "gave": 0}
        self._handed: dict[str, bytes] = {}  # Active footprints of products moving in, this round

    def key(self, name: str) -> str:
        return self.prefix + name

    # -- reading the tables ----------------------------------------------------------------------------

    def _input(self, key: str) -> ProductFootprint | ProductRecipe | None:
        raw = self.inputs.get(self.key(key))
        return None if raw is None else decode_update(key, raw, 0).model

    def _view(self) -> TableView:
        def summary(key: str):  # noqa: ANN202
            kind, product_id = split_key(key)
            boundary = self.external.get(product_id)
            if boundary is not None:
                return boundary.supplier if kind == LEAF else None
            return self._inputs_read.get(key)

        def published(product_id: str) -> Published | None:
            boundary = self.external.get(product_id)
            if boundary is not None:
                return boundary.footprint
            if product_id in self._published:
                return self._published[product_id]
            raw = self.published.get(self.key(product_id))
            known = self._published[product_id] = None if raw is None else published_of(decode_model(ProductFootprint, raw))
            return known

        return TableView(input=self._input, summary=summary, published=published,
                         requested=lambda product_id: self.key(product_id) in self.requested,
                         inputs_schema_url=self.inputs_schema_url)

    def _own(self, prefix: str, table: faust.types.TableT) -> Iterable[tuple[str, bytes]]:
        for key, value in table.items():
            if value is not None and key.startswith(prefix):
                yield key[len(prefix):], value

    # -- rebuilding --------------------------------------------------------------------------------------

    async def current(self, event: EventT) -> Engine:
        """The shard's engine, rebuilt from its tables when the worker starts or (re)gains the partition; a step
        that was in progress goes on where the tables say it was."""
        if self.engine is not None:
            return self.engine
        self.forget()
        engine = Engine()
        self.held = dict(self._own(self.prefix, self.held_table))
        for name, value in self._own(self.prefix, self.progress_table):
            self.marks[name] = int(value)
        self.external = {product: boundaries_of(raw)[0] for product, raw in self._own(self.prefix, self.boundaries)}
        entries = [decode_update(key, raw, 0) for key, raw in self._own(self.prefix, self.inputs)]
        self.step = self._next_plan()
        wait: set[str] = set()
        if self.step is not None and self.marks["started"] == self.step.plan.step:
            step = self.step
            step.started, step.taken = True, set(step.plan.takes)
            step.received = {p for p in step.plan.expects if p in self.external and self.external[p].step == step.plan.step}
            wait = step.waiting()
        out = restore(engine, entries, self._view(), utc_now(), outside=list(self.external.values()), wait=wait)
        log.info("recompute shard %d: engine rebuilt from %d inputs and %d results of other shards, %d footprint(s) "
                 "republished", self.partition, len(entries), len(self.external), len(out.published))
        self.engine = engine
        outbox = self._outbox()
        active = await self._send(out, outbox)
        self._written(out)  # (a failure from here on drops it all with the engine: until_done calls forget)
        if self.step is not None and self.step.started:
            await self._send_boundaries(self.step, out, outbox)
        await outbox.flush()  # what the tables will say was sent, Kafka has
        staged = self._stage_tables(out, active, event, StagedWrites())
        await staged.commit(outbox)
        self.expiries.watch(((u.key, u.model) for u in entries), None)  # the timer replays what expired meanwhile
        return engine

    def _next_plan(self) -> StepProgress | None:
        """The next step with every part of its plan here; None if the next one is not whole yet."""
        parts: dict[int, list[bytes]] = {}
        for name, raw in sorted(self.held.items()):
            kind, step, _ = name.split("|", 2)
            if kind == PLAN and int(step) > self.marks["done"]:
                parts.setdefault(int(step), []).append(raw)
        if not parts:
            return None
        first = min(parts)
        if len(parts[first]) < plan_part(parts[first][0]).parts:
            return None
        return StepProgress(plan_of(parts[first]))

    # -- a micro-batch -----------------------------------------------------------------------------------

    async def take(self, events: Sequence[EventT]) -> None:
        """Keep the arrivals (in the table too), then go as far through the steps as they allow."""
        event = events[-1]
        await self.current(event)
        staged = StagedWrites()
        for e in events:
            kind, step = header(e, SHARD_HEADER), int(header(e, STEP_HEADER) or 0)
            raw = e.message.value or b""
            if step <= self.marks["done"]:
                continue  # a record of a step this shard finished: sent again after a crash
            if kind == PLAN:
                name = _step_name(PLAN, step, str(plan_part(raw).part))
            elif kind == HANDOVER:
                name = _step_name(HANDOVER, step, Handover.from_bytes(raw).product_id)
            elif kind == BOUNDARY:
                name = _step_name(BOUNDARY, step, str(e.message.offset))
            else:
                log.error("recompute shard %d: a record without a %s header at offset %d, left out", self.partition,
                          SHARD_HEADER, e.message.offset)
                continue
            if name not in self.held:
                self.held[name] = raw
                staged.put(self.held_table, self.key(name), raw, event)
        await self.advance(staged, event)

    async def advance(self, staged: StagedWrites, event: EventT) -> None:
        """Run rounds while the arrivals allow: start the next step, apply results as they come, finish steps."""
        while True:
            if self.step is None:
                self.step = self._next_plan()
            step = self.step
            if step is None or not await self._round(step, staged, event):
                break
            staged = StagedWrites()
        if len(staged):
            await staged.commit(self._outbox())

    async def _round(self, step: StepProgress, staged: StagedWrites, event: EventT) -> bool:
        """One round of ``step``; True when the step finished (the next one may go on at once)."""
        number, plan, outbox = step.plan.step, step.plan, self._outbox()
        if not step.started and plan.gives and self.marks["gave"] < number:
            for product, target in sorted(plan.gives.items()):
                records = {name: self._record(name, product) for name in HANDED}
                handover = Handover(number, product, self.partition, records)
                await outbox.add(self.topic_names["recompute-steps"], product.encode(), handover.to_bytes(),
                                 self._headers(HANDOVER, number), partition=target)
            self._mark(staged, "gave", number, event)
        step.taken = {name.split("|", 2)[2] for name in self.held if name.startswith(_step_name(HANDOVER, number, ""))}
        if not step.started and step.missing_handovers():
            await outbox.flush()
            await staged.commit(outbox)
            return False
        started, updates, arriving = time.perf_counter(), [], []
        if not step.started:
            updates = self._takes(step, staged, event) + await self._updates(plan)
            # products now solved here whose result came from another shard until now: a move, or a first record
            arriving = sorted({u.product_id for u in updates if u.product_id in self.external} | set(plan.takes))
            for product in arriving:
                if self.external.pop(product, None) is not None:
                    staged.put(self.boundaries, self.key(product), None, event)
        outside = self._arrived(step, staged, event)
        engine = self.engine
        assert engine is not None
        if step.started and not outside:  # nothing new for this step; it may have been finished by a rebuild
            finished = step.done(engine.deferred)
            if finished:
                self._finish(number, staged, event)
                self.step = None
            await outbox.flush()
            await staged.commit(outbox)
            return finished
        solved = engine.stats.recipes_solved
        # every boundary of this step applied so far (this round's among them, the same objects as ``outside``)
        earlier = [self.external[p] for p in step.received if p in self.external]
        out = recompute(engine, updates, self._view(), utc_now(), outside=outside, earlier=earlier, wait=step.waiting(),
                        leaving=[] if step.started else sorted(plan.gives), arriving=arriving)
        if not step.started:
            self._leave(plan.gives, staged, event)
            step.started = True
            self._mark(staged, "started", number, event)
        active = await self._send(out, outbox)
        self._written(out)  # what the boundaries cite (a failure from here on drops it all: until_done calls forget)
        await self._send_boundaries(step, out, outbox)
        await outbox.flush()  # what the tables will say was sent, Kafka has
        finished = step.done(engine.deferred)
        self._stage_tables(out, active, event, staged)
        if finished:
            self._finish(number, staged, event)
        await staged.commit(outbox)
        self._handed.clear()
        self.expiries.watch(out.inputs.items(), utc_now())
        self.metrics.products_solved.inc(engine.stats.recipes_solved - solved)
        self.metrics.derived_footprints.inc(len(out.published))
        for upstream in out.upstream_ms.values():
            self.metrics.observe_end_to_end(Stage.DERIVED, upstream)
        if updates or outside:
            self.metrics.observe_recompute(len(updates) + len(outside), len(out.statuses), time.perf_counter() - started)
        if finished:
            self.step = None
        return finished

    def _record(self, name: str, product: str) -> bytes | None:
        """What a handover carries of ``product``: its table value, None where the shard holds nothing."""
        if name in ("leaf", "recipe"):
            return self.inputs.get(self.key(f"{name}:{product}"))
        table = self.published if name == "published" else self.requested
        return table.get(self.key(product))

    def _takes(self, step: StepProgress, staged: StagedWrites, event: EventT) -> list[Update]:
        """The records of the products moving in, as updates of this step (they come first: the plan's own
        updates of those products are newer); their published footprint and request go to the tables."""
        updates = []
        for product in sorted(step.plan.takes):
            handover = Handover.from_bytes(self.held[_step_name(HANDOVER, step.plan.step, product)])
            for kind in ("leaf", "recipe"):
                raw = handover.records.get(kind)
                if raw is not None:
                    updates.append(decode_update(f"{kind}:{product}", raw, 0))
            published = handover.records.get("published")
            if published is not None:
                staged.put(self.published, self.key(product), published, event)
                self._published[product] = published_of(decode_model(ProductFootprint, published))
                self._handed[product] = published  # what a Deprecated copy is made of until the table has it
            if handover.records.get("requested") is not None:
                staged.put(self.requested, self.key(product), handover.records["requested"], event)
        return updates

    async def _updates(self, plan: Plan) -> list[Update]:
        """The plan's updates as the step takes them; a record the engine cannot take goes to
        ``dlq.graph-updates`` with the reason, and the others go on."""
        updates = []
        for item in plan.updates:
            try:
                update = self._update(item)
                made = (leaf_of if isinstance(update.model, ProductFootprint) else recipe_of)(update.model, update.product_id)
                update = replace(update, raw=item.raw, item=made)  # the step writes the bytes and takes what was made
            except Exception as error:  # noqa: BLE001  (one bad record must not cost the step)
                topic, partition, offset, timestamp = item.origin
                origin = Origin(topic, partition, offset, item.key.encode(), timestamp)
                await send_dead_letter(self.dead_letters, self.metrics, "graph-updates", item.raw, origin, error, STAGE)
                continue
            updates.append(update)
        return updates

    def _update(self, item: Incoming) -> Update:
        """A planned update as the step takes it: a recipe this process validated lately is taken as
        ``validate_recipes`` made it (:class:`~pcfx.streams.intake.RecentRecipes`), anything else decoded."""
        recipe = self.recent.recipe(item.content, item.updated) if item.kind == RECIPE else None
        if recipe is not None:
            return Update(item.key, recipe, item.published_ms)
        return decode_update(item.key, item.raw, item.published_ms)

    def _arrived(self, step: StepProgress, staged: StagedWrites, event: EventT) -> list[Boundary]:
        """Results of this step from other shards not applied yet: recorded, and their held records dropped."""
        found: dict[str, Boundary] = {}
        for name in [n for n in self.held if n.startswith(_step_name(BOUNDARY, step.plan.step, ""))]:
            for boundary in boundaries_of(self.held.pop(name)):
                if boundary.product_id in step.plan.expects and boundary.product_id not in step.received:
                    found[boundary.product_id] = boundary
            staged.put(self.held_table, self.key(name), None, event)
        for product, boundary in found.items():
            step.received.add(product)
            self.external[product] = boundary
            staged.put(self.boundaries, self.key(product), boundary_record([boundary]), event)
        return [found[p] for p in sorted(found)]

    def _leave(self, gives: Iterable[str], staged: StagedWrites, event: EventT) -> None:
        """Forget the products that moved to another shard (their records went there in the handover)."""
        for product in gives:
            for key in (key_of(LEAF, product), key_of(RECIPE, product)):
                staged.put(self.inputs, self.key(key), None, event)
            staged.put(self.published, self.key(product), None, event)
            staged.put(self.requested, self.key(product), None, event)
            self._published.pop(product, None)
            self._inputs_read.forget([key_of(LEAF, product), key_of(RECIPE, product)])

    def _finish(self, number: int, staged: StagedWrites, event: EventT) -> None:
        for name in [n for n in self.held if n.split("|", 2)[1] == f"{number:012d}"]:
            del self.held[name]
            staged.put(self.held_table, self.key(name), None, event)
        self._mark(staged, "done", number, event)

    def _mark(self, staged: StagedWrites, name: str, number: int, event: EventT) -> None:
        self.marks[name] = number
        staged.put(self.progress_table, self.key(name), str(number).encode(), event)

    # -- sending ----------------------------------------------------------------------------------------

    def _outbox(self) -> Outbox:
        return Outbox(aiokafka_producer(self.app), self.metrics, self.topic_prefix)

    @staticmethod
    def _headers(kind: str, number: int) -> dict[str, bytes]:
        return {SHARD_HEADER: kind.encode(), STEP_HEADER: str(number).encode()}

    async def _send_boundaries(self, step: StepProgress, out: StepOutput, outbox: Outbox) -> None:
        """Send each own product other shards wait for, once it is final for this step."""
        engine = self.engine
        assert engine is not None
        ready = step.to_send(engine.downstream_of(step.waiting()) if step.waiting() else set())
        if not ready:
            return
        view, by_target = self._view(), {}
        ordered: dict[frozenset[str], tuple[str, ...]] = {}  # results often share one drivers' set: sorted once
        for product in ready:
            step.sent.add(product)
            leaf = summary_in(LEAF, product, view, out)  # this step's write, not committed yet, else the table's
            supplier = leaf if isinstance(leaf, Published) else None
            footprint = view.published(product) or supplier
            drivers = out.drivers.get(product) or (frozenset({supplier.pf_id}) if supplier is not None else frozenset())
            if drivers not in ordered:
                ordered[drivers] = tuple(sorted(drivers))
            boundary = Boundary(step.plan.step, product, engine.as_leaf(product), footprint, supplier,
                                ordered[drivers], out.upstream_of.get(product))
            for target in step.plan.sends[product]:
                by_target.setdefault(target, []).append(boundary)
        for target, boundaries in sorted(by_target.items()):
            for record in boundary_records(boundaries):
                await outbox.add(self.topic_names["recompute-steps"], str(step.plan.step).encode(), record,
                                 self._headers(BOUNDARY, step.plan.step), partition=target)
            self.metrics.shard_boundaries.inc(len(boundaries))

    async def _send(self, out: StepOutput, outbox: Outbox) -> dict[str, bytes]:
        """Queue the step's records; return the bytes of each new Active footprint by pf id.

        Each footprint is encoded once: the same bytes go to ``derived`` and to ``product_to_published``; an
        Active one also goes to ``label-inputs`` as its offer, keyed by its product. A Deprecated one is the
        bytes of its Active predecessor (sent in this batch, else in the table) with the status changed.
        """
        active: dict[str, bytes] = {}
        now_ms = int(time.time() * 1000)
        for footprint in out.footprints:
            if isinstance(footprint, Deprecation):
                held = (active.get(footprint.pf_id) or self._handed.get(footprint.product_id)
                        or self.published.get(self.key(footprint.product_id)))
                value = deprecated_bytes(held, footprint.pf_id)
                await outbox.add(self.topic_names["derived"], footprint.pf_id.encode(), value, published_header(None))
                continue
            value = encode_model(footprint)
            upstream = out.upstream_ms.get(footprint.id)
            await outbox.add(self.topic_names["derived"], footprint.id.encode(), value, published_header(upstream))
            active[footprint.id] = value
            offer = offer_input(footprint, now_ms if upstream is None else upstream)
            for product in footprint.product_ids:
                await outbox.add(self.topic_names["label-inputs"], product.encode(), *offer)
        for product, offer in out.offers.items():  # labels of results that have no PACT footprint
            value = offer.model_dump_json().encode()
            await outbox.add(self.topic_names["label-inputs"], product_urn(product).encode(), value,
                             label_input_headers(OFFER, offer.published_ms))
        for status in out.statuses:
            changed = status.upstream_changed_at
            headers = published_header(None if changed is None else int(changed.timestamp() * 1000))
            await outbox.add(self.topic_names["product-status"], status.product_id.encode(), encode_model(status), headers)
        for request in out.requested.values():
            await outbox.add(self.topic_names["outbound-requests"], request.request_id.encode(), encode_model(request))
        return active  # queued: the caller flushes them with the boundaries, before any table write

    def _stage_tables(self, out: StepOutput, active: dict[str, bytes], event: EventT, staged: StagedWrites) -> StagedWrites:
        for key, model in out.inputs.items():
            value = None if model is None else out.input_bytes.get(key) or encode_model(model)
            staged.put(self.inputs, self.key(key), value, event)
        for product_id, footprint in out.published.items():
            staged.put(self.published, self.key(product_id), active[footprint.id], event)  # every one was just sent
        for product_id in out.withdrawn:
            staged.put(self.published, self.key(product_id), None, event)
        for product_id, request in out.requested.items():
            staged.put(self.requested, self.key(product_id), encode_model(request), event)
        return staged

    def _written(self, out: StepOutput) -> None:
        """What the step wrote, into what the shard keeps read of its tables."""
        for product_id in out.withdrawn:
            self._published.pop(product_id, None)
        self._published.update(out.summaries)
        self._inputs_read.written(out.input_summaries)

    # -- expiry -----------------------------------------------------------------------------------------

    async def replay_expired(self) -> int:
        """Send the supplier footprints whose validity just ended back to ``graph-updates``, as the table holds
        them, marked as replays (the router routes them though their bytes are in force): the step withdraws
        them, publishes their users' incomplete statuses and asks for fresh footprints, in order with every
        other update. A shard not rebuilt since the worker started is rebuilt first: what expired while no
        worker ran is found there."""
        async with self.lock:
            if self.engine is None:
                event = AtPartition(self.partition)
                with processing(event):  # type: ignore[arg-type]
                    await self.current(event)  # type: ignore[arg-type]
            due = self.expiries.due(utc_now())
        codec = codec_for(ProductFootprint.avro_name)
        outbox, sent = self._outbox(), 0
        for key, pf_id in due:
            raw = self.inputs.get(self.key(key))
            if raw is not None and codec.string_field(raw, "id") == pf_id:  # still the footprint in force
                await outbox.add(self.topic_names["graph-updates"], key.encode(), raw, {REPLAY_HEADER: b"expired"})
                sent += 1
        await outbox.flush()
        if sent:
            log.info("recompute shard %d: %d supplier footprint(s) reached their validity end; replayed to withdraw "
                     "them", self.partition, sent)
        return sent


def register(wiring: Wiring) -> None:
    """Declare ``recompute_products`` on the wiring's app, and the hook that drops a shard's engine on a rebalance."""
    app, settings = wiring.app, wiring.settings
    shards = {p: Shard(wiring, p) for p in range(settings.partitions)}
    steps_topic = settings.topic("recompute-steps")

    @app.on_partitions_revoked.connect
    def forget_engines(_app: faust.App, revoked: set[TP], **_: object) -> None:
        """Another worker may own the partition next and move the tables on: this engine would be stale."""
        for tp in revoked:
            if tp.topic == steps_topic and tp.partition in shards:
                shards[tp.partition].forget()

    @app.agent(wiring.topics["recompute-steps"], name=STAGE)
    async def recompute_products(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            wiring.metrics.records_consumed.labels(topic="recompute-steps").inc(len(events))
            by_partition: dict[int, list[EventT]] = {}
            for event in events:
                by_partition.setdefault(event.message.partition, []).append(event)

            async def run(shard: Shard, group: list[EventT]) -> None:
                async def process() -> None:
                    with processing(group[-1]):
                        async with shard.lock:
                            await shard.take(group)

                await until_done(process, f"recompute shard {shard.partition}: a batch of {len(group)}", on_failure=shard.forget)

            # Shards share nothing but the producer: while one waits for Kafka's acknowledgements, the others work
            await asyncio.gather(*(run(shards[p], group) for p, group in sorted(by_partition.items())))

    @app.timer(settings.label_expiry_check_s, name="replay_expired_inputs")
    async def replay_expired_inputs() -> None:
        """On each shard this worker owns: withdraw supplier footprints past their validity end."""
        if app.rebalancing or app.in_recovery:
            return
        assigned = app.assignor.assigned_actives()
        for partition, shard in shards.items():
            if TP(steps_topic, partition) in assigned:
                try:
                    await shard.replay_expired()
                except Exception:  # noqa: BLE001  (Kafka or a table failed: the next tick tries again)
                    log.exception("recompute shard %d: the expiry check failed; trying again in %.0f s", partition,
                                  settings.label_expiry_check_s)
                    shard.forget()
