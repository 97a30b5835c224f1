"""One test per PACT rule the footprint models enforce; each checks that the message names field and value."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcfx.schemas.models import ContractError, ProductFootprint, format_decimal, to_decimal
from pcfx.schemas.pact_types import DECIMAL_TEXT
from pcfx.schemas.samples import FOOTPRINT, FOOTPRINT_ID

GOOD = FOOTPRINT  # a steel coil from Jiangsu: CN-JS, reference period 2024, PDS 45.5, DQRs 2 / 1.5 / 1
PF_ID = FOOTPRINT_ID


def footprint(pcf: dict[str, Any] | None = None, drop: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """GOOD with top-level ``fields`` replaced, ``pcf`` entries merged and ``drop``ped pcf keys removed."""
    doc = copy.deepcopy(GOOD)
    doc.update(fields)
    doc["pcf"].update(pcf or {})
    for key in drop:
        del doc["pcf"][key]
    return doc


def rejection(doc: dict[str, Any]) -> str:
    with pytest.raises(ContractError) as caught:
        ProductFootprint.from_json(doc)
    return str(caught.value)


def test_a_valid_footprint_reads_and_writes_unchanged():
    assert ProductFootprint.from_json(GOOD).to_json() == GOOD


def test_message_names_record_field_value_and_rule():
    message = rejection(footprint(pcf={"primaryDataShare": "150"}))
    assert message == (
        f"footprint {PF_ID}: pcf.primaryDataShare = '150': above 100 (PACT v3 methodology 4.2.2: PDS is a percent 0..100)"
    )


def test_every_broken_rule_is_listed():
    message = rejection(footprint(pcf={"primaryDataShare": "-1", "fossilGhgEmissions": "-2"}))
    assert "pcf.primaryDataShare = '-1': below 0" in message
    assert "pcf.fossilGhgEmissions = '-2': negative" in message


@pytest.mark.parametrize("text", ["1.2345e+6", "1.", ".5", "1,5", "", "1.5\n", "١٢"])
def test_decimal_pattern(text):
    assert f"pcf.pcfExcludingBiogenicUptake = {text!r}: not a PACT decimal string" in rejection(
        footprint(pcf={"pcfExcludingBiogenicUptake": text})
    )


def test_a_decimal_longer_than_100_characters_is_refused_and_one_of_100_is_taken():
    longest = "1." + "5" * 98
    taken = ProductFootprint.from_json(footprint(pcf={"pcfExcludingBiogenicUptake": longest, "pcfIncludingBiogenicUptake": longest}))
    assert taken.pcf.pcf_excluding_biogenic_uptake == longest
    assert "101 characters: pcfx takes decimals of at most 100 characters" in rejection(
        footprint(pcf={"pcfExcludingBiogenicUptake": longest + "5"})
    )


def test_decimal_as_json_number_is_refused():
    assert "pcf.pcfExcludingBiogenicUptake = 2.31: Input should be a valid string" in rejection(
        footprint(pcf={"pcfExcludingBiogenicUptake": 2.31})
    )


def test_decimal_text_is_kept_exactly():
    pf = ProductFootprint.from_json(footprint(pcf={"fossilCarbonContent": "0.0040", "pcfExcludingBiogenicUptake": "+2.310"}))
    assert pf.pcf.fossil_carbon_content == "0.0040"
    assert to_decimal(pf.pcf.pcf_excluding_biogenic_uptake) == Decimal("2.31")


def test_sign_rule_positive_or_zero():
    assert "pcf.fossilGhgEmissions = '-0.1': negative: must be >= 0 (PACT 3.0.3 PositiveOrZeroDecimal)" in rejection(
        footprint(pcf={"fossilGhgEmissions": "-0.1"})
    )


def test_sign_rule_positive_or_zero_refuses_minus_zero():
    assert "pcf.landAreaOccupation = '-0': negative" in rejection(footprint(pcf={"landAreaOccupation": "-0"}))


def test_sign_rule_negative_or_zero():
    assert "pcf.biogenicCO2Uptake = '0.5': positive: must be <= 0" in rejection(footprint(pcf={"biogenicCO2Uptake": "0.5"}))
    pf = ProductFootprint.from_json(footprint(pcf={"biogenicCO2Uptake": "-19.36", "technologicalCO2Removals": "0"}))
    assert pf.pcf.biogenic_co2_uptake == "-19.36"


def test_pcf_including_biogenic_uptake_may_be_negative():
    pf = ProductFootprint.from_json(footprint(pcf={"pcfIncludingBiogenicUptake": "-14.22"}))
    assert pf.pcf.pcf_including_biogenic_uptake == "-14.22"


def test_declared_unit_amount_above_zero():
    assert "pcf.declaredUnitAmount = '0': must be > 0" in rejection(footprint(pcf={"declaredUnitAmount": "0"}))
    assert "pcf.declaredUnitAmount = '-1': must be > 0" in rejection(footprint(pcf={"declaredUnitAmount": "-1"}))


@pytest.mark.parametrize("field", ["technologicalDQR", "geographicalDQR", "temporalDQR"])
@pytest.mark.parametrize("value", ["0.9", "5.01", "6"])
def test_dqr_between_1_and_5(field, value):
    dqi = {"technologicalDQR": "2", "geographicalDQR": "2", "temporalDQR": "2", field: value}
    assert f"pcf.dqi.{field} = {value!r}: outside 1..5 (PACT v3 methodology 4.2.3" in rejection(footprint(pcf={"dqi": dqi}))


def test_dqr_bounds_are_inclusive():
    dqi = {"technologicalDQR": "1", "geographicalDQR": "5", "temporalDQR": "5.0"}
    assert ProductFootprint.from_json(footprint(pcf={"dqi": dqi})).pcf.dqi.temporal_dqr == "5.0"


def test_pds_between_0_and_100():
    assert "pcf.primaryDataShare = '100.5': above 100" in rejection(footprint(pcf={"primaryDataShare": "100.5"}))
    assert "pcf.primaryDataShare = '-0.1': below 0" in rejection(footprint(pcf={"primaryDataShare": "-0.1"}))
    assert ProductFootprint.from_json(footprint(pcf={"primaryDataShare": "100"})).pcf.primary_data_share == "100"


def test_fractional_pds_is_read_as_a_percent_and_recorded():
    pf = ProductFootprint.from_json(footprint(pcf={"primaryDataShare": "0.52"}))
    assert pf.pcf.primary_data_share == "52"
    assert pf.normalisations == [
        "pcf.primaryDataShare '0.52' read as a fraction and written as the percent '52' (PACT v3 methodology 4.2.2)"
    ]


@pytest.mark.parametrize("text", ["0", "1", "1.0", "12.9", "100"])
def test_pds_of_0_or_from_1_is_a_percent_already(text):
    pf = ProductFootprint.from_json(footprint(pcf={"primaryDataShare": text}))
    assert pf.pcf.primary_data_share == text
    assert pf.normalisations == []


def test_pds_normalisation_travels_in_a_pcfx_extension_and_is_not_applied_twice():
    first = ProductFootprint.from_json(footprint(pcf={"primaryDataShare": "0.005"}))
    assert first.pcf.primary_data_share == "0.5"  # 0.005 of 100 %
    emitted = first.to_json()
    assert emitted["extensions"][-1]["data"]["normalisations"] == first.normalisations
    again = ProductFootprint.from_json(emitted)
    assert again.pcf.primary_data_share == "0.5"  # not 50: the extension says it is normalised already
    assert again == first


def test_one_geography_level():
    message = rejection(footprint(pcf={"geographyCountry": "CN"}))
    assert (
        "pcf.geographyCountrySubdivision = 'CN-JS': set together with geographyCountry = 'CN'; "
        "only one geography level may be set (PACT v3 CarbonFootprint scope rule)"
    ) in message


def test_global_footprint_has_no_geography():
    pf = ProductFootprint.from_json(footprint(drop=("geographyCountrySubdivision",)))
    assert (pf.pcf.geography_region_or_subregion, pf.pcf.geography_country, pf.pcf.geography_country_subdivision) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("geographyCountry", "cn", "not an ISO 3166-1 alpha-2 country code"),
        ("geographyCountrySubdivision", "CN_JS", "not an ISO 3166-2 subdivision code"),
        ("geographyRegionOrSubregion", "Eastern China", "Input should be 'Africa'"),
    ],
)
def test_geography_values(field, value, reason):
    doc = footprint(pcf={field: value}, drop=() if field == "geographyCountrySubdivision" else ("geographyCountrySubdivision",))
    assert f"pcf.{field} = {value!r}: {reason}" in rejection(doc)


def test_validity_period_end_after_start():
    doc = footprint(validityPeriodStart="2025-06-01T00:00:00Z", validityPeriodEnd="2025-06-01T00:00:00Z")
    assert (
        "validityPeriodEnd = '2025-06-01T00:00:00Z': not after validityPeriodStart '2025-06-01T00:00:00Z'"
    ) in rejection(doc)


def test_validity_period_needs_both_ends():
    assert "validityPeriodStart = '2025-06-01T00:00:00Z': given without validityPeriodEnd" in rejection(
        footprint(validityPeriodStart="2025-06-01T00:00:00Z")
    )


def test_validity_window_inside_pact_limits_has_no_findings():
    pf = ProductFootprint.from_json(footprint(validityPeriodStart="2025-01-01T00:00:00Z", validityPeriodEnd="2028-01-01T00:00:00Z"))
    assert pf.findings == []


def test_validity_window_outside_pact_limits_is_recorded_not_rejected():
    """Reference period ends 2025-01-01, so validity may run from then until 2028-01-01 at the latest."""
    pf = ProductFootprint.from_json(footprint(validityPeriodStart="2024-12-01T00:00:00Z", validityPeriodEnd="2028-01-02T00:00:00Z"))
    assert pf.findings == [
        "validityPeriodStart = '2024-12-01T00:00:00Z': before pcf.referencePeriodEnd '2025-01-01T00:00:00Z' "
        "(PACT v3 ProductFootprint validity period: start >= referencePeriodEnd)",
        "validityPeriodEnd = '2028-01-02T00:00:00Z': later than pcf.referencePeriodEnd + 3 years "
        "'2028-01-01T00:00:00Z' (PACT v3 ProductFootprint validity period)",
    ]
    again = ProductFootprint.from_json(pf.to_json())
    assert again.findings == pf.findings  # read back from the pcfx extension, not doubled


def test_reference_period_end_after_start():
    assert "pcf.referencePeriodEnd = '2024-01-01T00:00:00Z': not after referencePeriodStart" in rejection(
        footprint(pcf={"referencePeriodEnd": "2024-01-01T00:00:00Z"})
    )


def test_packaging_ghg_emissions_only_if_packaging_included():
    doc = footprint(pcf={"packagingEmissionsIncluded": False, "packagingGhgEmissions": "0.58"})
    assert "pcf.packagingGhgEmissions = '0.58': set although packagingEmissionsIncluded is false" in rejection(doc)
    included = footprint(pcf={"packagingEmissionsIncluded": True, "packagingGhgEmissions": "0.58"})
    assert ProductFootprint.from_json(included).pcf.packaging_ghg_emissions == "0.58"


def test_boolean_must_be_a_json_boolean():
    assert "pcf.packagingEmissionsIncluded = 'false': Input should be a valid boolean" in rejection(
        footprint(pcf={"packagingEmissionsIncluded": "false"})
    )


@pytest.mark.parametrize("field", ["companyIds", "productIds", "productClassifications"])
def test_urn_pattern(field):
    assert f"{field}[0] = 'company-42': not a URN: must start with 'urn:'" in rejection(footprint(**{field: ["company-42"]}))


def test_urn_prefix_is_case_insensitive():
    assert ProductFootprint.from_json(footprint(companyIds=["URN:pact:x"])).company_ids == ["URN:pact:x"]


def test_id_sets_are_non_empty_and_unique():
    assert "productIds = []: List should have at least 1 item" in rejection(footprint(productIds=[]))
    assert "companyIds = ['urn:a', 'urn:a']: duplicate item 'urn:a'" in rejection(footprint(companyIds=["urn:a", "urn:a"]))


def test_ids_are_uuids():
    assert "id = 'pf-1': not a UUID" in rejection(footprint(id="pf-1"))
    assert "precedingPfIds[0] = '42': not a UUID" in rejection(footprint(precedingPfIds=["42"]))


@pytest.mark.parametrize("unit", ["piece", "hour", "megabit second", "cubic meter", "ton kilometer"])
def test_declared_units_of_pact_v3(unit):
    assert ProductFootprint.from_json(footprint(pcf={"declaredUnitOfMeasurement": unit})).pcf.declared_unit_of_measurement == unit


def test_unknown_declared_unit_is_refused():
    assert "pcf.declaredUnitOfMeasurement = 'pieces': Input should be 'liter'" in rejection(
        footprint(pcf={"declaredUnitOfMeasurement": "pieces"})
    )


def test_status_enum():
    assert "status = 'Live': Input should be 'Active' or 'Deprecated'" in rejection(footprint(status="Live"))


def test_ipcc_report_names():
    assert "pcf.ipccCharacterizationFactors[1] = 'AR6.1': not an IPCC assessment report name" in rejection(
        footprint(pcf={"ipccCharacterizationFactors": ["AR5", "AR6.1"]})
    )


def test_cross_sectoral_standards_accept_unknown_values():
    """PACT 3.0.3: hosts MUST accept values defined by later revisions."""
    pf = ProductFootprint.from_json(footprint(pcf={"crossSectoralStandards": ["ISO14067", "GB/T 24067"]}))
    assert pf.pcf.cross_sectoral_standards == ["ISO14067", "GB/T 24067"]


def test_missing_required_field():
    assert "pcf.fossilGhgEmissions: missing (a required field)" in rejection(footprint(drop=("fossilGhgEmissions",)))


@pytest.mark.parametrize("value", ["2025-01-15T08:00:00", 1736928000])
def test_date_times_are_iso_text_with_an_offset(value):
    assert f"created = {value!r}:" in rejection(footprint(created=value))


def test_date_times_are_held_in_utc():
    pf = ProductFootprint.from_json(footprint(created="2025-01-15T16:00:00+08:00"))
    assert pf.to_json()["created"] == "2025-01-15T08:00:00Z"


def test_unknown_properties_are_kept():
    doc = footprint(pcf={"otherOperatorName": "TfS"}, xVendorNote={"a": [1, 2]})
    pf = ProductFootprint.from_json(doc)
    assert pf.to_json() == doc
    assert ProductFootprint.from_avro(pf.to_avro()) == pf


def test_record_without_id_is_still_named():
    doc = footprint()
    del doc["id"]
    assert rejection(doc).startswith("footprint (no id): id: missing")


def test_errors_from_avro_name_the_record_too():
    record = ProductFootprint.from_json(GOOD).to_avro()
    record["pcf"]["primaryDataShare"] = "150"
    with pytest.raises(ContractError, match=f"footprint {PF_ID}: pcf.primaryDataShare = '150': above 100"):
        ProductFootprint.from_avro(record)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-7, "0.0000001"),
        (1.5e20, "150000000000000000000"),
        (0.1 + 0.2, "0.30000000000000004"),
        (2 * 10 + 0.5 * 4, "22.0"),
        (-0.0, "0.0"),
        (Decimal("0.50"), "0.50"),
        (Decimal("1E+2"), "100"),
        (7, "7"),
    ],
)
def test_format_decimal(value, text):
    assert format_decimal(value) == text


def test_format_decimal_refuses_non_finite():
    with pytest.raises(ValueError, match="no PACT decimal form"):
        format_decimal(float("inf"))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_decimal_round_trips_every_float(value):
    text = format_decimal(value)
    assert DECIMAL_TEXT.fullmatch(text)
    assert float(text) == value
    assert Decimal(text) == Decimal(repr(value))  # the shortest digits, exactly: no more, no fewer


def test_null_is_absent():
    """PACT v3 reads a null property as undefined; pcfx omits it when writing."""
    doc = footprint(comment=None, pcf={"biogenicCarbonContent": None})
    assert ProductFootprint.from_json(doc).to_json() == GOOD
