"""streams/labels.py: who may see a product's label, when a new version goes out, the 10 % rule, expiry."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.schemas.samples import FOOTPRINT, RECIPE
from pcfx.schemas.subscriptions import Entitlement, Subscription
from pcfx.streams.codec import DecodeError, encode_model
from pcfx.streams.labels import (
    ExpiryCheck,
    FootprintSeen,
    LabelEvent,
    LabelOutput,
    ProductLabels,
    RecipeNote,
    RecipeSeen,
    entitlement,
    expiry_due,
    issue,
    label_id,
    offer_of,
    outline_bytes,
    outline_of,
    recipe_counts,
    recipe_notes,
    recipe_outline,
    reverification_due,
)

STEEL = "urn:pact:js-steel.example:product-id:coil-7"  # the product of FOOTPRINT
STEEL_CO = "urn:pact:js-steel.example:supplier-id:42"
FRAMES = "urn:pact:wuxi-frames.cn:company-id:1"  # the company of RECIPE: buys the steel
OTHER = "urn:pact:zj-cells.cn:company-id:7"
NOW = datetime(2025, 3, 1, tzinfo=UTC)


def steel(value: str = "2.31", *, created: str = "2025-01-15T08:00:00Z", verified: bool = False) -> ProductFootprint:
    document = copy.deepcopy(FOOTPRINT)
    document.update(id=str(uuid.uuid4()), created=created)
    document["pcf"].update(pcfExcludingBiogenicUptake=value, pcfIncludingBiogenicUptake=value)
    if verified:
        document["pcf"]["verification"] = {"providerName": "CQC", "standardName": "GB/T 24067"}
    return ProductFootprint.from_json(document)


def frames_recipe(*, uses_steel: bool = True, updated: str = "2025-02-01T10:00:00Z") -> ProductRecipe:
    document = copy.deepcopy(RECIPE)
    document["updated"] = updated
    document["inputs"][0]["productId"] = STEEL if uses_steel else "urn:pact:other.example:product-id:1"
    return ProductRecipe.from_json(document)


def subscribe(buyer: str = FRAMES, *, active: bool = True, at: datetime = NOW) -> Subscription:
    return Subscription(buyer_id=buyer, product_id=STEEL, active=active, webhook_url="https://oem.example/hook", created_at=at)


def grant(buyer: str, granted: bool = True, supplier: str = STEEL_CO, at: datetime = NOW) -> Entitlement:
    return Entitlement(supplier_company_id=supplier, buyer_id=buyer, product_id=STEEL, granted=granted, created_at=at)


Run = tuple[ProductLabels, list[LabelOutput]]


ROUTERS: dict[int, tuple[dict, dict]] = {}  # what the label router's two tables hold, per state object


def run(*events: LabelEvent | ProductRecipe, state: ProductLabels | None = None, now: datetime = NOW) -> Run:
    """Feed events to the steel coil's state as the agents do: a recipe goes through the label router first
    (its tables kept per state object), and its note for the steel, if any, to the label stage."""
    outputs = []
    remembered, counts = ({}, {}) if state is None else ROUTERS[id(state)]
    for event in events:
        if isinstance(event, ProductRecipe):
            routed = recipe_notes([(event.product_ids[0], event)], remembered.get, lambda p: counts.get(p, {}))
            remembered.update(routed.remembered)
            counts.update(routed.counts)
            if STEEL not in routed.notes:
                state = state or ProductLabels(product_id=STEEL)
                outputs.append(LabelOutput())
                continue
            event = RecipeSeen(routed.notes[STEEL])
        state, out = issue(state, STEEL, event, now)
        outputs.append(out)
    assert state is not None
    ROUTERS[id(state)] = remembered, counts
    return state, outputs


def targets(recipe: ProductRecipe, router: tuple[dict, dict]) -> list[str]:
    """The products a new recipe version is routed to, given the label router's two tables (what it
    remembers of each recipe, and its counts per product)."""
    remembered, counts = router
    routed = recipe_notes([(recipe.product_ids[0], recipe)], remembered.get, lambda p: counts.get(p, {}))
    remembered.update(routed.remembered)
    counts.update(routed.counts)
    return sorted(routed.notes)


def seen(footprint: ProductFootprint, published_ms: int = 1_740_000_000_000) -> FootprintSeen:
    return FootprintSeen(offer_of(footprint, published_ms))


# -- entitlement -----------------------------------------------------------------------------------------


def test_a_buyer_whose_recipe_lists_the_product_gets_its_label():
    state, (_, _, out) = run(seen(steel()), frames_recipe(), subscribe())
    [sent] = out.labels
    assert (sent.label.buyer_id, sent.label.value, sent.label.version) == (FRAMES, "2.31", 1)
    assert sent.webhook_url == "https://oem.example/hook"
    assert [(s.state, s.reason) for s in out.statuses] == [("active", f"{STEEL} is an input of {FRAMES}'s recipes")]


def test_a_buyer_nobody_sells_the_product_to_is_rejected_and_gets_nothing():
    _, (_, out) = run(seen(steel()), subscribe(OTHER))
    assert out.labels == []
    [status] = out.statuses
    assert status.state == "rejected"
    assert status.reason.startswith(f"{OTHER} is not entitled to {STEEL}: none of its recipes lists the product")


def test_a_grant_by_the_owner_entitles_and_a_withholding_overrides_the_recipe():
    state, (_, _, out) = run(seen(steel()), subscribe(OTHER), grant(OTHER))
    assert [s.label.buyer_id for s in out.labels] == [OTHER]
    state, (_, _, out) = run(frames_recipe(), subscribe(), grant(FRAMES, granted=False, at=NOW + timedelta(1)),
                             state=state)
    assert out.withdrawn == [FRAMES]  # the steel maker withholds its coil from Wuxi Frames
    assert entitlement(state, FRAMES) == (False, f"{STEEL} was withheld to {FRAMES} by its supplier {STEEL_CO}")


def test_a_grant_from_a_company_that_does_not_own_the_product_counts_for_nothing():
    state, _ = run(seen(steel()), grant(OTHER, supplier="urn:pact:impostor.example:company-id:1"), subscribe(OTHER))
    assert entitlement(state, OTHER)[0] is False


def test_the_owner_always_sees_its_own_product():
    assert entitlement(run(seen(steel()))[0], STEEL_CO) == (True, f"{STEEL_CO} owns {STEEL}")


def test_an_unknown_product_is_rejected_as_unknown_and_an_entitled_one_waits_for_its_footprint():
    _, (out,) = run(subscribe(OTHER))
    assert out.statuses[0].state == "rejected"
    assert out.statuses[0].reason.startswith(f"unknown product {STEEL}: no footprint of it has reached the exchange")
    state, (_, out) = run(frames_recipe(), subscribe())
    assert out.statuses[0].state == "pending" and out.labels == []
    _, (out,) = run(seen(steel()), state=state)
    assert [s.label.version for s in out.labels] == [1] and out.statuses[0].state == "active"


def test_a_recipe_that_drops_the_product_takes_the_buyer_off_it():
    state, _ = run(seen(steel()), frames_recipe(), subscribe())
    _, (out,) = run(frames_recipe(uses_steel=False, updated="2025-03-01T00:00:00Z"), state=state)
    assert out.withdrawn == [FRAMES] and out.statuses[0].state == "rejected"


def frames_recipe_for(product: str, *, uses_steel: bool = True, updated: str = "2025-02-01T10:00:00Z") -> ProductRecipe:
    document = frames_recipe(uses_steel=uses_steel, updated=updated).to_json()
    document["productIds"] = [product]
    return ProductRecipe.from_json(document)


def test_a_buyer_stays_entitled_until_the_last_of_its_recipes_drops_the_product():
    first, second = (frames_recipe_for(f"urn:pcfx:product:frame-{n}") for n in (1, 2))
    state, (*_, out) = run(seen(steel()), first, second, first, subscribe())
    assert out.statuses[0].reason == f"{STEEL} is an input of {FRAMES}'s recipes"
    assert ROUTERS[id(state)][1][STEEL] == {FRAMES: 2}  # the router's count: a duplicate counts once
    later = "2025-03-01T00:00:00Z"
    state, (out,) = run(frames_recipe_for("urn:pcfx:product:frame-1", uses_steel=False, updated=later), state=state)
    assert out == LabelOutput() and state.listed_by == [FRAMES]  # frame 2 still lists the steel: no note
    _, (out,) = run(frames_recipe_for("urn:pcfx:product:frame-2", uses_steel=False, updated=later), state=state)
    assert out.withdrawn == [FRAMES] and out.statuses[0].state == "rejected"


def test_the_state_of_a_product_20000_recipes_use_stays_small():
    """A grid's electricity is an input of most products: its state, the router's count and each note must
    stay far from Kafka's 1 MB record limit however many recipes list it."""
    recipes = [frames_recipe_for(f"urn:pcfx:product:frame-{n}") for n in range(20_000)]
    state, outputs = run(seen(steel()), *recipes)
    assert state.listed_by == [FRAMES]
    assert len(state.model_dump_json()) < 4_000
    assert ROUTERS[id(state)][1][STEEL] == {FRAMES: 20_000}


