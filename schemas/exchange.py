"""Records that exist only inside the exchange: recipes, labels, requests, responses, dead letters.

These are pcfx's own contract, so unknown fields are errors (a misspelt CSV column must not vanish).
Product ids here are opaque strings, never numbers: a CSV user's ``"0042"`` stays ``"0042"``.
Decimals are PACT decimal text; emission values are kgCO2e per declared unit.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_serializer, field_validator, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from pcfx.schemas.base import FROM_JSON, ContractModel, reading
from pcfx.schemas.errors import RuleViolation
from pcfx.schemas.footprint import (
    DataQualityIndicators,
    EmissionBreakdown,
    GeographyScope,
    ProductFootprint,
    ReferencePeriod,
)
from pcfx.schemas.pact_types import (
    ErrorCode,
    FootprintStatus,
    NonEmptyString,
    OpaqueId,
    PactDecimal,
    PositiveNonZero,
    PositiveOrZero,
    PrimaryDataShare,
    Urn,
    UrnSet,
    UtcDatetime,
    UnitName,
    UtcMillis,
    Uuid,
    non_empty_unique,
)
from pcfx.schemas.validity import check_validity_ordered


class Certification(ContractModel):
    """Carbon-label certification as in the Shanghai/Jiangsu/Zhejiang pilots; all optional."""

    category_rule_id: NonEmptyString | None = None  # the product-category accounting rule applied
    certification_scheme: NonEmptyString | None = None
    certification_body: NonEmptyString | None = None
    certificate_number: NonEmptyString | None = None


@pydantic_dataclass(frozen=True, slots=True, kw_only=True, config=ContractModel.model_config)
class RecipeInput:
    """One bill-of-materials line: ``quantity`` of ``productId`` (in ``unit``) per declared unit made.

    The quantity may be negative: a co-product or scrap credit. ``unit`` is any unit name (a PACT unit,
    an alias such as ``t`` or ``件``, or an opaque unit, docs/units.md); absent, the quantity counts the
    input's own declared units.

    A validated dataclass rather than a model, with the same names, rules and errors: a dense recipe has
    hundreds of lines, and pydantic makes one of these in about a third of a model's time.
    """

    product_id: OpaqueId
    supplier_company_id: Urn | None = None
    quantity: PactDecimal
    unit: UnitName | None = None


class ProductRecipe(GeographyScope, ReferencePeriod, Certification):
    """A product made inside the exchange: its own gate-to-gate emissions plus its inputs.

    ``ownEmissions`` uses the additive fields of a PACT CarbonFootprint, per declared unit
    (``declaredUnitAmount`` x ``declaredUnitOfMeasurement``); ``primaryDataShare`` and ``dqi`` rate the
    owner's own data only. ``declaredUnitOfMeasurement`` is any unit name (docs/units.md): a recipe is
    pcfx's own record; only its derived PACT footprint must use a PACT unit.
    """

    record_kind: ClassVar[str] = "recipe"
    label_keys: ClassVar[tuple[str, ...]] = ("recipeId", "productIds")
    avro_name: ClassVar[str] = "ProductRecipe"

    recipe_id: NonEmptyString | None = None
    product_ids: non_empty_unique(OpaqueId)
    company_name: NonEmptyString
    company_ids: UrnSet
    product_name_company: NonEmptyString
    product_description: str | None = None
    declared_unit_of_measurement: UnitName
    declared_unit_amount: PositiveNonZero
    product_mass_per_declared_unit: PositiveOrZero  # kg per declared unit, excluding packaging
    own_emissions: EmissionBreakdown
    primary_data_share: PrimaryDataShare | None = None
    dqi: DataQualityIndicators | None = None
    inputs: list[RecipeInput] = Field(default_factory=list)
    updated: UtcMillis
    #: The standards the maker's accounting follows (e.g. ``ISO14067``, ``GB/T 24067``); its footprints
    #: declare them as ``crossSectoralStandards``. Absent: ISO14067 and PACT-3.0.
    cross_sectoral_standards: non_empty_unique(NonEmptyString) | None = None


LabelStatus = Literal["Active", "Deprecated", "Expired"]


class CarbonLabel(ReferencePeriod, Certification):
    """What a buyer receives: the current footprint of one product, per declared unit.

    ``value`` is ``pcfExcludingBiogenicUptake`` in kgCO2e per declared unit of footprint ``pfId``. For a
    product whose declared unit has no PACT equivalent, the unit is the recipe's own and ``pfId`` is a
    pcfx result id that no PACT footprint has (docs/units.md).
    """

    record_kind: ClassVar[str] = "label"
    label_keys: ClassVar[tuple[str, ...]] = ("labelId",)
    avro_name: ClassVar[str] = "CarbonLabel"

    label_id: NonEmptyString
    version: StrictInt = Field(ge=1)
    product_id: OpaqueId
    company_name: NonEmptyString
    company_ids: UrnSet
    product_name: NonEmptyString
    value: PactDecimal
    declared_unit_of_measurement: UnitName  # a PACT unit, or the recipe's own when PACT lacks it (docs/units.md)
    declared_unit_amount: PositiveNonZero
    primary_data_share: PrimaryDataShare | None = None
    dqi: DataQualityIndicators | None = None
    validity_period_start: UtcDatetime
    validity_period_end: UtcDatetime
    status: LabelStatus
    pf_id: Uuid
    previous_value: PactDecimal | None = None
    last_verified_value: PactDecimal | None = None
    reverification_due: StrictBool = False
    buyer_id: NonEmptyString | None = None
    upstream_changed_at: UtcMillis | None = None  # time of the supplier publish that caused this label
    issued_at: UtcMillis

    @model_validator(mode="after")
    def validity_period_end_after_start(self) -> CarbonLabel:
        """PACT v3 validity period: the label's ``validityPeriodEnd`` is strictly after its start."""
        check_validity_ordered(self.validity_period_start, self.validity_period_end)
        return self


