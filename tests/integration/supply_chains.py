"""Supply chains for the engine's end-to-end tests: the records suppliers publish, CSV graphs, and the
exchange's results read back from Kafka (statuses, derived footprints) or computed offline.

Product ids of hand-made chains are plain (``t4``); a supplier footprint names its product by URN, and a
recipe line uses that URN to point at it.
"""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pcfx.bench.graphs import supply_graph
from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.import_cli import recipe_documents
from pcfx.connectors.kafka_io import read_to_end, records_to_end
from pcfx.schemas import samples
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model
from pcfx.streams.derive import product_urn
from pcfx.streams.engine import Engine
from pcfx.streams.recompute import TableView, Update, recompute

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


def supplier_footprint(product: str, pf_id: str, value: str, created: str = "2025-01-15T08:00:00Z") -> dict[str, Any]:
    """A supplier's PACT footprint of ``product``: ``value`` kgCO2e per kilogram (the sample coil, re-labelled)."""
    footprint = copy.deepcopy(samples.FOOTPRINT)
    footprint.update(id=pf_id, created=created, productIds=[product_urn(product)])
    footprint["pcf"].update(pcfExcludingBiogenicUptake=value, pcfIncludingBiogenicUptake=value, fossilGhgEmissions=value)
    return footprint


def recipe(product: str, inputs: dict[str, str], own: str = "1", updated: str = "2025-02-01T10:00:00Z") -> dict[str, Any]:
    """A recipe making one kilogram of ``product`` from ``inputs`` (input id -> kilograms), plus ``own`` kgCO2e."""
    document = copy.deepcopy(samples.RECIPE)
    document.update(
        recipeId=f"recipe-{product}",
        productIds=[product],
        declaredUnitOfMeasurement="kilogram",
        productMassPerDeclaredUnit="1",
        ownEmissions={"pcfExcludingBiogenicUptake": own, "fossilGhgEmissions": own},
        inputs=[{"productId": input_id, "quantity": quantity} for input_id, quantity in inputs.items()],
        updated=updated,
    )
    return document


def write_graph_csv(directory: Path, n: int, seed: int = 7) -> tuple[Path, Path]:
    """products.csv and bom.csv of a synthetic tiered graph (bench's ``supply_graph``: fan-out, cycles, credits)."""
    graph = supply_graph(n, inputs=3, tiers=6, width=0.05, seed=seed)
    products, bom = directory / "products.csv", directory / "bom.csv"
    with products.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "name", "declared_unit", "direct_kgco2e_per_unit", "mass_per_unit"])
        writer.writerows([graph.product_id(p), f"product {p}", "kilogram", repr(float(graph.direct[p])), "1"] for p in range(n))
    with bom.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "input_product_id", "quantity_per_unit"])
        writer.writerows(
            [graph.product_id(int(r)), graph.product_id(int(c)), repr(float(q))]
            for r, c, q in zip(graph.rows, graph.cols, graph.quantity)
        )
    return products, bom


def csv_recipes(products: Path, bom: Path) -> list[ProductRecipe]:
    """The recipes ``pcfx import`` publishes for these files."""
    return [ProductRecipe.from_json(document) for document in recipe_documents(products, bom, NOW)]


def compute_totals(products: Path, bom: Path) -> dict[str, float]:
    """``pcfx compute`` on the files, run as a user runs it: product id -> total kgCO2e per declared unit."""
    out = products.with_name("totals.csv")
    command = [sys.executable, "-m", "pcfx.cli", "compute", "--products", str(products), "--bom", str(bom), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    with out.open(newline="") as handle:
        return {row["product_id"]: float(row["total_kgco2e_per_unit"]) for row in csv.DictReader(handle)}


def stream_totals(settings: Settings) -> dict[str, float]:
    """What ``pcfx footprints`` reports: product id -> total, for products in the ``complete`` state."""
    return {p: float(s.pcf_excluding_biogenic_uptake) for p, s in current_statuses(settings).items() if s.state == "complete"}


def final_state(settings: Settings) -> dict[str, tuple[str, str | None, str | None]]:
    """Product id -> (state, total text, Active pf id): the exchange's current word on every product."""
    return {p: (s.state, s.pcf_excluding_biogenic_uptake, s.pf_id) for p, s in current_statuses(settings).items()}


def offline_state(records: list[ProductRecipe | ProductFootprint]) -> dict[str, tuple[str, str | None, str | None]]:
    """The same as :func:`final_state` for a clean run: every record folded by the pure step in one batch."""
    updates = [
        Update(f"{'recipe' if isinstance(r, ProductRecipe) else 'leaf'}:{product}", r, 0)
        for r in records
        for product in r.product_ids
    ]
    empty = TableView(input=lambda _key: None, summary=lambda _key: None, published=lambda _product: None, requested=lambda _product: False)
    out = recompute(Engine(), updates, empty, NOW)
    return {s.product_id: (s.state, s.pcf_excluding_biogenic_uptake, s.pf_id) for s in out.statuses}


def derived_footprints(settings: Settings) -> list[ProductFootprint]:
    """Every record on ``derived`` so far, partition by partition (a pf id always lands on one partition)."""
    return list(read_to_end(settings, settings.topic("derived"), lambda _key, value: decode_model(ProductFootprint, value)))


def records_of(settings: Settings, topic: str) -> list:
    """Every record of ``topic`` (logical name) now, with its partition and key, in offset order per partition."""
    return sorted(records_to_end(settings, settings.topic(topic)), key=lambda record: (record.partition, record.offset))


def active_ids(footprints: list[ProductFootprint]) -> dict[str, list[str]]:
    """Product URN -> ids of its footprints whose latest record on ``derived`` is Active (PACT: exactly one)."""
    latest = {footprint.id: footprint for footprint in footprints}
    active: dict[str, list[str]] = defaultdict(list)
    for footprint in latest.values():
        if footprint.status == "Active":
            active[footprint.product_ids[0]].append(footprint.id)
    return dict(active)