def test_a_note_sent_twice_changes_nothing_the_second_time():
    state, _ = run(seen(steel()), frames_recipe(), subscribe())
    note = recipe_notes([("0042", frames_recipe())], lambda key: None, lambda p: {}).notes[STEEL]
    assert note == RecipeNote(listed_by={FRAMES: True})
    before = state.model_dump()
    _, (out,) = run(RecipeSeen(note), state=state)
    assert state.model_dump() == before and out.labels == [] and out.withdrawn == []


def test_an_older_recipe_arriving_late_changes_nothing():
    state, _ = run(seen(steel()), frames_recipe(), subscribe())
    _, (out,) = run(frames_recipe(uses_steel=False, updated="2025-01-01T00:00:00Z"), state=state)
    assert out == LabelOutput()


def test_unsubscribing_withdraws_the_label_and_says_cancelled():
    state, _ = run(seen(steel()), frames_recipe(), subscribe())
    _, (out,) = run(subscribe(active=False, at=NOW + timedelta(seconds=1)), state=state)
    assert out.withdrawn == [FRAMES] and out.statuses[0].state == "cancelled"


# -- versions and values -------------------------------------------------------------------------------------


def test_each_new_footprint_is_a_new_version_with_the_previous_value():
    state, _ = run(seen(steel("2.31")), frames_recipe(), subscribe())
    _, (out,) = run(seen(steel("2.40", created="2025-02-15T00:00:00Z")), state=state)
    [sent] = out.labels
    assert (sent.label.version, sent.label.value, sent.label.previous_value) == (2, "2.40", "2.31")
    assert sent.label.label_id == label_id(FRAMES, STEEL)
    assert out.statuses == []  # the answer to the subscription did not change


