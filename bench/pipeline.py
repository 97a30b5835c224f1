"""The full pipeline under load, as B4(e), B3 and B8 run it: a real worker holding ``count`` one-tier chains
(supplier product -> the buyer's product), then passes that each publish a new footprint version of every
supplier product at once, so each pass derives ``count`` new footprints.

A pass is timed from the first footprint's Kafka timestamp (the supplier's send) to the last derived
footprint's (the worker's send); the worker's CPU time is taken from publish until it has committed every
stage, labels included, so ``cpu_per_update_us`` is the whole pipeline's cost of one update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pcfx.bench.common import Run, cpu_seconds, drain, read_since, scratch, worker
from pcfx.bench.flow import FIRST_VERSION, load
from pcfx.bench.workload import Graph, chains, footprint
from pcfx.connectors.kafka_io import end_offsets
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

RECOMPUTED = ("footprints", "recipes", "graph-updates", "recompute-steps")  # once committed, every derived footprint is on Kafka
STAGES = (*RECOMPUTED, "label-sources", "label-inputs")  # every topic the worker consumes, in order
TIMEOUT_S = 600.0


def prepare(settings: Settings, count: int) -> Graph:
    """Load ``count`` chains into the running worker and wait until it has handled all of it."""
    graph = chains(count, 1)
    load(settings, graph, [])
    drain(settings, STAGES, TIMEOUT_S)
    return graph


def full_pass(settings: Settings, graph: Graph, version: int, pid: int, codec_stats: Path | None = None) -> dict[str, float]:
    """Publish ``version`` of every supplier footprint; rate, CPU and (with ``codec_stats``) codec time."""
    models = [footprint(leaf, version) for leaf in graph.leaves]
    since = end_offsets(settings, [settings.topic("footprints"), settings.topic("derived")])
    cpu, codec = cpu_seconds(pid), codec_totals(codec_stats)
    with SupplierClient(settings) as client:
        client.publish_footprints(models)
    drain(settings, STAGES, TIMEOUT_S)
    cpu, codec = cpu_seconds(pid) - cpu, {k: v - codec.get(k, 0) for k, v in codec_totals(codec_stats).items()}
    start = min(r.timestamp for r in read_since(settings, "footprints", since))
    derived = [r for r in read_since(settings, "derived", since) if decode_model(ProductFootprint, r.value).status == "Active"]
    seconds = (max(r.timestamp for r in derived) - start) / 1000
    result = {"derived": len(derived), "seconds": seconds, "derived_per_s": len(derived) / seconds,
              "cpu_per_update_us": 1e6 * cpu / len(models)}
    if codec_stats is not None:
        result.update(avro_share=codec["avro_s"] / cpu, codec_share=codec["model_s"] / cpu,
                      codec_calls_per_update=codec["model_calls"] / len(models))
    return result


def codec_totals(path: Path | None) -> dict[str, Any]:
    """The worker's running codec totals (see :mod:`pcfx.bench.worker_child`); empty without a stats file."""
    if path is None:
        return {}
    return json.loads(path.read_text()) if path.exists() else {}


def versions(repeat: int) -> int:
    """The footprint version a pass publishes: each pass a new one after the loaded first version."""
    return FIRST_VERSION + 1 + repeat


def max_rate(run: Run) -> float:
    """B4(e)'s derived footprints/s from this run, or measured now with one short pass if B4 did not run."""
    known = run.results.get("b4")
    if known is not None:
        return known["e"]["median"]["derived_per_s"]
    with scratch(run, "max") as settings, worker(settings) as process:
        graph = prepare(settings, run.size(200, 2_000))
        return full_pass(settings, graph, versions(0), process.pid)["derived_per_s"]
