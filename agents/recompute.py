"""The recompute agent: folds micro-batches of ``graph-updates`` into the engine and publishes the results.

Tables (all on the single ``graph-updates`` partition, backed by changelog topics):
- ``product_to_input``: ``leaf:<id>`` / ``recipe:<id>`` -> the supplier footprint or recipe in force;
  the engine is rebuilt from it when a worker starts or takes the partition over.
- ``product_to_published``: product id -> its Active derived footprint (to deprecate, and to skip
  re-publishing figures that did not change).
- ``product_to_request``: product id -> the request sent for it while it was missing.
The agent body only reads the tables, calls :func:`pcfx.streams.recompute.recompute`, writes the tables
and sends; derived ids are deterministic, so a replay after a crash re-sends identical footprints.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import faust

from pcfx.agents.app import Wiring
from pcfx.agents.ingest import LEAF, PUBLISHED_HEADER, published_ms
from pcfx.metrics import Stage
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.engine import Engine
from pcfx.streams.recompute import StepOutput, TableView, Update, recompute

log = logging.getLogger(__name__)


def decode_update(key: str, raw: bytes, published: int) -> Update:
    """A ``graph-updates`` record back into its model (it was validated on the way in)."""
    cls = ProductFootprint if key.startswith(LEAF + ":") else ProductRecipe
    return Update(key, decode_model(cls, raw), published)


def register(wiring: Wiring) -> None:
    """Declare ``recompute_products`` on the wiring's app."""
    app, settings, metrics = wiring.app, wiring.settings, wiring.metrics
    inputs, published, requested = (wiring.tables[n] for n in ("product_to_input", "product_to_published", "product_to_request"))
    derived_topic, status_topic, request_topic = (wiring.topics[n] for n in ("derived", "product-status", "outbound-requests"))
    state: dict[str, Engine] = {}

    def view() -> TableView:
        def model_of(key: str) -> ProductFootprint | ProductRecipe | None:
            raw = inputs.get(key)
            return None if raw is None else decode_update(key, raw, 0).model

        def published_of(product_id: str) -> ProductFootprint | None:
            raw = published.get(product_id)
            return None if raw is None else decode_model(ProductFootprint, raw)

        return TableView(input=model_of, published=published_of, requested=lambda product_id: product_id in requested)

    def engine() -> tuple[Engine, list[Update]]:
        """The worker's engine; on first use, the updates that rebuild it from ``product_to_input``."""
        if "engine" in state:
            return state["engine"], []
        state["engine"] = Engine()
        restored = [decode_update(key, raw, 0) for key, raw in inputs.items() if raw is not None]
        log.info("recompute: rebuilding the engine from %d table entries", len(restored))
        return state["engine"], restored

    def write_tables(out: StepOutput) -> None:
        for key, model in out.inputs.items():
            if model is None:
                inputs.pop(key, None)
            else:
                inputs[key] = encode_model(model)
        for product_id, footprint in out.published.items():
            published[product_id] = encode_model(footprint)
        for product_id, request in out.requested.items():
            requested[product_id] = encode_model(request)

    async def send(out: StepOutput) -> None:
        for footprint in out.footprints:
            await derived_topic.send(key=footprint.id.encode(), value=encode_model(footprint))
        for status in out.statuses:
            headers = {}
            if status.upstream_changed_at is not None:
                headers[PUBLISHED_HEADER] = str(int(status.upstream_changed_at.timestamp() * 1000)).encode()
            await status_topic.send(key=status.product_id.encode(), value=encode_model(status), headers=headers)
        for request in out.requested.values():
            await request_topic.send(key=request.request_id.encode(), value=encode_model(request))
        metrics.records_produced.labels(topic="derived").inc(len(out.footprints))
        metrics.records_produced.labels(topic="product-status").inc(len(out.statuses))
        metrics.records_produced.labels(topic="outbound-requests").inc(len(out.requested))

    @app.agent(wiring.topics["graph-updates"], name="recompute_products")
    async def recompute_products(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            started = time.perf_counter()
            current, restored = engine()
            updates = restored + [decode_update(e.message.key.decode(), e.message.value, published_ms(e)) for e in events]
            metrics.records_consumed.labels(topic="graph-updates").inc(len(events))
            out = recompute(current, updates, view(), datetime.now(timezone.utc))
            write_tables(out)
            await send(out)
            for upstream in out.upstream_ms:
                metrics.observe_end_to_end(Stage.DERIVED, upstream)
            metrics.derived_footprints.inc(len(out.published))
            metrics.observe_recompute(len(events), len(out.statuses), time.perf_counter() - started)
