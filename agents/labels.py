"""Label agents: everything that changes a product's labels is re-keyed by product URN, then one agent per
product partition issues the labels.

    validate_footprints (supplier footprints, sent beside `graph-updates`) ┐
    label-sources (recipes) ────────────────────── route_recipes ─────────┤
    recompute_products (Active derived footprints, sent beside `derived`) ┤
    subscriptions (tombstone: unsubscribe) ────── route_subscriptions ────┼─> label-inputs ─ issue_labels ─┐
    entitlements ──────────────────────────────── route_entitlements ─────┘   (+ expiry ticks)            │
    labels (key buyer|product), labels.buyer.<buyer> (key product), subscription-status <───────────────┘

The label router counts, per product, how many recipes of each buyer list it as an input (in memory, made
from its table ``recipe_to_label_targets`` of what it last routed of each recipe: :func:`recipe_counts`), and
tells a product only the buyers that started or stopped buying it, absolutely (lists it or not): the label
stage needs no entry per (product, recipe) pair, hears nothing while a count merely moves, and a note sent
twice by a retried batch changes nothing.

Footprints are routed by the agents that send them: reading them back from ``graph-updates`` or ``derived``
cost a consume and a decode per footprint (two for a derived one, with its Deprecated predecessor) to
learn what the sender already knew. A recipe needs the router's table of whom it concerns.

Records on ``label-inputs`` say what they are in the header ``pcfx-label-input``. A footprint travels as
the JSON of its :class:`~pcfx.streams.labels.Offer`, made by the sender, which has the footprint decoded
already (decoding it here again cost a tenth of a worker's CPU in a shock); the others keep their Avro bytes.
``issue_labels`` keeps one :class:`~pcfx.streams.labels.ProductLabels` per product in the table
``product_to_labels`` and calls the pure :func:`~pcfx.streams.labels.issue`, a micro-batch at a time:
the batch's records go out through the :class:`~pcfx.agents.outbox.Outbox`, then its table entries are
committed (:class:`~pcfx.agents.state.StagedWrites`), so state never runs ahead of what Kafka has. The expiry
timer sends an empty ``expiry`` record for each product whose label passed its validity end, so the table is
only ever written by the agent. Webhook delivery of ``labels``: :mod:`pcfx.agents.webhooks`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone

import faust
from faust.types import TP

from pcfx.agents import webhooks
from pcfx.agents.app import Wiring, aiokafka_producer, bytes_table, track_producer_topics
from pcfx.agents.outbox import Outbox, until_done
from pcfx.agents.records import (
    ENTITLEMENT,
    EXPIRY,
    FOOTPRINT,
    KIND_HEADER,
    OFFER,
    RECIPE_NOTE,
    SUBSCRIPTION,
    header,
    label_input_headers,
    origin_of,
    processing,
    published_ms,
    dead_letter_of,
)
from pcfx.agents.state import StagedWrites
from pcfx.agents.topics import ensure_buyer_topic
from pcfx.metrics import Stage
from pcfx.schemas.base import ContractModel
from pcfx.schemas.errors import ContractError, RuleViolation
from pcfx.schemas.models import DeadLetter, ProductFootprint
from pcfx.schemas.subscriptions import KEY_SEPARATOR, Entitlement, Subscription, subscription_key
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.intake import Admission, Origin, admit
from pcfx.streams.keys import split_key
from pcfx.streams.labels import (
    ExpiryCheck,
    FootprintSeen,
    LabelEvent,
    LabelOutput,
    Offer,
    ProductLabels,
    RecipeNote,
    RecipeSeen,
    expiry_due,
    issue,
    offer_of,
    recipe_outline,
    recipe_counts,
    recipe_notes,
)

log = logging.getLogger(__name__)

WEBHOOK_HEADER = webhooks.WEBHOOK_HEADER


def decode_label_input(event: faust.types.EventT) -> LabelEvent:
    """A ``label-inputs`` record back into the event :func:`issue` takes."""
    kind, raw = header(event, KIND_HEADER), event.message.value
    if kind == OFFER:
        return FootprintSeen(Offer.model_validate_json(raw))
    if kind == FOOTPRINT:
        return FootprintSeen(offer_of(decode_model(ProductFootprint, raw), published_ms(event)))
    if kind == RECIPE_NOTE:
        return RecipeSeen(RecipeNote.model_validate_json(raw))
    if kind == SUBSCRIPTION:
        return decode_model(Subscription, raw)
    if kind == ENTITLEMENT:
        return decode_model(Entitlement, raw)
    if kind == EXPIRY:
        return ExpiryCheck()
    raise ValueError(f"label-inputs record with unknown {KIND_HEADER} header {kind!r}")


def cancellation(origin: Origin, stage: str) -> Admission[Subscription]:
    """A tombstone on ``subscriptions`` ends the subscription its key ``<buyer>|<product>`` names."""
    buyer, _, product = (origin.key or b"").decode("utf-8", "replace").partition(KEY_SEPARATOR)
    ended = datetime.fromtimestamp(origin.timestamp_ms / 1000, tz=timezone.utc)
    try:
        return Admission(model=Subscription.from_json({"buyerId": buyer, "productId": product, "active": False,
                                                       "createdAt": ended.isoformat()}))
    except ContractError as error:
        return refused(b"", origin, error, stage)


def refused(raw: bytes, origin: Origin, error: Exception, stage: str) -> Admission:
    """The dead letter of a record refused after decoding: filed under another key, or a tombstone whose key
    names no subscription (compaction keeps one record per key, so the key must be the record's own)."""
    key = (origin.key or b"").decode("utf-8", "replace")
    letter = DeadLetter(
        original_bytes=raw, source_topic=origin.topic, partition=origin.partition, offset=origin.offset,
        key=origin.key, error=f"{origin.topic}[{origin.partition}]@{origin.offset}: key = {key!r}: {error}",
        error_type=type(error).__name__, failed_at=datetime.now(timezone.utc), stage=stage,
    )
    return Admission(dead_letter=letter, error=error)


class RouterCounts:
    """The label router's counts of each buyer's recipes per product (:func:`recipe_counts`), kept in memory:
    made from its table of routed recipes when first needed, moved once a batch's table writes are
    committed, and dropped (to be made again from the table) after a failed batch or a rebalance."""

    def __init__(self, routed_recipes: faust.types.TableT) -> None:
        self._table = routed_recipes
        self._counts: dict[str, dict[str, int]] | None = None

    def current(self) -> dict[str, dict[str, int]]:
        if self._counts is None:
            self._counts = recipe_counts(json.loads(raw) for raw in self._table.values() if raw is not None)
        return self._counts

    def move(self, changed: dict[str, dict[str, int]]) -> None:
        """Take a committed batch's new counts (``{}``: no recipe lists the product any more)."""
        counts = self.current()
        for product, count in changed.items():
            if count:
                counts[product] = count
            else:
                counts.pop(product, None)

    def forget(self) -> None:
        self._counts = None


def register(wiring: Wiring) -> None:
    """Declare the routing agents, ``issue_labels``, the expiry timer, and webhook delivery."""
    app, settings, metrics, topics = wiring.app, wiring.settings, wiring.metrics, wiring.topics
    label_inputs = topics["label-inputs"]
    targets = bytes_table(app, "recipe_to_label_targets", key_type=bytes, partitions=1)  # on label-sources
    states = bytes_table(app, "product_to_labels", key_type=bytes)  # on label-inputs, keyed like it
    wiring.tables.update(recipe_to_label_targets=targets, product_to_labels=states)
    counts = RouterCounts(targets)
    buyer_topics: dict[str, str] = {}  # buyer id -> its label topic's full name
    topic_names = {n: settings.topic(n) for n in ("labels", "subscription-status", "dlq.label-inputs", "dlq.label-sources")}
    label_inputs_name, label_sources_name = settings.topic("label-inputs"), settings.topic("label-sources")

    async def forward(product: str, raw: bytes | None, kind: str, published: int | None = None) -> None:
        await label_inputs.send(key=product.encode(), value=raw, headers=label_input_headers(kind, published))
        metrics.records_produced.labels(topic="label-inputs").inc()

    async def route_batch(events: list[faust.types.EventT]) -> None:
        """Route a micro-batch of recipes (:func:`recipe_notes`): one ``label-inputs`` record per product whose
        buyers or certification changed; then (once Kafka has them) what was routed, and the counts move.

        The table is written after the sends: a failed send or write retries the batch whole, from the same
        table and counts made again from it, and sends the same notes, which the label stage takes as no change.
        """
        outbox, staged = Outbox(aiokafka_producer(app), metrics, settings.topic_prefix), StagedWrites()
        recipes, published = [], None
        for event in events:
            try:
                outline = recipe_outline(event.message.value)  # validated upstream: read, not validated again
            except ValueError as error:
                await outbox.add(topic_names["dlq.label-sources"], event.message.key, dead_letter_of(event, error, "route_recipes"))
                continue
            recipes.append((split_key(event.message.key.decode())[1], outline, event))
            published = published_ms(event)

        def remembered_of(key: str) -> dict | None:
            raw = targets.get(key.encode())
            return None if raw is None else json.loads(raw)

        current = counts.current()
        routed = recipe_notes([(key, recipe) for key, recipe, _ in recipes], remembered_of, lambda p: current.get(p, {}))
        for product, note in routed.notes.items():
            await outbox.add(label_inputs_name, product.encode(), note.model_dump_json(exclude_none=True).encode(),
                             label_input_headers(RECIPE_NOTE, published))
        by_key = {key: event for key, _, event in recipes}  # the last event of each recipe key
        for key, remembered in routed.remembered.items():
            staged.put(targets, key.encode(), json.dumps(remembered).encode(), by_key[key])
        await outbox.flush()
        await staged.commit(outbox)
        counts.move(routed.counts)  # the table has what they count

    @app.agent(topics["label-sources"], name="route_recipes")
    async def route_recipes(stream: faust.StreamT) -> None:
        """A validated recipe goes where who-uses-what changed: inputs it adds or drops (all of them when its
        buyers changed), its own products when its certification changed (:func:`recipe_notes`); a
        micro-batch's recipes reach each product in one record."""
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            metrics.records_consumed.labels(topic="label-sources").inc(len(events))

            async def route() -> None:
                with processing(events[-1]):
                    await route_batch(events)

            await until_done(route, f"route_recipes: a batch of {len(events)}", on_failure=counts.forget)

    @app.on_partitions_revoked.connect
    def forget_counts(_app: faust.App, revoked: set[TP], **_: object) -> None:
        if any(tp.topic == label_sources_name for tp in revoked):
            counts.forget()  # made again from the table as the next owner of label-sources left it

    async def route_checked(stream: faust.StreamT, cls: type[ContractModel], name: str, kind: str) -> None:
        """Validate buyers' and suppliers' records; a bad one, or one whose key does not match it, is dead-lettered."""
        dead_letters = topics[f"dlq.{name}"]
        async for event in stream.events():
            message, origin, stage = event.message, origin_of(event), f"route_{name}"
            metrics.records_consumed.labels(topic=name).inc()
            if message.value is None and cls is Subscription:
                admission = cancellation(origin, stage)
            else:
                admission = admit(cls, message.value, origin, stage=stage, now_ms=int(time.time() * 1000))
            model = admission.model
            if model is not None and model.key.encode() != message.key:
                reason = f"{cls.record_kind} filed under another key; its key must be {model.key!r}"
                wrong = RuleViolation("key", message.key, reason)
                admission = refused(message.value or b"", origin, wrong, stage)
            if admission.dead_letter is not None:
                metrics.dead_letter(name, admission.error)
                await dead_letters.send(key=message.key, value=encode_model(admission.dead_letter))
                continue
            await forward(model.product_id, message.value or encode_model(model), kind)

    @app.agent(topics["subscriptions"], name="route_subscriptions")
    async def route_subscriptions(stream: faust.StreamT) -> None:
        await route_checked(stream, Subscription, "subscriptions", SUBSCRIPTION)

    @app.agent(topics["entitlements"], name="route_entitlements")
    async def route_entitlements(stream: faust.StreamT) -> None:
        await route_checked(stream, Entitlement, "entitlements", ENTITLEMENT)

    async def buyer_topic(buyer: str) -> str:
        """The name of the buyer's own label topic, created on first use (a blocking admin call, off the loop)."""
        name = buyer_topics.get(buyer)
        if name is None:
            name = await asyncio.get_running_loop().run_in_executor(None, ensure_buyer_topic, settings, buyer)
            track_producer_topics(app, [name])
            buyer_topics[buyer] = name
        return name

    async def send(outbox: Outbox, product: str, out: LabelOutput) -> None:
        """Labels to ``labels`` and the buyer's topic, withdrawals as tombstones to both, then the statuses."""
        for sent in out.labels:
            label, value = sent.label, encode_model(sent.label)
            headers = {WEBHOOK_HEADER: sent.webhook_url.encode()} if sent.webhook_url else {}
            await outbox.add(topic_names["labels"], subscription_key(label.buyer_id, product).encode(), value, headers)
            await outbox.add(await buyer_topic(label.buyer_id), product.encode(), value)
        for buyer in out.withdrawn:
            await outbox.add(topic_names["labels"], subscription_key(buyer, product).encode(), None)
            await outbox.add(await buyer_topic(buyer), product.encode(), None)
        for status in out.statuses:
            key = subscription_key(status.buyer_id, product).encode()
            await outbox.add(topic_names["subscription-status"], key, encode_model(status))

    async def issue_batch(events: list[faust.types.EventT]) -> None:
        """Issue the labels of a micro-batch: send them, then (once Kafka has them) the batch's table entries.

        A crash in between sends the same label versions again on replay (the state that numbers them was
        not written), which every consumer downstream takes as duplicates: same label id, same version.
        """
        outbox, staged = Outbox(aiokafka_producer(app), metrics, settings.topic_prefix), StagedWrites()
        now, issued = datetime.now(timezone.utc), []  # issued: each event's output and its supplier publish time
        unread: list[ValueError] = []
        parsed: dict[bytes, tuple[ProductLabels, faust.types.EventT]] = {}  # product -> its state in this batch (issue changes it in place)
        for event in events:
            key = event.message.key
            product = key.decode()
            try:
                label_event = decode_label_input(event)
            except ValueError as error:  # every record error is one: DecodeError, ContractError, ValidationError
                await outbox.add(topic_names["dlq.label-inputs"], key, dead_letter_of(event, error, "issue_labels"))
                unread.append(error)
                continue
            if key in parsed:
                state = parsed[key][0]
            else:
                raw = states.get(key)
                state = None if raw is None else ProductLabels.model_validate_json(raw)
            state, out = issue(state, product, label_event, now)
            parsed[key] = (state, event)
            await send(outbox, product, out)
            issued.append((out, label_event.offer.published_ms if isinstance(label_event, FootprintSeen) else None))
        for key, (state, event) in parsed.items():  # a product's state is written once per batch, as it ends
            staged.put(states, key, state.model_dump_json().encode(), event)
        await outbox.flush()
        await staged.commit(outbox)
        for error in unread:
            metrics.dead_letter("label-inputs", error)
        for out, upstream_ms in issued:  # counted once Kafka has them: a retried batch must not count twice
            metrics.carbon_labels.inc(len(out.labels))
            if upstream_ms is not None:
                for _ in out.labels:
                    metrics.observe_end_to_end(Stage.LABEL, upstream_ms)

    @app.agent(label_inputs, name="issue_labels")
    async def issue_labels(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            metrics.records_consumed.labels(topic="label-inputs").inc(len(events))
            await until_done(lambda: issue_batch(events), f"issue_labels: a batch of {len(events)}")

    @app.timer(settings.label_expiry_check_s, name="check_label_expiry")
    async def check_label_expiry() -> None:
        """Tick every product whose label passed its validity end; ``issue_labels`` marks it Expired."""
        if app.rebalancing or app.in_recovery:
            return
        now = datetime.now(timezone.utc)
        for key, raw in list(states.items()):
            if raw is not None and expiry_due(ProductLabels.model_validate_json(raw), now):
                await forward(key.decode(), None, EXPIRY)

    webhooks.register(wiring)

