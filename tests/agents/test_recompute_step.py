"""The recompute step without Kafka: supplier footprints and recipes in, PACT footprints and statuses out."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pcfx.agents.recompute import deprecated_bytes
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import Deprecation, card_of, deprecated, derived_footprint, published_of, same_figures
from pcfx.streams.engine import Engine
from pcfx.streams.recompute import InputSummaries, StepOutput, TableView, Update, recompute, restore
from pcfx.streams.rollup import Derived, Leaf
from pcfx.streams.shards import Boundary

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
STEEL = "urn:gtin:4000000000001"


def supplier_footprint(pf_id: str, value: str, created: datetime, sources: list[dict] | None = None) -> ProductFootprint:
    document = copy.deepcopy(FOOTPRINT)
    document.update(id=pf_id, productIds=[STEEL], created=created.isoformat())
    document["pcf"].update(
        declaredUnitOfMeasurement="kilogram", declaredUnitAmount="1", productMassPerDeclaredUnit="1",
        pcfExcludingBiogenicUptake=value, pcfIncludingBiogenicUptake=value, fossilGhgEmissions=value,
        primaryDataShare="50", dqi={"technologicalDQR": "2", "geographicalDQR": "2", "temporalDQR": "2"},
    )
    document["pcf"].pop("packagingGhgEmissions", None)
    if sources:
        document["pcf"]["secondaryEmissionFactorSources"] = sources
    return ProductFootprint.from_json(document)


def frame_recipe(kg_of_steel: str = "3") -> ProductRecipe:
    return ProductRecipe.from_json({
        "productIds": ["frame-0042"], "companyName": "Nanjing Frames", "companyIds": ["urn:pcfx:company:nj-frames"],
        "productNameCompany": "E-bike frame", "declaredUnitOfMeasurement": "piece", "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "3", "ownEmissions": {"pcfExcludingBiogenicUptake": "1.5"},
        "referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2026-01-01T00:00:00Z",
        "inputs": [{"productId": STEEL, "quantity": kg_of_steel, "unit": "kilogram"}],
        "updated": "2025-06-01T00:00:00Z",
    })


class Tables:
    """A dict-backed stand-in for the agent's tables, updated from each step's output like the agent does."""

    def __init__(self) -> None:
        self.inputs: dict = {}
        self.published: dict = {}
        self.requested: dict = {}
        self.summaries = InputSummaries(self.inputs.get)  # kept between steps, as the agent keeps them

    def view(self) -> TableView:
        def published(product_id: str):
            footprint = self.published.get(product_id)
            return None if footprint is None else published_of(footprint)

        return TableView(input=self.inputs.get, summary=self.summaries.get, published=published, requested=self.requested.__contains__)

    def write(self, out: StepOutput) -> None:
        for key, model in out.inputs.items():
            self.inputs.pop(key, None) if model is None else self.inputs.__setitem__(key, model)
        self.published.update(out.published)
        self.requested.update(out.requested)
        self.summaries.written(out.input_summaries)


def step(engine: Engine, tables: Tables, *updates: Update) -> StepOutput:
    out = recompute(engine, list(updates), tables.view(), NOW)
    tables.write(out)
    return out


def test_a_product_is_its_own_emissions_plus_its_inputs() -> None:
    engine, tables = Engine(), Tables()
    steel = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    out = step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", steel, 2))
    [frame] = out.footprints
    assert float(frame.pcf.pcf_excluding_biogenic_uptake) == 1.5 + 3 * 2
    # own data has no PDS (counts 0 %), steel's 6 kgCO2e carry 50 %: 6 * 50 / 7.5
    assert float(frame.pcf.primary_data_share) == 6 * 50 / 7.5
    assert frame.product_ids == ["urn:pcfx:product:frame-0042"]
    lines = frame.extensions[0].data["directInputs"]
    assert lines == [{"pfId": steel.id, "quantity": "3", "unit": "kilogram"}]
    assert [s.state for s in out.statuses] == ["complete"]


def test_an_upstream_change_deprecates_the_previous_footprint_and_names_the_driver() -> None:
    engine, tables = Engine(), Tables()
    old = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    first = step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", old, 2))
    new = supplier_footprint("22222222-2222-4222-8222-222222222222", "1.8", NOW + timedelta(days=1))
    out = step(engine, tables, Update(f"leaf:{STEEL}", new, 3))
    active, retired = out.footprints
    assert float(active.pcf.pcf_excluding_biogenic_uptake) == 1.5 + 3 * 1.8
    assert active.preceding_pf_ids == [first.footprints[0].id]
    assert new.id in active.comment
    assert retired == Deprecation("frame-0042", first.footprints[0].id)


def test_inputs_read_in_an_earlier_batch_are_read_again_once_they_change() -> None:
    engine, tables = Engine(), Tables()
    old = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", old, 2))
    step(engine, tables, Update("recipe:frame-0042", frame_recipe("4"), 3))  # reads the steel footprint from the table
    new = supplier_footprint("22222222-2222-4222-8222-222222222222", "1.8", NOW + timedelta(days=1))
    step(engine, tables, Update(f"leaf:{STEEL}", new, 4))
    out = step(engine, tables, Update("recipe:frame-0042", frame_recipe("5"), 5))  # the card and the steel, read again
    [frame, _] = out.footprints
    assert float(frame.pcf.pcf_excluding_biogenic_uptake) == 1.5 + 5 * 1.8
    assert frame.extensions[0].data["directInputs"] == [{"pfId": new.id, "quantity": "5", "unit": "kilogram"}]


def test_the_step_writes_an_updates_bytes_as_they_came_and_an_older_one_writes_nothing() -> None:
    engine, tables = Engine(), Tables()
    recipe, steel = frame_recipe(), supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    raw = encode_model(recipe)
    out = step(engine, tables, Update("recipe:frame-0042", recipe, 1, raw=raw), Update(f"leaf:{STEEL}", steel, 2))
    assert out.input_bytes == {"recipe:frame-0042": raw}  # the steel came without bytes: the agent encodes it
    older = ProductRecipe.from_json({**frame_recipe("4").to_json(), "updated": "2025-01-01T00:00:00Z"})
    out = step(engine, tables, Update("recipe:frame-0042", older, 3, raw=encode_model(older)))
    assert out.inputs == {} and out.input_bytes == {}


def test_an_unchanged_result_publishes_nothing() -> None:
    engine, tables = Engine(), Tables()
    steel = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", steel, 2))
    again = step(engine, tables, Update(f"leaf:{STEEL}", steel, 3), Update("recipe:frame-0042", frame_recipe(), 4))
    assert again.footprints == [] and again.statuses == []


def test_a_missing_input_holds_the_product_and_requests_it_once() -> None:
    engine, tables = Engine(), Tables()
    out = step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1))
    assert out.footprints == []
    [status] = out.statuses
    assert (status.state, status.coverage, status.missing) == ("incomplete", "0.0", [STEEL])
    [request] = out.requested.values()
    assert request.product_id == [STEEL]
    steel = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    done = step(engine, tables, Update(f"leaf:{STEEL}", steel, 2))
    assert [s.state for s in done.statuses] == ["complete"] and done.requested == {}


def test_an_older_footprint_arriving_late_changes_nothing() -> None:
    engine, tables = Engine(), Tables()
    new = supplier_footprint("22222222-2222-4222-8222-222222222222", "1.8", NOW + timedelta(days=1))
    old = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", new, 2))
    late = step(engine, tables, Update(f"leaf:{STEEL}", old, 3))
    assert late.footprints == []


def test_database_sources_are_carried_downstream() -> None:
    engine, tables = Engine(), Tables()
    grid = [{"name": "CN-JS provincial PCF database (SAMPLE)", "version": "2025.1"}]
    steel = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW, sources=grid)
    out = step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", steel, 2))
    sources = out.footprints[0].pcf.secondary_emission_factor_sources
    assert [(s.name, s.version) for s in sources] == [(grid[0]["name"], "2025.1")]


# -- across a restart: the engine rebuilt from the tables, and a crash between sending and recording ---------


def entries(tables: Tables) -> list[Update]:
    """What the agent reads back from ``product_to_input`` to rebuild its engine."""
    return [Update(key, model, 0) for key, model in tables.inputs.items()]


def test_a_rebuilt_engine_repeats_nothing_that_was_sent_and_recorded() -> None:
    tables = Tables()
    step(Engine(), tables, Update("recipe:frame-0042", frame_recipe(), 1),
         Update(f"leaf:{STEEL}", supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW), 2))

    again = restore(Engine(), entries(tables), tables.view(), NOW)

    assert (again.footprints, again.statuses, again.inputs, again.requested) == ([], [], {}, {})


def test_a_restore_decodes_each_input_once_and_keeps_its_summary_for_the_next_step() -> None:
    tables = Tables()
    step(Engine(), tables, Update("recipe:frame-0042", frame_recipe(), 1),
         Update(f"leaf:{STEEL}", supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW), 2))
    read_again: list[str] = []
    view = replace(tables.view(), input=lambda key: read_again.append(key) or tables.inputs.get(key))

    again = restore(Engine(), entries(tables), view, NOW)

    assert read_again == []  # the entries are the table's records: not read and decoded a second time
    assert again.input_summaries.keys() == tables.inputs.keys()  # the agent's InputSummaries start from these


def test_a_footprint_sent_but_not_recorded_comes_back_under_the_same_id() -> None:
    engine, tables = Engine(), Tables()
    step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1),
         Update(f"leaf:{STEEL}", supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW), 2))
    v1 = tables.published["frame-0042"]
    cheaper = Update(f"leaf:{STEEL}", supplier_footprint("22222222-2222-4222-8222-222222222222", "1.8", NOW + timedelta(days=1)), 3)
    sent = recompute(engine, [cheaper], tables.view(), NOW)
    tables.inputs[cheaper.key] = cheaper.model  # the crash: the input entry was written, the published one not

    healed = restore(Engine(), entries(tables), tables.view(), NOW + timedelta(hours=1))

    active, retired = healed.footprints
    assert active.id == sent.footprints[0].id  # the same successor of v1, not a second Active footprint
    assert float(active.pcf.pcf_excluding_biogenic_uptake) == 1.5 + 3 * 1.8
    assert active.preceding_pf_ids == [v1.id]
    assert retired == Deprecation("frame-0042", v1.id)
    assert [s.product_id for s in healed.statuses] == ["frame-0042"]
    assert healed.inputs == {}  # the table already holds them


def test_figures_moved_in_the_last_bits_by_another_solve_order_count_as_the_same() -> None:
    tables, engine = Tables(), Engine()
    step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1),
         Update(f"leaf:{STEEL}", supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW), 2))
    published = tables.published["frame-0042"]
    solved = engine.derived("frame-0042")

    def rolled_up(total: float) -> Derived:
        return replace(solved, values={**solved.values, "pcfExcludingBiogenicUptake": total})

    last_bits = (1.5 + 3 * 2) * (1 + 2e-16)
    assert last_bits != 1.5 + 3 * 2 and same_figures(published_of(published), rolled_up(last_bits))
    assert not same_figures(published_of(published), rolled_up(1.5 + 3 * 2 + 1e-6))


def test_a_rating_a_rounding_error_puts_past_5_is_published_as_5() -> None:
    derived = Derived("frame-0042", {"pcfExcludingBiogenicUptake": 7.5}, 100.00000000000001, (5.000000000000001, 1.0, 0.9999999999999999), True, 1.0)

    footprint = derived_footprint(card_of(frame_recipe()), "frame-0042", derived, None, [], [], NOW)

    dqi = footprint.pcf.dqi
    assert (dqi.technological_dqr, dqi.geographical_dqr, dqi.temporal_dqr) == ("5.0", "1.0", "1.0")
    assert footprint.pcf.primary_data_share == "100.0"


def test_the_deprecated_copy_the_agent_sends_is_the_active_record_with_its_status_changed() -> None:
    steel = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    active = encode_model(steel)
    assert decode_model(ProductFootprint, deprecated_bytes(active, steel.id)) == deprecated(steel)
    with pytest.raises(LookupError, match="another footprint where 2222"):
        deprecated_bytes(active, "22222222-2222-4222-8222-222222222222")
    with pytest.raises(LookupError, match="no footprint where 1111"):
        deprecated_bytes(None, steel.id)


def cycle_recipe(product: str, other: str, quantity: str) -> ProductRecipe:
    return ProductRecipe.from_json({
        "productIds": [product], "companyName": "Changzhou Works", "companyIds": ["urn:pcfx:company:cz-works"],
        "productNameCompany": product, "declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1", "ownEmissions": {"pcfExcludingBiogenicUptake": "1"},
        "referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2026-01-01T00:00:00Z",
        "inputs": [{"productId": other, "quantity": quantity, "unit": "kilogram"}],
        "updated": "2025-06-01T00:00:00Z",
    })


def test_an_amplifying_cycle_publishes_no_footprint_and_says_why_in_the_status() -> None:
    engine, tables = Engine(), Tables()
    out = step(engine, tables, Update("recipe:steel", cycle_recipe("steel", "power", "10"), 1),
               Update("recipe:power", cycle_recipe("power", "steel", "0.2"), 2))
    assert out.footprints == [] and out.requested == {}
    assert sorted(s.state for s in out.statuses) == ["error", "error"]
    for status in out.statuses:
        assert status.pf_id is None
        assert status.reasons == ["no meaningful footprint: the cycle through 'power', 'steel' (2 products) amplifies "
                                  "itself (loop gain: spectral radius 1.414 >= 1)"]
    calm = step(engine, tables, Update("recipe:power", cycle_recipe("power", "steel", "0.05"), 3))  # loop gain 0.5
    assert sorted(f.product_ids[0] for f in calm.footprints) == ["urn:pcfx:product:power", "urn:pcfx:product:steel"]
    assert sorted(s.state for s in calm.statuses) == ["complete", "complete"]


def test_derived_ids_are_deterministic_uuid_v4_and_the_extension_points_to_the_served_schema() -> None:
    import uuid

    from pcfx.streams.derive import derived_id

    first = derived_id("frame-0042", None)
    assert first == derived_id("frame-0042", None) != derived_id("frame-0042", first)  # a replay: the same id
    parsed = uuid.UUID(first)
    assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)  # PACT v3: a PfId is a UUID v4
    assert first[14] == "4" and first[19] in "89ab"
    engine, tables = Engine(), Tables()
    steel = supplier_footprint("11111111-1111-4111-8111-111111111111", "2", NOW)
    view = tables.view()
    view = TableView(view.input, view.summary, view.published, view.requested,
                     inputs_schema_url="https://pcfx.example.cn/extensions/direct-inputs/1.0.0/schema.json")
    out = recompute(engine, [Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", steel, 2)], view, NOW)
    [frame] = out.footprints
    assert uuid.UUID(frame.id).version == 4
    assert frame.extensions[0].data_schema == "https://pcfx.example.cn/extensions/direct-inputs/1.0.0/schema.json"


# -- issue 15.2: the declared fields of a derived footprint are rolled up, not fixed ---------------------------


def part_footprint(pf_id: str, product: str, value: str, exempted: str, ipcc: list[str], unit: str = "kilogram") -> ProductFootprint:
    document = copy.deepcopy(FOOTPRINT)
    document.update(id=pf_id, productIds=[product], created=NOW.isoformat())
    document["pcf"].update(
        declaredUnitOfMeasurement=unit, declaredUnitAmount="1", productMassPerDeclaredUnit="1",
        pcfExcludingBiogenicUptake=value, pcfIncludingBiogenicUptake=value, fossilGhgEmissions=value,
        exemptedEmissionsPercent=exempted, ipccCharacterizationFactors=ipcc,
    )
    document["pcf"].pop("packagingGhgEmissions", None)
    return ProductFootprint.from_json(document)


def pack_recipe(lines: list[tuple[str, str, str]], own: str, product: str = "pack-01", **extra: object) -> ProductRecipe:
    return ProductRecipe.from_json({
        "productIds": [product], "companyName": "Changzhou Packs", "companyIds": ["urn:pcfx:company:cz-packs"],
        "productNameCompany": product, "declaredUnitOfMeasurement": "piece", "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "3", "ownEmissions": {"pcfExcludingBiogenicUptake": own},
        "referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2026-01-01T00:00:00Z",
        "inputs": [{"productId": p, "quantity": q, "unit": u} for p, q, u in lines],
        "updated": "2025-06-01T00:00:00Z", **extra,
    })


CELLS, LEADS = "urn:pcfx:product:cells", "urn:pcfx:product:leads"


def test_the_worked_example_of_docs_contract_md() -> None:
    """10 kg of cells at 2 kgCO2e/kg with 20 % exempted (AR6), 4 leads at 0.5 kgCO2e each, none exempted (AR5),
    13 kgCO2e of the maker's own: total 13 + 20 + 2 = 35; exempted 10 * (2 * 20 / 80) = 5; 5 / (35 + 5) = 12.5 %."""
    engine, tables = Engine(), Tables()
    recipe = pack_recipe([(CELLS, "10", "kilogram"), (LEADS, "4", "piece")], "13",
                         crossSectoralStandards=["ISO14067", "GB/T 24067"], categoryRuleId="CN-JS PCR e-bike batteries (SAMPLE)",
                         certificationScheme="Jiangsu carbon label pilot")
    out = step(engine, tables, Update("recipe:pack-01", recipe, 1),
               Update(f"leaf:{CELLS}", part_footprint("11111111-1111-4111-8111-111111111111", CELLS, "2", "20", ["AR6"]), 2),
               Update(f"leaf:{LEADS}", part_footprint("22222222-2222-4222-8222-222222222222", LEADS, "0.5", "0", ["AR5"], "piece"), 3))
    [pack] = out.footprints
    pcf = pack.pcf
    assert pcf.pcf_excluding_biogenic_uptake == "35.0"
    assert pcf.exempted_emissions_percent == "12.5"
    assert pcf.exempted_emissions_description
    assert pcf.ipcc_characterization_factors == ["AR5", "AR6"]
    assert pcf.cross_sectoral_standards == ["ISO14067", "GB/T 24067"]
    [rule] = pcf.product_or_sector_specific_rules
    assert (rule.operator, rule.rule_names, rule.other_operator_name) == (
        "Other", ["CN-JS PCR e-bike batteries (SAMPLE)"], "Jiangsu carbon label pilot")


