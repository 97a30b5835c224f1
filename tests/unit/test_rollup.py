"""Roll-up behaviour a buyer relies on, on graphs small enough to check by hand (kgCO2e per declared unit)."""

import ast
import pathlib

import pytest

from pcfx.streams.engine import Engine
from pcfx.streams.rollup import (
    Input,
    InvalidFootprint,
    Leaf,
    Recipe,
    RemoveLeaf,
    RemoveRecipe,
    UpsertLeaf,
    UpsertRecipe,
)

EXCL = "pcfExcludingBiogenicUptake"
INCL = "pcfIncludingBiogenicUptake"


def leaf(product_id, value, unit="kilogram", amount=1.0, mass=1.0, pf_id=None, pds=None, dqr=None, **more):
    return UpsertLeaf(Leaf(product_id, pf_id or f"pf-{product_id}", unit, amount, mass, {EXCL: value, **more}, pds, dqr))


def recipe(product_id, own, *inputs, unit="piece", mass=None, pds=None, dqr=None, **more):
    lines = tuple(Input(*line) for line in inputs)
    return UpsertRecipe(Recipe(product_id, unit, 1.0, mass, {EXCL: own, **more}, pds, dqr, lines))


def by_id(results):
    return {d.product_id: d for d in results}


def engine():
    return Engine(full_recompute_share=1.0)  # always take the incremental path on these tiny graphs


def test_two_level_bom_adds_quantities_times_totals():
    e = engine()
    e.apply([leaf("steel", 2.0), leaf("paint", 4.0, unit="liter")])
    out = by_id(e.apply([recipe("door", 0.5, ("steel", 10), ("paint", 0.5)), recipe("car", 100.0, ("door", 4))]))
    assert out["door"].values[EXCL] == 0.5 + 10 * 2.0 + 0.5 * 4.0
    assert out["car"].values[EXCL] == 100.0 + 4 * (0.5 + 10 * 2.0 + 0.5 * 4.0)
    assert out["car"].complete and out["car"].coverage == 1.0


def test_shared_component_counts_once_per_use():
    e = engine()
    e.apply([leaf("bolt", 0.1), recipe("frame", 1.0, ("bolt", 20)), recipe("bike", 2.0, ("frame", 1), ("bolt", 6))])
    assert e.derived("bike").values[EXCL] == pytest.approx(2.0 + (1.0 + 20 * 0.1) + 6 * 0.1)


def test_every_additive_field_rolls_up_on_its_own():
    e = engine()
    e.apply([leaf("wood", 1.0, **{INCL: -1.5, "biogenicCarbonContent": 0.45}), leaf("glue", 3.0, **{INCL: 3.0})])
    out = e.apply([recipe("board", 0.2, ("wood", 2), ("glue", 0.1), **{INCL: 0.2})])[0]
    assert out.values == pytest.approx(
        {EXCL: 0.2 + 2 * 1.0 + 0.1 * 3.0, INCL: 0.2 + 2 * -1.5 + 0.1 * 3.0, "biogenicCarbonContent": 2 * 0.45}
    )


def test_negative_quantity_is_a_co_product_credit():
    e = engine()
    e.apply([leaf("ore", 5.0), leaf("slag", 0.5)])
    out = e.apply([recipe("iron", 1.0, ("ore", 2), ("slag", -0.3))])[0]
    assert out.values[EXCL] == pytest.approx(1.0 + 2 * 5.0 - 0.3 * 0.5)


def test_quantity_in_kilogram_of_a_piece_input_uses_its_mass():
    e = engine()
    e.apply([leaf("wheel", 30.0, unit="piece", mass=12.0)])  # 30 kgCO2e per wheel of 12 kg
    out = e.apply([recipe("cart", 0.0, ("wheel", 48.0, "kilogram"))])[0]
    assert out.values[EXCL] == pytest.approx(48.0 / 12.0 * 30.0)


