"""``pcfx bench [NAME ...] [--quick]``: run benchmarks against the configured Kafka and print, for each, one
JSON document and a one-line summary. Results and how to read them: docs/benchmarks.md.

The default order runs B4 before the benchmarks that load the pipeline at a share of B4's maximum (B2,
B7); each still runs alone, measuring what it needs. ``engine`` (B5/B6 and the engine-only parts of
issue 4, :mod:`pcfx.bench.engine`) runs in its own process and only when named.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

# name -> module with ``main(run)``, in the order of a full run
BENCHMARKS: dict[str, str] = {
    "b1": "pcfx.bench.b1_client",
    "b4": "pcfx.bench.b4_overhead",
    "b3": "pcfx.bench.b3_codec",
    "b8": "pcfx.bench.b8_observability",
    "b2": "pcfx.bench.b2_latency",
    "b7": "pcfx.bench.b7_tiers",
    "shock": "pcfx.bench.e2e_shock",
    "steady": "pcfx.bench.e2e_steady",
    "dense": "pcfx.bench.dense",
    "scale": "pcfx.bench.scale_out",
}
SEPARATE = {"engine": "pcfx.bench.engine", "web": "pcfx.bench.web_page", "flood": "pcfx.bench.token_flood"}  # web needs Chromium (see the README)


@click.command()
@click.argument("names", nargs=-1, type=click.Choice([*BENCHMARKS, *SEPARATE]))
@click.option("--quick", is_flag=True, help="Small sizes, one repeat (a smoke run of about two minutes); figures are not meaningful.")
@click.option("--shock-products", type=click.IntRange(min=5), default=None,
              help="Products under the shock's changed footprint, in `shock` and `scale` (default 3,000; the issue's 100,000 "
                   "takes about 20 minutes in `shock`).")
def bench(names: tuple[str, ...], quick: bool, shock_products: int | None) -> None:
    """Run the named benchmarks (default: all but engine), each repeated 5 times, medians reported."""
    from pcfx.bench.common import Run  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    run = Run(Settings.from_env(), quick=quick, shock_products=shock_products)
    for name in names or tuple(BENCHMARKS):
        if name in SEPARATE:
            subprocess.run([sys.executable, "-m", SEPARATE[name], *(["--quick"] if quick else [])], check=True)
            continue
        importlib.import_module(BENCHMARKS[name]).main(run)