def test_without_exemptions_or_declared_standards_the_defaults_apply() -> None:
    engine, tables = Engine(), Tables()
    out = step(engine, tables, Update("recipe:pack-01", pack_recipe([(LEADS, "4", "piece")], "1"), 1),
               Update(f"leaf:{LEADS}", part_footprint("22222222-2222-4222-8222-222222222222", LEADS, "0.5", "0", ["AR5", "AR6"], "piece"), 2))
    pcf = out.footprints[0].pcf
    assert (pcf.exempted_emissions_percent, pcf.exempted_emissions_description) == ("0", None)
    assert pcf.ipcc_characterization_factors == ["AR5", "AR6"]
    assert pcf.cross_sectoral_standards == ["ISO14067", "PACT-3.0"] and pcf.product_or_sector_specific_rules is None
    alone = step(engine, tables, Update("recipe:solo-01", pack_recipe([], "1", product="solo-01"), 3)).footprints[0]
    assert alone.pcf.ipcc_characterization_factors == ["AR6"]  # nothing upstream: the latest report


def test_exempted_amounts_and_reports_roll_up_through_a_cycle_exactly() -> None:
    """P uses 0.5 Q and 1 kg of leaf L (2 kgCO2e, 20 % exempted, AR5); Q uses 0.5 P and 1 kg of leaf M (1 kgCO2e,
    AR4). The exempted amounts solve the same system as the totals: x = (I - A)^-1 x_leaf."""
    import numpy as np

    engine, tables = Engine(), Tables()
    leaf_l, leaf_m = "urn:pcfx:product:l", "urn:pcfx:product:m"
    out = step(engine, tables,
               Update("recipe:p", pack_recipe([("q", "0.5", "piece"), (leaf_l, "1", "kilogram")], "0", product="p"), 1),
               Update("recipe:q", pack_recipe([("p", "0.5", "piece"), (leaf_m, "1", "kilogram")], "0", product="q"), 2),
               Update(f"leaf:{leaf_l}", part_footprint("11111111-1111-4111-8111-111111111111", leaf_l, "2", "20", ["AR5"]), 3),
               Update(f"leaf:{leaf_m}", part_footprint("22222222-2222-4222-8222-222222222222", leaf_m, "1", "0", ["AR4"]), 4))
    a = np.array([[0, 0.5], [0.5, 0]])
    totals = np.linalg.solve(np.eye(2) - a, [2.0, 1.0])
    exempted = np.linalg.solve(np.eye(2) - a, [2 * 20 / 80, 0.0])
    expected = 100 * exempted / (totals + exempted)
    got = {f.product_ids[0]: f.pcf for f in out.footprints}
    for product, share in zip(("urn:pcfx:product:p", "urn:pcfx:product:q"), expected):
        assert abs(float(got[product].exempted_emissions_percent) - share) <= 1e-9 * share
        assert got[product].ipcc_characterization_factors == ["AR4", "AR5"]  # M reaches P through Q only


