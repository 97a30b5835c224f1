"""The recompute agent: folds micro-batches of ``graph-updates`` into the engine and publishes the results:
footprints on ``derived`` (each new Active one also on ``label-inputs``, for its product's labels), statuses
on ``product-status``, requests for missing inputs on ``outbound-requests``, all through
:class:`~pcfx.agents.outbox.Outbox`.

Tables (all on the single ``graph-updates`` partition, backed by changelog topics):
- ``product_to_input``: ``leaf:<id>`` / ``recipe:<id>`` -> the supplier footprint or recipe in force;
  the engine is rebuilt from it when a worker starts or (re)gains the partition.
- ``product_to_published``: product id -> its Active derived footprint (to deprecate, and to skip
  re-publishing figures that did not change). The agent also keeps what the step needs of each one
  (:class:`~pcfx.streams.derive.Published`) in memory, so that a recompute decodes no footprint it wrote;
  likewise of each input (:class:`~pcfx.streams.recompute.InputSummaries`), so that it decodes no recipe.
- ``product_to_request``: product id -> the request sent for it while it was missing.
- ``batch_to_held``: ``<batch id>/<index>`` -> a record of a bulk change whose batch has not arrived whole
  (:mod:`pcfx.streams.batches`), ``<batch id>`` -> ``done`` once the batch was applied in one step.

A step sends its records and waits for Kafka's acknowledgement before it writes its table entries
(:class:`~pcfx.agents.state.StagedWrites`: changelog first, then the local store). A crash
in between leaves footprints published but not recorded: the rebuild finds them and publishes them again
under the same ids (:func:`pcfx.streams.recompute.restore`), and a replayed batch recomputes the same
successors (:func:`pcfx.streams.derive.derived_id`), so nothing is lost and nothing counts twice.

Faust's ``take_events`` acks a batch even when the agent raises, so nothing may escape the loop: a batch
the step raises on is retried record by record and only the records that still fail go to
``dlq.graph-updates`` with the error; a failure of Kafka itself is retried until it passes.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import faust
from faust import current_event
from faust.types import TP, EventT

from pcfx.agents.app import Wiring, aiokafka_producer
from pcfx.agents.records import (
    LEAF,
    OFFER,
    batch_mark,
    label_input_headers,
    offer_input,
    origin_of,
    processing,
    published_header,
    published_ms,
)
from pcfx.agents.outbox import Outbox, until_done
from pcfx.agents.state import StagedWrites
from pcfx.metrics import Stage
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.streams.batches import VOID, HeldBatches, Mark, Taken
from pcfx.streams.codec import codec_for, decode_model, encode_model
from pcfx.streams.derive import Deprecation, Published, inputs_schema_url, product_urn, published_of, valid_until
from pcfx.streams.engine import Engine
from pcfx.streams.intake import Origin, dead_letter
from pcfx.streams.recompute import InputSummaries, StepOutput, TableView, Update, recompute, restore

log = logging.getLogger(__name__)
STAGE = "recompute_products"


def decode_update(key: str, raw: bytes, published: int) -> Update:
    """A ``graph-updates`` record back into its model (it was validated on the way in)."""
    cls = ProductFootprint if key.startswith(LEAF + ":") else ProductRecipe
    return Update(key, decode_model(cls, raw), published)


def deprecated_bytes(active: bytes | None, pf_id: str) -> bytes:
    """The Deprecated copy of the encoded Active footprint ``pf_id`` (PACT v3 §7): its bytes with the status
    changed, so the copy is the very record that went out, and costs no decode or encode."""
    codec = codec_for(ProductFootprint.avro_name)
    if active is None or codec.string_field(active, "id") != pf_id:
        held = "no footprint" if active is None else "another footprint"
        raise LookupError(f"product_to_published holds {held} where {pf_id} should be deprecated")
    return codec.with_string_field(active, "status", "Deprecated")


@dataclass(frozen=True)
class Arrival:
    """A ``graph-updates`` record as it arrived, undecoded: what a held batch keeps of it."""

    key: str
    raw: bytes
    published: int
    origin: Origin

    @property
    def void(self) -> bool:
        return self.key.startswith(VOID + ":")

    def update(self) -> Update:
        return decode_update(self.key, self.raw, self.published)


def arrival_of(event: EventT) -> Arrival:
    return Arrival(event.message.key.decode(), event.message.value or b"", published_ms(event), origin_of(event))


def held_bytes(arrival: Arrival, total: int) -> bytes:
    """A held record as the ``batch_to_held`` table keeps it: a JSON line of where it came from, then its bytes."""
    o = arrival.origin
    meta = {"key": arrival.key, "published": arrival.published, "total": total, "topic": o.topic,
            "partition": o.partition, "offset": o.offset, "timestamp": o.timestamp_ms}
    return json.dumps(meta).encode() + b"\n" + arrival.raw


def held_arrival(value: bytes) -> tuple[Arrival, int]:
    line, _, raw = value.partition(b"\n")
    meta = json.loads(line)
    origin = Origin(meta["topic"], meta["partition"], meta["offset"], meta["key"].encode(), meta["timestamp"])
    return Arrival(meta["key"], raw, meta["published"], origin), meta["total"]


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


class Recomputer:
    """The agent's state: one engine per worker, the tables it is rebuilt from, and the topics it feeds."""

    def __init__(self, wiring: Wiring) -> None:
        self.metrics = wiring.metrics
        self.inputs, self.published, self.requested, self.held = (
            wiring.tables[n] for n in ("product_to_input", "product_to_published", "product_to_request", "batch_to_held")
        )
        self.app, self.dead_letters = wiring.app, wiring.topics["dlq.graph-updates"]
        self.topic_names = {n: wiring.settings.topic(n) for n in ("derived", "label-inputs", "product-status", "outbound-requests")}
        self.prefix = wiring.settings.topic_prefix
        self.inputs_schema_url = inputs_schema_url(wiring.settings.api_base_url())
        self._engine: Engine | None = None
        self._published: dict[str, Published] = {}  # product id -> what product_to_published holds, as read
        self._inputs_read = InputSummaries(self._input)  # what product_to_input holds, as read
        self.expiries = ExpiryWatch()
        self.graph_updates = wiring.topics["graph-updates"]
        self.lock = asyncio.Lock()  # a batch and the expiry timer's rebuild never interleave
        self._batches: HeldBatches[Arrival] = HeldBatches()  # what batch_to_held holds, as read
        self._due: list[str] = []  # batches held whole when the table was read (see HeldBatches.complete)

    def forget(self) -> None:
        """Drop the engine and what was read of the tables: they are the truth, the next batch rebuilds from them."""
        self._engine = None
        self._published.clear()
        self._inputs_read = InputSummaries(self._input)
        self.expiries.clear()
        self._batches, self._due = HeldBatches(), []

    async def replay_expired(self) -> int:
        """Send the supplier footprints whose validity just ended back to ``graph-updates``, as they are in
        the inputs table: the step withdraws them (:func:`pcfx.streams.recompute.fold_updates`), publishes their
        users' incomplete statuses and asks for fresh footprints, in order with every other update."""
        async with self.lock:
            await self._current()  # a worker that just started watches once it has rebuilt
            due = self.expiries.due(utc_now())
        codec = codec_for(ProductFootprint.avro_name)
        sent = 0
        for key, pf_id in due:
            raw = self.inputs.get(key)
            if raw is not None and codec.string_field(raw, "id") == pf_id:  # still the footprint in force
                await (await self.graph_updates.send(key=key.encode(), value=raw))
                sent += 1
        if sent:
            log.info("recompute: %d supplier footprint(s) reached their validity end; replayed to withdraw them", sent)
        return sent

    async def process(self, events: Sequence[EventT]) -> None:
        """Recompute a batch and publish; if the step raises, each record alone, dead-lettering those that fail."""
        await self._run([(batch_mark(e), arrival_of(e)) for e in events])

    async def _run(self, arrivals: Sequence[tuple[Mark | None, Arrival]], *, whole: bool = True) -> None:
        """Apply what is ready: the unmarked arrivals and every batch an arrival completes, in one step; hold
        the rest of the marked ones. ``whole=False`` (a batch whose step failed, applied record by record)
        takes no batch found complete in the table."""
        engine = await self._current()
        started, taken = time.perf_counter(), None
        try:
            taken = self._batches.take(arrivals, self._due if whole else ())
            updates = [arrival.update() for arrival in taken.ready if not arrival.void]
            out = recompute(engine, updates, self._view(), utc_now())
        except Exception as error:  # noqa: BLE001  (one record the step cannot take must not cost the batch)
            self.forget()  # the engine may hold part of the batch
            await self._retry(arrivals, taken, error)
            return
        await self._publish(out, taken)
        self.expiries.watch(out.inputs.items(), utc_now())
        for upstream in out.upstream_ms.values():
            self.metrics.observe_end_to_end(Stage.DERIVED, upstream)
        self.metrics.derived_footprints.inc(len(out.published))
        if updates:  # a micro-batch that only held records of an incomplete batch recomputed nothing
            self.metrics.observe_recompute(len(updates), len(out.statuses), time.perf_counter() - started)

    async def _retry(self, arrivals: Sequence[tuple[Mark | None, Arrival]], taken: Taken[Arrival] | None, error: Exception) -> None:
        """After a failed step: each arrival alone; a batch that fails whole, record by record (its atomicity
        gives way to losing nothing); a lone record that fails goes to ``dlq.graph-updates``."""
        if len(arrivals) > 1:
            log.warning("recompute: a batch of %d failed (%r); retrying record by record", len(arrivals), error)
            for arrival in arrivals:
                await self._run([arrival])
            return
        if taken is not None and (len(taken.ready) > 1 or taken.done):
            log.warning("recompute: marked batch(es) %s failed whole (%r); applying their %d records one by one",
                        taken.done, error, len(taken.ready))
            for arrival in taken.ready:
                await self._run([(None, arrival)], whole=False)
            await self._current()
            await self._publish(StepOutput(), Taken(release=taken.release, done=taken.done))
            return
        await self._dead_letter(arrivals[0][1], error)

    async def _current(self) -> Engine:
        """The worker's engine, rebuilt from the tables when the worker starts or (re)gains the partition."""
        if self._engine is None:
            engine = Engine()
            entries = [decode_update(key, raw, 0) for key, raw in self.inputs.items() if raw is not None]
            out = restore(engine, entries, self._view(), utc_now())
            log.info("recompute: engine rebuilt from %d table entries, %d footprint(s) republished", len(entries), len(out.published))
            await self._publish(out)
            self.expiries.watch(((u.key, u.model) for u in entries), None)  # restored unexpired: the timer replays them
            self._load_held()
            self._engine = engine
        return self._engine

    def _load_held(self) -> None:
        """Read the held batch records back from ``batch_to_held`` (keys ``<batch>/<index>``, and ``<batch>``
        for a batch applied already)."""
        self._batches = HeldBatches()
        for key, value in self.held.items():
            if value is None:
                continue
            batch_id, _, index = key.partition("/")
            if not index:
                self._batches.load_done(batch_id)
                continue
            arrival, total = held_arrival(value)
            self._batches.load(batch_id, int(index), total, arrival)
        self._due = self._batches.complete()
        if self._batches.held():
            log.info("recompute: %d record(s) of incomplete batches held", self._batches.held())

    def _input(self, key: str) -> ProductFootprint | ProductRecipe | None:
        raw = self.inputs.get(key)
        return None if raw is None else decode_update(key, raw, 0).model

    def _view(self) -> TableView:
        def published(product_id: str) -> Published | None:
            known = self._published.get(product_id)
            if known is None:
                raw = self.published.get(product_id)
                if raw is None:
                    return None
                known = self._published[product_id] = published_of(decode_model(ProductFootprint, raw))
            return known

        return TableView(
            input=self._input, summary=self._inputs_read.get, published=published,
            requested=lambda product_id: product_id in self.requested, inputs_schema_url=self.inputs_schema_url,
        )

    async def _publish(self, out: StepOutput, taken: Taken[Arrival] | None = None) -> None:
        """Send the step's records, then (once Kafka has them) its table entries, held batches' included."""
        outbox = Outbox(aiokafka_producer(self.app), self.metrics, self.prefix)
        active = await self._send(out, outbox)
        staged = self._stage_tables(out, active)
        if taken is not None:
            self._stage_held(staged, taken)
        await staged.commit(outbox)
        for product_id in out.withdrawn:
            self._published.pop(product_id, None)
        self._published.update(out.summaries)
        self._inputs_read.written(out.inputs)
        if taken is not None:
            self._batches.commit(taken)
            self._due = [b for b in self._due if b not in taken.done]

    def _stage_held(self, staged: StagedWrites, taken: Taken[Arrival]) -> None:
        event = current_event()
        for (batch_id, index), arrival in taken.hold.items():
            staged.put(self.held, f"{batch_id}/{index}", held_bytes(arrival, taken.totals[batch_id]), event)
        for batch_id, index in taken.release:
            staged.put(self.held, f"{batch_id}/{index}", None, event)
        for batch_id in taken.done:
            staged.put(self.held, batch_id, b"done", event)  # a replayed record of it then goes straight on

    async def _send(self, out: StepOutput, outbox: Outbox) -> dict[str, bytes]:
        """Send the step's records and return once Kafka has acknowledged every one.

        Each footprint is encoded once: the same bytes go to ``derived`` and, returned by pf id, to
        ``product_to_published``; an Active one also goes to ``label-inputs`` as its offer, keyed by its
        product. A Deprecated one is the bytes of its Active predecessor (sent in this batch, else in the
        table) with the status changed.
        """
        active: dict[str, bytes] = {}
        now_ms = int(time.time() * 1000)
        for footprint in out.footprints:
            if isinstance(footprint, Deprecation):
                held = active.get(footprint.pf_id) or self.published.get(footprint.product_id)
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
        await outbox.flush()
        return active

    def _stage_tables(self, out: StepOutput, active: dict[str, bytes]) -> StagedWrites:
        staged, event = StagedWrites(), current_event()  # the batch's last record (see ``processing``)
        for key, model in out.inputs.items():
            staged.put(self.inputs, key, None if model is None else encode_model(model), event)
        for product_id, footprint in out.published.items():
            staged.put(self.published, product_id, active[footprint.id], event)  # every one was just sent Active
        for product_id in out.withdrawn:
            staged.put(self.published, product_id, None, event)
        for product_id, request in out.requested.items():
            staged.put(self.requested, product_id, encode_model(request), event)
        return staged

    async def _dead_letter(self, arrival: Arrival, error: Exception) -> None:
        self.metrics.dead_letter("graph-updates", error)
        letter = dead_letter(arrival.raw, arrival.origin, error, stage=STAGE, now_ms=int(time.time() * 1000))
        await (await self.dead_letters.send(key=arrival.origin.key, value=encode_model(letter)))
        log.error("recompute: dead-lettered %s[%d]@%d: %s", arrival.origin.topic, arrival.origin.partition,
                  arrival.origin.offset, error)