def test_a_replayed_or_older_footprint_sends_nothing():
    current = steel("2.31", created="2025-02-01T00:00:00Z")
    state, _ = run(seen(current), frames_recipe(), subscribe())
    _, outs = run(seen(current), seen(steel("9", created="2025-01-01T00:00:00Z")), state=state)
    assert outs == [LabelOutput(), LabelOutput()]


def test_a_version_number_survives_withdrawal_so_event_ids_never_repeat():
    state, _ = run(seen(steel()), frames_recipe(), subscribe())
    state, _ = run(subscribe(active=False, at=NOW + timedelta(seconds=1)), state=state)
    _, (out,) = run(subscribe(at=NOW + timedelta(seconds=2)), state=state)
    assert [s.label.version for s in out.labels] == [2]


def test_ten_percent_from_the_last_verified_value_makes_reverification_due():
    assert reverification_due("2.2", "2") is True  # |2.2 - 2| = 0.2 = 10 % of 2
    assert reverification_due("1.81", "2") is False  # 0.19 < 0.2
    assert reverification_due("-1.1", "-1") is True  # signs: 10 % of |-1|
    assert reverification_due("0.1", "0") is True and reverification_due("0", "0") is False


def test_the_last_verified_value_is_the_last_verified_footprint_else_the_first_label():
    state, (_, _, out) = run(seen(steel("2", verified=True)), frames_recipe(), subscribe())
    assert out.labels[0].label.last_verified_value == "2"
    _, (out,) = run(seen(steel("2.3", created="2025-02-01T00:00:00Z")), state=state)
    label = out.labels[0].label
    assert (label.last_verified_value, label.reverification_due) == ("2", True)  # 0.3 >= 10 % of 2
    state, _ = run(seen(steel("4")), frames_recipe(), subscribe())  # never verified
    _, (out,) = run(seen(steel("4.2", created="2025-02-01T00:00:00Z")), state=state)
    assert (out.labels[0].label.last_verified_value, out.labels[0].label.reverification_due) == ("4", False)


