"""The wire format: Avro single-object encoding that any Avro library can read with our .avsc files."""

from __future__ import annotations

from pact_reference import PACT as PACT_REFERENCE
import io
from datetime import timedelta
import json

import avro.io
import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcfx.schemas.models import (
    CarbonFootprint,
    CarbonLabel,
    DataModelExtension,
    DataQualityIndicators,
    DeadLetter,
    EmissionFactorSource,
    FootprintRequest,
    FootprintResponse,
    ProductFootprint,
    ProductOrSectorSpecificRule,
    ProductRecipe,
    Verification,
)
from pcfx.schemas.samples import LABEL, RECIPE
from pcfx.streams.codec import (
    HEADER_SIZE,
    SCHEMA_DIR,
    Codec,
    DecodeError,
    IncompatibleSchema,
    as_avro_schema,
    check_compatible,
    codec_for,
    decode_model,
    encode_model,
    fingerprint,
    load_schema,
)

PACT = PACT_REFERENCE
CAR_DOOR = json.loads((PACT / "v3/example-1-steel-door-panel.json").read_text())
EVOLUTION = SCHEMA_DIR / "evolution"
TOP_LEVEL = ["ProductFootprint", "ProductRecipe", "CarbonLabel", "FootprintRequest", "FootprintResponse", "DeadLetter"]


@pytest.fixture(scope="module")
def car_door() -> ProductFootprint:
    return ProductFootprint.from_json(CAR_DOOR)


@pytest.fixture(scope="module")
def car_door_bytes(car_door) -> bytes:
    return encode_model(car_door)


def test_header_is_marker_then_little_endian_fingerprint(car_door_bytes):
    schema = load_schema("ProductFootprint")
    assert car_door_bytes[:2] == b"\xc3\x01"
    assert car_door_bytes[2:HEADER_SIZE] == fingerprint(schema)


def test_fingerprint_matches_the_avro_specification():
    """The Avro test suite lists CRC-64-AVRO("null") = 7195948357588979594 (as a signed 64-bit long)."""
    assert int.from_bytes(fingerprint("null"), "little") == 7195948357588979594


def test_canonical_form_drops_logical_types_as_the_specification_says():
    """[PRIMITIVES] + [STRIP]: a timestamp is plain "long" in the Parsing Canonical Form, as Java writes it."""
    canonical = fastavro.schema.to_parsing_canonical_form(load_schema("ProductFootprint"))
    assert '{"name":"created","type":"long"}' in canonical
    assert "logicalType" not in canonical


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_schema_parses_in_both_libraries(name):
    schema = load_schema(name)
    assert as_avro_schema(schema).fullname == f"io.pcfx.{name}"


def test_an_independent_fastavro_reads_our_bytes_with_only_the_avsc_files(car_door, car_door_bytes):
    """No pcfx code: fastavro resolves named types from sibling files called <full name>.avsc."""
    schema = fastavro.schema.load_schema(str(SCHEMA_DIR / "io.pcfx.ProductFootprint.avsc"))
    record = fastavro.schemaless_reader(io.BytesIO(car_door_bytes[HEADER_SIZE:]), schema, None)
    assert record["pcf"]["pcfExcludingBiogenicUptake"] == "8.640"  # trailing zero kept: decimals are strings on the wire
    assert record == car_door.to_avro()


def test_the_avro_package_reads_our_bytes_too(car_door, car_door_bytes):
    reader = avro.io.DatumReader(as_avro_schema(load_schema("ProductFootprint")))
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(car_door_bytes[HEADER_SIZE:])))
    assert ProductFootprint.from_avro(record) == car_door


def recipe() -> ProductRecipe:
    return ProductRecipe.from_json(RECIPE)


def dead_letter() -> DeadLetter:
    return DeadLetter.from_json(
        {"originalBytes": "wwH/AA==", "sourceTopic": "pcfx.footprints", "partition": 0, "offset": 7, "error": "bad marker",
         "errorType": "DecodeError", "failedAt": "2025-02-01T10:00:00Z", "stage": "ingest"}
    )


