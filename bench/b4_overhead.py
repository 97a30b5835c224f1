"""B4 overhead ladder, one worker: what each layer between Kafka and a derived footprint costs.

(a) bare aiokafka consume + decode (bytes -> validated ``ProductFootprint``): the baseline; (b) the same in
a Faust agent; (c) plus a write to an in-memory table with a changelog; (d) the same on RocksDB; (e) the
full pipeline (:mod:`pcfx.bench.pipeline`: validate, recompute, produce derived footprints, labels).
Reported as b/a .. e/a, plus how fast a restarted worker replays the changelog of (c).
Targets: b/a >= 0.5, d/a >= 0.3, (e) >= 20k derived footprints/s.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer

from pcfx.agents.worker import GC_THRESHOLDS
from pcfx.bench import pipeline
from pcfx.bench.common import Run, report, repeated, scratch, start_process, stop, wait_until, worker
from pcfx.bench.workload import footprint, leaf_id
from pcfx.connectors.kafka_io import producer, send_all
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model

CHILD_TIMEOUT_S = 300.0


def fill(settings: Settings, count: int) -> None:
    """``count`` copies of one encoded footprint on ``footprints``, each under its own key (so a table
    keyed like the topic ends up with ``count`` entries)."""
    value, send = encode_model(footprint(leaf_id(0), 1)), producer(settings)
    send_all(send, settings.topic("footprints"), ((leaf_id(index).encode(), value) for index in range(count)))
    send.close()


async def bare_rate(settings: Settings, count: int) -> float:
    """(a): records/s of aiokafka consuming and decoding, first record to last, with the garbage-collector
    thresholds the Faust rungs run with (those of ``pcfx worker``)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return await _bare_rate(settings, count)
    finally:
        gc.set_threshold(*thresholds)


async def _bare_rate(settings: Settings, count: int) -> float:
    consumer = AIOKafkaConsumer(settings.topic("footprints"), bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, start = 0, 0.0
    try:
        while seen < count:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                start = start or time.perf_counter()
                for record in batch:
                    decode_model(ProductFootprint, record.value)
                seen += len(batch)
    finally:
        await consumer.stop()
    return count / (time.perf_counter() - start)


def child_rate(settings: Settings, rung: str, app_id: str, count: int) -> float:
    """Records/s of one :mod:`pcfx.bench.ladder_child` run."""
    out = settings.data_dir / f"{app_id}-{rung}.json"
    process = start_process(settings, "pcfx.bench.ladder_child", rung, "--app-id", app_id,
                            "--partitions", str(settings.partitions), "--count", str(count), "--out", str(out))
    try:
        wait_until(out.exists, f"ladder rung {rung}", CHILD_TIMEOUT_S)
    finally:
        stop(process)
    return count / json.loads(out.read_text())["seconds"]


def ladder(settings: Settings, count: int, repeats: int) -> dict:
    fill(settings, count)

    def measure(repeat: int) -> dict[str, float]:
        app_id = f"{settings.app_id}-ladder{repeat}-{uuid.uuid4().hex[:6]}"
        rates = {"a_per_s": asyncio.run(bare_rate(settings, count))}
        rates["b_per_s"] = child_rate(settings, "b", app_id + "b", count)
        rates["c_per_s"] = child_rate(settings, "c", app_id + "c", count)
        rates["replay_per_s"] = child_rate(settings, "replay", app_id + "c", count)
        rates["d_per_s"] = child_rate(settings, "d", app_id + "d", count)
        return rates

    return repeated(measure, repeats)


def full(settings: Settings, count: int, repeats: int) -> dict:
    """(e) on a real worker: ``repeats`` passes of ``count`` updates each."""
    with worker(settings) as process:
        graph = pipeline.prepare(settings, count)
        return repeated(lambda repeat: pipeline.full_pass(settings, graph, pipeline.versions(repeat), process.pid), repeats)


def main(run: Run) -> dict:
    with scratch(run, "b4") as settings:
        rungs = ladder(settings, run.size(1_000, 5_000), run.repeats)
    with scratch(run, "b4e") as settings:
        e = full(settings, run.size(300, 3_000), run.repeats)
    m = rungs["median"]
    e_rate = e["median"]["derived_per_s"]
    ratios = {f"{rung}/a": m[f"{rung}_per_s"] / m["a_per_s"] for rung in "bcd"}
    ratios["e/a"] = e_rate / m["a_per_s"]
    targets = {"b/a": 0.5, "d/a": 0.3, "e_derived_per_s": 20_000}
    verdicts = {"b/a": ratios["b/a"] >= 0.5, "d/a": ratios["d/a"] >= 0.3, "e_derived_per_s": e_rate >= 20_000}
    result = {"ladder": rungs, "e": e, "ratios": ratios, "targets": targets, "met": verdicts}
    summary = (
        f"a {m['a_per_s'] / 1e3:.1f}k/s; b/a {ratios['b/a']:.2f}, c/a {ratios['c/a']:.2f}, d/a {ratios['d/a']:.2f}, "
        f"e/a {ratios['e/a']:.3f} (e = {e_rate:.0f} derived footprints/s, {e['median']['cpu_per_update_us']:.0f} us "
        f"CPU per update; target 20k/s {'met' if verdicts['e_derived_per_s'] else 'not met'}); "
        f"changelog replay {m['replay_per_s'] / 1e3:.1f}k entries/s"
    )
    return report("b4", run, result, summary)
