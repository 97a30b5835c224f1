"""Validating agents: the only way a supplier footprint or a recipe reaches the engine.

Each input partition is validated where it lands (these agents scale out with the input topics); an
accepted record is forwarded unchanged to ``graph-updates`` (the engine) and ``label-sources`` (the label
router) once per product id it describes, keyed ``leaf:<product id>`` or ``recipe:<product id>``; a rejected
one goes to ``dlq.<topic>`` with the reason.
"""

from __future__ import annotations

import time

import faust

from pcfx.agents.app import Wiring
from pcfx.schemas.base import ContractModel
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.streams.codec import encode_model
from pcfx.streams.intake import Origin, admit

PUBLISHED_HEADER = "pcfx-published-ms"  # the supplier's publish time, carried so latency spans every hop
LEAF, RECIPE = "leaf", "recipe"


def origin_of(event: faust.types.EventT) -> Origin:
    """The Kafka coordinates of the record an agent is looking at."""
    message = event.message
    return Origin(message.topic, message.partition, message.offset, message.key, int(message.timestamp * 1000))


def published_ms(event: faust.types.EventT) -> int:
    """The original publish time: the header if an upstream hop set it, else this record's timestamp."""
    headers = dict(event.message.headers or ())
    value = headers.get(PUBLISHED_HEADER)
    return int(value) if value else int(event.message.timestamp * 1000)


def graph_keys(model: ContractModel) -> list[str]:
    """One engine key per product id the record describes."""
    kind = LEAF if isinstance(model, ProductFootprint) else RECIPE
    return [f"{kind}:{product_id}" for product_id in model.product_ids]


def register(wiring: Wiring) -> None:
    """Declare the two validating agents on the wiring's app."""
    app, topics, metrics = wiring.app, wiring.topics, wiring.metrics
    graph_updates, label_sources = topics["graph-updates"], topics["label-sources"]

    async def admit_stream(cls: type[ContractModel], stream: faust.StreamT, name: str, dead_letters: faust.TopicT) -> None:
        async for event in stream.events():
            origin = origin_of(event)
            metrics.records_consumed.labels(topic=name).inc()
            admission = admit(cls, event.message.value, origin, stage=f"validate_{name}", now_ms=int(time.time() * 1000))
            if admission.dead_letter is not None:
                metrics.dead_letter(name, admission.error)
                await dead_letters.send(key=origin.key, value=encode_model(admission.dead_letter))
                continue
            headers = {PUBLISHED_HEADER: str(published_ms(event)).encode()}
            for key in graph_keys(admission.model):
                await graph_updates.send(key=key.encode(), value=event.message.value, headers=headers)
                await label_sources.send(key=key.encode(), value=event.message.value, headers=headers)

    @app.agent(topics["footprints"], name="validate_footprints")
    async def validate_footprints(stream: faust.StreamT) -> None:
        await admit_stream(ProductFootprint, stream, "footprints", topics["dlq.footprints"])

    @app.agent(topics["recipes"], name="validate_recipes")
    async def validate_recipes(stream: faust.StreamT) -> None:
        await admit_stream(ProductRecipe, stream, "recipes", topics["dlq.recipes"])