def test_avro_package_and_fastavro_write_identical_bytes(car_door):
    for model in (car_door, recipe(), CarbonLabel.from_json(LABEL), dead_letter()):
        schema = load_schema(model.avro_name)
        out = io.BytesIO()
        avro.io.DatumWriter(as_avro_schema(schema)).write(model.to_avro(), avro.io.BinaryEncoder(out))
        assert encode_model(model)[HEADER_SIZE:] == out.getvalue()


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (CarbonFootprint, "CarbonFootprint"),
        (DataQualityIndicators, "DataQualityIndicators"),
        (Verification, "Verification"),
        (ProductOrSectorSpecificRule, "ProductOrSectorSpecificRule"),
        (EmissionFactorSource, "EmissionFactorSource"),
        (DataModelExtension, "DataModelExtension"),
        (ProductFootprint, "ProductFootprint"),
        (ProductRecipe, "ProductRecipe"),
        (CarbonLabel, "CarbonLabel"),
        (FootprintRequest, "FootprintRequest"),
        (FootprintResponse, "FootprintResponse"),
        (DeadLetter, "DeadLetter"),
    ],
)
def test_models_and_schemas_have_the_same_fields(model, name):
    avsc = json.loads((SCHEMA_DIR / f"io.pcfx.{name}.avsc").read_text())
    aliases = {field.alias for field in model.model_fields.values()}
    extra = {"extraJson"} if model.model_config.get("extra") == "allow" else set()
    assert {field["name"] for field in avsc["fields"]} == aliases | extra


def test_codec_for_is_shared():
    assert codec_for("ProductFootprint") is codec_for("ProductFootprint")


def test_bad_marker():
    with pytest.raises(DecodeError, match=r"ProductFootprint: bad marker 7b 22, not Avro single-object encoding"):
        codec_for("ProductFootprint").decode(b'{"id": "3f0b6a52"}')


def test_unknown_fingerprint():
    label_header = codec_for("CarbonLabel").header
    with pytest.raises(DecodeError, match=f"ProductFootprint: unknown schema fingerprint {label_header[2:].hex()}"):
        codec_for("ProductFootprint").decode(label_header + b"\x00")


def test_truncated_header():
    with pytest.raises(DecodeError, match=r"truncated header, 5 bytes"):
        codec_for("ProductFootprint").decode(b"\xc3\x01\x00\x00\x00")


def test_truncated_body(car_door_bytes):
    with pytest.raises(DecodeError, match=r"ProductFootprint: truncated or corrupt body"):
        codec_for("ProductFootprint").decode(car_door_bytes[:-20])


def test_trailing_bytes(car_door_bytes):
    with pytest.raises(DecodeError, match=r"3 bytes left after the record"):
        codec_for("ProductFootprint").decode(car_door_bytes + b"\x00\x00\x00")


@pytest.mark.parametrize("example", sorted((PACT / "v3").glob("example-*.json")), ids=lambda path: path.stem)
def test_a_string_field_is_read_and_replaced_in_place(example):
    footprint = ProductFootprint.from_json(json.loads(example.read_text()))
    codec, data = codec_for("ProductFootprint"), encode_model(footprint)
    assert codec.string_field(data, "id") == footprint.id
    # behind strings, unions, a long and arrays
    assert codec.string_field(data, "productNameCompany") == footprint.product_name_company
    changed = codec.with_string_field(data, "status", "Deprecated")
    assert changed == encode_model(footprint.model_copy(update={"status": "Deprecated"}))


def test_a_string_field_is_replaced_in_the_layout_of_an_older_writer(car_door):
    v1, v2 = load_schema("ProductFootprint"), load_schema("ProductFootprint", EVOLUTION)
    newer = Codec(v2).encode({**car_door.to_avro(), "digitalProductPassportUrl": "https://dpp.example/door"})
    changed = Codec(v1, writers=[v2]).with_string_field(newer, "status", "Deprecated")
    assert ProductFootprint.from_avro(Codec(v1, writers=[v2]).decode(changed)).status == "Deprecated"


