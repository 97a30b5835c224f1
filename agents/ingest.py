"""Validating agents: the only way a supplier footprint or a recipe reaches the engine.

Each input partition is validated where it lands (these agents scale out with the input topics), a
micro-batch at a time. An accepted record is forwarded unchanged, once per product id it describes, to
``graph-updates`` (the engine), keyed ``leaf:<product id>`` or ``recipe:<product id>``; a footprint also to
``label-inputs`` (its product's labels, keyed by product URN; as its offer). A recipe reaches the label router
through the router (:mod:`pcfx.agents.route`), once the engine takes it: a recipe of a cancelled batch, or
one identical to the recipe in force, concerns no buyer. A recipe's ``graph-updates`` record carries the
digest of its content but ``updated`` in the header ``pcfx-content`` (:func:`~pcfx.streams.shards.content_of`),
which the router compares with the recipe in force. A rejected record goes to ``dlq.<topic>`` with the reason.

A recipe whose content this worker accepted before, sent again with a new ``updated`` (a re-import), is
forwarded as it was accepted, without decoding and validating it again (:class:`~pcfx.streams.intake.AcceptedRecipes`).

A record of a bulk change carries a batch mark (:mod:`pcfx.streams.batches`); each ``graph-updates`` record
made from it carries its own part of the mark, and a rejected marked record makes as many empty records
keyed ``void:<batch id>``, so the router still sees its batch complete. A producer's cancel of a batch of
recipes goes on to the router as one such record with the cancel header.

A footprint is also checked against the ``product_to_owner`` table (first publisher of a product id owns it,
:mod:`pcfx.streams.ownership`): one from a company that does not own a product it names is dead-lettered.
The table is keyed by product id on the partitions of ``footprints`` (keyed ``<publisher>|<first product id>``,
partitioned by the first product id: :func:`pcfx.streams.ownership.supplier_key`), backed by its changelog,
so a restarted or rebalanced worker keeps every claim.
"""

from __future__ import annotations

import time

import faust

from pcfx.agents.app import Wiring, aiokafka_producer, bytes_table
from pcfx.agents.outbox import Outbox, until_done
from pcfx.agents.records import CONTENT_HEADER, UPDATED_HEADER, batch_mark, header, offer_input, origin_of, published_header, published_ms
from pcfx.agents.state import StagedWrites
from pcfx.schemas.base import ContractModel
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.streams.codec import encode_model
from pcfx.streams.batches import BATCH_HEADER, CANCEL_HEADER, VOID, Mark
from pcfx.streams.derive import product_urn
from pcfx.streams.intake import Accepted, Admission, admit, dead_letter
from pcfx.streams.keys import LEAF, RECIPE, key_of
from pcfx.streams.ownership import PUBLISHER_HEADER, OwnershipError, judge


