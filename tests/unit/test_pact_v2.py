"""PACT v2.x -> v3 conversion: pcfx's own v2.3 example (tests/fixtures/pact/v2, a soybean oil per liter), and hand-made footprints that must be rejected with
the field named. Expected values are written as the arithmetic a person checks by hand."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from pact_reference import EXAMPLES

from pcfx.cli import main
from pcfx.connectors.pact_v2 import footprint_from_pact, is_v2, v3_from_v2
from pcfx.connectors.supplier import as_footprint
from pcfx.schemas.models import ContractError, ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.codec import decode_model, encode_model

V2_EXAMPLE = EXAMPLES / "v2" / "get-footprint-response.json"
ETHANOL_ID = "d6a0f3c8-5e17-4b92-8c4d-1f2e9a7b0c35"  # the soybean oil of the v2 example
STEEL: dict[str, Any] = {  # a small PACT 2.3 footprint per kilogram, every biogenic figure given
    "id": "3a1c9e40-5b7d-4f0e-9c2a-1d8e6f4b2a90",
    "specVersion": "2.3.0",
    "version": 3,
    "created": "2024-03-01T00:00:00Z",
    "updated": "2024-05-01T00:00:00Z",
    "status": "Active",
    "statusComment": "new furnace",
    "companyName": "Changzhou Steel",
    "companyIds": ["urn:pact:changzhou-steel.cn:company-id:1"],
    "productDescription": "Hot-rolled coil",
    "productIds": ["urn:pact:changzhou-steel.cn:product-id:hrc"],
    "productCategoryCpc": "4121",
    "productNameCompany": "HRC 2mm",
    "comment": "",
    "pcf": {
        "declaredUnit": "kilogram",
        "unitaryProductAmount": "1",
        "pCfExcludingBiogenic": "2.1",
        "pCfIncludingBiogenic": "2.1",
        "fossilGhgEmissions": "2.1",
        "fossilCarbonContent": "0.002",
        "biogenicCarbonContent": "0",
        "dLucGhgEmissions": "0",
        "landManagementGhgEmissions": "0",
        "otherBiogenicGhgEmissions": "0",
        "biogenicCarbonWithdrawal": "0",
        "characterizationFactors": "AR6",
        "ipccCharacterizationFactorsSources": ["AR6"],
        "crossSectoralStandardsUsed": ["ISO Standard 14067"],
        "boundaryProcessesDescription": "cradle to gate",
        "referencePeriodStart": "2023-01-01T00:00:00Z",
        "referencePeriodEnd": "2024-01-01T00:00:00Z",
        "geographyCountrySubdivision": "CN-JS",
        "exemptedEmissionsPercent": 1.5,
        "exemptedEmissionsDescription": "",
        "packagingEmissionsIncluded": False,
        "primaryDataShare": 40,
    },
}


def ethanol() -> dict[str, Any]:
    return json.loads(V2_EXAMPLE.read_text())["data"]


def steel(drop: tuple[str, ...] = (), **pcf: Any) -> dict[str, Any]:
    doc = copy.deepcopy(STEEL)
    doc["pcf"].update(pcf)
    for key in drop:
        del doc["pcf"][key]
    return doc


def rejection(doc: dict[str, Any], masses: dict[str, str] | None = None) -> str:
    with pytest.raises(ContractError) as caught:
        footprint_from_pact(doc, masses)
    return str(caught.value)


def test_the_v2_example_is_refused_without_its_density_naming_the_field():
    message = rejection(ethanol())
    assert message.startswith(f"footprint {ETHANOL_ID}: pcf.productMassPerDeclaredUnit: missing")
    assert "'liter'" in message and "--v2-mass" in message


def test_the_v2_example_converts_once_the_publisher_gives_its_density():
    converted = footprint_from_pact(ethanol(), {ETHANOL_ID: "0.92"}).to_json()
    pcf = converted["pcf"]
    assert converted["id"] == ETHANOL_ID and converted["specVersion"] == "3.0.3"
    assert pcf["declaredUnitOfMeasurement"] == "liter" and pcf["declaredUnitAmount"] == "1"
    assert pcf["productMassPerDeclaredUnit"] == "0.92"
    # v3 "excluding uptake" keeps the biogenic emissions v2 left out: excl + dLUC + land mgmt + other
    assert Decimal(pcf["pcfExcludingBiogenicUptake"]) == Decimal("2.04") + Decimal("0.5") + Decimal("0.3") + Decimal("0.2")
    # and "including uptake" adds the (negative) uptake: 3.04 - 1.2
    assert Decimal(pcf["pcfIncludingBiogenicUptake"]) == Decimal("3.04") + Decimal("-1.2")
    assert (pcf["landUseChangeGhgEmissions"], pcf["biogenicCO2Uptake"], pcf["biogenicNonCO2Emissions"]) == ("0.5", "-1.2", "0.2")
    assert "landManagementGhgEmissions" not in pcf and "dqi" not in pcf and "verification" not in pcf
    assert converted["productClassifications"] == ["urn:pact:productclassification:un-cpc:2163"]
    assert pcf["crossSectoralStandards"] == ["GHGP-Product", "ISO14067"]
    assert pcf["ipccCharacterizationFactors"] == ["AR6"]
    assert (pcf["primaryDataShare"], pcf["exemptedEmissionsPercent"]) == ("20.5", "0")
    assert converted["comment"].startswith("Converted by pcfx from PACT 2.3.0 (version 2, updated 2024-04-01T06:00:00Z).")
    assert "v2 biogenicAccountingMethodology: GHGP" in converted["comment"]


def test_every_change_is_recorded_and_the_inconsistent_v2_total_is_a_finding():
    model = footprint_from_pact(ethanol(), {ETHANOL_ID: "0.92"})
    notes = " | ".join(model.normalisations)
    for field in ("productCategoryCpc", "pcf.dqi", "pcf.assurance", "pcf.landManagementGhgEmissions",
                  "pCfExcludingBiogenic", "crossSectoralStandardsUsed", "pcf.productMassPerDeclaredUnit"):
        assert field in notes
    assert "'technologicalDQR': 1.4" in notes  # the dropped v2 ratings stay readable
    # the example's own pCfIncludingBiogenic (1.9) is not 2.04 + 0.5 + 0.3 + 0.2 - 1.2 = 1.84
    assert any("pCfIncludingBiogenic = '1.9'" in f and "1.84" in f for f in model.findings)


def test_a_converted_footprint_survives_the_avro_round_trip():
    model = footprint_from_pact(ethanol(), {ETHANOL_ID: "0.92"})
    assert decode_model(ProductFootprint, encode_model(model)) == model


def test_values_per_v2_unit_are_scaled_to_the_v3_declared_unit():
    # ADR-36's car: 300 kgCO2e per kg, 2000 kg in the product -> 600000 kgCO2e per declared unit of 2000 kg
    pcf = footprint_from_pact(steel(unitaryProductAmount="2000", pCfExcludingBiogenic="300", pCfIncludingBiogenic="300",
                                    fossilGhgEmissions="300")).to_json()["pcf"]
    assert pcf["declaredUnitAmount"] == "2000"
    assert Decimal(pcf["pcfExcludingBiogenicUptake"]) == 300 * 2000
    assert Decimal(pcf["fossilGhgEmissions"]) == 300 * 2000
    assert Decimal(pcf["fossilCarbonContent"]) == Decimal("0.002") * 2000
    assert Decimal(pcf["productMassPerDeclaredUnit"]) == 1 * 2000  # 1 kg per kilogram


def test_a_complete_v2_footprint_keeps_its_numbers_and_lifecycle_lands_in_the_comment():
    converted = footprint_from_pact(steel()).to_json()
    pcf = converted["pcf"]
    assert (pcf["pcfExcludingBiogenicUptake"], pcf["pcfIncludingBiogenicUptake"]) == ("2.1", "2.1")
    assert (pcf["exemptedEmissionsPercent"], pcf["primaryDataShare"]) == ("1.5", "40")
    assert pcf["crossSectoralStandards"] == ["ISO14067"]
    assert converted["comment"] == ("Converted by pcfx from PACT 2.3.0 (version 3, updated 2024-05-01T00:00:00Z).\n"
                                    "v2 statusComment: new furnace")
    assert "version" not in converted and "updated" not in converted and "statusComment" not in converted


def test_missing_biogenic_parts_are_rejected_rather_than_read_as_zero():
    message = rejection(steel(drop=("dLucGhgEmissions", "pCfIncludingBiogenic")))
    assert f"footprint {STEEL['id']}: pcf.dLucGhgEmissions: missing: PACT v3 pcfExcludingBiogenicUptake includes" in message


def test_without_the_parts_both_v2_totals_give_the_v3_one():
    pcf = footprint_from_pact(steel(drop=("dLucGhgEmissions", "landManagementGhgEmissions", "otherBiogenicGhgEmissions"),
                                    pCfIncludingBiogenic="1.8", biogenicCarbonWithdrawal="-0.5", biogenicCarbonContent="0.14")
                              ).to_json()["pcf"]
    assert Decimal(pcf["pcfExcludingBiogenicUptake"]) == Decimal("1.8") - Decimal("-0.5")
    assert pcf["pcfIncludingBiogenicUptake"] == "1.8"


def test_no_biogenic_carbon_means_no_uptake():
    pcf = footprint_from_pact(steel(drop=("biogenicCarbonWithdrawal", "pCfIncludingBiogenic"))).to_json()["pcf"]
    assert pcf["pcfIncludingBiogenicUptake"] == pcf["pcfExcludingBiogenicUptake"] == "2.1"


def test_an_unknown_uptake_is_rejected():
    message = rejection(steel(drop=("biogenicCarbonWithdrawal", "pCfIncludingBiogenic"), biogenicCarbonContent="0.3"))
    assert "pcf.biogenicCarbonWithdrawal: missing: the biogenic CO2 uptake is unknown" in message


def test_a_json_number_where_v2_wants_a_decimal_string_names_the_field():
    assert "pcf.fossilGhgEmissions = 2.1: not a PACT decimal string" in rejection(steel(fossilGhgEmissions=2.1))


def test_a_rule_broken_after_conversion_names_the_v2_field_too():
    message = rejection(steel(dLucGhgEmissions="-1", pCfExcludingBiogenic="3.1"))
    assert "pcf.landUseChangeGhgEmissions (v2 pcf.dLucGhgEmissions) = '-1': negative" in message


def test_mass_is_required_where_pact_cannot_supply_it_and_zero_for_energy():
    assert "pcf.productMassPerDeclaredUnit: missing" in rejection(steel(declaredUnit="cubic meter"))
    assert footprint_from_pact(steel(declaredUnit="kilowatt hour")).pcf.product_mass_per_declared_unit == "0"


def test_assurance_becomes_verification_where_the_coverage_maps():
    assured = {"assurance": True, "coverage": "PCF system", "level": "limited", "boundary": "Cradle-to-Gate",
               "providerName": "Jiangsu Verifier", "completedAt": "2024-06-01T00:00:00Z"}
    verification = footprint_from_pact(steel(assurance=assured)).to_json()["pcf"]["verification"]
    assert verification == {"coverage": "PCF calculation model", "providerName": "Jiangsu Verifier",
                            "completedAt": "2024-06-01T00:00:00Z",
                            "comments": "v2 assurance level: limited; v2 assurance boundary: Cradle-to-Gate"}
    corporate = footprint_from_pact(steel(assurance={**assured, "coverage": "corporate level"}))
    assert corporate.pcf.verification.coverage is None
    assert any("pcf.assurance.coverage 'corporate level' dropped" in note for note in corporate.normalisations)


def test_v3_passes_unchanged_v1_is_refused_and_v2_is_detected():
    assert footprint_from_pact(FOOTPRINT).to_json() == FOOTPRINT
    assert "specVersion = '1.0.0': PACT v1 is not accepted" in rejection({**FOOTPRINT, "specVersion": "1.0.0"})
    assert is_v2(STEEL) and not is_v2(FOOTPRINT) and not is_v2([STEEL])


def test_the_supplier_client_converts_v2_dicts_too():
    assert as_footprint(steel()).spec_version == "3.0.3"
    assert v3_from_v2(steel())["pcf"]["declaredUnitOfMeasurement"] == "kilogram"


def test_pcfx_publish_refuses_the_v2_example_before_anything_reaches_kafka(tmp_path):
    source = tmp_path / "v2.json"
    source.write_text(V2_EXAMPLE.read_text())
    result = CliRunner().invoke(main, ["publish", str(source)], env={"PCFX_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert f"rejected footprint {ETHANOL_ID}: pcf.productMassPerDeclaredUnit: missing" in result.output
    assert "nothing published (1 invalid of 1)" in result.output


def test_pcfx_publish_refuses_a_malformed_mass_option(tmp_path):
    source = tmp_path / "v2.json"
    source.write_text(V2_EXAMPLE.read_text())
    result = CliRunner().invoke(main, ["publish", str(source), "--v2-mass", f"{ETHANOL_ID}=heavy"])
    assert result.exit_code == 2 and "--v2-mass" in result.output
