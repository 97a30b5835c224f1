"""The exchange's own records: recipes, labels, requests, responses and dead letters."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from pcfx.streams.rollup import ADDITIVE_FIELDS
from pcfx.schemas.models import (
    CarbonLabel,
    ContractError,
    DeadLetter,
    EmissionBreakdown,
    FootprintRequest,
    FootprintResponse,
    ProductRecipe,
)
from pcfx.schemas.samples import FOOTPRINT, LABEL, RECIPE
from pcfx.streams.codec import decode_model, encode_model

REQUEST: dict[str, Any] = {
    "requestId": "848dcf00-2c18-400d-bcb8-11e45bbf7ebd",
    "requesterClientId": "oem-client",
    "productId": ["urn:gtin:5695872369587"],
    "companyId": [],
    "geography": ["CN-JS", "CN-ZJ"],
    "classification": [],
    "validOn": "2025-06-01T00:00:00Z",
    "status": "Active",
    "callbackUrl": "https://oem.example/3/events",
    "createdAt": "2025-02-01T10:00:00Z",
}


def changed(doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
    copied = copy.deepcopy(doc)
    copied.update(fields)
    return copied


@pytest.mark.parametrize(
    ("cls", "doc"),
    [(ProductRecipe, RECIPE), (CarbonLabel, LABEL), (FootprintRequest, REQUEST)],
    ids=["recipe", "label", "request"],
)
def test_json_and_avro_round_trip(cls, doc):
    model = cls.from_json(doc)
    assert model.to_json() == doc
    assert decode_model(cls, encode_model(model)) == model


def test_recipe_product_ids_are_opaque_text():
    recipe = decode_model(ProductRecipe, encode_model(ProductRecipe.from_json(RECIPE)))
    assert recipe.product_ids == ["0042"]
    with pytest.raises(ContractError, match=r"recipe bike-frame-2025: productIds\[0\] = 42: Input should be a valid string"):
        ProductRecipe.from_json(changed(RECIPE, productIds=[42]))


def test_recipe_input_quantity_may_be_negative():
    recipe = ProductRecipe.from_json(RECIPE)
    assert [line.quantity for line in recipe.inputs] == ["4.5", "-0.3"]


def test_recipe_own_emissions_follow_the_pact_sign_rules():
    doc = changed(RECIPE, ownEmissions={"pcfExcludingBiogenicUptake": "1.5", "biogenicCO2Uptake": "0.2"})
    with pytest.raises(ContractError, match=r"ownEmissions.biogenicCO2Uptake = '0.2': positive: must be <= 0"):
        ProductRecipe.from_json(doc)


def test_recipe_unknown_field_is_an_error_not_silently_dropped():
    with pytest.raises(ContractError, match=r"recipe bike-frame-2025: declaredUnit = 'kg': Extra inputs are not permitted"):
        ProductRecipe.from_json(changed(RECIPE, declaredUnit="kg"))


def test_a_misspelt_field_on_an_input_line_is_named_as_on_the_recipe():
    doc = changed(RECIPE)
    doc["inputs"][0]["qty"] = "2"
    with pytest.raises(ContractError, match=r"recipe bike-frame-2025: inputs\[0\].qty = '2': Extra inputs are not permitted"):
        ProductRecipe.from_json(doc)


def test_recipe_without_id_is_named_by_its_product():
    doc = changed(RECIPE)
    del doc["recipeId"]
    with pytest.raises(ContractError, match=r"^recipe 0042: declaredUnitAmount = '0': must be > 0"):
        ProductRecipe.from_json(changed(doc, declaredUnitAmount="0"))


def test_recipe_units_are_any_unit_name_a_tool_exports():
    """A recipe is pcfx's own record: its declared unit and its line units may be aliases (t, 件) or
    opaque (an input-output table's currency); they round-trip through Avro as given."""
    inputs = [
        {"productId": "coil-7", "quantity": "0.0045", "unit": "ton"},
        {"productId": "bolt", "quantity": "8", "unit": "件"},
        {"productId": "paint", "quantity": "2"},  # no unit: two of the input's own declared units
    ]
    doc = changed(RECIPE, inputs=inputs, declaredUnitOfMeasurement="USD (2013, producer price)")
    recipe = decode_model(ProductRecipe, encode_model(ProductRecipe.from_json(doc)))
    assert [line.unit for line in recipe.inputs] == ["ton", "件", None]
    assert recipe.declared_unit_of_measurement == "USD (2013, producer price)"


def test_recipe_unit_names_must_be_non_blank_short_text():
    with pytest.raises(ContractError, match=r"inputs\[0\].unit = ' ': .*is empty"):
        ProductRecipe.from_json(changed(RECIPE, inputs=[{"productId": "coil-7", "quantity": "4.5", "unit": " "}]))
    with pytest.raises(ContractError, match=r"declaredUnitOfMeasurement = .*control character"):
        ProductRecipe.from_json(changed(RECIPE, declaredUnitOfMeasurement="kg\n"))
    with pytest.raises(ContractError, match=r"declaredUnitOfMeasurement = .*longer than 120"):
        ProductRecipe.from_json(changed(RECIPE, declaredUnitOfMeasurement="x" * 121))


@pytest.mark.parametrize("product_id", ["bolt\n7", "bolt\x00", "bolt\x7f", "b\u00f6lt\x1b", "bolt\u202e7", "bolt\u2028"])
def test_a_recipe_line_id_with_a_control_or_format_character_is_refused_naming_it(product_id):
    with pytest.raises(ContractError, match=r"inputs\[0\].productId = .*character U\+[0-9A-F]{4} at position"):
        ProductRecipe.from_json(changed(RECIPE, inputs=[{"productId": product_id, "quantity": "1"}]))
    ProductRecipe.from_json(changed(RECIPE, inputs=[{"productId": "b\u00f6lt 7 (\u4ef6)", "quantity": "1"}]))  # spaces, letters


def test_recipe_pds_is_a_percent_and_never_rescaled():
    """Only PACT footprints from outside get the fraction normalisation; a recipe's 0.52 means 0.52 %."""
    assert ProductRecipe.from_json(changed(RECIPE, primaryDataShare="0.52")).primary_data_share == "0.52"
    with pytest.raises(ContractError, match=r"primaryDataShare = '101': above 100"):
        ProductRecipe.from_json(changed(RECIPE, primaryDataShare="101"))


def test_recipe_geography_one_level():
    with pytest.raises(ContractError, match=r"geographyCountrySubdivision = 'CN-JS': set together with geographyCountry = 'CN'"):
        ProductRecipe.from_json(changed(RECIPE, geographyCountry="CN"))


def test_every_additive_field_of_the_roll_up_is_a_breakdown_field_with_its_pact_name():
    aliases = {field.alias for field in EmissionBreakdown.model_fields.values()}
    assert set(ADDITIVE_FIELDS) <= aliases
    assert aliases - set(ADDITIVE_FIELDS) == {"outboundLogisticsGhgEmissions"}  # reported separately, never rolled up


def test_event_times_keep_milliseconds():
    recipe = ProductRecipe.from_json(changed(RECIPE, updated="2025-02-01T10:00:00.123456Z"))
    assert recipe.updated == datetime(2025, 2, 1, 10, 0, 0, 123000, tzinfo=UTC)


def test_label_status_and_version():
    assert CarbonLabel.from_json(changed(LABEL, status="Expired")).status == "Expired"
    with pytest.raises(ContractError, match=r"label label-0042: version = 0: Input should be greater than or equal to 1"):
        CarbonLabel.from_json(changed(LABEL, version=0))


def test_label_validity_end_after_start():
    with pytest.raises(ContractError, match=r"validityPeriodEnd = '2024-01-01T00:00:00Z': not after validityPeriodStart"):
        CarbonLabel.from_json(changed(LABEL, validityPeriodEnd="2024-01-01T00:00:00Z"))


def test_request_criteria_are_urns():
    with pytest.raises(ContractError, match=r"request 848dcf00-2c18-400d-bcb8-11e45bbf7ebd: productId\[0\] = '5695872369587': not a URN"):
        FootprintRequest.from_json(changed(REQUEST, productId=["5695872369587"]))


def test_response_is_fulfilled_or_rejected():
    fulfilled = FootprintResponse.from_json(
        {"requestId": "r1", "pfIds": ["91715e5e-fd0b-4d1c-8fab-76290c46e6ed"], "respondedAt": "2025-02-01T10:00:00Z"}
    )
    rejected = FootprintResponse.from_json(
        {"requestId": "r2", "errorCode": "NotFound", "errorMessage": "no such product", "respondedAt": "2025-02-01T10:00:00Z"}
    )
    assert (fulfilled.rejected, rejected.rejected) == (False, True)
    assert decode_model(FootprintResponse, encode_model(rejected)) == rejected
    with pytest.raises(ContractError, match=r"response r3: pfIds = \[\]: no footprints and no errorCode"):
        FootprintResponse.from_json({"requestId": "r3", "respondedAt": "2025-02-01T10:00:00Z"})
    with pytest.raises(ContractError, match=r"response r4: errorCode = 'NotFound': set on a fulfilled response"):
        FootprintResponse.from_json(
            {"requestId": "r4", "pfIds": ["91715e5e-fd0b-4d1c-8fab-76290c46e6ed"], "errorCode": "NotFound", "errorMessage": "x",
             "respondedAt": "2025-02-01T10:00:00Z"}
        )


def test_response_can_carry_whole_footprints():
    response = FootprintResponse.from_json(
        {"requestId": "r5", "footprints": [FOOTPRINT], "respondedAt": "2025-02-01T10:00:00Z"}
    )
    again = decode_model(FootprintResponse, encode_model(response))
    assert again.footprints[0].pcf.pcf_excluding_biogenic_uptake == "2.31"
    assert again.to_json()["footprints"] == [FOOTPRINT]


def test_dead_letter_keeps_the_bytes_exactly():
    letter = DeadLetter(
        original_bytes=b"\xc3\x01\xff\x00garbage",
        source_topic="pcfx.footprints",
        partition=2,
        offset=1234,
        key=b"\x00\x01",
        error="footprint 3f...: pcf.primaryDataShare = '150': above 100",
        error_type="ContractError",
        failed_at=datetime(2025, 2, 1, 10, 0, 0, 500000, tzinfo=UTC),
        stage="ingest",
    )
    assert decode_model(DeadLetter, encode_model(letter)) == letter
    text = letter.to_json()
    assert text["originalBytes"] == "wwH/AGdhcmJhZ2U="  # base64 of the bytes above
    assert DeadLetter.from_json(text) == letter
