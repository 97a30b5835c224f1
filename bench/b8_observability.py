"""B8 observability cost: the full pipeline (B4(e)) with metrics on against the same with metrics off
(no Faust sensor, no ``/metrics``, pcfx metrics that record nothing: ``worker_child --no-metrics``), and
how long one scrape of a loaded worker's ``/metrics`` takes. Target: on and off within 3 %, in throughput
and in CPU per update.

The two workers run side by side on their own topics and take turns, pass by pass, so drift in the
machine's load hits both alike.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import httpx

from pcfx.bench import pipeline
from pcfx.bench.common import Run, median, report, repeated, scratch, worker

SCRAPES = 50
TARGET = 0.03


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

        def measure(repeat: int) -> dict[str, float]:
            version = pipeline.versions(repeat)
            with_metrics = pipeline.full_pass(on, graphs["on"], version, on_worker.pid)
            without = pipeline.full_pass(off, graphs["off"], version, off_worker.pid)
            return {"on_derived_per_s": with_metrics["derived_per_s"], "off_derived_per_s": without["derived_per_s"],
                    "on_cpu_per_update_us": with_metrics["cpu_per_update_us"],
                    "off_cpu_per_update_us": without["cpu_per_update_us"]}

        passes = repeated(measure, run.repeats)
        scrape = scrape_ms(on.worker_web_port)
    m = passes["median"]
    cost = m["on_cpu_per_update_us"] / m["off_cpu_per_update_us"] - 1
    slowdown = 1 - m["on_derived_per_s"] / m["off_derived_per_s"]
    result = {"passes": passes, "cpu_cost": cost, "throughput_cost": slowdown, "scrape": scrape,
              "target": TARGET, "met": abs(slowdown) < TARGET and cost < TARGET}  # throughput alone is too noisy to show 3 %
    summary = (
        f"metrics on {m['on_derived_per_s']:.0f} vs off {m['off_derived_per_s']:.0f} derived footprints/s "
        f"({100 * slowdown:+.1f} % throughput, {100 * cost:+.1f} % CPU per update; target both < 3 %: "
        f"{'met' if result['met'] else 'not met'}); one /metrics scrape {scrape['scrape_ms']:.1f} ms "
        f"for {scrape['page_bytes'] / 1024:.0f} KiB"
    )
    return report("b8", run, result, summary)
