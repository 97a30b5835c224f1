"""Issue 13, scale-out: the recompute shared by 1, 2 and 3 workers, shown by work, not wall time.

The broker and every worker share the machine's cores, so a second worker cannot make a shock finish
sooner on two cores; what scaling out means is that each worker does its share of the recompute and the
sharing itself costs little. Per run (a fresh set of topics, N workers that joined before the load):
the 5-tier background graph of the shock benchmark, then a shock (its one supplier footprint changes,
every product recomputes). Measured on each worker from its own ``/metrics`` and ``/proc``: recipe products
solved (``pcfx_products_solved_total``) and CPU seconds during the shock. Reported: each worker's share of
the solves (target 1/N +- 15 %), the summed worker CPU per derived footprint against one worker's (target
<= 1.15x), whether the final totals equal the one-worker run's, and the wall-clock throughput as measured.
Each count runs five times, interleaved with the others, medians reported: one run's CPU moved by 30 % with
the machine's other load, more than the difference being measured.
"""

from __future__ import annotations

import subprocess
import time
from contextlib import ExitStack
from statistics import median

from pcfx.agents.topics import admin_client
from pcfx.bench.common import Run, cpu_seconds, drain, read_since, report, scratch, start_worker, stop, wait_until, worker_counter
from pcfx.bench.flow import FIRST_VERSION, load
from pcfx.bench.pipeline import RECOMPUTED, STAGES, TIMEOUT_S
from pcfx.bench.workload import background_graph, footprint
from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.kafka_io import end_offsets
from pcfx.connectors.supplier import SupplierClient
from pcfx.ops.kafka import free_port
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

TIERS = 5
WORKERS = (1, 2, 3)
SHARE_TOLERANCE = 0.15
CPU_TARGET = 1.15


def solved(port: int) -> float:
    """The worker's ``pcfx_products_solved_total``, read from its ``/metrics``."""
    return worker_counter(port, "pcfx_products_solved") or 0.0


def stable_members(settings: Settings) -> int:
    """Members of the worker group once it is ``Stable`` (each has its partitions); 0 while it rebalances.

    A joining worker is listed as a member while the group is still ``PreparingRebalance``: loading then
    meant the partitions moved after the load, and the shock paid for every moved shard's first use (its
    engine and the router's shape read back from the tables) on top of the recompute being measured."""
    with admin_client(settings) as admin:
        group = admin.describe_groups([settings.app_id])[settings.app_id]
    return len(group["members"]) if group["group_state"] == "Stable" else 0


def one_run(run: Run, count: int, products: int) -> dict:
    graph = background_graph(products, TIERS)
    with scratch(run, f"scale{count}") as settings, ExitStack() as stack:
        ports = [free_port() for _ in range(count)]
        processes: list[subprocess.Popen] = []
        for k, port in enumerate(ports):
            folder = settings.data_dir / f"worker{k}"
            folder.mkdir()
            process = start_worker(settings.model_copy(update={"data_dir": folder, "worker_web_port": port}))
            stack.callback(stop, process)
            processes.append(process)
        wait_until(lambda: stable_members(settings) == count, f"{count} workers in a stable group", TIMEOUT_S, 0.5)
        load(settings, graph, [])
        drain(settings, STAGES, TIMEOUT_S)
        before_solved = [solved(port) for port in ports]
        before_cpu = [cpu_seconds(p.pid) for p in processes]
        offsets = end_offsets(settings, [settings.topic("derived"), settings.topic("footprints")])
        with SupplierClient(settings) as client:
            client.publish(footprint(graph.leaves[0], FIRST_VERSION + 1))
        drain(settings, RECOMPUTED, TIMEOUT_S)
        time.sleep(0.5)  # the metrics and /proc of the last micro-batch
        work = [solved(port) - b for port, b in zip(ports, before_solved)]
        cpu = [cpu_seconds(p.pid) - b for p, b in zip(processes, before_cpu)]
        start = min(r.timestamp for r in read_since(settings, "footprints", offsets))
        derived = [r for r in read_since(settings, "derived", offsets) if decode_model(ProductFootprint, r.value).status == "Active"]
        seconds = (max(r.timestamp for r in derived) - start) / 1000
        totals = {p: s.pcf_excluding_biogenic_uptake for p, s in current_statuses(settings).items()}
        drain(settings, STAGES, TIMEOUT_S)
    total_work = sum(work) or 1.0
    return {
        "workers": count, "derived": len(derived), "seconds": seconds, "derived_per_s": len(derived) / seconds,
        "solved_per_worker": work, "share_per_worker": [w / total_work for w in work],
        "cpu_s_per_worker": cpu, "cpu_s_per_derived": sum(cpu) / len(derived), "totals": totals,
    }


def main(run: Run) -> dict:
    """Every worker count ``run.repeats`` times, interleaved (1, 2, 3, 1, 2, 3, ...), so that the others' load
    on a shared machine falls on every count alike; figures are medians, shares the worst run's."""
    products = run.shock_products or run.size(300, 3_000)  # --shock-products sizes this graph too
    runs: dict[int, list[dict]] = {count: [] for count in WORKERS}
    for _ in range(run.repeats):
        for count in WORKERS:
            runs[count].append(one_run(run, count, products))
    alone = median([r["cpu_s_per_derived"] for r in runs[1]])
    reference = runs[1][0]["totals"]
    rows, lines, met = [], [], True
    for count, results in runs.items():
        deviation = max(abs(share * count - 1) for r in results for share in r["share_per_worker"])
        cpu_ratio = median([r["cpu_s_per_derived"] for r in results]) / alone
        identical = all(r["totals"] == reference for r in results)
        throughput = median([r["derived_per_s"] for r in results])
        ok = deviation <= SHARE_TOLERANCE and cpu_ratio <= CPU_TARGET and identical
        met &= ok or count == 1
        rows.append({"workers": count, "share_deviation": deviation, "cpu_vs_one_worker": cpu_ratio,
                     "derived_per_s": throughput, "identical_to_one_worker": identical,
                     "runs": [{k: v for k, v in r.items() if k != "totals"} for r in results]})
        cpu_runs = "/".join(f"{r['cpu_s_per_derived'] / alone:.2f}" for r in results)
        lines.append(f"{count} worker(s): shares within {deviation:.0%} of 1/{count} in every run, CPU per derived "
                     f"{cpu_ratio:.2f}x one worker's (runs {cpu_runs}), {throughput:.0f} derived/s, "
                     f"{'identical' if identical else 'DIFFERENT'} totals")
    summary = (f"{len(reference)} products over {TIERS} tiers, one shock, {run.repeats} run(s) per count, medians: "
               + "; ".join(lines))
    return report("scale", run, {"products": products, "tiers": TIERS, "runs": rows, "met": met}, summary)
