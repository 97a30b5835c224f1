"""Roll-up engine benchmarks (issue 4): (c) recomputes per affected product, (d) one update inside a
400-product dense cyclic block, (e) peak RSS at 1M products / 5M edges, B5 incremental vs whole-graph
recompute by cone size, B6 micro-batching. Prints JSON, then a one-line summary.

Run: ``python -m pcfx.bench.engine`` (about 5 minutes on 2 cores; ``--quick`` skips (e)).
Every timing is the median of at least 5 repeats, with its baseline measured in the same run.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from pcfx.bench.graphs import Graph, io_block, supply_graph
from pcfx.streams.engine import Engine
from pcfx.streams.rollup import WEIGHT_FIELD, Recipe, UpsertRecipe

REPEATS = 7
BACK_SHARE = 0.0003  # back lines per line: cycles of a few to a few hundred products


def loaded(graph: Graph, share: float = 0.25) -> Engine:
    engine = Engine(full_recompute_share=share)
    for batch in graph.events():
        engine.apply(batch)
    return engine


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def cone_sizes(graph: Graph, products: np.ndarray) -> np.ndarray:
    """Downstream closure sizes from an independent BFS on the consumer graph (scipy csgraph)."""
    consumers = sp.csr_matrix((np.ones(graph.rows.size), (graph.cols, graph.rows)), shape=(graph.n, graph.n))
    return np.array([breadth_first_order(consumers, int(p), return_predecessors=False).size for p in products])


def recomputes_per_affected(graph: Graph, engine: Engine, rng: np.random.Generator) -> dict:
    """(c): products solved per update / size of its true downstream closure, cones below the switch."""
    leaves = rng.choice(np.flatnonzero(graph.leaves), 40, replace=False)
    affected = cone_sizes(graph, leaves)
    ratios = []
    for version, (p, size) in enumerate(zip(leaves, affected)):
        before = engine.stats.recomputed
        engine.apply([graph.leaf_update(int(p), float(rng.uniform(0.1, 10)), 1000 + version)])
        if size < engine.full_recompute_share * graph.n:
            ratios.append((engine.stats.recomputed - before) / size)
    return {"updates": len(ratios), "median_ratio": statistics.median(ratios), "max_ratio": max(ratios), "target": 1.05}


def dense_block_update(rng: np.random.Generator) -> dict:
    """(d): change one product's own emissions inside a 400-product dense cyclic block; time to settled."""
    graph = io_block(400, spectral_radius=0.5, seed=1)
    engine = loaded(graph)
    times, emitted = [], []
    for version in range(REPEATS):
        p = int(rng.integers(0, 400))
        event = graph.event(p, *graph.lines(p))
        recipe: Recipe = event.recipe
        changed = UpsertRecipe(Recipe(recipe.product_id, recipe.declared_unit, 1.0, 1.0,
                                      {WEIGHT_FIELD: 1.0 + version}, 100.0, None, recipe.inputs))
        times.append(timed(lambda: emitted.append(len(engine.apply([changed])))))
    full = [timed(engine.solve_all) for _ in range(REPEATS)]
    return {
        "block": 400,
        "edges": int(graph.rows.size),
        "settled_ms": 1000 * statistics.median(times),
        "baseline_full_solve_ms": 1000 * statistics.median(full),
        "emitted": statistics.median(emitted),
        "target_ms": 100,
    }


def incremental_vs_full(n: int, rng: np.random.Generator) -> dict:
    """B5: per-update cost by cone size, default engine vs always-full vs always-cone, same updates."""
    graph = supply_graph(n, back_share=BACK_SHARE, seed=n)
    engines = {"default": loaded(graph), "full": loaded(graph, 0.0), "cone": loaded(graph, 1.0)}
    leaves = rng.choice(np.flatnonzero(graph.leaves), 60, replace=False)
    shares = cone_sizes(graph, leaves) / n
    costs: dict[str, list[float]] = {name: [] for name in engines}
    for version, p in enumerate(leaves):
        event = graph.leaf_update(int(p), float(rng.uniform(0.1, 10)), version)
        for name, engine in engines.items():
            costs[name].append(timed(lambda: engine.apply([event])))
    buckets = {}
    for low, high in [(0, 0.001), (0.001, 0.01), (0.01, 0.1), (0.1, 1.01)]:
        inside = (shares > low) & (shares <= high)
        if inside.sum() >= 1:
            row = {name: 1000 * float(np.median(np.array(c)[inside])) for name, c in costs.items()}
            row["updates"] = int(inside.sum())
            row["full_over_default"] = row["full"] / row["default"]
            buckets[f"cone<={high:.1%}"] = row
    cheaper = shares[np.array(costs["cone"]) < np.array(costs["full"])]
    return {
        "products": n,
        "edges": int(graph.rows.size),
        "largest_cycle": int(engines["default"]._structure.sizes.max()),
        "ms_by_cone_share": buckets,
        "crossover_cone_share": float(cheaper.max()) if cheaper.size else 0.0,
        "switch_share": engines["default"].full_recompute_share,
        "target_full_over_default_small_cones": 20,
    }


