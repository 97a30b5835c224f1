"""``pcfx import --products P.csv --bom B.csv``: publish a CSV supply chain into the running exchange.

The same files ``pcfx compute`` solves offline. Every product becomes a :class:`ProductRecipe` on the
``recipes`` topic: one with bom rows lists them as inputs, one without is a recipe with no inputs, whose
own emission *is* its footprint (the engine then gives both files the same totals as ``pcfx compute``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from pcfx.collector import collector_paused
from pcfx.connectors.csv_io import BomLine, CsvError, product_event, read_tables
from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import format_decimal, to_decimal
from pcfx.streams.rollup import Event, UpsertLeaf
from pcfx.streams.units import declared_unit_mass

DEFAULT_COMPANY = "urn:pcfx:company:csv-import"
REFERENCE_PERIOD = ("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")  # when the CSV gives none


@collector_paused()  # a dense table's documents are about a million objects that all live on (pcfx/collector.py)
def recipe_documents(products_path: Path, bom_path: Path, updated: datetime) -> list[dict[str, Any]]:
    """The recipes ``pcfx import`` sends for the two files, as PACT-style JSON not validated yet (the client
    validates each as it sends it). A product's own figures are checked as ``pcfx compute`` checks them
    (``CsvError`` naming the row); its bom lines go as bom.csv wrote them."""
    products, bom = read_tables(products_path, bom_path)
    documents = []
    for row in products:
        lines = bom.get(row.cells["product_id"])
        event = product_event(row, None if lines is None else [])
        documents.append(_recipe_document(event, row.cells, updated, lines or []))
    return documents


def _recipe_document(event: Event, details: dict[str, str], updated: datetime, lines: list[BomLine]) -> dict[str, Any]:
    """The recipe of one CSV product as PACT-style JSON: its own figures from ``event``, its descriptive
    columns from ``details`` (its products.csv cells), its inputs ``lines`` (a leaf row has none)."""
    item = event.leaf if isinstance(event, UpsertLeaf) else event.recipe
    own = item.values if isinstance(event, UpsertLeaf) else item.own
    pds = item.pds if isinstance(event, UpsertLeaf) else item.own_pds
    dqr = item.dqr if isinstance(event, UpsertLeaf) else item.own_dqr
    company = (details.get("company") or "").strip() or DEFAULT_COMPANY
    document = {
        "productIds": [item.product_id],
        "companyName": company.rsplit(":", 1)[-1],
        "companyIds": [company if company.lower().startswith("urn:") else f"urn:pcfx:company:{company}"],
        "productNameCompany": (details.get("name") or "").strip() or item.product_id,
        "declaredUnitOfMeasurement": item.declared_unit,
        "declaredUnitAmount": format_decimal(item.declared_amount),
        "productMassPerDeclaredUnit": _mass_text(item.mass_per_unit, item.declared_unit, item.declared_amount),
        "ownEmissions": {name: format_decimal(value) for name, value in own.items()},
        "referencePeriodStart": (details.get("reference_period_start") or "").strip() or REFERENCE_PERIOD[0],
        "referencePeriodEnd": (details.get("reference_period_end") or "").strip() or REFERENCE_PERIOD[1],
        "inputs": [
            {"productId": product, "quantity": quantity, "unit": unit} if unit else {"productId": product, "quantity": quantity}
            for product, quantity, unit in lines
        ],
        "updated": updated.isoformat().replace("+00:00", "Z"),
    }
    if pds is not None:
        document["primaryDataShare"] = format_decimal(pds)
    if dqr is not None:
        document["dqi"] = dict(zip(("technologicalDQR", "geographicalDQR", "temporalDQR"), map(format_decimal, dqr)))
    return document


def _mass_text(mass: float | None, unit: str, amount: float) -> str:
    """kg per declared unit: the CSV's, else the declared unit's own when it is a mass (2 吨: 2000), else 0."""
    if mass is not None:
        return format_decimal(mass)
    own = declared_unit_mass(unit, to_decimal(format_decimal(amount)))
    return "0" if own is None else format(own.normalize(), "f")


def import_files(products_path: Path, bom_path: Path, settings: object | None = None) -> list[str]:
    """Publish the files' recipes as one change (one marked batch); returns their product ids.

    The CSV files are read and checked whole before anything is sent (``CsvError`` naming the row). Each
    recipe is then sent as soon as it is validated, so the exchange works while the rest are checked; one
    that breaks the contract cancels the batch (``ContractError``; nothing of the import takes effect).
    Quantities go out as bom.csv wrote them (PACT decimal text): exact, never through a float."""
    from pcfx.connectors.supplier import SupplierClient  # noqa: PLC0415

    # The client first: it asks Kafka for the topic's partitions while the files are read.
    with SupplierClient(settings) as client, collector_paused():  # type: ignore[arg-type]  (documents live on until sent)
        return client.publish_recipes(recipe_documents(products_path, bom_path, datetime.now(timezone.utc)))


@click.command("import")
@click.option("--products", "products_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bom", "bom_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_csv(products_path: Path, bom_path: Path) -> None:
    """Validate products.csv and bom.csv, then publish one recipe per product to the exchange, as one change
    (each product whose figures change gets one new derived version; identical files change nothing)."""
    from pcfx.connectors.supplier import RecordTooLarge  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env()
    try:
        product_ids = import_files(products_path, bom_path, settings)
    except (CsvError, ContractError, RecordTooLarge) as error:  # one line per broken rule, naming the row or product and field
        raise click.ClickException(f"{error}\nnothing was imported") from None
    click.echo(f"published {len(product_ids)} recipe(s) to {settings.topic('recipes')}")
