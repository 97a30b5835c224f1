"""Every PACT v3 example footprint of tests/fixtures/pact and every WBCSD multi-tier sample (MIT): JSON -> model -> Avro bytes -> model -> JSON.

What comes out equals what went in, after the normalisations of docs/contract.md, which the tests apply
to the expected side here, in the open:

1. date-times are written in UTC with ``Z`` (``+00:00`` -> ``Z``);
2. a PDS strictly between 0 and 1 is a fraction: ``"0.52"`` -> ``"52"``, noted in a pcfx extension;
3. PACT rules pcfx records instead of rejecting (the validity window) are listed in that extension.

What we emit must also validate against the PACT 3.0.4 OpenAPI ``ProductFootprint`` schema (the MIT copy of the
conformance service, vendored in tests/fixtures/pact/openapi), and so must the examples themselves.
"""

from __future__ import annotations

from pact_reference import OPENAPI, PACT as PACT_REFERENCE
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pcfx.schemas.ingest_notes import pcfx_extension_url
from pcfx.schemas.models import ProductFootprint
from pcfx.streams.codec import decode_model, encode_model

PACT = PACT_REFERENCE
EXAMPLES = PACT
DATE_FIELDS = ("created", "validityPeriodStart", "validityPeriodEnd")
PCF_DATE_FIELDS = ("referencePeriodStart", "referencePeriodEnd")


def v3_footprints() -> list[tuple[str, dict[str, Any]]]:
    """(case name, footprint) for the v3 examples, the GetFootprint body and the fulfilled event's pfs."""
    cases = [(path.stem, json.loads(path.read_text())) for path in sorted((EXAMPLES / "v3").glob("example-*.json"))]
    cases.append(("get-footprint-response", json.loads((EXAMPLES / "v3/get-footprint-response.json").read_text())["data"]))
    event = json.loads((EXAMPLES / "v3/request-fulfilled-event.json").read_text())
    cases += [(f"request-fulfilled-event-{i}", pf) for i, pf in enumerate(event["data"]["pfs"])]
    return cases


def multi_tier_footprints() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted((EXAMPLES / "multi-tier-samples").glob("*.json")):
        cases += [(f"{path.stem}-{i}", pf) for i, pf in enumerate(json.loads(path.read_text()))]
    return cases


V3 = v3_footprints()
MULTI_TIER = multi_tier_footprints()
ALL = V3 + MULTI_TIER


def test_every_fixture_is_here():
    assert len(V3) == 4  # example-1, example-2, GetFootprint data, one fulfilled pf
    assert len(MULTI_TIER) == 6 * 10


def utc_text(text: str) -> str:
    """Normalisation 1, written independently of the code under test."""
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if moment.microsecond == 0 else f".{moment.microsecond:06d}Z")


def expected_json(original: dict[str, Any], findings: list[str]) -> dict[str, Any]:
    """The original footprint with the documented normalisations applied."""
    doc = copy.deepcopy(original)
    for name in DATE_FIELDS:
        if name in doc:
            doc[name] = utc_text(doc[name])
    for name in PCF_DATE_FIELDS:
        doc["pcf"][name] = utc_text(doc["pcf"][name])
    if "completedAt" in doc["pcf"].get("verification", {}):
        doc["pcf"]["verification"]["completedAt"] = utc_text(doc["pcf"]["verification"]["completedAt"])
    notes = []
    pds = doc["pcf"].get("primaryDataShare")
    if pds is not None and 0 < Decimal(pds) < 1:
        percent = f"{Decimal(pds) * 100:f}".rstrip("0").rstrip(".")
        notes.append(f"pcf.primaryDataShare {pds!r} read as a fraction and written as the percent {percent!r} (PACT v3 methodology 4.2.2)")
        doc["pcf"]["primaryDataShare"] = percent
    if notes or findings:
        extension = {"specVersion": "2.0.0", "dataSchema": pcfx_extension_url(), "data": {"normalisations": notes, "findings": findings}}
        doc["extensions"] = doc.get("extensions", []) + [extension]
    return doc


