"""The demo's supply chain: an e-bike assembled in Wuxi, with SAMPLE figures (invented, plausible magnitudes).

Tier 3 (Zhejiang): NMC cathode material (Quzhou) and battery cells (Huzhou). Tier 2 (Jiangsu): the battery
pack (Changzhou) and the frame of Nanjing steel. Tier 1: the e-bike (Wuxi). Beside it, PV modules from
Yancheng and a duvet cover from Nantong. Background datasets (grid electricity, steel, aluminium) come from
the SAMPLE provincial database in ``data/background-sample.csv``. Emissions are kgCO2e per declared unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pcfx.connectors.background import dataset_product_id
from pcfx.schemas.models import ProductRecipe

BACKGROUND_SOURCE = "JS-ZJ provincial PCF database (SAMPLE)"
BACKGROUND_VERSION = "2025.1"
BUYER = "urn:pcfx:company:demo-eu-bikes"
EBIKE = "urn:pcfx:product:demo:ebike-wx-500"
CATHODE = "urn:pcfx:product:demo:nmc-cathode-qz"

JS_GRID = dataset_product_id("CN-JS-grid-electricity")
ZJ_GRID = dataset_product_id("CN-ZJ-grid-electricity")
STEEL = dataset_product_id("CN-JS-hot-rolled-steel")
ALUMINIUM = dataset_product_id("CN-primary-aluminium")


def _line(product_id: str, quantity: str, unit: str | None = None) -> dict[str, str]:
    return {"productId": product_id, "quantity": quantity, **({"unit": unit} if unit else {})}


def _recipe(product_id: str, company: str, name: str, province: str, unit: str, mass: str, own: str,
            inputs: list[dict[str, str]], updated: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "productIds": [product_id],
        "companyName": company,
        "companyIds": [f"urn:pcfx:company:{company.lower().replace(' ', '-')}"],
        "productNameCompany": name,
        "productDescription": f"{name} (SAMPLE figures for the pcfx demo)",
        "declaredUnitOfMeasurement": unit,
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": mass,
        "ownEmissions": {"pcfExcludingBiogenicUptake": own, "fossilGhgEmissions": own},
        "primaryDataShare": "100",
        "dqi": {"technologicalDQR": "1.5", "geographicalDQR": "1", "temporalDQR": "1"},
        "geographyCountrySubdivision": province,
        "referencePeriodStart": "2025-01-01T00:00:00Z",
        "referencePeriodEnd": "2026-01-01T00:00:00Z",
        "inputs": inputs,
        "updated": updated.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def cathode(updated: datetime, *, cleaner: bool = False) -> ProductRecipe:
    """NMC cathode material per kg. The cleaner process (the demo's supplier update) cuts the kiln's
    process emissions from 6.0 to 3.5 kgCO2e and its electricity from 25 to 20 kWh per kg."""
    own, kwh = ("3.5", "20") if cleaner else ("6.0", "25")
    return ProductRecipe.from_json(_recipe(
        CATHODE, "Quzhou Cathode Materials", "NMC cathode active material", "CN-ZJ", "kilogram", "1", own,
        [_line(ZJ_GRID, kwh)], updated))


def chain(updated: datetime) -> list[ProductRecipe]:
    """Every recipe of the demo, upstream first."""
    cell = "urn:pcfx:product:demo:cell-hz-21700"
    pack = "urn:pcfx:product:demo:pack-cz-48v"
    frame = "urn:pcfx:product:demo:frame-nj-al-steel"
    documents = [
        _recipe(cell, "Huzhou Cell Works", "21700 lithium-ion cell", "CN-ZJ", "piece", "0.07", "0.12",
                [_line(CATHODE, "0.021", "kilogram"), _line(ZJ_GRID, "0.35")], updated),
        _recipe(pack, "Changzhou Battery Packs", "48 V 14 Ah e-bike battery pack", "CN-JS", "piece", "3.4", "1.2",
                [_line(cell, "52"), _line(ALUMINIUM, "0.6", "kilogram"), _line(JS_GRID, "2.5")], updated),
        _recipe(frame, "Nanjing Frame Co", "E-bike frame, steel with aluminium parts", "CN-JS", "piece", "4.1", "0.8",
                [_line(STEEL, "3.4", "kilogram"), _line(ALUMINIUM, "0.7", "kilogram"), _line(JS_GRID, "4")], updated),
        _recipe(EBIKE, "Wuxi E-Bike Assembly", "WX-500 city e-bike", "CN-JS", "piece", "24", "5.0",
                [_line(frame, "1"), _line(pack, "1"), _line(JS_GRID, "6")], updated,
                categoryRuleId="CN-JS PCR e-bikes (SAMPLE)"),
        _recipe("urn:pcfx:product:demo:pv-module-yc-550", "Yancheng Solar", "550 W monocrystalline PV module", "CN-JS",
                "piece", "27.5", "18.0", [_line(ALUMINIUM, "1.6", "kilogram"), _line(JS_GRID, "65")], updated),
        _recipe("urn:pcfx:product:demo:duvet-cover-nt", "Nantong Home Textiles", "Cotton duvet cover 200x230", "CN-JS",
                "piece", "1.1", "2.4", [_line(JS_GRID, "3.2")], updated),
    ]
    return [cathode(updated), *(ProductRecipe.from_json(d) for d in documents)]