def test_declared_amount_other_than_one_divides_the_quantity():
    e = engine()
    e.apply([leaf("paint", 25.0, unit="liter", amount=12.5, mass=15.0)])  # 25 kgCO2e per 12.5 liter
    assert e.apply([recipe("door", 0.0, ("paint", 5.0))])[0].values[EXCL] == pytest.approx(5.0 / 12.5 * 25.0)


def test_unconvertible_unit_marks_incomplete_with_the_reason_and_counts_zero():
    e = engine()
    e.apply([leaf("steel", 2.0), leaf("paint", 4.0)])
    out = e.apply([recipe("door", 1.0, ("steel", 3, "piece"), ("paint", 1))])[0]
    assert not out.complete
    assert out.values[EXCL] == 1.0 + 1 * 4.0
    assert out.coverage == 1 / 2
    assert out.missing == ("steel",)
    assert "'piece' cannot be converted" in out.reasons[0]


def test_missing_input_is_held_incomplete_and_completes_when_it_arrives():
    e = engine()
    first = e.apply([recipe("door", 1.0, ("steel", 10), ("paint", 1)), leaf("paint", 4.0), recipe("car", 5.0, ("door", 2))])
    held = by_id(first)
    assert not held["door"].complete and held["door"].missing == ("steel",) and held["door"].coverage == 1 / 2
    assert held["door"].values[EXCL] == 1.0 + 4.0  # partial figure, steel counted as 0
    assert not held["car"].complete and held["car"].reasons == ("input 'door' is incomplete",)
    done = by_id(e.apply([leaf("steel", 2.0)]))
    assert done["door"].complete and done["door"].values[EXCL] == 1.0 + 10 * 2.0 + 4.0
    assert done["car"].complete and done["car"].values[EXCL] == 5.0 + 2 * 25.0


def test_two_product_cycle_matches_the_closed_form():
    # electricity uses 0.1 kg steel per kWh, steel uses 2 kWh per kg:
    # e = 0.3 + 0.1 s, s = 1.2 + 2 e  ->  s = (1.2 + 0.6) / (1 - 0.2), e = 0.3 + 0.1 s
    e = engine()
    out = by_id(
        e.apply([recipe("power", 0.3, ("steel", 0.1), unit="kilowatt hour"), recipe("steel", 1.2, ("power", 2.0), unit="kilogram")])
    )
    steel = (1.2 + 2 * 0.3) / (1 - 2 * 0.1)
    assert out["steel"].values[EXCL] == pytest.approx(steel, rel=1e-12)
    assert out["power"].values[EXCL] == pytest.approx(0.3 + 0.1 * steel, rel=1e-12)


def test_self_loop_divides_by_one_minus_the_self_use():
    e = engine()
    out = e.apply([recipe("diesel", 3.0, ("diesel", 0.05))])[0]  # a refinery burning 5 % of its output
    assert out.values[EXCL] == pytest.approx(3.0 / (1 - 0.05))


def test_a_cycle_that_amplifies_itself_is_an_error_downstream_too_and_never_hangs():
    e = engine()
    out = by_id(e.apply([recipe("a", 1.0, ("b", 2.0)), recipe("b", 1.0, ("a", 0.5)), recipe("c", 1.0, ("a", 1))]))
    assert out["a"].error.startswith("no meaningful footprint: the cycle through 'a', 'b'")
    assert out["c"].error == "no meaningful footprint: input 'a' has none (a cycle upstream amplifies itself)"
    assert out["a"].values == {} and not out["c"].complete
    fixed = by_id(e.apply([recipe("b", 1.0, ("a", 0.25))]))
    assert fixed["c"].error is None and fixed["c"].values[EXCL] == pytest.approx(1.0 + (1.0 + 2.0) / (1 - 0.5))