def register(wiring: Wiring) -> None:
    """Declare ``recompute_products`` on the wiring's app, and the hook that drops its engine on a rebalance."""
    app, settings = wiring.app, wiring.settings
    recomputer = Recomputer(wiring)
    graph_updates = settings.topic("graph-updates")

    @app.on_partitions_revoked.connect
    def forget_engine(_app: faust.App, revoked: set[TP], **_: object) -> None:
        """Another worker may own the partition next and move the tables on: this engine would be stale."""
        if any(tp.topic == graph_updates for tp in revoked):
            recomputer.forget()

    @app.agent(wiring.topics["graph-updates"], name=STAGE)
    async def recompute_products(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            wiring.metrics.records_consumed.labels(topic="graph-updates").inc(len(events))

            async def process() -> None:
                with processing(events[-1]):  # all from the one graph-updates partition
                    async with recomputer.lock:
                        await recomputer.process(events)

            await until_done(process, f"recompute: a batch of {len(events)}", on_failure=recomputer.forget)

    @app.timer(settings.label_expiry_check_s, name="replay_expired_inputs")
    async def replay_expired_inputs() -> None:
        """On the worker that owns ``graph-updates``: withdraw supplier footprints past their validity end."""
        if app.rebalancing or app.in_recovery or TP(graph_updates, 0) not in app.assignor.assigned_actives():
            return
        await recomputer.replay_expired()
