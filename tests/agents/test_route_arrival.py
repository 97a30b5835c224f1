"""What the router keeps of a ``graph-updates`` record: a recipe's ``updated`` time comes from the header
``validate_recipes`` sets, survives the held-batch table, and is read from the bytes when the header is absent."""

from __future__ import annotations

from pcfx.agents.route import Arrival, arrival_bytes, arrival_from, incoming_of, read_recipe
from pcfx.schemas.models import ProductRecipe
from pcfx.schemas.samples import RECIPE
from pcfx.streams.batches import Cancel
from pcfx.streams.codec import encode_model
from pcfx.streams.intake import Origin, RecentRecipes
from pcfx.streams.labels import outline_bytes, outline_of_record
from pcfx.streams.shards import content_of, updated_of

ORIGIN = Origin(topic="pcfx.graph-updates", partition=0, offset=7, key=b"recipe:0042", timestamp_ms=1_700_000_000_000)


def recipe_arrival(updated_ms: int | None) -> Arrival:
    raw = encode_model(ProductRecipe.from_json(RECIPE))
    return Arrival(ORIGIN.key.decode(), raw, 0, ORIGIN, content=content_of(raw), updated_ms=updated_ms)


def test_the_updated_time_in_the_header_is_the_one_the_router_uses() -> None:
    arrival = recipe_arrival(updated_ms=1_800_000_000_000)
    incoming = incoming_of(arrival, arrival.content, RecentRecipes())
    assert incoming.updated == 1_800_000_000_000  # the header, not the bytes
    assert incoming.inputs == tuple(line["productId"] for line in RECIPE["inputs"])


def test_a_record_without_the_header_has_its_time_read_from_the_bytes() -> None:
    arrival = recipe_arrival(updated_ms=None)
    assert incoming_of(arrival, arrival.content, RecentRecipes()).updated == updated_of(arrival.raw)


def test_a_held_record_keeps_its_header_time() -> None:
    arrival = recipe_arrival(updated_ms=1_800_000_000_000)
    back, total = arrival_from(arrival_bytes(arrival, total=3))
    assert (back, total) == (arrival, 3)


def test_a_cancel_survives_the_table_of_a_step_being_planned_again() -> None:
    origin = Origin(topic="pcfx.graph-updates", partition=0, offset=8, key=b"void:b1", timestamp_ms=1_700_000_000_000)
    cancel = Arrival("void:b1", b"", 0, origin, cancel=Cancel("b1"))
    assert arrival_from(arrival_bytes(cancel))[0] == cancel


def test_a_recipe_validated_in_another_process_is_read_once_for_its_inputs_and_its_outline() -> None:
    arrival = recipe_arrival(updated_ms=None)
    read = read_recipe(arrival, arrival.content, RecentRecipes())  # nothing kept here: the bytes, decoded once
    assert incoming_of(arrival, arrival.content, RecentRecipes(), read).inputs == tuple(line["productId"] for line in RECIPE["inputs"])
    assert outline_bytes(outline_of_record(read[1])) == outline_bytes(ProductRecipe.from_json(RECIPE))  # what the label router gets