def test_pds_and_dqr_are_weighted_by_absolute_contribution():
    # PACT How-to-Guide example: contributions 800, 2400, 90 and own 1000 with PDS 36, 0, 0 (missing), 100
    e = engine()
    e.apply([leaf("a", 800.0, pds=36.0, dqr=(2, 1, 1)), leaf("b", 2400.0, pds=0.0, dqr=(3, 3, 3)), leaf("c", 90.0)])
    out = e.apply([recipe("p", 1000.0, ("a", 1), ("b", 1), ("c", 1), pds=100.0, dqr=(1, 1, 1))])[0]
    total = 800 + 2400 + 90 + 1000
    assert out.pds == pytest.approx((800 * 36 + 1000 * 100) / total)
    assert round(out.pds) == 30
    assert out.dqr[0] == pytest.approx((800 * 2 + 2400 * 3 + 90 * 5 + 1000 * 1) / total)


def test_quality_weights_use_absolute_values_of_credits():
    e = engine()
    e.apply([leaf("ore", 5.0, pds=100.0), leaf("slag", 2.0, pds=0.0)])
    out = e.apply([recipe("iron", 0.0, ("ore", 1), ("slag", -1))])[0]
    assert out.pds == pytest.approx((5 * 100 + 2 * 0) / (5 + 2))


def test_quality_in_a_cycle_is_solved_exactly():
    # a: own 1 (pds 100) + 1 * b ; b: own 1 (pds 0) + 0.5 * a -> totals a = 4, b = 3
    # pds_a = (1*100 + 3*pds_b) / 4, pds_b = (1*0 + 2*pds_a) / 3 -> pds_a = 100 / 2 = 50
    e = engine()
    out = by_id(e.apply([recipe("a", 1.0, ("b", 1), pds=100.0), recipe("b", 1.0, ("a", 0.5), pds=0.0)]))
    assert out["a"].values[EXCL] == pytest.approx(4.0) and out["b"].values[EXCL] == pytest.approx(3.0)
    assert out["a"].pds == pytest.approx(50.0)
    assert out["b"].pds == pytest.approx(2 * 50.0 / 3)


def test_only_changed_products_are_emitted_and_repeats_emit_nothing():
    e = engine()
    e.apply([leaf("steel", 2.0), leaf("glass", 1.0), recipe("door", 1.0, ("steel", 1)), recipe("window", 1.0, ("glass", 1))])
    out = e.apply([leaf("steel", 3.0, pf_id="pf-steel-2")])
    assert [d.product_id for d in out] == ["door"]
    assert out[0].drivers == frozenset({"pf-steel-2"})
    assert e.apply([leaf("steel", 3.0, pf_id="pf-steel-2")]) == []
    assert e.apply([recipe("door", 1.0, ("steel", 1))]) == []


def test_a_product_held_back_by_wait_names_every_change_behind_it():
    # bolt uses steel (changed now) and frame, whose new value comes later (another shard solves frame):
    # bolt waits, and once frame arrives its result names both supplier footprints, the earlier one too
    e = engine()
    e.apply([leaf("steel", 2.0), leaf("frame", 1.0), recipe("nut", 0.0, ("steel", 1)),
             recipe("bolt", 0.0, ("steel", 1), ("frame", 1))])
    first = by_id(e.apply([leaf("steel", 3.0, pf_id="pf-steel-2")], wait=["frame"]))
    assert list(first) == ["nut"] and first["nut"].drivers == frozenset({"pf-steel-2"})
    assert e.deferred == 1
    out = by_id(e.apply([leaf("frame", 4.0, pf_id="pf-frame-2")]))
    assert out["bolt"].values[EXCL] == pytest.approx(3.0 + 4.0)
    assert out["bolt"].drivers == frozenset({"pf-steel-2", "pf-frame-2"})
    assert e.deferred == 0


def test_latest_event_of_a_product_in_a_batch_wins():
    e = engine()
    e.apply([recipe("door", 1.0, ("steel", 1))])
    out = e.apply([leaf("steel", 2.0), leaf("steel", 7.0), RemoveLeaf("steel"), leaf("steel", 3.0)])
    assert out[0].values[EXCL] == 1.0 + 3.0