def test_a_change_of_reports_alone_publishes_a_new_footprint() -> None:
    engine, tables = Engine(), Tables()
    step(engine, tables, Update("recipe:pack-01", pack_recipe([(LEADS, "4", "piece")], "1"), 1),
         Update(f"leaf:{LEADS}", part_footprint("22222222-2222-4222-8222-222222222222", LEADS, "0.5", "0", ["AR5"], "piece"), 2))
    later = part_footprint("33333333-3333-4333-8333-333333333333", LEADS, "0.5", "0", ["AR6"], "piece")
    out = step(engine, tables, Update(f"leaf:{LEADS}", later.model_copy(update={"created": NOW + timedelta(days=1)}), 3))
    active, _ = out.footprints
    assert active.pcf.ipcc_characterization_factors == ["AR6"] and active.pcf.pcf_excluding_biogenic_uptake == "3.0"


def test_an_exempted_percent_of_100_is_refused_naming_the_field() -> None:
    from pcfx.streams.derive import leaf_of
    from pcfx.streams.rollup import InvalidFootprint

    with pytest.raises(InvalidFootprint, match="exemptedEmissionsPercent"):
        leaf_of(part_footprint("11111111-1111-4111-8111-111111111111", CELLS, "2", "100", ["AR6"]), CELLS)


