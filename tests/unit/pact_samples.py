"""Small hand-made PACT v3 footprints for the host's unit tests (only the fields the host looks at vary)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

BASE: dict[str, Any] = {
    "specVersion": "3.0.0",
    "created": "2025-01-10T00:00:00Z",
    "status": "Active",
    "companyName": "Wuxi Frames",
    "companyIds": ["urn:pact:wuxi-frames.cn:company-id:1"],
    "productDescription": "E-bike frame, steel",
    "productIds": ["urn:pact:wuxi-frames.cn:product-id:frame-1"],
    "productNameCompany": "Frame One",
    "pcf": {
        "declaredUnitOfMeasurement": "piece",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "4.2",
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-01-01T00:00:00Z",
        "geographyCountrySubdivision": "CN-JS",
        "pcfExcludingBiogenicUptake": "12.5",
        "pcfIncludingBiogenicUptake": "12.5",
        "fossilGhgEmissions": "12.5",
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0",
    },
}


def footprint(pf_id: str | None = None, pcf: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A valid footprint with a fresh id unless given; ``fields`` replace top-level fields, ``pcf`` merges."""
    doc = copy.deepcopy(BASE)
    doc["id"] = pf_id or str(uuid.uuid4())
    doc.update(fields)
    doc["pcf"].update(pcf or {})
    return doc
