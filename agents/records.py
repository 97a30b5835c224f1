"""What the agents read from a Kafka record besides its value, and the headers they put on the records they
send on: the supplier's publish time (so latency spans every hop) and what a ``label-inputs`` record is;
also the record Faust counts as the one being processed.

Keys of ``graph-updates`` and ``label-sources`` are ``leaf:<product id>`` (a supplier footprint) or
``recipe:<product id>``; ``label-inputs`` is keyed by product URN.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import faust
from faust.streams import _current_event

from pcfx.metrics import Metrics
from pcfx.schemas.models import ProductFootprint
from pcfx.streams.batches import BATCH_HEADER, Mark, parse_mark
from pcfx.streams.codec import encode_model
from pcfx.streams.intake import Origin, dead_letter
from pcfx.streams.labels import offer_of

log = logging.getLogger(__name__)
PUBLISHED_HEADER = "pcfx-published-ms"  # the supplier's publish time, ms since the epoch, as decimal text
CONTENT_HEADER = "pcfx-content"  # a recipe's content digest on graph-updates (pcfx.streams.shards.content_of)
UPDATED_HEADER = "pcfx-updated-ms"  # a recipe's `updated`, ms since the epoch as decimal text, on graph-updates
KIND_HEADER = "pcfx-label-input"  # what a label-inputs record carries: one of the kinds below
#: ``offer``: the JSON of a footprint's :class:`~pcfx.streams.labels.Offer`, what pcfx's own agents send;
#: ``footprint``: a PACT ProductFootprint in Avro, the contract's form (any other producer may send that).
#: ``recipe-note``: the JSON of a :class:`~pcfx.streams.labels.RecipeNote`, what one of the label router's
#: micro-batches changed for the record's product (its buyers' recipe counts, its own certification).
OFFER, FOOTPRINT, SUBSCRIPTION, ENTITLEMENT, EXPIRY = "offer", "footprint", "subscription", "entitlement", "expiry"
RECIPE_NOTE = "recipe-note"


def origin_of(event: faust.types.EventT) -> Origin:
    """The Kafka coordinates of the record an agent is looking at."""
    message = event.message
    return Origin(message.topic, message.partition, message.offset, message.key, int(message.timestamp * 1000))


def dead_letter_of(event: faust.types.EventT, error: Exception, stage: str) -> bytes:
    """The encoded dead letter of the record ``stage`` failed on: its bytes, where it was read, and why."""
    letter = dead_letter(event.message.value, origin_of(event), error, stage=stage, now_ms=int(time.time() * 1000))
    return encode_model(letter)


async def send_dead_letter(dead_letters: faust.types.TopicT, metrics: Metrics, source: str, raw: bytes, origin: Origin,
                           error: Exception, stage: str) -> None:
    """File a record ``stage`` cannot take on its dead-letter topic, wait until Kafka has it, count it under
    ``source`` (the topic it came from) and log it; the stage then goes on with the others."""
    metrics.dead_letter(source, error)
    letter = dead_letter(raw, origin, error, stage=stage, now_ms=int(time.time() * 1000))
    await (await dead_letters.send(key=origin.key, value=encode_model(letter)))
    log.error("%s: dead-lettered %s[%d]@%d: %s", stage, origin.topic, origin.partition, origin.offset, error)


def header(event: faust.types.EventT, name: str) -> str | None:
    """A header's value as text, or None."""
    value = dict(event.message.headers or ()).get(name)
    return None if value is None else bytes(value).decode()


def published_ms(event: faust.types.EventT) -> int:
    """The original publish time: the header if an upstream hop set it, else this record's timestamp."""
    value = header(event, PUBLISHED_HEADER)
    return int(value) if value else int(event.message.timestamp * 1000)


def batch_mark(event: faust.types.EventT) -> Mark | None:
    """The record's batch mark (:mod:`pcfx.streams.batches`), None if it has none."""
    return parse_mark(header(event, BATCH_HEADER))


def published_header(published: int | None) -> dict[str, bytes]:
    """The header that carries the supplier's publish time to the next hop (none if unknown)."""
    return {} if published is None else {PUBLISHED_HEADER: str(published).encode()}


def label_input_headers(kind: str, published: int | None = None) -> dict[str, bytes]:
    """Headers of a ``label-inputs`` record: what it is, and the supplier publish time behind it."""
    return {KIND_HEADER: kind.encode(), **published_header(published)}


def offer_input(footprint: ProductFootprint, published: int) -> tuple[bytes, dict[str, bytes]]:
    """Value and headers of the ``label-inputs`` record that shows ``footprint`` to its product's labels."""
    return offer_of(footprint, published).model_dump_json().encode(), label_input_headers(OFFER, published)


@contextmanager
def processing(event: faust.types.EventT) -> Iterator[None]:
    """Make ``event`` Faust's current event. The rocksdb store asks it for the partition of every table
    write, and ``take_events`` does not set it in the agent's own task (the memory store never asks)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
