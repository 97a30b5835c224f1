"""The PACT v3.0 ProductFootprint and its parts (Technical Specifications 3.0.3, OpenAPI components).

The OpenAPI schema checks shapes; the rules it leaves to prose are validators here, one per rule, each
citing its source: one geography level, the validity period, the packaging rule, signs, DQR 1..5,
PDS 0..100. Emission values are kgCO2e per declared unit, carbon contents kgC per declared unit.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, StrictBool, ValidationInfo, field_serializer, field_validator, model_validator

from pcfx.schemas.base import FROM_AVRO, FROM_JSON, ContractModel, PactObject, reading, writing_avro
from pcfx.schemas.errors import RuleViolation
from pcfx.schemas.ingest_notes import normalise_fractional_pds, pcfx_extension, split_pcfx_extension
from pcfx.schemas.pact_types import (
    CcuApproach,
    CountryCode,
    DeclaredUnit,
    Dqr,
    FootprintStatus,
    IpccReport,
    NegativeOrZero,
    NonEmptyString,
    PactDecimal,
    PositiveNonZero,
    PositiveOrZero,
    PrimaryDataShare,
    RegionOrSubregion,
    RuleOperator,
    SpecVersion,
    SubdivisionCode,
    UrnSet,
    UtcDatetime,
    Uuid,
    VerificationCoverage,
    format_datetime,
    non_empty_unique,
)
from pcfx.schemas.validity import check_validity_ordered, validity_window_findings

class DataQualityIndicators(PactObject):
    """PACT v3 `DataQualityIndicators`: three ratings, 1 (best) .. 5 (worst), methodology 4.2.3."""

    technological_dqr: Dqr = Field(alias="technologicalDQR")
    geographical_dqr: Dqr = Field(alias="geographicalDQR")
    temporal_dqr: Dqr = Field(alias="temporalDQR")


class Verification(PactObject):
    """PACT v3 `Verification`: its presence says the PCF was verified (methodology 5.3)."""

    coverage: VerificationCoverage | None = None
    provider_name: str | None = None
    completed_at: UtcDatetime | None = None
    standard_name: str | None = None
    comments: str | None = None


class ProductOrSectorSpecificRule(PactObject):
    """PACT v3 `ProductOrSectorSpecificRule`: a PCR or sector rule set used in the calculation."""

    operator: RuleOperator
    rule_names: non_empty_unique(NonEmptyString)
    other_operator_name: NonEmptyString | None = None


class EmissionFactorSource(PactObject):
    """PACT v3 `EmissionFactorSource`: a secondary database and its version, e.g. ecoinvent 3.10."""

    name: NonEmptyString
    version: NonEmptyString


class DataModelExtension(PactObject):
    """PACT v3 `DataModelExtension`. ``data`` is any JSON object; in Avro it travels as JSON text."""

    spec_version: str
    data_schema: str
    documentation: str | None = None
    data: dict[str, Any]

    @field_validator("data", mode="before")
    @classmethod
    def data_from_json_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Avro carries ``data`` as JSON text: parse it back into the object PACT defines."""
        if reading(info, FROM_AVRO) and isinstance(value, str):
            return json.loads(value)
        return value

    @field_serializer("data")
    def data_as_json_text(self, value: dict[str, Any], info: Any) -> Any:
        """Write ``data`` as JSON text for Avro (arbitrary JSON has no fixed Avro schema)."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if writing_avro(info) else value


class GeographyScope(ContractModel):
    """The three PACT geography fields; at most one may be set."""

    geography_region_or_subregion: RegionOrSubregion | None = None
    geography_country: CountryCode | None = None
    geography_country_subdivision: SubdivisionCode | None = None

    @model_validator(mode="after")
    def one_geography_level(self) -> GeographyScope:
        """PACT v3 CarbonFootprint scope: global (none set), or exactly one of region/subregion, country,
        subdivision. Setting two levels is ambiguous and MUST NOT happen (3.0.3 data model, scope rules)."""
        levels = [
            (name, value)
            for name, value in (
                ("geographyRegionOrSubregion", self.geography_region_or_subregion),
                ("geographyCountry", self.geography_country),
                ("geographyCountrySubdivision", self.geography_country_subdivision),
            )
            if value is not None
        ]
        if len(levels) > 1:
            (first, first_value), (second, second_value) = levels[:2]
            raise RuleViolation(
                second,
                second_value,
                f"set together with {first} = {first_value!r}; only one geography level may be set "
                "(PACT v3 CarbonFootprint scope rule)",
            )
        return self


class ReferencePeriod(ContractModel):
    """The period the activity data covers: start inclusive, end exclusive (PACT v3 methodology 3.2.3)."""

    reference_period_start: UtcDatetime
    reference_period_end: UtcDatetime

    @model_validator(mode="after")
    def reference_period_ordered(self) -> ReferencePeriod:
        """PACT v3 methodology 3.2.3: the reference period starts (inclusive) before it ends (exclusive)."""
        start, end = self.reference_period_start, self.reference_period_end
        if end <= start:
            raise RuleViolation(
                "referencePeriodEnd",
                format_datetime(end),
                f"not after referencePeriodStart {format_datetime(start)!r} (PACT v3 methodology 3.2.3)",
            )
        return self


class EmissionBreakdown(ContractModel):
    """The additive per-declared-unit quantities of a carbon footprint (kgCO2e, kgC or m2·yr per DU).

    A product's value is the sum of its inputs' values times their quantities plus its own
    gate-to-gate value, field by field (``pcfx.streams.rollup.ADDITIVE_FIELDS``; outbound logistics is
    reported separately and never rolled up).
    Only ``pcfExcludingBiogenicUptake`` is required here; :class:`CarbonFootprint` requires more.
    """

    pcf_excluding_biogenic_uptake: PactDecimal
    pcf_including_biogenic_uptake: PactDecimal | None = None
    fossil_ghg_emissions: PositiveOrZero | None = None
    fossil_carbon_content: PositiveOrZero | None = None
    biogenic_carbon_content: PositiveOrZero | None = None
    recycled_carbon_content: PositiveOrZero | None = None
    land_use_change_ghg_emissions: PositiveOrZero | None = None
    land_carbon_leakage: PositiveOrZero | None = None
    land_management_fossil_ghg_emissions: PositiveOrZero | None = None
    land_management_biogenic_co2_emissions: PositiveOrZero | None = Field(None, alias="landManagementBiogenicCO2Emissions")
    land_management_biogenic_co2_removals: NegativeOrZero | None = Field(None, alias="landManagementBiogenicCO2Removals")
    biogenic_co2_uptake: NegativeOrZero | None = Field(None, alias="biogenicCO2Uptake")
    biogenic_non_co2_emissions: PositiveOrZero | None = Field(None, alias="biogenicNonCO2Emissions")
    land_area_occupation: PositiveOrZero | None = None
    aircraft_ghg_emissions: PositiveOrZero | None = None
    packaging_ghg_emissions: PositiveOrZero | None = None
    packaging_biogenic_carbon_content: PositiveOrZero | None = None
    outbound_logistics_ghg_emissions: PositiveOrZero | None = None
    ccs_technological_co2_capture: NegativeOrZero | None = Field(None, alias="ccsTechnologicalCO2Capture")
    technological_co2_removals: NegativeOrZero | None = Field(None, alias="technologicalCO2Removals")
    ccu_carbon_content: PositiveOrZero | None = None


class CarbonFootprint(PactObject, EmissionBreakdown, GeographyScope, ReferencePeriod):
    """PACT v3 `CarbonFootprint`: every property of the 3.0.3 OpenAPI. Values per declared unit."""

    model_config = PactObject.model_config

    declared_unit_of_measurement: DeclaredUnit
    declared_unit_amount: PositiveNonZero
    product_mass_per_declared_unit: PactDecimal  # kg per declared unit, excluding packaging
    boundary_processes_description: str | None = None
    pcf_including_biogenic_uptake: PactDecimal
    fossil_ghg_emissions: PositiveOrZero
    fossil_carbon_content: PositiveOrZero
    packaging_emissions_included: StrictBool | None = None
    ccs_technological_co2_capture_included: StrictBool | None = Field(None, alias="ccsTechnologicalCO2CaptureIncluded")
    technological_co2_capture_origin: str | None = Field(None, alias="technologicalCO2CaptureOrigin")
    ccu_calculation_approach: CcuApproach | None = None
    ccu_credit_certification: str | None = None
    ipcc_characterization_factors: non_empty_unique(IpccReport)
    cross_sectoral_standards: non_empty_unique(str)  # open list: hosts MUST accept unknown values
    product_or_sector_specific_rules: non_empty_unique(ProductOrSectorSpecificRule) | None = None
    exempted_emissions_percent: PactDecimal
    exempted_emissions_description: str | None = None
    allocation_rules_description: str | None = None
    secondary_emission_factor_sources: list[EmissionFactorSource] | None = Field(None, min_length=1)
    primary_data_share: PrimaryDataShare | None = None
    dqi: DataQualityIndicators | None = None
    verification: Verification | None = None

    @model_validator(mode="after")
    def packaging_emissions_only_if_included(self) -> CarbonFootprint:
        """PACT v3 CarbonFootprint.packagingGhgEmissions: if ``packagingEmissionsIncluded`` is false,
        ``packagingGhgEmissions`` MUST be undefined."""
        if self.packaging_emissions_included is False and self.packaging_ghg_emissions is not None:
            raise RuleViolation(
                "packagingGhgEmissions",
                self.packaging_ghg_emissions,
                "set although packagingEmissionsIncluded is false; it MUST then be undefined "
                "(PACT v3 CarbonFootprint.packagingGhgEmissions)",
            )
        return self



class ProductFootprint(PactObject):
    """PACT v3 `ProductFootprint` plus two pcfx lists, carried in a pcfx DataModelExtension in PACT JSON:

    - ``normalisations``: values pcfx changed on ingest (a fractional PDS read as a percent);
    - ``findings``: PACT rules the record breaks that pcfx records instead of rejecting (the validity
      window; the official PACT v3 examples break it themselves).
    """

    record_kind: ClassVar[str] = "footprint"
    label_keys: ClassVar[tuple[str, ...]] = ("id",)
    avro_name: ClassVar[str] = "ProductFootprint"

    id: Uuid
    spec_version: SpecVersion
    preceding_pf_ids: non_empty_unique(Uuid) | None = None
    created: UtcDatetime
    status: FootprintStatus
    validity_period_start: UtcDatetime | None = None
    validity_period_end: UtcDatetime | None = None  # exclusive
    company_name: NonEmptyString
    company_ids: UrnSet
    product_description: str
    product_ids: UrnSet
    product_classifications: UrnSet | None = None
    product_name_company: NonEmptyString
    comment: str | None = None
    pcf: CarbonFootprint
    extensions: list[DataModelExtension] | None = Field(None, min_length=1)
    normalisations: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def read_pcfx_extension(cls, data: Any, info: ValidationInfo) -> Any:
        """From PACT JSON: take pcfx's own extension back into ``normalisations`` and ``findings``, then
        apply the ingest normalisations (only to JSON: Avro bytes were normalised when first read)."""
        if not (reading(info, FROM_JSON) and isinstance(data, dict)):
            return data
        data = split_pcfx_extension(data)
        return normalise_fractional_pds(data)

    @model_validator(mode="after")
    def validity_period_end_after_start(self) -> ProductFootprint:
        """PACT v3 ProductFootprint.validityPeriodStart: a validity period, if given, has both ends and
        ``validityPeriodEnd`` is strictly after ``validityPeriodStart``."""
        start, end = self.validity_period_start, self.validity_period_end
        if start is None and end is None:
            return self
        if start is None or end is None:
            given, missing = ("validityPeriodEnd", "validityPeriodStart")
            if end is None:
                given, missing = missing, given
            reason = f"given without {missing}; a validity period needs both ends (PACT v3 validity period)"
            raise RuleViolation(given, format_datetime(start or end), reason)
        check_validity_ordered(start, end)
        return self

    @model_validator(mode="after")
    def validity_period_within_pact_window(self) -> ProductFootprint:
        """PACT v3 ProductFootprint.validityPeriodStart: start >= ``pcf.referencePeriodEnd`` and end <=
        ``referencePeriodEnd`` + 3 years. Recorded in ``findings`` rather than rejected: three of the four
        official v3 example footprints break it, and a buyer still needs their labels."""
        found = validity_window_findings(
            self.validity_period_start, self.validity_period_end, self.pcf.reference_period_end
        )
        self.findings = self.findings + [text for text in found if text not in self.findings]
        return self

    def pact_form(self, data: dict[str, Any]) -> dict[str, Any]:
        """PACT JSON has no ``normalisations`` / ``findings``: when any, they go into a pcfx extension."""
        normalisations, findings = data.pop("normalisations", []), data.pop("findings", [])
        if normalisations or findings:
            data["extensions"] = data.get("extensions", []) + [pcfx_extension(normalisations, findings)]
        return data
