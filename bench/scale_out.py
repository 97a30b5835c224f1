"""Issue 13, scale-out: the recompute shared by 1, 2 and 3 workers, shown by work, not wall time.

The broker and every worker share the machine's cores, so a second worker cannot make a shock finish
sooner on two cores; what scaling out means is that each worker does its share of the recompute and the
sharing itself costs little. Per run (a fresh set of topics, N workers in a group that is ``Stable``):
the 5-tier background graph of the shock benchmark is loaded and settled, then a shock (its one supplier
footprint changes, every product recomputes). Measured on each worker from its own ``/metrics`` and
``/proc``: recipe products solved (``pcfx_products_solved_total``) and CPU seconds during the shock.
Reported: each worker's share of the solves (target 1/N +- 15 %), the summed worker CPU per derived
footprint against one worker's (target <= 1.15x), whether the final totals equal the one-worker run's,
and the wall-clock throughput as measured.

The control, for N >= 2: N separate apps side by side (own topics, one worker each, the same graph), each
shocked at the same moment. Nothing is shared between them, so whatever their CPU per derived footprint
adds over one worker alone is what this machine charges for N busy workers on its cores (caches,
preemption), not the sharing; the shared run's CPU divided by the control's is what sharing itself costs.
Each count runs five times, interleaved with the others, medians reported: one run's CPU moved by 30 % with
the machine's other load, more than the difference being measured.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from statistics import median

from pcfx.agents.topics import admin_client
from pcfx.bench.common import Run, cpu_seconds, drain, read_since, report, scratch, start_worker, stop, wait_until, worker_counter
from pcfx.bench.flow import FIRST_VERSION, load
from pcfx.bench.pipeline import RECOMPUTED, STAGES, TIMEOUT_S
from pcfx.bench.workload import Graph, background_graph, footprint
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


@dataclass
class App:
    """One app on its own topics: its workers (processes and web ports), loaded with the graph and settled."""

    settings: Settings
    processes: list[subprocess.Popen] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)


@contextmanager
def loaded_app(run: Run, tag: str, workers: int, graph: Graph) -> Iterator[App]:
    """``workers`` worker processes in a stable group on fresh topics, the graph loaded and settled."""
    with scratch(run, tag) as settings, ExitStack() as stack:
        app = App(settings)
        for k in range(workers):
            folder = settings.data_dir / f"worker{k}"
            folder.mkdir()
            port = free_port()
            process = start_worker(settings.model_copy(update={"data_dir": folder, "worker_web_port": port}))
            stack.callback(stop, process)
            app.processes.append(process)
            app.ports.append(port)
        wait_until(lambda: stable_members(settings) == workers, f"{workers} workers in a stable group", TIMEOUT_S, 0.5)
        load(settings, graph, [])
        drain(settings, STAGES, TIMEOUT_S)
        yield app
        drain(settings, STAGES, TIMEOUT_S)


def shock(apps: list[App], graph: Graph) -> list[dict]:
    """The graph's supplier footprint changed in every app at once; per app, what its workers did."""
    before_solved = [[solved(port) for port in app.ports] for app in apps]
    before_cpu = [[cpu_seconds(p.pid) for p in app.processes] for app in apps]
    offsets = [end_offsets(app.settings, [app.settings.topic("derived"), app.settings.topic("footprints")]) for app in apps]
    for app in apps:
        with SupplierClient(app.settings) as client:
            client.publish(footprint(graph.leaves[0], FIRST_VERSION + 1))
    for app in apps:
        drain(app.settings, RECOMPUTED, TIMEOUT_S)
    time.sleep(0.5)  # the metrics and /proc of the last micro-batch
    results = []
    for app, solved_0, cpu_0, since in zip(apps, before_solved, before_cpu, offsets):
        settings = app.settings
        start = min(r.timestamp for r in read_since(settings, "footprints", since))
        derived = [r for r in read_since(settings, "derived", since) if decode_model(ProductFootprint, r.value).status == "Active"]
        results.append({
            "work": [solved(port) - b for port, b in zip(app.ports, solved_0)],
            "cpu": [cpu_seconds(p.pid) - b for p, b in zip(app.processes, cpu_0)],
            "derived": len(derived), "seconds": (max(r.timestamp for r in derived) - start) / 1000,
            "totals": {p: s.pcf_excluding_biogenic_uptake for p, s in current_statuses(settings).items()},
        })
    return results


