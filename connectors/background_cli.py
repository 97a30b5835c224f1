"""``pcfx background import``: publish one version of a background database as footprints."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pcfx.settings import Settings

if TYPE_CHECKING:
    from pcfx.schemas.models import ProductFootprint


@click.group()
def background() -> None:
    """Background databases: provincial PCF databases and secondary emission-factor libraries."""


@background.command("import")
@click.option("--source", required=True, help="Name of the database, e.g. 'Jiangsu PCF database'.")
@click.option("--version", "version", required=True, help="Version of the database, e.g. '2024.1'.")
@click.option("--ipcc", multiple=True, default=("AR6",), show_default=True,
              help="IPCC assessment report(s) of the characterisation factors (repeatable).")
@click.option("--standard", "standards", multiple=True, default=("ISO14067",), show_default=True,
              help="Cross-sectoral standard(s) the datasets follow, PACT v3 spelling (repeatable).")
@click.option("--dry-run", is_flag=True, help="Check the file and show what would be published; publish nothing.")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_database(source: str, version: str, ipcc: tuple[str, ...], standards: tuple[str, ...], dry_run: bool,
                    csv_file: Path) -> None:
    """Publish each dataset of CSV_FILE as a footprint owned by the database (PDS 0, its DQRs).

    Importing the same version again publishes nothing; a new version deprecates each earlier footprint
    it replaces, and the engine recomputes every product that uses it. Columns and rules: docs/suppliers.md.
    """
    from pcfx.connectors.background import Database, plan_import, read_datasets  # noqa: PLC0415
    from pcfx.connectors.csv_io import CsvError  # noqa: PLC0415

    settings = Settings.from_env()
    database = Database(source, version, tuple(ipcc), tuple(standards))
    try:
        datasets = read_datasets(csv_file, database, datetime.now(timezone.utc))
    except CsvError as error:
        raise click.ClickException(str(error)) from None
    plan = plan_import(datasets, latest_footprints(settings, {d.product_ids[0] for d in datasets}), database)
    if plan.problems:
        for problem in plan.problems:
            click.echo(f"pcfx background import: {problem}", err=True)
        raise click.ClickException(f"nothing published ({len(plan.problems)} problem(s))")
    for footprint in datasets:
        click.echo(f"{footprint.product_ids[0]}\t{footprint.id}\t{footprint.product_name_company}")
    if not dry_run and plan.publish:
        from pcfx.connectors.supplier import SupplierClient  # noqa: PLC0415

        with SupplierClient(settings) as client:
            client.publish_footprints(plan.publish)
    verb = "would publish" if dry_run else "published"
    click.echo(f"{source} {version}: {len(datasets)} dataset(s); {verb} {plan}")


def latest_footprints(settings: Settings, keys: set[str]) -> dict[str, ProductFootprint]:
    """The last footprint the worker admits on the ``footprints`` topic for each product id in ``keys`` (what
    compaction keeps of its owner's records; another company's record of the product is refused)."""
    from pcfx.connectors.kafka_io import read_to_end  # noqa: PLC0415
    from pcfx.schemas.models import ProductFootprint  # noqa: PLC0415
    from pcfx.streams.codec import decode_model  # noqa: PLC0415
    from pcfx.streams.ownership import admitted  # noqa: PLC0415

    def decode(key: bytes | None, value: bytes | None) -> tuple[str, ProductFootprint | None]:
        try:
            footprint = decode_model(ProductFootprint, value)
        except (TypeError, ValueError):
            footprint = None  # a tombstone or an unreadable record leaves no footprint for the key
        return (key.decode("utf-8", "replace") if key is not None else "", footprint)

    latest: dict[str, ProductFootprint] = {}
    for footprint in admitted(read_to_end(settings, settings.topic("footprints"), decode)).values():
        if footprint.product_ids[0] in keys:
            latest[footprint.product_ids[0]] = footprint  # in arrival order: the later record wins
    return latest
