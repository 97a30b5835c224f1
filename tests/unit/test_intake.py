"""Admission: every raw record becomes exactly one accepted model or one dead letter naming the problem."""

from __future__ import annotations

import copy

from pcfx.schemas.models import ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.codec import codec_for, encode_model
from pcfx.streams.intake import Origin, admit

ORIGIN = Origin(topic="pcfx.footprints", partition=2, offset=41, key=b"coil-7", timestamp_ms=1_700_000_000_000)
NOW_MS = 1_700_000_001_000


def test_a_valid_record_is_admitted() -> None:
    good = ProductFootprint.from_json(FOOTPRINT)
    admission = admit(ProductFootprint, encode_model(good), ORIGIN, stage="test", now_ms=NOW_MS)
    assert admission.model == good and admission.dead_letter is None


def test_bytes_that_are_not_our_avro_become_a_dead_letter_with_the_original_bytes() -> None:
    admission = admit(ProductFootprint, b"{json?}", ORIGIN, stage="validate_footprints", now_ms=NOW_MS)
    letter = admission.dead_letter
    assert admission.model is None
    assert letter.original_bytes == b"{json?}" and letter.key == b"coil-7"
    assert (letter.source_topic, letter.partition, letter.offset) == ("pcfx.footprints", 2, 41)
    assert letter.error_type == "DecodeError" and letter.error.startswith("pcfx.footprints[2]@41: ")
    assert letter.stage == "validate_footprints"


def test_a_record_breaking_a_pact_rule_names_the_record_and_field() -> None:
    record = ProductFootprint.from_json(copy.deepcopy(FOOTPRINT)).to_avro()
    record["pcf"]["primaryDataShare"] = "150"
    admission = admit(ProductFootprint, codec_for("ProductFootprint").encode(record), ORIGIN, stage="t", now_ms=NOW_MS)
    letter = admission.dead_letter
    assert letter.error_type == "ContractError"
    assert FOOTPRINT["id"] in letter.error and "pcf.primaryDataShare = '150'" in letter.error


def test_a_tombstone_is_dead_lettered_not_ignored() -> None:
    admission = admit(ProductFootprint, None, ORIGIN, stage="t", now_ms=NOW_MS)
    assert admission.dead_letter.original_bytes == b"" and "tombstone" in admission.dead_letter.error