@pytest.mark.parametrize(("name", "original"), ALL, ids=[name for name, _ in ALL])
def test_round_trip_through_avro_bytes(name, original):
    first = ProductFootprint.from_json(original)
    again = decode_model(ProductFootprint, encode_model(first))
    assert again == first
    assert again.to_json() == expected_json(original, first.findings)


@pytest.mark.parametrize(("name", "original"), MULTI_TIER, ids=[name for name, _ in MULTI_TIER])
def test_multi_tier_pds_becomes_a_percent(name, original):
    pf = ProductFootprint.from_json(original)
    assert Decimal(pf.pcf.primary_data_share) == Decimal(original["pcf"]["primaryDataShare"]) * 100
    assert len(pf.normalisations) == 1


def test_only_the_validity_window_is_recorded_as_a_finding():
    """Three of the four example footprints break the validity-period rule on purpose, one in each direction's field."""
    found = {name: ProductFootprint.from_json(pf).findings for name, pf in ALL}
    flagged = {name: [text.split(" = ")[0] for text in texts] for name, texts in found.items() if texts}
    assert flagged == {
        "example-1-steel-door-panel": ["validityPeriodEnd"],  # 2028-12-31 > 2024-12-31 + 3 years
        "get-footprint-response": ["validityPeriodStart"],  # 2025-02-01 < reference period end 2025-07-01
        "request-fulfilled-event-0": ["validityPeriodStart"],
    }


def test_stray_properties_of_the_examples_are_kept():
    example_2 = dict(V3)["example-2-bamboo-yarn-boxed"]
    pf = decode_model(ProductFootprint, encode_model(ProductFootprint.from_json(example_2)))
    assert pf.pcf.model_extra == {"ruleOperatorName": "Zhejiang textile association"}
    get_response = dict(V3)["get-footprint-response"]
    pf = decode_model(ProductFootprint, encode_model(ProductFootprint.from_json(get_response)))
    assert pf.pcf.model_extra == {"legacyBiogenicWithdrawal": "-0.3"}
    assert pf.extensions[0].data["weight"] == 12


@pytest.fixture(scope="module")
def openapi_footprint() -> Draft202012Validator:
    """A validator for ``#/components/schemas/ProductFootprint`` of the PACT 3.0.4 OpenAPI (3.1, JSON Schema 2020-12)."""
    document = yaml.safe_load(OPENAPI.read_text())
    uri = "urn:pact:openapi:3.0.4"
    registry = Registry().with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/ProductFootprint"}, registry=registry)


@pytest.mark.parametrize(("name", "original"), ALL, ids=[name for name, _ in ALL])
def test_emitted_json_validates_against_the_pact_openapi(openapi_footprint, name, original):
    emitted = decode_model(ProductFootprint, encode_model(ProductFootprint.from_json(original))).to_json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in openapi_footprint.iter_errors(emitted)]
    assert errors == []


def test_the_openapi_validator_does_reject_a_bad_footprint(openapi_footprint):
    bad = copy.deepcopy(dict(V3)["example-1-steel-door-panel"])
    bad["pcf"]["declaredUnitOfMeasurement"] = "crate"  # not one of the ten units
    assert not openapi_footprint.is_valid(bad)
    del bad["pcf"]["declaredUnitOfMeasurement"]
    bad["pcf"]["declaredUnitOfMeasurement"] = "piece"
    del bad["companyIds"]
    assert not openapi_footprint.is_valid(bad)


@pytest.mark.parametrize(("name", "original"), V3, ids=[name for name, _ in V3])
def test_the_example_footprints_are_valid_pact_as_written(openapi_footprint, name, original):
    """pcfx's own examples are PACT v3 before any normalisation: the OpenAPI accepts them verbatim."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in openapi_footprint.iter_errors(original)]
    assert errors == []