def test_a_label_carries_the_product_and_its_company_only():
    deeper = copy.deepcopy(FOOTPRINT)
    deeper["extensions"] = [{"specVersion": "2.0.0", "dataSchema": "https://pcfx.dev/x.json",
                             "data": {"directInputs": [{"pfId": "secret-supplier-pf"}]}}]
    deeper["comment"] = "made from Anhui Ore's ore"
    _, (_, _, out) = run(seen(ProductFootprint.from_json(deeper)), frames_recipe(), subscribe())
    text = json.dumps(out.labels[0].label.to_json())
    assert "secret-supplier-pf" not in text and "Anhui" not in text
    assert out.labels[0].label.company_ids == [STEEL_CO]


def test_certification_comes_from_the_footprint_verification_and_rules():
    _, (_, _, out) = run(seen(steel(verified=True)), frames_recipe(), subscribe())
    label = out.labels[0].label
    assert (label.certification_scheme, label.certification_body) == ("GB/T 24067", "CQC")


# -- validity and expiry ---------------------------------------------------------------------------------------


def test_validity_defaults_to_three_years_after_the_reference_period():
    _, (_, _, out) = run(seen(steel()), frames_recipe(), subscribe())
    label = out.labels[0].label  # referencePeriodEnd 2025-01-01
    assert label.validity_period_start == datetime(2025, 1, 1, tzinfo=UTC)
    assert label.validity_period_end == datetime(2028, 1, 1, tzinfo=UTC)


def test_a_label_past_its_validity_end_expires_as_a_new_version():
    state, _ = run(seen(steel()), frames_recipe(), subscribe())
    later = datetime(2028, 1, 1, tzinfo=UTC)
    assert not expiry_due(state, later - timedelta(seconds=1)) and expiry_due(state, later)
    state, (out,) = run(ExpiryCheck(), state=state, now=later)
    [sent] = out.labels
    assert (sent.label.status, sent.label.version, sent.label.value) == ("Expired", 2, "2.31")
    assert not expiry_due(state, later)
    _, (again,) = run(ExpiryCheck(), state=state, now=later + timedelta(days=1))
    assert again == LabelOutput()  # expired once, not every tick


def test_deprecating_the_footprint_in_force_deprecates_the_label():
    current = steel()
    state, _ = run(seen(current), frames_recipe(), subscribe())
    withdrawn = current.model_copy(update={"status": "Deprecated"})
    _, (out,) = run(seen(withdrawn), state=state)
    assert out.labels[0].label.status == "Deprecated"


# -- routing recipes ------------------------------------------------------------------------------------------------


def test_a_recipe_goes_to_its_products_and_to_old_and_new_inputs():
    router: tuple[dict, dict] = ({}, {})
    recipe = frames_recipe()  # product 0042 (certified: categoryRuleId), inputs coil-7 (now STEEL) and scrap
    assert targets(recipe, router) == sorted(["urn:pcfx:product:0042", STEEL, "urn:pcfx:product:scrap"])
    later = frames_recipe(uses_steel=False, updated="2025-03-01T00:00:00Z")
    assert targets(later, router) == sorted([STEEL, "urn:pact:other.example:product-id:1"])  # dropped, added
    assert targets(frames_recipe(updated="2024-01-01T00:00:00Z"), router) == []  # older: goes nowhere


def test_a_new_recipe_version_goes_only_where_who_uses_what_changed():
    router: tuple[dict, dict] = ({}, {})
    targets(frames_recipe(), router)
    assert targets(frames_recipe(updated="2025-03-01T00:00:00Z"), router) == []  # identical lines, newer version
    rewired = frames_recipe(uses_steel=False, updated="2025-04-01T00:00:00Z")  # steel dropped, another added
    assert targets(rewired, router) == sorted([STEEL, "urn:pact:other.example:product-id:1"])


