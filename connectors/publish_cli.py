"""``pcfx publish FILE|-``: a supplier publishes PACT v3 (or v2.x, converted) footprints from a file or stdin."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pcfx.schemas.errors import ContractError


def footprint_documents(document: Any) -> list[dict[str, Any]]:
    """The footprints in a PACT JSON document: one footprint, a list, or a ``{"data": [...]}`` response."""
    if isinstance(document, dict) and "data" in document:
        document = document["data"]
    items = document if isinstance(document, list) else [document]
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise click.ClickException(f"item {number}: a footprint is a JSON object, got {type(item).__name__}")
    return items


def mass_options(values: tuple[str, ...]) -> dict[str, str]:
    """``--v2-mass ID=KG`` options as footprint id (lower case) -> kg per v2 declared unit."""
    from pcfx.connectors.pact_v2 import parse_mass  # noqa: PLC0415

    masses = {}
    for value in values:
        pf_id, _, kg = (part.strip() for part in value.partition("="))
        try:
            parse_mass(kg)
        except ValueError as error:
            raise click.BadParameter(f"{value!r}: write FOOTPRINT_ID=KG, e.g. 91715e5e-...=0.789 ({error})",
                                     param_hint="--v2-mass") from None
        masses[pf_id.lower()] = kg
    return masses


@click.command()
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--v2-mass", "v2_masses", multiple=True, metavar="ID=KG",
              help="Product mass in kg per declared unit for a PACT v2 footprint that leaves it out (repeatable).")
@click.option("--company", default=None, metavar="URN",
              help="The company you publish for (sent as the pcfx-publisher header; must be among each footprint's "
                   "companyIds). Only the owner of a product may publish its footprint: docs/operations.md.")
def publish(source: Any, v2_masses: tuple[str, ...], company: str | None) -> None:
    """Validate PACT footprints from SOURCE (a file, or - for stdin) and publish them to Kafka.

    PACT v3 is published as it is; PACT v2.x (specVersion 2.x) is converted to v3 first, each change
    recorded in the footprint (see docs/suppliers.md). All footprints are checked first; if any is invalid
    or cannot be converted, each problem is printed on one line naming the footprint and the field, and
    nothing is published (exit 1).
    """
    from pcfx.connectors.pact_v2 import footprint_from_pact, is_v2  # noqa: PLC0415
    from pcfx.connectors.supplier import RecordTooLarge, SupplierClient  # noqa: PLC0415

    masses = mass_options(v2_masses)
    try:
        document = json.load(source)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{source.name}: not JSON: {error}") from None
    models, problems, converted, invalid = [], [], 0, 0
    for item in footprint_documents(document):
        try:
            models.append(footprint_from_pact(item, masses))
        except ContractError as error:  # one line per broken rule, each naming the record and the field
            problems += [f"{error.record}: {problem}" for problem in error.problems] or [str(error)]
            invalid += 1
        else:
            converted += is_v2(item)
    if company:
        problems += [f"footprint {m.id}: companyIds {m.company_ids} do not include --company {company}: a company "
                     "publishes only its own footprints" for m in models if company.lower() not in (c.lower() for c in m.company_ids)]
    if problems:
        for problem in problems:
            click.echo(f"pcfx publish: rejected {problem}", err=True)
        click.echo(f"pcfx publish: nothing published ({invalid} invalid of {invalid + len(models)})", err=True)
        sys.exit(1)
    with SupplierClient(publisher=company) as client:
        try:
            ids = client.publish_footprints(models)
        except RecordTooLarge as error:  # sized before sending: nothing went out
            for problem in error.problems:
                click.echo(f"pcfx publish: rejected {problem}", err=True)
            click.echo(f"pcfx publish: nothing published ({len(error.problems)} too large of {len(models)})", err=True)
            sys.exit(1)
    note = f" ({converted} converted from PACT v2)" if converted else ""
    click.echo(f"published {len(ids)} footprint(s){note} to {client.settings.topic('footprints')}")