# -- issue 15.1: an expired input no longer counts; a derived footprint is valid no longer than its inputs ----


def valid_steel(pf_id: str, ends: datetime, created: datetime = NOW, value: str = "2") -> ProductFootprint:
    footprint = supplier_footprint(pf_id, value, created)
    return footprint.model_copy(update={"validity_period_start": datetime(2025, 1, 1, tzinfo=timezone.utc), "validity_period_end": ends})


def test_a_derived_footprint_is_valid_no_longer_than_its_inputs_and_its_label_says_so() -> None:
    from pcfx.streams.labels import offer_of

    engine, tables = Engine(), Tables()
    ends = NOW + timedelta(days=30)
    out = step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", valid_steel("11111111-1111-4111-8111-111111111111", ends), 2))
    [frame] = out.footprints
    # the recipe's reference period ends 2026-01-01: alone it would be valid until 2029-01-01
    assert (frame.validity_period_start, frame.validity_period_end) == (datetime(2026, 1, 1, tzinfo=timezone.utc), ends)
    assert offer_of(frame, 0).validity_period_end == ends  # the label shows the earliest expiry
    shorter = valid_steel("22222222-2222-4222-8222-222222222222", NOW + timedelta(days=20), NOW + timedelta(hours=1), "2.1")
    active, _ = step(engine, tables, Update(f"leaf:{STEEL}", shorter, 3)).footprints
    assert active.validity_period_end == NOW + timedelta(days=20)


