"""The buyer's side of the exchange: subscribe to products' carbon labels and hear the exchange's answer;
and the supplier's grant of access. ``pcfx subscribe``, ``pcfx entitle``, ``pcfx watch`` and the API use it.

A buyer is its company URN. A product is a URN; a pcfx recipe product may be named by its plain id
(``0042`` means ``urn:pcfx:product:0042``). Everything is validated before anything is published.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, TypeVar

from kafka import KafkaConsumer, TopicPartition

from pcfx.connectors.kafka_io import POLL_MS, end_offsets, producer, send_all
from pcfx.schemas.base import ContractModel
from pcfx.schemas.errors import ContractError
from pcfx.schemas.subscriptions import Entitlement, Subscription, SubscriptionStatus
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn

URN_START = "urn:"
M = TypeVar("M", bound=ContractModel)


class RequestError(ValueError):
    """A subscription or grant request that cannot be published; the message is one line for a person."""


def as_product_urn(text: str) -> str:
    """A product URN from a URN or a pcfx product id; an empty id is an error."""
    text = text.strip()
    if not text:
        raise RequestError("a product id is empty: give a product URN, or a pcfx product id such as 0042")
    return text if text[: len(URN_START)].lower() == URN_START else product_urn(text)


def subscriptions_for(buyer: str, products: Iterable[str], webhook: str | None = None, *, active: bool = True,
                      now: datetime | None = None) -> list[Subscription]:
    """One validated subscription per product, or :class:`RequestError` naming the first bad field."""
    buyer = buyer.strip()
    if not buyer:
        raise RequestError("the buyer is empty: give the buyer's company URN, e.g. urn:pact:oem.example:company-id:1")
    urns = [as_product_urn(product) for product in products]
    if not urns:
        raise RequestError("no product: name at least one product URN")
    created = now or datetime.now(timezone.utc)
    return [_valid(Subscription, {"buyerId": buyer, "productId": urn, "webhookUrl": webhook, "active": active,
                                  "createdAt": created}) for urn in dict.fromkeys(urns)]


def entitlement_for(supplier: str, buyer: str, product: str, *, granted: bool = True,
                    now: datetime | None = None) -> Entitlement:
    """A validated grant (or withholding) of one product to one buyer."""
    created = now or datetime.now(timezone.utc)
    return _valid(Entitlement, {"supplierCompanyId": supplier.strip(), "buyerId": buyer.strip(),
                                "productId": as_product_urn(product), "granted": granted, "createdAt": created})


def _valid(cls: type[M], fields: dict[str, Any]) -> M:
    try:
        return cls.from_json({name: value for name, value in fields.items() if value is not None})
    except ContractError as error:
        raise RequestError(str(error)) from None


class BuyerClient:
    """Publishes subscriptions and grants (acks=all: a returned call is on Kafka) and reads the answers."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._producer = producer(self.settings)

    def __enter__(self) -> BuyerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._producer.close()

    def subscribe(self, subscriptions: list[Subscription]) -> None:
        """Publish subscriptions to ``subscriptions``, keyed ``<buyer>|<product>``."""
        records = [(subscription.key.encode(), encode_model(subscription)) for subscription in subscriptions]
        send_all(self._producer, self.settings.topic("subscriptions"), records)

    def entitle(self, entitlement: Entitlement) -> None:
        """Publish a grant to ``entitlements``, keyed ``<supplier>|<buyer>|<product>``."""
        send_all(self._producer, self.settings.topic("entitlements"), [(entitlement.key.encode(), encode_model(entitlement))])

    def status_offsets(self) -> dict[TopicPartition, int]:
        """Where ``subscription-status`` ends now: answers to what is published next come after it."""
        return end_offsets(self.settings, [self.settings.topic("subscription-status")])

    def answers(
        self, subscriptions: list[Subscription], since: dict[TopicPartition, int], timeout_s: float
    ) -> dict[str, SubscriptionStatus]:
        """The exchange's answer to each subscription (by key), read after ``since``; those that got none
        within ``timeout_s`` seconds are missing from the result."""
        wanted = {s.key for s in subscriptions}
        found: dict[str, SubscriptionStatus] = {}
        consumer = KafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers, enable_auto_commit=False)
        try:
            consumer.assign(list(since))
            for tp, offset in since.items():
                consumer.seek(tp, offset)
            deadline = time.monotonic() + timeout_s
            while len(found) < len(wanted) and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=POLL_MS).values():
                    for record in records:
                        key = (record.key or b"").decode("utf-8", "replace")
                        if key in wanted and record.value is not None:
                            found[key] = decode_model(SubscriptionStatus, record.value)
        finally:
            consumer.close()
        return found



def product_owners(settings: Settings, product: str) -> list[str] | None:
    """The companies that own ``product`` (a URN) as the exchange holds it now: the ``companyIds`` of the
    latest supplier footprint (of the product's owner: another company's is refused, streams/ownership.py)
    or recipe naming it (whom the label agent treats as its supplier), or None if neither topic names it yet.

    Read from the two topics themselves, so it holds before any worker has run (the workers' tables, such
    as ``product_to_owner``, know only footprints, and only once a worker has read them)."""
    from pcfx.connectors.kafka_io import read_to_end  # noqa: PLC0415

    records = [(topic, key, value) for topic in ("footprints", "recipes")
               for key, value in read_to_end(settings, settings.topic(topic), lambda k, v: (k, v))]
    return owners_in(records, product)


def owners_in(records: Iterable[tuple[str, bytes | None, bytes | None]], product: str) -> list[str] | None:
    """:func:`product_owners` over ``(topic, key, value)`` records of ``footprints`` and ``recipes`` in topic
    order. Only a record whose ``productIds`` (read from its bytes alone) name the product is decoded and
    validated: the others (a dense table's hundreds of recipes of hundreds of lines each) cost a few bytes."""
    from pcfx.schemas.models import ProductFootprint, ProductRecipe  # noqa: PLC0415
    from pcfx.streams.codec import codec_for  # noqa: PLC0415
    from pcfx.streams.ownership import admitted  # noqa: PLC0415

    classes = {"footprints": ProductFootprint, "recipes": ProductRecipe}
    footprints: list[tuple[str, ProductFootprint | None]] = []
    recipes: dict[bytes | None, ProductRecipe] = {}
    for topic, key, value in records:
        cls = classes[topic]
        model = None
        try:
            if not any(product_urn(pid) == product for pid in codec_for(cls.avro_name).string_list_field(value, "productIds")):
                continue
            model = decode_model(cls, value)
        except (ValueError, TypeError):
            pass  # a tombstone or a dead-lettered record (bad bytes or a bad record): its key holds nothing
        if topic == "footprints":
            footprints.append(((key or b"").decode("utf-8", "replace"), model))
            continue
        recipes.pop(key, None)
        if model is not None:
            recipes[key] = model
    models: list[ProductFootprint | ProductRecipe] = [*admitted(footprints).values(), *recipes.values()]
    owners = {company.lower() for model in models for company in model.company_ids}
    return sorted(owners) if models else None