def test_a_recipe_overrides_a_leaf_of_the_same_product_until_removed():
    e = engine()
    e.apply([leaf("steel", 2.0), recipe("door", 0.0, ("steel", 1))])
    assert e.derived("door").values[EXCL] == 2.0
    e.apply([recipe("steel", 5.0, unit="kilogram")])
    assert e.derived("door").values[EXCL] == 5.0
    out = by_id(e.apply([RemoveRecipe("steel")]))
    assert out["steel"].removed
    assert out["door"].values[EXCL] == 2.0


def test_removing_a_leaf_makes_consumers_incomplete():
    e = engine()
    e.apply([leaf("steel", 2.0), recipe("door", 1.0, ("steel", 1))])
    out = e.apply([RemoveLeaf("steel")])[0]
    assert not out.complete and out.missing == ("steel",) and out.values[EXCL] == 1.0


def test_product_ids_are_opaque_strings():
    e = engine()
    ids = ["007", "7", "urn:gtin:04012345678901", "7.0"]
    e.apply([leaf(ids[0], 1.0), leaf(ids[1], 10.0), leaf(ids[3], 1000.0)])
    out = e.apply([recipe(ids[2], 0.0, (ids[0], 1), (ids[1], 1), (ids[3], 1))])[0]
    assert out.product_id == "urn:gtin:04012345678901"
    assert out.values[EXCL] == 1.0 + 10.0 + 1000.0


def test_invalid_footprints_name_product_and_field():
    with pytest.raises(InvalidFootprint, match=r"product 'x': declared_amount: must be > 0"):
        Leaf("x", "pf", "kilogram", 0.0, 1.0, {EXCL: 1.0})
    with pytest.raises(InvalidFootprint, match=r"product 'x': values.pcfExcluding: is not an additive"):
        Leaf("x", "pf", "kilogram", 1.0, 1.0, {"pcfExcluding": 1.0})
    with pytest.raises(InvalidFootprint, match=r"product 'x': inputs\[0\].quantity: must be a finite number"):
        Recipe("x", "piece", 1.0, None, {}, inputs=(Input("y", float("nan")),))
    with pytest.raises(InvalidFootprint, match=r"product 'x': dqr: ratings are within 1..5"):
        Leaf("x", "pf", "kilogram", 1.0, 1.0, {EXCL: 1.0}, dqr=(0, 1, 1))


def test_roll_up_math_imports_no_kafka_faust_or_avro():
    forbidden = {"faust", "kafka", "aiokafka", "avro", "fastavro"}
    streams = pathlib.Path(__file__).parents[2] / "streams"
    for name in ("units", "rollup", "quality", "graph", "solve", "nodes", "cone", "engine"):
        path = streams / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not {n.split(".")[0] for n in names} & forbidden, path


def test_only_the_downstream_cone_is_recomputed_and_values_never_rebuild_the_graph():
    e = engine()
    e.apply([leaf("steel", 2.0), leaf("glass", 1.0), recipe("door", 1.0, ("steel", 1)), recipe("car", 1.0, ("door", 4)),
             recipe("window", 1.0, ("glass", 1))])
    rebuilds, recomputed = e.stats.rebuilds, e.stats.recomputed
    e.apply([leaf("steel", 3.0)])
    assert e.stats.recomputed - recomputed == 3  # steel, door, car; not glass or window
    e.apply([recipe("door", 1.0, ("steel", 2))])  # same inputs, new quantity
    assert e.stats.rebuilds == rebuilds
    e.apply([recipe("door", 1.0, ("steel", 2), ("glass", 1))])  # rewired
    assert e.stats.rebuilds == rebuilds + 1