def test_an_input_that_expires_holds_its_users_incomplete_with_the_reason_and_asks_for_a_fresh_one() -> None:
    engine, tables = Engine(), Tables()
    steel = valid_steel("11111111-1111-4111-8111-111111111111", NOW + timedelta(days=30))
    step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", steel, 2))
    later = NOW + timedelta(days=31)
    replayed = recompute(engine, [Update(f"leaf:{STEEL}", steel, 3)], tables.view(), later)  # the expiry timer's replay
    tables.write(replayed)
    [status] = replayed.statuses
    assert (status.state, status.missing) == ("incomplete", [STEEL])
    assert status.reasons == [f"input {STEEL!r}: its footprint {steel.id} expired at 2026-01-31T00:00:00Z (validityPeriodEnd)"]
    [request] = replayed.requested.values()
    assert request.product_id == [STEEL] and steel.id in request.comment
    assert tables.inputs[f"leaf:{STEEL}"] == steel  # still the record in force: a newer one replaces it as usual
    again = recompute(engine, [Update(f"leaf:{STEEL}", steel, 4)], tables.view(), later)
    assert again.statuses == [] and again.requested == {}  # asked once
    fresh = valid_steel("22222222-2222-4222-8222-222222222222", NOW + timedelta(days=2000), later)
    done = recompute(engine, [Update(f"leaf:{STEEL}", fresh, 5)], tables.view(), later)
    assert [s.state for s in done.statuses] == ["complete"]
    assert done.footprints[0].validity_period_end == datetime(2029, 1, 1, tzinfo=timezone.utc)  # the recipe's own bound