def test_new_buyers_tell_every_input_and_new_certification_the_own_product():
    router: tuple[dict, dict] = ({}, {})
    targets(frames_recipe(), router)
    document = copy.deepcopy(RECIPE)
    document.update(updated="2025-03-01T00:00:00Z", companyIds=[OTHER])
    document["inputs"][0]["productId"] = STEEL
    assert targets(ProductRecipe.from_json(document), router) == sorted([STEEL, "urn:pcfx:product:scrap"])
    document.update(updated="2025-04-01T00:00:00Z", certificateNumber="CN-7")
    assert targets(ProductRecipe.from_json(document), router) == ["urn:pcfx:product:0042"]


def test_the_router_counts_each_buyers_recipes_per_input_across_a_batch():
    """Two frames of Wuxi Frames and one of another company list the steel; then one frame drops it, in the
    same batch: the steel hears once that both companies now buy it, and the router keeps the counts."""
    frame = {n: frames_recipe_for(f"urn:pcfx:product:frame-{n}") for n in (1, 2)}
    document = frames_recipe_for("urn:pcfx:product:frame-3").to_json()
    document["companyIds"] = [OTHER]
    dropped = frames_recipe_for("urn:pcfx:product:frame-1", uses_steel=False, updated="2025-03-01T00:00:00Z")
    batch = [("1", frame[1]), ("2", frame[2]), ("3", ProductRecipe.from_json(document)), ("1", dropped)]
    routed = recipe_notes(batch, lambda key: None, lambda p: {})
    assert routed.counts[STEEL] == {FRAMES: 2 - 1, OTHER: 1}
    assert routed.notes[STEEL] == RecipeNote(listed_by={FRAMES: True, OTHER: True})
    assert routed.remembered["1"]["inputs"] == sorted(["urn:pact:other.example:product-id:1", "urn:pcfx:product:scrap"])
    assert routed.counts["urn:pcfx:product:scrap"] == {FRAMES: 2, OTHER: 1}


def test_own_certification_goes_with_the_recipes_time_and_an_older_one_does_not_win():
    document = copy.deepcopy(RECIPE)
    document.update(productIds=[STEEL], certificateNumber="CN-7", updated="2025-03-01T00:00:00Z")
    newer = ProductRecipe.from_json(document)
    document.update(certificateNumber="CN-6", updated="2025-02-01T00:00:00Z")
    note_of_older = recipe_notes([("x", ProductRecipe.from_json(document))], lambda key: None, lambda p: {}).notes[STEEL]
    state, _ = run(newer)
    assert state.certification["certificateNumber"] == "CN-7"
    run(RecipeSeen(note_of_older), state=state)  # a note of an older recipe, arriving late
    assert state.certification["certificateNumber"] == "CN-7"


def test_the_router_reads_from_a_recipes_bytes_what_the_model_says():
    certified = copy.deepcopy(RECIPE)
    certified.update(certificateNumber="CN-7", certificationScheme="Jiangsu carbon label pilot")
    bare = copy.deepcopy(RECIPE)
    bare.pop("categoryRuleId")
    bare["productIds"] = ["urn:pact:frames.example:product-id:7", "frame 8"]  # a URN, and an id that needs quoting
    for recipe in (frames_recipe(), ProductRecipe.from_json(certified), ProductRecipe.from_json(bare)):
        outline = recipe_outline(encode_model(recipe))
        assert outline == outline_of(recipe)
        assert recipe_notes([("r", outline)], lambda key: None, lambda p: {}) == recipe_notes([("r", recipe)], lambda key: None, lambda p: {})
    assert outline.own == {"urn:pact:frames.example:product-id:7", "urn:pcfx:product:frame%208"}
    assert recipe_outline(encode_model(ProductRecipe.from_json(certified))).certification == {
        "categoryRuleId": "PCR-BIKE-FRAME", "certificationScheme": "Jiangsu carbon label pilot", "certificateNumber": "CN-7"}
    for broken in (None, b"not avro", encode_model(frames_recipe())[:-40]):
        with pytest.raises(DecodeError):
            recipe_outline(broken)


