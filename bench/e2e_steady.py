"""Issue 4 (b), steady random upstream updates: supplier products picked at random get new footprint
versions at 20 % of B4(e)'s maximum; updates/s and p50/p99 from publish to the derived footprint of tier 1
and of tier 8 (chains of 8 tiers), read from ``derived`` as a consumer would. Target: p99 <= 250 ms
through 8 tiers.

Baseline: a bare produce -> consume echo at the same publish rate on the same broker.
"""

from __future__ import annotations

import numpy as np

from pcfx.bench import pipeline
from pcfx.bench.b2_latency import LOAD_TIMEOUT_S, quantiles
from pcfx.bench.common import Run, report, repeated, scratch, worker
from pcfx.bench.flow import FIRST_VERSION, Subscriber, derived_arrival, echo, load, under_load, wait_for_products
from pcfx.bench.workload import chains

TIERS = 8
SHARE = 0.2
TARGET_MS = 250.0


def main(run: Run) -> dict:
    top = pipeline.max_rate(run)
    rate, seconds, rng = SHARE * top / TIERS, run.size(1, 6), np.random.default_rng(4)
    with scratch(run, "steady") as settings, worker(settings):
        graph = chains(run.size(10, 100), TIERS)
        reader = Subscriber(settings, "derived", derived_arrival)
        load(settings, graph, [])
        wait_for_products(reader, [p for tier in graph.tiers for p in tier], LOAD_TIMEOUT_S)
        version = FIRST_VERSION + 1

        def measure(_repeat: int) -> dict[str, float]:
            nonlocal version
            found, version = under_load(settings, reader, graph, rate, seconds, version, rng)
            return {**quantiles(echo(settings, rate, seconds), "echo"), **quantiles(found.get(1, [float("nan")]), "tier1"),
                    **quantiles(found.get(TIERS, [float("nan")]), f"tier{TIERS}"), "updates_per_s": rate}

        result = repeated(measure, run.repeats)
        reader.close()
    m = result["median"]
    met = m[f"tier{TIERS}_p99_ms"] <= TARGET_MS
    summary = (
        f"{rate:.1f} random updates/s (20 % of {top:.0f} derived/s over {TIERS} tiers): derived footprint p50/p99 "
        f"tier 1 {m['tier1_p50_ms']:.0f}/{m['tier1_p99_ms']:.0f} ms, tier {TIERS} {m[f'tier{TIERS}_p50_ms']:.0f}/"
        f"{m[f'tier{TIERS}_p99_ms']:.0f} ms; echo {m['echo_p50_ms']:.1f}/{m['echo_p99_ms']:.1f} ms; "
        f"target p99 <= {TARGET_MS:.0f} ms through {TIERS} tiers {'met' if met else 'not met'}"
    )
    return report("steady", run, {"b4_max_derived_per_s": top, "steady": result, "target_ms": TARGET_MS, "met": met}, summary)