def test_a_shock_to_most_of_the_graph_switches_to_the_whole_graph_solve():
    e = Engine(full_recompute_share=0.5)
    e.apply([leaf("steel", 2.0), recipe("door", 1.0, ("steel", 1)), recipe("car", 1.0, ("door", 4))])
    before = e.stats.full_recomputes
    out = by_id(e.apply([leaf("steel", 3.0)]))
    assert e.stats.full_recomputes == before + 1
    assert out["car"].values[EXCL] == 1.0 + 4 * (1.0 + 3.0)


def test_a_loop_gain_above_one_has_no_footprint_though_i_minus_a_is_invertible():
    """Steel uses 10 kWh of power per kg, power 0.2 kg of steel per kWh: the loop gain is 10 x 0.2 = 2, the
    spectral radius sqrt(2). Solving (I - A) alone gives steel = (1 + 10 x 0.5) / (1 - 2) = -6: negative and
    meaningless. Both products, and what uses them, are errors that say why."""
    e = engine()
    out = by_id(e.apply([recipe("steel", 1.0, ("power", 10)), recipe("power", 0.5, ("steel", 0.2)), recipe("bike", 2.0, ("steel", 3))]))
    assert out["steel"].error == ("no meaningful footprint: the cycle through 'power', 'steel' (2 products) amplifies "
                                  "itself (loop gain: spectral radius 1.414 >= 1)")
    assert out["power"].error == out["steel"].error
    assert out["bike"].error == "no meaningful footprint: input 'steel' has none (a cycle upstream amplifies itself)"
    assert all(out[p].values == {} and not out[p].complete for p in out)
    fixed = by_id(e.apply([recipe("power", 0.5, ("steel", 0.05))]))  # loop gain 0.5
    assert fixed["steel"].error is None and fixed["steel"].complete
    assert fixed["steel"].values[EXCL] == pytest.approx((1.0 + 10 * 0.5) / (1 - 10 * 0.05))


@pytest.mark.parametrize("gain", [1.0, 1.5, -1.0, -2.0])
def test_a_self_use_of_magnitude_one_or_more_has_no_footprint(gain):
    out = engine().apply([recipe("x", 1.0, ("x", gain))])[0]
    assert out.error == (f"no meaningful footprint: 'x' uses {gain:.4g} of itself per declared unit; "
                         "a self-use of magnitude 1 or more amplifies itself")


def test_a_convergent_block_with_negative_coefficients_stays_exact():
    """a uses 0.6 of itself and -0.6 b (a credit), b uses 0.6 a and 0.6 of itself: |A| has spectral radius
    1.2, A itself 0.85 (eigenvalues 0.6 +- 0.6i), so the series converges and the totals are exact:
    (I - A) x = (1, 1) with I - A = [[0.4, 0.6], [-0.6, 0.4]], det 0.52: a = (0.4 - 0.6) / 0.52, b = 1 / 0.52."""
    out = by_id(engine().apply([recipe("a", 1.0, ("a", 0.6), ("b", -0.6)), recipe("b", 1.0, ("a", 0.6), ("b", 0.6))]))
    assert out["a"].error is None and out["b"].error is None
    assert out["a"].values[EXCL] == pytest.approx(-0.2 / 0.52, rel=1e-12)
    assert out["b"].values[EXCL] == pytest.approx(1.0 / 0.52, rel=1e-12)


def test_the_spectral_radius_test_agrees_with_eigenvalues_on_random_blocks():
    import numpy as np
    import scipy.sparse as sp

    from pcfx.streams.solve import spectral_radius_below_one

    rnd = np.random.default_rng(7)
    for _ in range(300):
        size = int(rnd.integers(2, 8))
        dense = rnd.uniform(-1, 1, (size, size)) * (rnd.uniform(0, 1, (size, size)) < 0.6) * rnd.uniform(0.1, 1.2)
        if rnd.uniform() < 0.5:
            dense = np.abs(dense)
        radius = np.abs(np.linalg.eigvals(dense)).max()
        if abs(radius - 1) > 1e-6:
            assert spectral_radius_below_one(sp.csr_matrix(dense)) == (radius < 1), dense