def test_the_outline_validate_recipes_sends_is_what_the_model_says():
    document = copy.deepcopy(RECIPE)
    document.update(certificateNumber="CN-7", productIds=["frame 8", "urn:pact:frames.example:product-id:7"])
    for recipe in (frames_recipe(), ProductRecipe.from_json(document)):
        assert recipe_outline(outline_bytes(recipe)) == outline_of(recipe)
    for broken in (b"{}", b'{"productIds": "x"}', b"[1]", outline_bytes(frames_recipe()).replace(b"+00:00", b"")):
        with pytest.raises(DecodeError, match="not a recipe outline"):
            recipe_outline(broken)


def test_the_state_survives_its_table_round_trip():
    state, _ = run(seen(steel(verified=True)), frames_recipe(), subscribe(), grant(OTHER))
    assert ProductLabels.model_validate_json(state.model_dump_json()) == state


def test_an_entry_an_older_pcfx_remembered_without_inputs_routes_the_recipe_as_new():
    older = {"updated": 0, "targets": [STEEL]}
    routed = recipe_notes([("0042", frames_recipe())], lambda key: older, lambda p: {})
    assert routed.notes[STEEL] == RecipeNote(listed_by={FRAMES: True})


def test_a_buyer_is_told_when_it_starts_or_stops_buying_not_each_time_its_count_moves():
    """An import in micro-batches: every batch adds frames that use the steel. Only the first tells the
    steel (Wuxi Frames now buys it); only the drop of the last frame tells it again."""
    router: tuple[dict, dict] = ({}, {})
    frames = [frames_recipe_for(f"urn:pcfx:product:frame-{n}") for n in range(6)]
    told = [STEEL in targets_batch(batch, router) for batch in (frames[:2], frames[2:4], frames[4:])]
    assert told == [True, False, False] and router[1][STEEL] == {FRAMES: 6}
    later = "2025-03-01T00:00:00Z"
    drops = [frames_recipe_for(f"urn:pcfx:product:frame-{n}", uses_steel=False, updated=later) for n in range(6)]
    assert [STEEL in targets_batch([drop], router) for drop in drops] == [False] * 5 + [True]
    assert STEEL not in router[1] or router[1][STEEL] == {}


def targets_batch(recipes: list[ProductRecipe], router: tuple[dict, dict]) -> dict[str, RecipeNote]:
    remembered, counts = router
    routed = recipe_notes([(r.product_ids[0], r) for r in recipes], remembered.get, lambda p: counts.get(p, {}))
    remembered.update(routed.remembered)
    counts.update(routed.counts)
    return routed.notes


def test_a_state_and_a_note_an_older_pcfx_wrote_with_counts_still_say_who_buys():
    older = ProductLabels.model_validate_json(json.dumps({"product_id": STEEL, "recipes_of": {FRAMES: 3}}))
    assert older.listed_by == [FRAMES] and entitlement(older, FRAMES)[0] is True
    note = RecipeNote.model_validate_json(json.dumps({"recipes_of": {FRAMES: 0, OTHER: 2}}))
    assert note.listed_by == {FRAMES: False, OTHER: True}


def test_the_counts_made_again_from_the_remembered_recipes_are_the_ones_the_router_moved():
    """The router holds its counts in memory and makes them again from its table of recipes after a restart:
    both ways must agree, drops and changes of buyers included."""
    router: tuple[dict, dict] = ({}, {})
    frames = [frames_recipe_for(f"urn:pcfx:product:frame-{n}") for n in range(4)]
    document = frames_recipe_for("urn:pcfx:product:frame-2", updated="2025-03-01T00:00:00Z").to_json()
    document["companyIds"] = [OTHER]
    later = [frames_recipe_for("urn:pcfx:product:frame-1", uses_steel=False, updated="2025-03-01T00:00:00Z"),
             ProductRecipe.from_json(document)]
    for batch in (frames[:3], frames[3:] + later[:1], later[1:]):
        targets_batch(batch, router)
    remembered, counts = router
    moved = {product: count for product, count in counts.items() if count}
    assert recipe_counts(remembered.values()) == moved
    assert moved[STEEL] == {FRAMES: 2, OTHER: 1}  # frames 0 and 3; frame 2 now bought by the other company
    assert recipe_counts([{"updated": 0, "targets": [STEEL]}]) == {}  # an older pcfx's entry: counts nothing