def one_run(run: Run, count: int, products: int) -> dict:
    """``count`` workers sharing one app's recompute, through one shock."""
    graph = background_graph(products, TIERS)
    with loaded_app(run, f"scale{count}", count, graph) as app:
        [result] = shock([app], graph)
    total_work = sum(result["work"]) or 1.0
    return {
        "workers": count, "derived": result["derived"], "seconds": result["seconds"],
        "derived_per_s": result["derived"] / result["seconds"], "solved_per_worker": result["work"],
        "share_per_worker": [w / total_work for w in result["work"]], "cpu_s_per_worker": result["cpu"],
        "cpu_s_per_derived": sum(result["cpu"]) / result["derived"], "totals": result["totals"],
    }


def side_by_side(run: Run, count: int, products: int) -> dict:
    """The control: ``count`` one-worker apps, shocked together; their summed CPU per derived footprint."""
    graph = background_graph(products, TIERS)
    with ExitStack() as stack:
        apps = [stack.enter_context(loaded_app(run, f"apart{count}-{k}", 1, graph)) for k in range(count)]
        results = shock(apps, graph)
    cpu = [c for r in results for c in r["cpu"]]
    return {"apps": count, "cpu_s_per_worker": cpu, "cpu_s_per_derived": sum(cpu) / sum(r["derived"] for r in results)}


def main(run: Run) -> dict:
    """Every worker count ``run.repeats`` times, interleaved (1, 2, 3, 1, 2, 3, ...), so that the others' load
    on a shared machine falls on every count alike, each N >= 2 followed by its control; figures are
    medians, shares the worst run's."""
    products = run.shock_products or run.size(300, 3_000)  # --shock-products sizes this graph too
    runs: dict[int, list[dict]] = {count: [] for count in WORKERS}
    controls: dict[int, list[dict]] = {count: [] for count in WORKERS if count > 1}
    for _ in range(run.repeats):
        for count in WORKERS:
            runs[count].append(one_run(run, count, products))
            if count in controls:
                controls[count].append(side_by_side(run, count, products))
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
        row = {"workers": count, "share_deviation": deviation, "cpu_vs_one_worker": cpu_ratio,
               "derived_per_s": throughput, "identical_to_one_worker": identical,
               "runs": [{k: v for k, v in r.items() if k != "totals"} for r in results]}
        cpu_runs = "/".join(f"{r['cpu_s_per_derived'] / alone:.2f}" for r in results)
        line = (f"{count} worker(s): shares within {deviation:.0%} of 1/{count} in every run, CPU per derived "
                f"{cpu_ratio:.2f}x one worker's (runs {cpu_runs})")
        if count in controls:
            apart = median([c["cpu_s_per_derived"] for c in controls[count]]) / alone
            row.update({"side_by_side_vs_one_worker": apart, "sharing_cost": cpu_ratio / apart, "side_by_side": controls[count]})
            line += f", {count} apps side by side {apart:.2f}x (sharing itself {cpu_ratio / apart:.2f}x)"
        rows.append(row)
        lines.append(f"{line}, {throughput:.0f} derived/s, {'identical' if identical else 'DIFFERENT'} totals")
    summary = (f"{len(reference)} products over {TIERS} tiers, one shock, {run.repeats} run(s) per count, medians: "
               + "; ".join(lines))
    return report("scale", run, {"products": products, "tiers": TIERS, "runs": rows, "met": met}, summary)
