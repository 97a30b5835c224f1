"""Small valid records in PACT JSON form, made by hand, for examples, benchmarks and tests.

A Jiangsu steel coil (2.31 kgCO2e per kilogram, reference period 2024), a bike frame made from it in
Wuxi, and the frame's carbon label: 1.5 + (4.5 - 0.3) x 2.31 = 11.202 kgCO2e per frame, PDS
(1.5 x 100 + 9.702 x 45.5) / 11.202 = 52.8 %. Copy before changing: these dicts are shared.

``supplier_footprint`` and ``one_input_recipe`` build variants of them for chains made up by a test or a
benchmark (a supplier's footprint of one value, a recipe of one input in kilograms).
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import Any

FOOTPRINT_ID = "3f0b6a52-7d0e-4c55-9a57-3c1c1f0e2a11"

FOOTPRINT: dict[str, Any] = {
    "id": FOOTPRINT_ID,
    "specVersion": "3.0.0",
    "created": "2025-01-15T08:00:00Z",
    "status": "Active",
    "companyName": "Jiangsu Steel Co",
    "companyIds": ["urn:pact:js-steel.example:supplier-id:42"],
    "productDescription": "Hot-rolled steel coil",
    "productIds": ["urn:pact:js-steel.example:product-id:coil-7"],
    "productNameCompany": "Coil 7",
    "pcf": {
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-01-01T00:00:00Z",
        "geographyCountrySubdivision": "CN-JS",
        "pcfExcludingBiogenicUptake": "2.31",
        "pcfIncludingBiogenicUptake": "2.31",
        "fossilGhgEmissions": "2.29",
        "fossilCarbonContent": "0.004",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0.5",
        "primaryDataShare": "45.5",
        "dqi": {"technologicalDQR": "2", "geographicalDQR": "1.5", "temporalDQR": "1"},
    },
}

RECIPE: dict[str, Any] = {
    "recipeId": "bike-frame-2025",
    "productIds": ["0042"],
    "companyName": "Wuxi Frames",
    "companyIds": ["urn:pact:wuxi-frames.cn:company-id:1"],
    "productNameCompany": "Frame One",
    "declaredUnitOfMeasurement": "piece",
    "declaredUnitAmount": "1",
    "productMassPerDeclaredUnit": "4.2",
    "ownEmissions": {"pcfExcludingBiogenicUptake": "1.5", "fossilGhgEmissions": "1.5"},
    "primaryDataShare": "100",
    "dqi": {"technologicalDQR": "1", "geographicalDQR": "1", "temporalDQR": "1"},
    "geographyCountrySubdivision": "CN-JS",
    "referencePeriodStart": "2024-01-01T00:00:00Z",
    "referencePeriodEnd": "2025-01-01T00:00:00Z",
    "inputs": [
        {"productId": "coil-7", "supplierCompanyId": "urn:pact:js-steel.example:supplier-id:42", "quantity": "4.5", "unit": "kilogram"},
        {"productId": "scrap", "quantity": "-0.3", "unit": "kilogram"},
    ],
    "updated": "2025-02-01T10:00:00.123Z",
    "categoryRuleId": "PCR-BIKE-FRAME",
}

LABEL: dict[str, Any] = {
    "labelId": "label-0042",
    "version": 3,
    "productId": "0042",
    "companyName": "Wuxi Frames",
    "companyIds": ["urn:pact:wuxi-frames.cn:company-id:1"],
    "productName": "Frame One",
    "value": "11.202",
    "declaredUnitOfMeasurement": "piece",
    "declaredUnitAmount": "1",
    "primaryDataShare": "52.8",
    "referencePeriodStart": "2024-01-01T00:00:00Z",
    "referencePeriodEnd": "2025-01-01T00:00:00Z",
    "validityPeriodStart": "2025-01-01T00:00:00Z",
    "validityPeriodEnd": "2028-01-01T00:00:00Z",
    "status": "Active",
    "pfId": "91715e5e-fd0b-4d1c-8fab-76290c46e6ed",
    "previousValue": "12.9",
    "reverificationDue": False,
    "certificationScheme": "Jiangsu carbon label pilot",
    "buyerId": "oem-1",
    "upstreamChangedAt": "2025-02-01T10:00:00Z",
    "issuedAt": "2025-02-01T10:00:00.250Z",
}


def supplier_footprint(product: str, value: str, *, company: str, company_name: str, created: str | None = None,
                       preceding: str | None = None, validity_end: datetime | None = None) -> dict[str, Any]:
    """FOOTPRINT as ``company``'s footprint of ``product`` at ``value`` kgCO2e per kg (both PCFs and the fossil
    part), with a fresh id; ``preceding`` names the version it replaces, ``validity_end`` moves the reference
    period so the footprint stops being valid then (PACT v3: validity defaults from the reference period)."""
    document = copy.deepcopy(FOOTPRINT)
    document.update(id=str(uuid.uuid4()), companyName=company_name, companyIds=[company], productIds=[product])
    if created is not None:
        document["created"] = created
    document["pcf"].update(pcfExcludingBiogenicUptake=value, pcfIncludingBiogenicUptake=value, fossilGhgEmissions=value)
    if preceding:
        document["precedingPfIds"] = [preceding]
    if validity_end is not None:
        reference_end = validity_end - timedelta(days=1)
        reference_start = reference_end - timedelta(days=365)
        document["pcf"].update(referencePeriodStart=_iso(reference_start), referencePeriodEnd=_iso(reference_end))
        document.update(validityPeriodStart=_iso(reference_end), validityPeriodEnd=_iso(validity_end))
    return document


def one_input_recipe(product: str, company: str, name: str, own: str, input_product: str, quantity: str,
                     certificate: str | None = None) -> dict[str, Any]:
    """RECIPE as ``company``'s recipe of ``product`` per kilogram: ``own`` kgCO2e of its own plus ``quantity`` kg
    of ``input_product``; ``certificate`` is the label's certificate number, if any."""
    document = copy.deepcopy(RECIPE)
    document.update(recipeId=product, productIds=[product], companyName=name, companyIds=[company],
                    productNameCompany=name + " product", declaredUnitOfMeasurement="kilogram",
                    ownEmissions={"pcfExcludingBiogenicUptake": own, "fossilGhgEmissions": own},
                    inputs=[{"productId": input_product, "quantity": quantity, "unit": "kilogram"}])
    document.pop("categoryRuleId")
    if certificate is not None:
        document["certificateNumber"] = certificate
    return document


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