class FootprintRequest(ContractModel):
    """An asynchronous footprint request, the data of a PACT v3 ``RequestCreatedEvent``.

    The list criteria work like the ListFootprints filters: OR within a list, AND across lists.
    """

    record_kind: ClassVar[str] = "request"
    label_keys: ClassVar[tuple[str, ...]] = ("requestId",)
    avro_name: ClassVar[str] = "FootprintRequest"

    request_id: NonEmptyString
    requester_client_id: NonEmptyString
    requester_company_name: str | None = None
    product_id: list[Urn] = Field(default_factory=list)
    company_id: list[Urn] = Field(default_factory=list)
    geography: list[str] = Field(default_factory=list)
    classification: list[Urn] = Field(default_factory=list)
    valid_on: UtcDatetime | None = None
    valid_after: UtcDatetime | None = None
    valid_before: UtcDatetime | None = None
    status: FootprintStatus | None = None
    comment: str | None = None
    callback_url: str | None = None  # where the Fulfilled/Rejected event goes (the request's source)
    created_at: UtcMillis


class FootprintResponse(ContractModel):
    """The answer to a :class:`FootprintRequest`: PACT v3 ``RequestFulfilledEvent`` (footprints or their
    ids) or ``RequestRejectedEvent`` (an error code and message), never both."""

    record_kind: ClassVar[str] = "response"
    label_keys: ClassVar[tuple[str, ...]] = ("requestId",)
    avro_name: ClassVar[str] = "FootprintResponse"

    request_id: NonEmptyString
    pf_ids: list[Uuid] = Field(default_factory=list)
    footprints: list[ProductFootprint] = Field(default_factory=list)
    error_code: ErrorCode | None = None
    error_message: str | None = None
    responded_at: UtcMillis

    @model_validator(mode="after")
    def fulfilled_or_rejected(self) -> FootprintResponse:
        """PACT v3 events: a request gets exactly one answer, Fulfilled (non-empty ``pfs``) or Rejected
        (an ``error`` with ``code`` and ``message``)."""
        fulfilled = bool(self.pf_ids or self.footprints)
        if fulfilled and self.error_code is not None:
            raise RuleViolation(
                "errorCode", self.error_code, "set on a fulfilled response (PACT v3: Fulfilled or Rejected, not both)"
            )
        if not fulfilled and self.error_code is None:
            raise RuleViolation(
                "pfIds", self.pf_ids, "no footprints and no errorCode (PACT v3: Fulfilled needs a non-empty pfs)"
            )
        if self.error_code is not None and not self.error_message:
            raise RuleViolation(
                "errorMessage", self.error_message, "missing for a rejected response (PACT v3 Error: code and message)"
            )
        return self

    @property
    def rejected(self) -> bool:
        """True for a RequestRejectedEvent."""
        return self.error_code is not None


class DeadLetter(ContractModel):
    """A message no stage could use, kept whole with the reason, so nothing is lost and nothing is silent.

    In JSON the two byte fields are base64 text.
    """

    record_kind: ClassVar[str] = "dead letter"
    label_keys: ClassVar[tuple[str, ...]] = ("sourceTopic",)
    avro_name: ClassVar[str] = "DeadLetter"

    original_bytes: bytes
    source_topic: NonEmptyString
    partition: StrictInt = Field(ge=0)
    offset: StrictInt = Field(ge=0)
    key: bytes | None = None
    error: NonEmptyString  # names the record and the field, see ContractError
    error_type: NonEmptyString  # e.g. "ContractError", "DecodeError"
    failed_at: UtcMillis
    stage: NonEmptyString  # the agent or connector that gave up, e.g. "ingest"

    @field_serializer("original_bytes", "key", when_used="json-unless-none")
    def bytes_as_base64(self, value: bytes) -> str:
        """JSON has no bytes: write standard base64 text (RFC 4648 section 4)."""
        return base64.b64encode(value).decode("ascii")

    @field_validator("original_bytes", "key", mode="before")
    @classmethod
    def bytes_from_base64(cls, value: Any, info: ValidationInfo) -> Any:
        """``from_json`` reads the base64 text ``to_json`` writes."""
        if reading(info, FROM_JSON) and isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value
