"""B2 latency at fixed load: supplier publish -> carbon label at the subscribed buyer, p50/p99, at 20 % and
50 % of B4(e)'s maximum, against a bare produce -> consume echo at the same rate on the same broker.

The buyer owns one-tier products (supplier product -> buyer's product), subscribes to their labels and
reads its own label topic; the supplier publishes new footprint versions of its products at a fixed rate
(:mod:`pcfx.bench.flow`). Each label passes validate -> recompute -> derived -> label routing -> labels.
"""

from __future__ import annotations

from pcfx.bench import pipeline
from pcfx.bench.common import Run, percentile, report, repeated, scratch, worker
from pcfx.bench.flow import FIRST_VERSION, Subscriber, echo, load, under_load, wait_for_products
from pcfx.bench.workload import chains

SHARES = (0.2, 0.5)
LOAD_TIMEOUT_S = 300.0


def quantiles(latencies: list[float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_p50_ms": 1000 * percentile(latencies, 0.5), f"{prefix}_p99_ms": 1000 * percentile(latencies, 0.99)}


def main(run: Run) -> dict:
    top = pipeline.max_rate(run)
    seconds = run.size(1, 5)
    loads = []
    with scratch(run, "b2") as settings, worker(settings):
        graph = chains(run.size(20, 200), 1)
        subscriber = Subscriber(settings)
        load(settings, graph, graph.tiers[0])
        wait_for_products(subscriber, graph.tiers[0], LOAD_TIMEOUT_S)
        version = FIRST_VERSION + 1
        for share in SHARES:
            rate = share * top

            def measure(_repeat: int) -> dict[str, float]:
                nonlocal version
                found, version = under_load(settings, subscriber, graph, rate, seconds, version)
                labels = found.get(1, [float("nan")])
                return {**quantiles(echo(settings, rate, seconds), "echo"), **quantiles(labels, "label"),
                        "labels": len(labels), "published": int(rate * seconds)}

            result = repeated(measure, run.repeats)
            m = result["median"]
            m["p99_ratio"] = m["label_p99_ms"] / m["echo_p99_ms"]
            loads.append({"share_of_max": share, "updates_per_s": rate, **result})
        subscriber.close()
    low, high = (entry["median"] for entry in loads)
    summary = (
        f"at 20 % of {top:.0f}/s: label p50 {low['label_p50_ms']:.0f} ms, p99 {low['label_p99_ms']:.0f} ms "
        f"(echo {low['echo_p50_ms']:.1f} / {low['echo_p99_ms']:.1f} ms); at 50 %: p50 {high['label_p50_ms']:.0f} ms, "
        f"p99 {high['label_p99_ms']:.0f} ms (echo {high['echo_p50_ms']:.1f} / {high['echo_p99_ms']:.1f} ms)"
    )
    return report("b2", run, {"b4_max_derived_per_s": top, "loads": loads}, summary)