def test_a_string_field_of_broken_bytes_or_a_field_that_is_no_string_raises(car_door_bytes):
    codec = codec_for("ProductFootprint")
    with pytest.raises(DecodeError, match="truncated or corrupt body"):
        codec.string_field(car_door_bytes[:HEADER_SIZE + 3], "status")
    with pytest.raises(ValueError, match="ProductFootprint.created is not a string field"):
        codec.string_field(car_door_bytes, "created")
    with pytest.raises(ValueError, match="has no field 'colour'"):
        codec.string_field(car_door_bytes, "colour")


@pytest.mark.parametrize("example", sorted((PACT / "v3").glob("example-*.json")), ids=lambda path: path.stem)
def test_a_string_list_field_is_read_without_the_rest(example):
    footprint = ProductFootprint.from_json(json.loads(example.read_text()))
    codec, data = codec_for("ProductFootprint"), encode_model(footprint)
    assert codec.string_list_field(data, "productIds") == footprint.product_ids  # behind unions, longs, strings
    assert codec.string_list_field(data, "companyIds") == footprint.company_ids


def test_a_string_list_field_of_broken_bytes_or_a_field_that_is_no_list_raises(car_door_bytes):
    codec = codec_for("ProductFootprint")
    with pytest.raises(DecodeError, match="truncated or corrupt body"):
        cut = car_door_bytes.index(codec.string_list_field(car_door_bytes, "productIds")[0].encode()) + 2
        codec.string_list_field(car_door_bytes[:cut], "productIds")  # inside the first id
    with pytest.raises(ValueError, match="ProductFootprint.id is not an array of strings"):
        codec.string_list_field(car_door_bytes, "id")


@given(st.binary(max_size=400))
def test_any_bytes_decode_or_raise_decode_error(body):
    codec = codec_for("ProductFootprint")
    try:
        codec.decode(codec.header + body)
    except DecodeError:
        pass


def test_newer_reader_reads_older_bytes(car_door, car_door_bytes):
    """Schema evolution: v2 adds an optional field; a v2 reader that knows v1 reads v1 messages."""
    v1, v2 = load_schema("ProductFootprint"), load_schema("ProductFootprint", EVOLUTION)
    record = Codec(v2, writers=[v1]).decode(car_door_bytes)
    assert record["digitalProductPassportUrl"] is None
    del record["digitalProductPassportUrl"]
    assert ProductFootprint.from_avro(record) == car_door


def test_older_reader_reads_newer_bytes(car_door):
    v1, v2 = load_schema("ProductFootprint"), load_schema("ProductFootprint", EVOLUTION)
    newer = Codec(v2).encode({**car_door.to_avro(), "digitalProductPassportUrl": "https://dpp.example/door"})
    assert ProductFootprint.from_avro(Codec(v1, writers=[v2]).decode(newer)) == car_door
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        Codec(v1).decode(newer)  # a reader not told about v2 says so instead of misreading


def test_avro_package_judges_the_versions_compatible():
    v1, v2 = load_schema("ProductFootprint"), load_schema("ProductFootprint", EVOLUTION)
    check_compatible(v2, v1)
    check_compatible(v1, v2)


def test_incompatible_writer_is_refused_up_front():
    v1 = load_schema("ProductFootprint")
    required_field = fastavro.parse_schema(
        {"type": "record", "name": "io.pcfx.ProductFootprint", "fields": [{"name": "id", "type": "long"}]}
    )
    with pytest.raises(IncompatibleSchema):
        Codec(v1, writers=[required_field])


@pytest.mark.parametrize("model", [recipe(), dead_letter()], ids=["recipe", "dead-letter"])
def test_encode_and_decode_models(model):
    assert decode_model(type(model), encode_model(model)) == model


def test_a_recipe_without_its_updated_time_compares_equal_to_the_same_recipe_stamped_later() -> None:
    """What lets the router drop the recipes of a re-import of the same files (each stamped with its time)."""
    codec = codec_for(ProductRecipe.avro_name)
    first = recipe()
    later = first.model_copy(update={"updated": first.updated + timedelta(days=1)})
    other = first.model_copy(update={"company_name": first.company_name + " Ltd"})
    assert encode_model(first) != encode_model(later)
    assert codec.without_field(encode_model(first), "updated") == codec.without_field(encode_model(later), "updated")
    assert codec.without_field(encode_model(first), "updated") != codec.without_field(encode_model(other), "updated")