def register(wiring: Wiring) -> None:
    """Declare the two validating agents on the wiring's app."""
    app, settings, topics, metrics = wiring.app, wiring.settings, wiring.topics, wiring.metrics
    graph_updates, label_inputs = settings.topic("graph-updates"), settings.topic("label-inputs")
    owners = bytes_table(app, "product_to_owner")  # product id -> owning company URN; on footprints, keyed like it
    wiring.tables["product_to_owner"] = owners
    accepted = wiring.accepted_recipes  # this process's, shared by the recipes partitions it validates and the router

    def owned(event: faust.types.EventT, admission: Admission, name: str, now_ms: int, staged: StagedWrites) -> Admission:
        """A footprint whose publisher may not publish it becomes a dead letter; a first claim is staged
        (committed after the batch's outputs, changelog first: see agents/state.py)."""
        if admission.model is None or not isinstance(admission.model, ProductFootprint):
            return admission
        try:
            verdict = judge(admission.model, header(event, PUBLISHER_HEADER), lambda pid: _text(staged.get(owners, pid)))
        except OwnershipError as error:
            letter = dead_letter(event.message.value, origin_of(event), error, stage=f"validate_{name}", now_ms=now_ms)
            return Admission(dead_letter=letter, error=error)
        for product_id in verdict.claims:  # on this record's changelog partition
            staged.put(owners, product_id, verdict.publisher.encode(), event)
        return admission

    def marked(headers: dict[str, bytes], mark: Mark | None, k: int) -> dict[str, bytes]:
        return headers if mark is None else {**headers, BATCH_HEADER: mark.part(k).text().encode()}

    async def forward(outbox: Outbox, footprint: ProductFootprint, value: bytes, published: int, mark: Mark | None) -> None:
        """A footprint to the engine once per product id, and to its products' labels as their offer."""
        offer, headers = offer_input(footprint, published), published_header(published)
        for k, product_id in enumerate(footprint.product_ids):
            await outbox.add(graph_updates, key_of(LEAF, product_id).encode(), value, marked(headers, mark, k))
            await outbox.add(label_inputs, product_urn(product_id).encode(), *offer)

    async def forward_recipe(outbox: Outbox, recipe: Accepted, value: bytes, published: int, mark: Mark | None) -> None:
        """A recipe to the engine once per product id, with its content digest and ``updated`` time (so the
        router reads neither from the bytes)."""
        headers = {**published_header(published), CONTENT_HEADER: str(recipe.content).encode(),
                   UPDATED_HEADER: str(recipe.updated_ms).encode()}
        for k, product_id in enumerate(recipe.product_ids):
            await outbox.add(graph_updates, key_of(RECIPE, product_id).encode(), value, marked(headers, mark, k))

    async def admit_batch(cls: type[ContractModel], events: list[faust.types.EventT], name: str) -> None:
        """Validate a micro-batch; send the accepted records on and the rejected ones to ``dlq.<name>``."""
        outbox, rejected, staged = Outbox(aiokafka_producer(app), metrics, settings.topic_prefix), [], StagedWrites()
        recalled = 0
        for event in events:
            origin, mark, raw = origin_of(event), batch_mark(event), event.message.value
            cancel = header(event, CANCEL_HEADER)
            if cancel and cls is ProductRecipe:  # the producer stopped a batch it was sending: tell the router
                await outbox.add(graph_updates, f"{VOID}:{cancel}".encode(), b"", {CANCEL_HEADER: cancel.encode()})
                continue
            known = accepted.recall(raw, event.message.key) if cls is ProductRecipe and raw is not None else None
            if known is not None:  # the same as a recipe accepted before, but for its `updated`
                recalled += 1
                await forward_recipe(outbox, known, raw, published_ms(event), mark)
                continue
            now_ms = int(time.time() * 1000)
            if cancel:
                error = ValueError(f"{CANCEL_HEADER}: only a batch of recipes can be cancelled; footprints reach their "
                                   "labels as they are validated, so a batch of footprints is sent whole or not at all")
                admission = Admission(dead_letter=dead_letter(raw, origin, error, stage=f"validate_{name}", now_ms=now_ms), error=error)
            else:
                admission = owned(event, admit(cls, raw, origin, stage=f"validate_{name}", now_ms=now_ms), name, now_ms, staged)
            if admission.dead_letter is not None:
                rejected.append(admission.error)
                await outbox.add(settings.topic(f"dlq.{name}"), origin.key, encode_model(admission.dead_letter))
                if mark is not None:  # its batch must still come out complete
                    for k in range(mark.count):
                        await outbox.add(graph_updates, f"{VOID}:{mark.batch_id}".encode(), b"", marked({}, mark, k))
            elif isinstance(admission.model, ProductRecipe):
                fresh = accepted.remember(raw, admission.model)
                wiring.recent_recipes.keep(fresh.content, admission.model)  # for the router and the recompute
                await forward_recipe(outbox, fresh, raw, published_ms(event), mark)
            else:
                await forward(outbox, admission.model, raw, published_ms(event), mark)
        await outbox.flush()
        await staged.commit(outbox)  # the claims, once what they admitted is on Kafka
        for error in rejected:  # counted once sent: a retried batch must not count its rejects twice
            metrics.dead_letter(name, error)
        metrics.recipes_recalled.inc(recalled)

    async def admit_stream(cls: type[ContractModel], stream: faust.StreamT, name: str) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            metrics.records_consumed.labels(topic=name).inc(len(events))
            await until_done(lambda: admit_batch(cls, events, name), f"validate_{name}: a batch of {len(events)}")

    @app.agent(topics["footprints"], name="validate_footprints")
    async def validate_footprints(stream: faust.StreamT) -> None:
        await admit_stream(ProductFootprint, stream, "footprints")

    @app.agent(topics["recipes"], name="validate_recipes")
    async def validate_recipes(stream: faust.StreamT) -> None:
        await admit_stream(ProductRecipe, stream, "recipes")


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()
