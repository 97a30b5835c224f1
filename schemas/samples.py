"""Small valid records in PACT JSON form, made by hand, for examples, benchmarks and tests.

A Jiangsu steel coil (2.31 kgCO2e per kilogram, reference period 2024), a bike frame made from it in
Wuxi, and the frame's carbon label: 1.5 + (4.5 - 0.3) x 2.31 = 11.202 kgCO2e per frame, PDS
(1.5 x 100 + 9.702 x 45.5) / 11.202 = 52.8 %. Copy before changing: these dicts are shared.
"""

from __future__ import annotations

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
