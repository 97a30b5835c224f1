"""What a ``label-inputs`` record carries for a footprint, read back as the label stage reads it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from pcfx.agents.labels import RouterCounts, decode_label_input
from pcfx.agents.records import FOOTPRINT, label_input_headers, offer_input
from pcfx.schemas.models import ProductFootprint
from pcfx.schemas.samples import FOOTPRINT as FOOTPRINT_JSON
from pcfx.streams.codec import encode_model
from pcfx.streams.labels import FootprintSeen, offer_of

PUBLISHED_MS = 1_767_225_600_000


def record(value: bytes, headers: dict[str, bytes], timestamp_s: float = 0.0) -> SimpleNamespace:
    """A stand-in for the Faust event: the label stage reads only the value, headers and timestamp."""
    return SimpleNamespace(message=SimpleNamespace(value=value, headers=list(headers.items()), timestamp=timestamp_s))


def test_a_footprint_sent_as_its_offer_reads_back_as_the_same_offer():
    footprint = ProductFootprint.from_json(FOOTPRINT_JSON)
    event = decode_label_input(record(*offer_input(footprint, PUBLISHED_MS)))
    assert event == FootprintSeen(offer_of(footprint, PUBLISHED_MS))
    assert (event.offer.pf_id, event.offer.value, event.offer.published_ms) == (
        FOOTPRINT_JSON["id"], FOOTPRINT_JSON["pcf"]["pcfExcludingBiogenicUptake"], PUBLISHED_MS)


def test_a_footprint_sent_in_avro_gives_the_offer_its_own_publish_time():
    footprint = ProductFootprint.from_json(FOOTPRINT_JSON)
    event = decode_label_input(record(encode_model(footprint), label_input_headers(FOOTPRINT, PUBLISHED_MS)))
    assert event == FootprintSeen(offer_of(footprint, PUBLISHED_MS))
    without_header = decode_label_input(record(encode_model(footprint), label_input_headers(FOOTPRINT), PUBLISHED_MS / 1000))
    assert without_header.offer.published_ms == PUBLISHED_MS


def test_a_record_of_an_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown pcfx-label-input header 'price'"):
        decode_label_input(record(b"{}", label_input_headers("price")))


def test_a_routers_record_carries_its_products_note():
    from pcfx.agents.records import RECIPE_NOTE
    from pcfx.streams.labels import RecipeNote, RecipeSeen

    note = RecipeNote(listed_by={"urn:pcfx:company:c": True, "urn:pcfx:company:d": False})
    raw = note.model_dump_json(exclude_none=True).encode()
    assert decode_label_input(record(raw, label_input_headers(RECIPE_NOTE))) == RecipeSeen(note)


def test_the_routers_counts_come_from_its_table_move_with_committed_batches_and_come_again_when_forgotten():
    table = {b"frame-1": json.dumps({"updated": 1, "inputs": ["steel"], "buyers": ["c"]}).encode(),
             b"frame-2": json.dumps({"updated": 1, "inputs": ["steel", "ore"], "buyers": ["c", "d"]}).encode()}
    counts = RouterCounts(table)  # the table's values() is all it reads
    assert counts.current() == {"steel": {"c": 2, "d": 1}, "ore": {"c": 1, "d": 1}}
    counts.move({"steel": {"c": 1, "d": 1}, "ore": {}})  # frame-1 and its ore line dropped, as committed
    assert counts.current() == {"steel": {"c": 1, "d": 1}}
    counts.forget()  # a failed batch or a rebalance: what the table says wins
    assert counts.current() == {"steel": {"c": 2, "d": 1}, "ore": {"c": 1, "d": 1}}
