"""The pcfx data contract in one import: PACT v3 footprints and the exchange's own records.

Every model reads and writes PACT JSON (``from_json`` / ``to_json``) and the dict our Avro schemas
describe (``from_avro`` / ``to_avro``); bad input raises :class:`ContractError` naming the record, the
field path and the offending value. Bytes on Kafka: :mod:`pcfx.streams.codec`.
"""

from pcfx.schemas.errors import ContractError, Problem
from pcfx.schemas.exchange import (
    CarbonLabel,
    Certification,
    DeadLetter,
    FootprintRequest,
    FootprintResponse,
    ProductRecipe,
    RecipeInput,
)
from pcfx.schemas.footprint import (
    CarbonFootprint,
    DataModelExtension,
    DataQualityIndicators,
    EmissionBreakdown,
    EmissionFactorSource,
    ProductFootprint,
    ProductOrSectorSpecificRule,
    Verification,
)
from pcfx.schemas.pact_types import format_datetime, format_decimal, to_decimal

__all__ = [
    "CarbonFootprint",
    "CarbonLabel",
    "Certification",
    "ContractError",
    "DataModelExtension",
    "DataQualityIndicators",
    "DeadLetter",
    "EmissionBreakdown",
    "EmissionFactorSource",
    "FootprintRequest",
    "FootprintResponse",
    "Problem",
    "ProductFootprint",
    "ProductOrSectorSpecificRule",
    "ProductRecipe",
    "RecipeInput",
    "Verification",
    "format_datetime",
    "format_decimal",
    "to_decimal",
]
