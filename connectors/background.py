"""Background databases (a provincial PCF database, any secondary emission-factor library) as footprints.

Each dataset of a database version becomes a PACT v3 footprint owned by the database: ``companyName`` is
the source, ``companyIds`` ``urn:pcfx:database:<source>``, ``productIds`` the dataset's product id
(:func:`dataset_product_id`, stable across versions, so recipes keep pointing at it), primary data share
0, the dataset's DQRs, and ``secondaryEmissionFactorSources`` naming the source and version. Recipes use
a dataset as an input like any supplier product; derived footprints then carry its source and version.

The footprint id is ``uuid5(source | version | dataset id)``: importing the same version again publishes
nothing, and a new version publishes each changed dataset's previous footprint again as Deprecated
(PACT v3 §7), then the new one. Both go under the same product id key, the Deprecated one first, so the
compacted topic keeps the new one. A dataset missing from a new version keeps its earlier footprint.

CSV columns (header row, UTF-8; unknown columns are refused, so a misspelt one cannot vanish):

- required: ``dataset_id`` (opaque, or a URN), ``name``, ``declared_unit`` (a PACT unit, e.g.
  ``kilowatt hour``), ``value_kgco2e`` (kgCO2e per declared unit), ``reference_period_start``,
  ``reference_period_end`` (ISO 8601 UTC);
- optional: ``declared_amount`` (default 1), ``mass_per_unit`` (kg per declared unit; default 1 kg per
  kilogram, 0 for energy and transport units, required otherwise), ``geography`` (``CN-JS``, ``CN`` or a
  UN M49 region such as ``Eastern Asia``; empty: global), ``dqr_technological``, ``dqr_geographical``,
  ``dqr_temporal`` (1..5, all three or none), ``fossil_kgco2e`` (default: all of ``value_kgco2e``, said
  in the footprint's comment), ``fossil_carbon_kgc`` (default 0).

Decimals stay the text of the cell (``"0.6500"`` stays ``"0.6500"``). No biogenic uptake is assumed:
``pcfIncludingBiogenicUptake`` equals ``pcfExcludingBiogenicUptake``.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

from pcfx.connectors.csv_io import CsvError, CsvRow, utf8_only
from pcfx.connectors.pact_v2 import MASS_BY_UNIT
from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import ProductFootprint, format_datetime, format_decimal
from pcfx.schemas.pact_types import COUNTRY, DECIMAL_TEXT, SUBDIVISION, RegionOrSubregion
from pcfx.streams.derive import DEFAULT_IPCC, SPEC_VERSION, deprecated, product_urn

DATASET_NAMESPACE = uuid.UUID("4a8e2f61-7c3b-4d95-b1e0-9f6a2c8d5e17")  # ids: uuid5(source | version | dataset)
DATABASE_URN_PREFIX = "urn:pcfx:database:"
DEFAULT_STANDARDS = ("ISO14067",)  # GB/T 24067, the Chinese product carbon footprint standard, follows ISO 14067
REQUIRED = ("dataset_id", "name", "declared_unit", "value_kgco2e", "reference_period_start", "reference_period_end")
OPTIONAL = ("declared_amount", "mass_per_unit", "geography", "dqr_technological", "dqr_geographical", "dqr_temporal",
            "fossil_kgco2e", "fossil_carbon_kgc")
DQR_COLUMNS = {"dqr_technological": "technologicalDQR", "dqr_geographical": "geographicalDQR", "dqr_temporal": "temporalDQR"}
REGIONS = frozenset(get_args(RegionOrSubregion))


@dataclass(frozen=True)
class Database:
    """One version of a background database, and the methodology facts its datasets share."""

    source: str
    version: str
    ipcc: tuple[str, ...] = DEFAULT_IPCC
    standards: tuple[str, ...] = DEFAULT_STANDARDS

    @property
    def company_id(self) -> str:
        return DATABASE_URN_PREFIX + quote(self.source, safe="")

    def footprint_id(self, dataset_id: str) -> str:
        return str(uuid.uuid5(DATASET_NAMESPACE, f"{self.source}|{self.version}|{dataset_id}"))


def dataset_product_id(dataset_id: str) -> str:
    """The product id recipes use for a dataset (a URN; the same in every database version)."""
    return product_urn(dataset_id)


def read_datasets(path: Path, database: Database, now: datetime) -> list[ProductFootprint]:
    """One validated footprint per CSV row; raises ``CsvError`` naming file, line and column."""
    with path.open(newline="", encoding="utf-8-sig") as handle, utf8_only(path):
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in columns]
        unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
        if missing or unknown:
            raise CsvError(f"{path}: " + "; ".join(
                ([f"missing column(s) {', '.join(missing)}"] if missing else [])
                + ([f"unknown column(s) {', '.join(unknown)} (known: {', '.join(REQUIRED + OPTIONAL)})"] if unknown else [])))
        footprints, seen = [], set()
        for row in reader:
            line = DatasetRow(path, reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None})
            footprint = line.footprint(database, now)
            if footprint.id in seen:
                raise line.fail("dataset_id", f"{line.cells['dataset_id']!r} appears twice")
            seen.add(footprint.id)
            footprints.append(footprint)
    return footprints


class DatasetRow(CsvRow):
    """One dataset row of a database CSV, its cells stripped of surrounding blanks."""

    def text(self, column: str) -> str:
        value = self.cells.get(column, "")
        if not value and column in REQUIRED:
            raise self.fail(column, "is empty")
        return value

    def decimal(self, column: str) -> str | None:
        """The cell as PACT decimal text, None if empty and optional."""
        value = self.text(column)
        if value and not DECIMAL_TEXT.fullmatch(value):
            raise self.fail(column, f"{value!r} is not a decimal number (digits, optional sign and fraction)")
        return value or None

    def footprint(self, database: Database, now: datetime) -> ProductFootprint:
        dataset_id, value = self.text("dataset_id"), self.decimal("value_kgco2e")
        notes = []
        fossil = self.decimal("fossil_kgco2e")
        if fossil is None:
            fossil = value
            notes.append("The database gives one total; pcfx reports all of it as fossilGhgEmissions.")
        document = {
            "id": database.footprint_id(dataset_id),
            "specVersion": SPEC_VERSION,
            "created": format_datetime(now),
            "status": "Active",
            "companyName": database.source,
            "companyIds": [database.company_id],
            "productDescription": f"{self.text('name')}: dataset {dataset_id} of {database.source} {database.version}",
            "productIds": [dataset_product_id(dataset_id)],
            "productNameCompany": self.text("name"),
            "comment": " ".join([f"Background dataset {dataset_id!r} of {database.source} version "
                                 f"{database.version}, imported by pcfx.", *notes]),
            "pcf": {
                "declaredUnitOfMeasurement": self.text("declared_unit"),
                "declaredUnitAmount": self.decimal("declared_amount") or "1",
                "productMassPerDeclaredUnit": self._mass(),
                "referencePeriodStart": self.text("reference_period_start"),
                "referencePeriodEnd": self.text("reference_period_end"),
                **self._geography(),
                "pcfExcludingBiogenicUptake": value,
                "pcfIncludingBiogenicUptake": value,
                "fossilGhgEmissions": fossil,
                "fossilCarbonContent": self.decimal("fossil_carbon_kgc") or "0",
                "ipccCharacterizationFactors": list(database.ipcc),
                "crossSectoralStandards": list(database.standards),
                "exemptedEmissionsPercent": "0",
                "secondaryEmissionFactorSources": [{"name": database.source, "version": database.version}],
                "primaryDataShare": "0",
                **self._dqi(),
            },
        }
        try:
            return ProductFootprint.from_json(document)
        except ContractError as error:
            raise CsvError(f"{self.path} line {self.line}: dataset {dataset_id!r}: {'; '.join(map(str, error.problems))}") from None

    def _mass(self) -> str:
        mass, unit = self.decimal("mass_per_unit"), self.text("declared_unit")
        if mass is not None:
            return mass
        if unit not in MASS_BY_UNIT:
            raise self.fail("mass_per_unit", f"is empty; PACT v3 needs the mass per declared unit, and for {unit!r} "
                                             "it cannot be known without being told")
        amount = Decimal(self.decimal("declared_amount") or "1")
        return format_decimal(MASS_BY_UNIT[unit] * amount)

    def _geography(self) -> dict[str, str]:
        place = self.text("geography")
        if not place:
            return {}
        if SUBDIVISION.fullmatch(place):
            return {"geographyCountrySubdivision": place}
        if COUNTRY.fullmatch(place):
            return {"geographyCountry": place}
        if place in REGIONS:
            return {"geographyRegionOrSubregion": place}
        raise self.fail("geography", f"{place!r} is neither an ISO 3166-2 subdivision (CN-JS), an ISO 3166-1 "
                                     "country (CN) nor a UN M49 region or subregion (Eastern Asia)")

    def _dqi(self) -> dict[str, Any]:
        given = {column: self.decimal(column) for column in DQR_COLUMNS}
        if not any(given.values()):
            return {}
        missing = [column for column, value in given.items() if value is None]
        if missing:
            raise self.fail(missing[0], "is empty; give all three DQRs or none")
        return {"dqi": {DQR_COLUMNS[column]: value for column, value in given.items()}}


@dataclass
class Plan:
    """What an import publishes, in order, and why nothing would be."""

    publish: list[ProductFootprint] = field(default_factory=list)
    new: int = 0
    unchanged: int = 0
    deprecated: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.new} new footprint(s), {self.deprecated} previous version(s) deprecated, "
                f"{self.unchanged} unchanged")


def plan_import(datasets: Iterable[ProductFootprint], current: dict[str, ProductFootprint], database: Database) -> Plan:
    """Compare the datasets with ``current`` (product id -> the latest footprint on Kafka for it)."""
    plan = Plan()
    for footprint in datasets:
        key = footprint.product_ids[0]
        old = current.get(key)
        if old is not None and database.company_id not in old.company_ids:
            plan.problems.append(f"dataset product id {key!r} already carries a footprint of {old.company_name!r} "
                                 f"({old.id}); pick another dataset_id")
        elif old is not None and old.id == footprint.id:
            if old.status == "Active":
                plan.unchanged += 1
            else:
                plan.problems.append(f"{key!r}: {database.source} {database.version} was deprecated by a later "
                                     "version; PACT footprints cannot return to Active, import it as a new version")
        else:
            if old is not None and old.status == "Active":
                plan.publish.append(deprecated(old))
                plan.deprecated += 1
            plan.publish.append(footprint)
            plan.new += 1
    return plan
