"""Admission: every raw record becomes exactly one accepted model or one dead letter naming the problem."""

from __future__ import annotations

import copy

from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.schemas.samples import FOOTPRINT, RECIPE
from pcfx.streams.codec import codec_for, decode_model, encode_model
from pcfx.streams import intake
from pcfx.streams.intake import AcceptedRecipes, Origin, RecentRecipes, admit
from pcfx.streams.labels import outline_bytes, outline_stem
from pcfx.streams.shards import content_of, stamp_of, updated_of, updated_start

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


def recipe_bytes(**changes: object) -> bytes:
    return encode_model(ProductRecipe.from_json({**RECIPE, **changes}))


def test_a_recipe_sent_again_but_for_its_time_is_accepted_as_validating_it_would() -> None:
    accepted = AcceptedRecipes()
    first = recipe_bytes()
    remembered = accepted.remember(first, decode_model(ProductRecipe, first))
    assert accepted.outline(remembered.content, remembered.updated_ms) == outline_bytes(decode_model(ProductRecipe, first))
    assert remembered.updated_ms == updated_of(first)
    again = recipe_bytes(updated="2031-05-06T07:08:09.125Z")
    recalled = accepted.recall(again)
    validated = decode_model(ProductRecipe, again)  # what the full path makes of the same bytes
    assert recalled is not None
    assert recalled.product_ids == tuple(validated.product_ids)
    assert recalled.content == content_of(again) == content_of(first)
    assert recalled.updated_ms == updated_of(again) == 1_935_817_689_125  # the router sees the new time
    assert accepted.outline(recalled.content, recalled.updated_ms) == outline_bytes(validated)  # and the label router
    assert accepted.outline(recalled.content + 1, recalled.updated_ms) is None  # a content not accepted here


def test_a_recipe_with_other_content_or_no_recipe_at_all_is_validated_in_full() -> None:
    accepted = AcceptedRecipes()
    first = recipe_bytes()
    accepted.remember(first, decode_model(ProductRecipe, first))
    assert accepted.recall(recipe_bytes(companyName="Other")) is None
    assert accepted.recall(first[:-3]) is None  # truncated: the full validation dead-letters it, naming why
    assert accepted.recall(b"{json?}") is None


KEY = b"recipe:bike-frame-2025"


def read_in_full(monkeypatch) -> list[bytes]:
    """The records whose ``updated`` is found by reading them (from here on)."""
    read: list[bytes] = []

    def start(raw: bytes) -> int:
        read.append(raw)
        return updated_start(raw)

    monkeypatch.setattr(intake, "updated_start", start)
    return read


def test_a_recipe_re_sent_under_its_key_is_stamped_where_updated_lay_and_as_reading_it_would(monkeypatch) -> None:
    accepted, read = AcceptedRecipes(), read_in_full(monkeypatch)
    first = recipe_bytes()
    assert accepted.recall(first, KEY) is None  # new here: stamped by reading it, the place of `updated` kept
    accepted.remember(first, decode_model(ProductRecipe, first))
    again = recipe_bytes(updated="2031-05-06T07:08:09.125Z")
    recalled = accepted.recall(again, KEY)
    assert read == [first]  # `again` was not read
    assert recalled is not None
    assert (recalled.content, recalled.updated_ms) == stamp_of(again) == (content_of(first), 1_935_817_689_125)


def test_under_a_known_key_other_content_before_or_after_updated_is_not_taken_for_the_old(monkeypatch) -> None:
    accepted = AcceptedRecipes()
    first = recipe_bytes()
    accepted.recall(first, KEY)
    accepted.remember(first, decode_model(ProductRecipe, first))
    read = read_in_full(monkeypatch)
    after = recipe_bytes(categoryRuleId="PCR steel 2026")  # the same bytes up to `updated`: not read
    assert accepted.recall(after, KEY) is None and accepted._stamp(after, KEY) == stamp_of(after) and read == []
    lines = [{**RECIPE["inputs"][0], "quantity": "4.6"}, RECIPE["inputs"][1]]
    before = recipe_bytes(inputs=lines, updated="2031-05-06T07:08:09.125Z")  # other bytes before `updated`: read
    assert accepted.recall(before, KEY) is None and accepted._stamp(before, KEY) == stamp_of(before) and read == [before]
    assert accepted.recall(first[:-3], KEY) is None and accepted.recall(b"{json?}", KEY) is None
    assert accepted.recall(recipe_bytes(updated="2031-05-06T07:08:09.125Z"), KEY) is not None


def test_accepted_recipes_keep_the_layouts_of_their_last_keys_only() -> None:
    accepted = AcceptedRecipes(max_layouts=2)
    raw = recipe_bytes()
    for key in (b"a", b"b", b"c"):
        accepted.recall(raw, key)
        accepted._last = None  # the next record is another, as in a batch
    assert list(accepted._layouts) == [b"b", b"c"]


def test_accepted_recipes_keep_to_their_bound_least_recently_met_out_first() -> None:
    recipes = [recipe_bytes(companyName=f"Maker {n}") for n in range(3)]
    model = decode_model(ProductRecipe, recipes[0])
    size = len(outline_stem(model)) + len(model.product_ids[0])  # what an entry counts: its outline and ids
    accepted = AcceptedRecipes(max_bytes=2 * size + size // 2)  # room for two
    for raw in recipes[:2]:
        accepted.remember(raw, decode_model(ProductRecipe, raw))
    assert accepted.recall(recipes[0]) is not None  # met again: now the most recent
    accepted.remember(recipes[2], decode_model(ProductRecipe, recipes[2]))
    assert len(accepted) == 2
    assert accepted.recall(recipes[1]) is None and accepted.recall(recipes[0]) is not None


def test_a_recent_recipe_is_handed_on_as_validating_its_bytes_would_make_it() -> None:
    recent = RecentRecipes()
    first = recipe_bytes()
    recent.keep(content_of(first), decode_model(ProductRecipe, first))
    again = recipe_bytes(updated="2031-05-06T07:08:09.125Z")  # the same content, stamped later
    content, updated = stamp_of(again)
    assert recent.recipe(content, updated) == decode_model(ProductRecipe, again)
    assert recent.recipe(content_of(recipe_bytes(companyName="Other")), updated) is None
    assert recent.recipe(None, updated) is None and recent.recipe(content, None) is None


def test_recent_recipes_go_after_their_time_and_a_full_memo_keeps_no_new_one() -> None:
    clock = [0.0]
    raws = [recipe_bytes(companyName=f"Maker {n}") for n in range(3)]
    lines = len(decode_model(ProductRecipe, raws[0]).inputs) + 1  # what an entry counts
    recent = RecentRecipes(max_lines=2 * lines, ttl_s=60.0, clock=lambda: clock[0])
    for raw in raws:
        recent.keep(content_of(raw), decode_model(ProductRecipe, raw))
    held = [recent.recipe(*stamp_of(raw)) is not None for raw in raws]
    assert held == [True, True, False]  # the later stages read in order: the first ones are the ones to keep
    clock[0] = 60.0
    recent.keep(content_of(raws[2]), decode_model(ProductRecipe, raws[2]))  # the first two went: room again
    assert [recent.recipe(*stamp_of(raw)) is not None for raw in raws] == [False, False, True]