def test_a_footprint_expired_on_arrival_never_counts_and_a_restore_leaves_expiry_to_the_replay() -> None:
    engine, tables = Engine(), Tables()
    stale = valid_steel("11111111-1111-4111-8111-111111111111", NOW - timedelta(days=1))
    out = step(engine, tables, Update("recipe:frame-0042", frame_recipe(), 1), Update(f"leaf:{STEEL}", stale, 2))
    assert out.footprints == [] and out.statuses[0].state == "incomplete" and "expired" in out.statuses[0].reasons[0]
    restored = restore(Engine(), entries(tables), tables.view(), NOW)
    assert restored.statuses == []  # nothing new to say until the timer replays it


def test_the_expiry_watch_gives_each_footprint_in_force_once_when_its_time_comes() -> None:
    from pcfx.agents.recompute import ExpiryWatch

    watch = ExpiryWatch()
    first = valid_steel("11111111-1111-4111-8111-111111111111", NOW + timedelta(days=10))
    second = valid_steel("22222222-2222-4222-8222-222222222222", NOW + timedelta(days=20))
    watch.watch([(f"leaf:{STEEL}", first), ("recipe:frame-0042", frame_recipe())], NOW)
    watch.watch([(f"leaf:{STEEL}", second)], NOW)  # replaced: the first one's end no longer matters
    assert watch.due(NOW + timedelta(days=15)) == []
    assert watch.due(NOW + timedelta(days=20)) == [(f"leaf:{STEEL}", second.id)]
    assert watch.due(NOW + timedelta(days=30)) == []  # once
    watch.watch([(f"leaf:{STEEL}", first)], NOW + timedelta(days=11))  # expired on arrival: the step withdrew it
    assert watch.due(NOW + timedelta(days=30)) == []


