"""The supplier's side of the exchange: validate PACT footprints and recipes, then publish them to Kafka.

``SupplierClient`` is the small Python client a supplier's own system embeds; ``pcfx publish`` and
``pcfx import`` use it too. Nothing reaches Kafka before it has passed the contract.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pcfx.collector import collector_paused
from pcfx.connectors.kafka_io import ask_partitions_early, confirm, producer, send_all
from pcfx.connectors.pact_v2 import footprint_from_pact
from pcfx.schemas.base import ContractModel
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.settings import Settings
from pcfx.streams.batches import BATCH_HEADER, CANCEL_HEADER, VOID, Mark, marks_for
from pcfx.streams.codec import encode_model
from pcfx.streams.ownership import PUBLISHER_HEADER, claimed_publisher, partition_key, supplier_key

log = logging.getLogger(__name__)
Footprintish = ProductFootprint | dict[str, Any]
RECORD_OVERHEAD = 1024  # bytes of a Kafka record batch besides the key and value: framing, headers
Recipeish = ProductRecipe | dict[str, Any]


def _id_count(item: Recipeish) -> int:
    """How many product ids a recipe names, read before validating it (its batch mark needs it up front)."""
    ids = item.product_ids if isinstance(item, ProductRecipe) else item.get("productIds") if isinstance(item, dict) else None
    return len(ids) if isinstance(ids, list) and ids else 1


def kind_of(model: ContractModel) -> str:
    return "footprint" if isinstance(model, ProductFootprint) else "recipe"


def too_large(model: ContractModel, size: int, limit: int) -> str:
    """The line that refuses a record of ``size`` encoded bytes, over ``limit``."""
    name = getattr(model, "id", None) or model.product_ids[0]  # type: ignore[attr-defined]
    return f"{kind_of(model)} {name}: {size} bytes encoded, more than one Kafka record takes ({limit} bytes); split it or shorten it"


def as_footprint(item: Footprintish) -> ProductFootprint:
    """A validated footprint from a model or PACT JSON (v3, or v2.x converted to v3 first, see
    :mod:`pcfx.connectors.pact_v2`); raises ``ContractError`` naming the field."""
    return item if isinstance(item, ProductFootprint) else footprint_from_pact(item)


def as_recipe(item: Recipeish) -> ProductRecipe:
    """A validated recipe from a model or its JSON; raises ``ContractError`` naming the field."""
    return item if isinstance(item, ProductRecipe) else ProductRecipe.from_json(item)


class RecordTooLarge(ValueError):
    """Records larger than one Kafka record may be; raised before anything is sent. One line per record."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class SupplierClient:
    """Publishes footprints (topic ``footprints``) and recipes (``recipes``).

    A footprint is keyed ``<publisher>|<first product id>`` and sent to the partition of its first product
    id (:func:`pcfx.streams.ownership.supplier_key`), so another company's record of the same product can
    never take its place under compaction; a recipe is keyed by its first product id.

    Use as a context manager, or call :meth:`close`; every ``publish_*`` call returns once Kafka has
    acknowledged the records (acks=all), so a returned call is never lost. The records of one call of more
    than one record are one change: each carries a batch mark (``pcfx-batch`` header,
    :mod:`pcfx.streams.batches`), and the engine applies them together once all have arrived, so each
    product gets one new derived version for the whole call.

    ``publisher``: the company URN this connection publishes for, sent as the ``pcfx-publisher`` header; the
    worker admits a footprint only from the company that owns its products (docs/operations.md, threat
    model). None: the first of each footprint's ``companyIds``.
    """

    def __init__(self, settings: Settings | None = None, *, publisher: str | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.publisher = publisher
        self._producer = producer(self.settings)
        ask_partitions_early(self._producer, [self.settings.topic("footprints"), self.settings.topic("recipes")])

    def __enter__(self) -> SupplierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._producer.close()

    def publish(self, footprint: Footprintish) -> str:
        """Validate and publish one footprint; returns its id."""
        return self.publish_footprints([footprint])[0]

    def publish_footprints(self, footprints: Iterable[Footprintish]) -> list[str]:
        """Validate every footprint first (all or nothing), then publish them; returns their ids."""
        models = [as_footprint(item) for item in footprints]
        self._send("footprints", models)
        return [model.id for model in models]

    def publish_recipes(self, recipes: Iterable[Recipeish]) -> list[str]:
        """Publish recipes as one change; returns their product ids.

        More than one recipe: each is sent as soon as it is validated and encoded, so the exchange works on
        the first while the last are still being checked here. The first that fails (``ContractError``,
        ``RecordTooLarge``) cancels the batch: a cancel record follows what was sent, the exchange drops it
        all (:mod:`pcfx.streams.batches`), and the error is raised. Either every recipe takes effect or none.
        """
        items = list(recipes)
        if len(items) < 2:
            models = [as_recipe(item) for item in items]
            self._send("recipes", models)
            return [model.product_ids[0] for model in models]
        return self._stream_recipes(items)

    def _stream_recipes(self, items: list[Recipeish]) -> list[str]:
        topic, limit = self.settings.topic("recipes"), self._producer.config["max_request_size"] - RECORD_OVERHEAD
        marks = marks_for([_id_count(item) for item in items])
        futures, ids = [], []
        try:
            for item, mark in zip(items, marks):
                model = as_recipe(item)
                if len(model.product_ids) != mark.count:
                    raise ValueError(f"recipe {model.product_ids[0]}: {len(model.product_ids)} product ids after validation, "
                                     f"{mark.count} before; its batch mark would not add up")
                key, value = self._key(model), encode_model(model)
                if len(key) + len(value) > limit:
                    raise RecordTooLarge([too_large(model, len(value), limit)])
                headers = self._headers(mark)
                futures.append(self._producer.send(topic, key=key, value=value, headers=list(headers.items())))
                ids.append(model.product_ids[0])
            confirm(self._producer, futures)  # raises if Kafka refused one
        except Exception:
            if futures:  # something of the batch may be on Kafka: cancel it before saying why
                self._cancel(topic, marks[0].batch_id)
            raise
        return ids

    def _cancel(self, topic: str, batch_id: str) -> None:
        """Send the cancel of ``batch_id``. If Kafka takes no record now, the batch stays incomplete, which
        applies nothing either (the router keeps what arrived of it, unused)."""
        try:
            confirm(self._producer, [self._producer.send(topic, key=f"{VOID}:{batch_id}".encode(), value=b"",
                                                         headers=[(CANCEL_HEADER, batch_id.encode())])])
        except Exception:  # noqa: BLE001  (the caller raises the error that stopped the batch)
            log.warning("batch %s: its cancel could not be sent; it stays incomplete and takes no effect", batch_id)

    def _send(self, topic: str, models: list[ContractModel]) -> None:
        """Encode and size every record first: all are sent, or none (a too-large one raises RecordTooLarge)."""
        with collector_paused():  # every record encoded lives on until sent (pcfx/collector.py)
            records = [(self._key(model), encode_model(model)) for model in models]
        limit = self._producer.config["max_request_size"] - RECORD_OVERHEAD
        problems = [too_large(model, len(value), limit) for model, (key, value) in zip(models, records) if len(key) + len(value) > limit]
        if problems:
            raise RecordTooLarge(problems)
        marks: list[Mark | None] = [None] * len(models)
        if len(models) > 1:  # one change: a batch mark on each record
            marks = list(marks_for([len(model.product_ids) for model in models]))  # type: ignore[attr-defined]
        headers = [self._headers(mark) for mark in marks]
        partition_by = [partition_key(model.product_ids[0]) for model in models] if topic == "footprints" else None  # type: ignore[attr-defined]
        send_all(self._producer, self.settings.topic(topic), records, headers, partition_by)  # raises if Kafka refused a record

    def _headers(self, mark: Mark | None) -> dict[str, bytes]:
        """A record's batch mark, if it has one, and the company this connection publishes for, if set."""
        headers = {} if mark is None else {BATCH_HEADER: mark.text().encode()}
        if self.publisher:
            headers[PUBLISHER_HEADER] = self.publisher.encode()
        return headers

    def _key(self, model: ContractModel) -> bytes:
        """A footprint's key names its publisher and first product id; a recipe's is its first product id."""
        product_id = model.product_ids[0]  # type: ignore[attr-defined]
        if isinstance(model, ProductFootprint):
            return supplier_key(claimed_publisher(model.company_ids, self.publisher), product_id).encode()
        return product_id.encode()
