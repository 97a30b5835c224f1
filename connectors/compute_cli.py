"""``pcfx compute``: solve a whole supply graph from CSV files, offline, without Kafka."""

from __future__ import annotations

from pathlib import Path

import click

from pcfx.connectors.csv_io import CsvError, read_graph, write_totals
from pcfx.connectors.display import for_people
from pcfx.streams.engine import Engine
from pcfx.streams.rollup import WEIGHT_FIELD, Derived

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.option("--products", type=_FILE, required=True, help="products.csv: product_id,name,declared_unit,direct_kgco2e_per_unit")
@click.option("--bom", type=_FILE, required=True, help="bom.csv: product_id,input_product_id,quantity_per_unit")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="totals.csv to write")
def compute(products: Path, bom: Path, out: Path) -> None:
    """Roll up every product's footprint (kgCO2e per declared unit) through the bill of materials.

    Cycles are solved exactly. Products with missing inputs are written with their partial total and
    marked incomplete; a cycle that amplifies itself is reported per product. Both are summarised on
    stderr, so nothing is dropped silently. Units may be PACT's, aliases (pcs, t, kWh, 件, 吨, 千瓦时 ...)
    or any other name, which converts only to itself (docs/units.md).
    """
    try:
        events, leaves = read_graph(products, bom)
    except CsvError as exc:
        raise click.ClickException(str(exc)) from None
    results = {d.product_id: d for d in Engine().apply(events)}
    order = [e.product_id for e in events]
    write_totals(out, order, results, leaves)
    incomplete = [d for d in results.values() if not d.complete and not d.error]
    failed = [d for d in results.values() if d.error]
    click.echo(f"wrote {len(order)} products to {out}: {len(results) - len(incomplete) - len(failed)} recipes complete, "
               f"{len(incomplete)} incomplete, {len(failed)} without a meaningful footprint (a cycle that amplifies itself), {len(leaves)} leaves", err=True)
    for d in (incomplete + failed)[:10]:
        click.echo(f"  {d.product_id}: {d.error or '; '.join(d.reasons)}", err=True)
    solved = [results[p] for p in order if p in results and not results[p].error]
    for d in solved[:SHOWN]:
        click.echo(f"  {d.product_id}: {reading(d)}", err=True)
    if len(solved) > SHOWN:
        click.echo(f"  ... {len(solved) - SHOWN} more in {out}", err=True)


#: Recipe totals listed on the terminal, rounded for people; the CSV has them all, exact.
SHOWN = 10


def reading(d: Derived) -> str:
    """One recipe's result for a person: ``1.234 kgCO2e per unit, PDS 52.8 %, DQR 1.5/2/1``."""
    total = for_people(d.values.get(WEIGHT_FIELD, 0.0))
    dqr = "/".join(for_people(r, decimals=2) for r in d.dqr)
    state = "" if d.complete else f", incomplete (coverage {for_people(100 * d.coverage, decimals=1)} %)"
    return f"{total} kgCO2e per declared unit, PDS {for_people(d.pds, decimals=1)} %, DQR {dqr}{state}"