def test_in_a_cycle_every_member_is_bounded_by_what_any_member_uses_and_a_lifted_bound_lifts() -> None:
    """P uses Q and leaf L; Q uses P and leaf M. M's validity ends first, so both end then, whichever is settled
    first; when a fresh M arrives valid longer, both follow it (a cycle does not keep the old bound alive)."""
    engine, tables = Engine(), Tables()
    leaf_l, leaf_m = "urn:pcfx:product:l", "urn:pcfx:product:m"
    l_ends, m_ends = NOW + timedelta(days=300), NOW + timedelta(days=100)

    def leaf(pf_id: str, product: str, ends: datetime, created: datetime = NOW, value: str = "1") -> ProductFootprint:
        footprint = part_footprint(pf_id, product, value, "0", ["AR6"]).model_copy(update={"created": created})
        return footprint.model_copy(update={"validity_period_start": datetime(2025, 1, 1, tzinfo=timezone.utc), "validity_period_end": ends})

    out = step(engine, tables,
               Update("recipe:p", pack_recipe([("q", "0.5", "piece"), (leaf_l, "1", "kilogram")], "0", product="p"), 1),
               Update("recipe:q", pack_recipe([("p", "0.5", "piece"), (leaf_m, "1", "kilogram")], "0", product="q"), 2),
               Update(f"leaf:{leaf_l}", leaf("11111111-1111-4111-8111-111111111111", leaf_l, l_ends), 3),
               Update(f"leaf:{leaf_m}", leaf("22222222-2222-4222-8222-222222222222", leaf_m, m_ends), 4))
    assert {f.product_ids[0]: f.validity_period_end for f in out.footprints} == {
        "urn:pcfx:product:p": m_ends, "urn:pcfx:product:q": m_ends}
    fresh = leaf("33333333-3333-4333-8333-333333333333", leaf_m, NOW + timedelta(days=500), NOW + timedelta(days=1), "1.5")
    later = step(engine, tables, Update(f"leaf:{leaf_m}", fresh, 5))
    assert {f.product_ids[0]: f.validity_period_end for f in later.footprints if isinstance(f, ProductFootprint)} == {
        "urn:pcfx:product:p": l_ends, "urn:pcfx:product:q": l_ends}


