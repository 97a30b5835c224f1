"""B7 tiers: chains of 8 tiers (supplier product -> tier 1 -> ... -> tier 8, all the buyer's), the buyer
subscribed to every tier; supplier publish -> label p50/p99 per tier at 20 % load, against a bare
produce -> consume echo at the same publish rate. Target: tier 8 p99 < 250 ms.

20 % load: every update derives 8 footprints, so updates are published at 20 % of B4(e)'s maximum
derived footprints/s divided by 8.
"""

from __future__ import annotations

from pcfx.bench import pipeline
from pcfx.bench.b2_latency import LOAD_TIMEOUT_S, quantiles
from pcfx.bench.common import Run, report, repeated, scratch, worker
from pcfx.bench.flow import FIRST_VERSION, Subscriber, echo, load, under_load, wait_for_products
from pcfx.bench.workload import chains

TIERS = 8
SHARE = 0.2
TARGET_MS = 250.0


def main(run: Run) -> dict:
    top = pipeline.max_rate(run)
    rate, seconds = SHARE * top / TIERS, run.size(1, 6)
    with scratch(run, "b7") as settings, worker(settings):
        graph = chains(run.size(5, 50), TIERS)
        every = [p for tier in graph.tiers for p in tier]
        subscriber = Subscriber(settings)
        load(settings, graph, every)
        wait_for_products(subscriber, every, LOAD_TIMEOUT_S)
        version = FIRST_VERSION + 1

        def measure(_repeat: int) -> dict[str, float]:
            nonlocal version
            found, version = under_load(settings, subscriber, graph, rate, seconds, version)
            figures = quantiles(echo(settings, rate, seconds), "echo")
            for tier in range(1, TIERS + 1):
                figures.update(quantiles(found.get(tier, [float("nan")]), f"tier{tier}"))
            return figures

        result = repeated(measure, run.repeats)
        subscriber.close()
    m = result["median"]
    met = m[f"tier{TIERS}_p99_ms"] < TARGET_MS
    per_tier = ", ".join(f"{t}: {m[f'tier{t}_p50_ms']:.0f}/{m[f'tier{t}_p99_ms']:.0f}" for t in range(1, TIERS + 1))
    summary = (
        f"{rate:.1f} updates/s (20 % of {top:.0f} derived/s over {TIERS} tiers), label p50/p99 ms per tier {per_tier}; "
        f"echo {m['echo_p50_ms']:.1f}/{m['echo_p99_ms']:.1f} ms; target tier {TIERS} p99 < {TARGET_MS:.0f} ms "
        f"{'met' if met else 'not met'}"
    )
    return report("b7", run, {"b4_max_derived_per_s": top, "updates_per_s": rate, "tiers": result,
                              "target_ms": TARGET_MS, "met": met}, summary)