def batching(graph: Graph, engine: Engine, rng: np.random.Generator) -> dict:
    """B6: amortised cost per update for micro-batches of 1 .. 10k leaf updates (baseline: batches of 1)."""
    leaves = np.flatnonzero(graph.leaves)
    result = {}
    for size in (1, 10, 100, 1000, 10_000):
        per_update = []
        for repeat in range(5):
            batch = [graph.leaf_update(int(p), float(rng.uniform(0.1, 10)), 10 * size + repeat)
                     for p in rng.choice(leaves, min(size, leaves.size), replace=False)]
            per_update.append(timed(lambda: engine.apply(batch)) / len(batch))
        result[str(size)] = 1000 * statistics.median(per_update)
    return {"ms_per_update_by_batch": result, "ratio_1_over_10k": result["1"] / result["10000"]}


def peak_rss(products: int, lines_per_recipe: int) -> dict:
    """(e): peak RSS of a fresh process that loads the graph, against one that only imports the engine."""
    def child(*args: str) -> float:
        out = subprocess.run([sys.executable, "-m", "pcfx.bench.engine", *args], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["peak_rss_mib"]
    baseline = child("--rss-child", "0", "0")
    loaded_mib = child("--rss-child", str(products), str(lines_per_recipe))
    return {"products": products, "peak_rss_mib": loaded_mib, "baseline_import_mib": baseline, "target_mib": 2048}


def rss_child(products: int, lines_per_recipe: int) -> None:
    if products:
        graph = supply_graph(products, inputs=lines_per_recipe, back_share=BACK_SHARE, seed=7)
        edges = int(graph.rows.size)
        engine = loaded(graph)
        del graph
        engine.apply([])
    else:
        edges = 0
    print(json.dumps({"edges": edges, "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, unlike ru_maxrss, is not inherited from the parent across fork/exec."""
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> None:
    if argv[:1] == ["--rss-child"]:
        rss_child(int(argv[1]), int(argv[2]))
        return
    rng = np.random.default_rng(2024)
    report: dict = {"repeats": REPEATS}
    graph = supply_graph(100_000, back_share=BACK_SHARE, seed=3)
    engine = loaded(graph)
    report["c_recomputes_per_affected"] = recomputes_per_affected(graph, engine, rng)
    report["d_dense_block"] = dense_block_update(rng)
    report["B5"] = [incremental_vs_full(n, rng) for n in (20_000, 100_000)]
    report["B6"] = batching(graph, engine, rng)
    if "--quick" not in argv:
        report["e_memory"] = peak_rss(1_000_000, 6)  # 6 lines per recipe, 90 % recipes: ~5.4M edges
    print(json.dumps(report, indent=2))
    b5 = report["B5"][-1]["ms_by_cone_share"]
    small = [row["full_over_default"] for key, row in b5.items() if key in ("cone<=0.1%", "cone<=1.0%")]
    memory = report.get("e_memory", {}).get("peak_rss_mib", float("nan"))
    print(
        f"engine: (c) recomputes/affected {report['c_recomputes_per_affected']['median_ratio']:.3f}, "
        f"(d) 400-block update {report['d_dense_block']['settled_ms']:.1f} ms, "
        f"(e) 1M products {memory:.0f} MiB, B5 full/incremental at cones<=1% {min(small, default=float('nan')):.0f}x, "
        f"B6 per-update 1 vs 10k batch {report['B6']['ratio_1_over_10k']:.0f}x"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