def test_when_more_supplier_footprints_change_at_once_than_a_comment_can_name_every_result_says_how_many() -> None:
    # past the engine's EXACT_DRIVERS, every result of the batch shares one set of all the changed leaves:
    # each result still gets the comment and the batch's latest publish time
    engine, tables, count = Engine(), Tables(), 70
    steels = [f"urn:gtin:40000000{i:05d}" for i in range(count)]

    def supplied(i: int, version: int) -> Update:
        footprint = supplier_footprint(f"{version:08d}-0000-4000-8000-{i:012d}", str(version), NOW + timedelta(days=version))
        footprint = footprint.model_copy(update={"product_ids": [steels[i]]})
        return Update(f"leaf:{steels[i]}", footprint, 1_000 * version + i)

    def frame(name: str, steel: str) -> Update:
        document = frame_recipe().to_json()
        document.update(productIds=[name], inputs=[{"productId": steel, "quantity": "3", "unit": "kilogram"}])
        return Update(f"recipe:{name}", ProductRecipe.from_json(document), 1)

    step(engine, tables, frame("frame-a", steels[0]), frame("frame-b", steels[1]), *(supplied(i, 1) for i in range(count)))
    out = step(engine, tables, *(supplied(i, 2) for i in range(count)))
    published = [footprint for footprint in out.footprints if isinstance(footprint, ProductFootprint)]
    assert len(published) == 2
    for footprint in published:
        assert float(footprint.pcf.pcf_excluding_biogenic_uptake) == 1.5 + 3 * 2
        assert f"{count} supplier footprints changed at once" in footprint.comment
    assert out.upstream_of["frame-a"] == out.upstream_of["frame-b"] == 2_000 + count - 1


def test_a_result_solved_rounds_after_many_inputs_arrived_is_driven_by_the_supplier_footprints_behind_them() -> None:
    # on a shard: 70 results of other shards arrive in one round, one more in the next; the frame uses one of
    # each, so it waits, and the engine carries the first round's tokens (more than EXACT_DRIVERS: all of them)
    # into the second. They are told by the supplier footprints behind them, not left as tokens to travel on.
    def arrived(product: str) -> Boundary:
        leaf = Leaf(product, f"{product}@1", "kilogram", 1.0, 1.0, {"pcfExcludingBiogenicUptake": 2.0})
        return Boundary(1, product, leaf, None, None, (f"pf-behind-{product}",), 1_000)

    others, last = [f"urn:gtin:50000000{i:05d}" for i in range(70)], "urn:gtin:4000000000002"
    document = frame_recipe().to_json()
    document["inputs"] = [{"productId": p, "quantity": "1", "unit": "kilogram"} for p in (others[0], last)]
    engine, tables = Engine(), Tables()
    tables.write(recompute(engine, [Update("recipe:frame-0042", ProductRecipe.from_json(document), 1)], tables.view(),
                           NOW, wait=[*others, last]))
    first = [arrived(p) for p in others]
    tables.write(recompute(engine, [], tables.view(), NOW, outside=first, wait=[last]))
    out = recompute(engine, [], tables.view(), NOW, outside=[arrived(last)], earlier=first)
    assert out.drivers["frame-0042"] == {f"pf-behind-{p}" for p in (*others, last)}
