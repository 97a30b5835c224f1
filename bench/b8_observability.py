"""B8 observability cost: the full pipeline (B4(e)) with metrics on against the same with metrics off
(no Faust sensor, no ``/metrics``, pcfx metrics that record nothing: ``worker_child --no-metrics``), and
how long one scrape of a loaded worker's ``/metrics`` takes. Target: on and off within 3 %, in throughput
and in CPU per update, both as the ratio of the two medians and as the median of each repeat's ratio.

The two workers run side by side on their own topics and take turns: each repeat is four passes in the
order on, off, off, on, and each worker's figure is the mean of its two. Run as plain alternation (on, then
off) the second worker was slower in every one of five repeats (2026-12-03: throughput -2 % to -17 %,
"metrics cost -9.9 %"), an effect of going second that the symmetric order cancels, as it cancels a
steady drift of the machine within a repeat.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from statistics import mean

import httpx

from pcfx.bench import pipeline
from pcfx.bench.common import Run, median, report, repeated, scratch, worker

SCRAPES = 50
TARGET = 0.03
ORDER = ("on", "off", "off", "on")  # the passes of one repeat


def scrape_ms(port: int) -> dict[str, float]:
    """Median time of one GET /metrics (ms) and the page size (bytes)."""
    times, size = [], 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as client:
        for _ in range(SCRAPES):
            start = time.perf_counter()
            size = len(client.get("/metrics").raise_for_status().content)
            times.append(1000 * (time.perf_counter() - start))
    return {"scrape_ms": median(times), "page_bytes": size}


def main(run: Run) -> dict:
    count = run.size(200, 2_000)
    with ExitStack() as stack:
        on = stack.enter_context(scratch(run, "b8on"))
        off = stack.enter_context(scratch(run, "b8off"))
        on_worker = stack.enter_context(worker(on))
        off_worker = stack.enter_context(worker(off, "--no-metrics"))
        graphs = {"on": pipeline.prepare(on, count), "off": pipeline.prepare(off, count)}

        sides = {"on": (on, on_worker.pid), "off": (off, off_worker.pid)}

        def measure(repeat: int) -> dict[str, float]:
            passes: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
            for side in ORDER:
                settings, pid = sides[side]
                version = pipeline.versions(len(ORDER) // 2 * repeat + len(passes[side]))
                passes[side].append(pipeline.full_pass(settings, graphs[side], version, pid))
            return {f"{side}_{figure}": mean([one[figure] for one in passes[side]])
                    for side in sides for figure in ("derived_per_s", "cpu_per_update_us")}

        passes = repeated(measure, run.repeats)
        scrape = scrape_ms(on.worker_web_port)
    m, runs = passes["median"], passes["runs"]
    costs = {  # the ratio of the two medians, and the median of the repeats' own ratios (paired)
        "cpu": (m["on_cpu_per_update_us"] / m["off_cpu_per_update_us"] - 1,
                median([r["on_cpu_per_update_us"] / r["off_cpu_per_update_us"] - 1 for r in runs])),
        "throughput": (1 - m["on_derived_per_s"] / m["off_derived_per_s"],
                       median([1 - r["on_derived_per_s"] / r["off_derived_per_s"] for r in runs])),
    }
    met = all(abs(value) < TARGET for pair in costs.values() for value in pair)  # both ways, both figures
    result = {"passes": passes, "cpu_cost": costs["cpu"][0], "cpu_cost_paired": costs["cpu"][1],
              "throughput_cost": costs["throughput"][0], "throughput_cost_paired": costs["throughput"][1],
              "scrape": scrape, "target": TARGET, "met": met}
    summary = (
        f"metrics on {m['on_derived_per_s']:.0f} vs off {m['off_derived_per_s']:.0f} derived footprints/s "
        f"({100 * costs['throughput'][0]:+.1f} % throughput, {100 * costs['cpu'][0]:+.1f} % CPU per update; "
        f"repeat by repeat, medians {100 * costs['throughput'][1]:+.1f} % and {100 * costs['cpu'][1]:+.1f} %; "
        f"target all < 3 %: {'met' if met else 'not met'}); one /metrics scrape {scrape['scrape_ms']:.1f} ms "
        f"for {scrape['page_bytes'] / 1024:.0f} KiB"
    )
    return report("b8", run, result, summary)
