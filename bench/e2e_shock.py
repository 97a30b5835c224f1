"""Issue 4 (a), background-database shock: one supplier footprint (a provincial grid electricity factor)
under every product of a 5-tier graph changes; how long until every derived footprint is published, and
derived footprints/s. Target: >= 20k derived footprints/s.

Baseline: the same change through the pure recompute step (:func:`pcfx.streams.recompute.recompute`, the
function the agent calls) on the same graph in this process, no Kafka. pcfx: a real worker, timed from the
footprint's Kafka timestamp to the last derived footprint's; each repeat publishes the next version.
"""

from __future__ import annotations

import gc
import time
from datetime import datetime, timezone

from pcfx.agents.worker import GC_THRESHOLDS
from pcfx.bench.common import Run, drain, prefixed_topics, read_since, report, repeated, scratch, worker
from pcfx.bench.flow import FIRST_VERSION, load
from pcfx.bench.pipeline import RECOMPUTED, STAGES, TIMEOUT_S
from pcfx.bench.workload import Graph, background_graph, footprint
from pcfx.connectors.kafka_io import end_offsets
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model
from pcfx.streams.engine import Engine
from pcfx.streams.keys import LEAF, RECIPE, key_of
from pcfx.streams.recompute import InputSummaries, StepOutput, TableView, Update, recompute

TARGET = 20_000
TIERS = 5


class PureExchange:
    """The recompute step with dict tables: what the worker does per micro-batch, minus Faust and Kafka
    (with the worker's garbage-collector thresholds, so that the ratio compares like with like)."""

    def __init__(self) -> None:
        gc.set_threshold(*GC_THRESHOLDS)
        self.engine, self.inputs, self.published = Engine(), {}, {}
        self.summaries = InputSummaries(self.inputs.get)
        self.view = TableView(input=self.inputs.get, summary=self.summaries.get, published=self.published.get, requested=lambda _p: True)

    def step(self, updates: list[Update]) -> StepOutput:
        out = recompute(self.engine, updates, self.view, datetime.now(timezone.utc))
        self.inputs.update(out.inputs)
        self.published.update(out.summaries)
        self.summaries.written(out.input_summaries)
        return out


def leaf_update(graph: Graph, version: int) -> Update:
    return Update(key_of(LEAF, graph.leaves[0]), footprint(graph.leaves[0], version), int(time.time() * 1000))


def pure_shocks(graph: Graph, repeats: int) -> dict:
    exchange = PureExchange()
    exchange.step([Update(key_of(RECIPE, r.product_ids[0]), r, 0) for r in graph.recipes] + [leaf_update(graph, FIRST_VERSION)])

    def measure(repeat: int) -> dict[str, float]:
        update = leaf_update(graph, FIRST_VERSION + 1 + repeat)
        start = time.perf_counter()
        out = exchange.step([update])
        seconds = time.perf_counter() - start
        return {"derived": len(out.published), "seconds": seconds, "derived_per_s": len(out.published) / seconds}

    return repeated(measure, repeats)


def worker_shock(settings: Settings, graph: Graph, version: int) -> dict[str, float]:
    """One shock through the worker; also how many records it wrote to Kafka per derived footprint, on
    every topic (changelogs and Faust's own included, the supplier's footprint not)."""
    topics = prefixed_topics(settings)
    before = end_offsets(settings, topics)
    with SupplierClient(settings) as client:
        client.publish(footprint(graph.leaves[0], version))
    drain(settings, RECOMPUTED, TIMEOUT_S)
    start = min(r.timestamp for r in read_since(settings, "footprints", before))
    derived = [r for r in read_since(settings, "derived", before) if decode_model(ProductFootprint, r.value).status == "Active"]
    seconds = (max(r.timestamp for r in derived) - start) / 1000
    drain(settings, STAGES, TIMEOUT_S)  # the label stage finishes before the next shock
    written = sum(end - before.get(tp, 0) for tp, end in end_offsets(settings, topics).items()) - 1  # 1: the supplier's
    return {"derived": len(derived), "seconds": seconds, "derived_per_s": len(derived) / seconds,
            "records_per_derived": written / len(derived)}


def main(run: Run) -> dict:
    products = run.shock_products or run.size(200, 3_000)
    graph = background_graph(products, TIERS)
    baseline = pure_shocks(graph, run.repeats)
    with scratch(run, "shock") as settings, worker(settings):
        load(settings, graph, [])
        drain(settings, STAGES, TIMEOUT_S)
        e2e = repeated(lambda r: worker_shock(settings, graph, FIRST_VERSION + 1 + r), run.repeats)
    b, m = baseline["median"], e2e["median"]
    ratio = m["derived_per_s"] / b["derived_per_s"]
    met = m["derived_per_s"] >= TARGET
    summary = (
        f"{len(graph.recipes)} products over {TIERS} tiers: all settled {m['seconds']:.1f} s after the publish, "
        f"{m['derived_per_s']:.0f} derived footprints/s = {ratio:.3f}x the pure recompute step "
        f"({b['derived_per_s']:.0f}/s, {b['seconds']:.2f} s), {m['records_per_derived']:.2f} records written to Kafka "
        f"per derived footprint; target {TARGET // 1000}k/s {'met' if met else 'not met'}"
    )
    return report("shock", run, {"products": len(graph.recipes), "tiers": TIERS, "baseline_pure_step": baseline,
                                 "worker": e2e, "ratio": ratio, "target_derived_per_s": TARGET, "met": met}, summary)
