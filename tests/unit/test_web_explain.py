"""connectors/web/explain.py: a derived total split into its direct inputs and own emissions, and what moved.

By hand: steel = 0.5 own + 1.5 kg of ore. Ore at 2 kgCO2e/kg gives 3.5; ore at 3 gives 0.5 + 4.5 = 5.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from pcfx.connectors.web.explain import changes, explain
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.derive import inputs_schema_url

ORE = "urn:pact:ore.example:product-id:ore-1"


def supplier_footprint(pf_id: str, value: str, *, amount: str = "1", unit: str = "kilogram") -> dict[str, Any]:
    document = copy.deepcopy(FOOTPRINT)
    document.update(id=pf_id, productIds=[ORE], productNameCompany="Ore", companyName="Anhui Ore")
    document["pcf"].update(pcfExcludingBiogenicUptake=value, declaredUnitOfMeasurement=unit, declaredUnitAmount=amount)
    return document


def steel(pf_id: str, total: str, ore_pf: str, quantity: str = "1.5", unit: str | None = "kilogram",
          preceding: str | None = None) -> dict[str, Any]:
    line = {"pfId": ore_pf, "quantity": quantity, **({"unit": unit} if unit else {})}
    document = supplier_footprint(pf_id, total)
    document.update(productIds=["urn:pcfx:product:steel-1"], productNameCompany="Steel", companyName="Jiangsu Steel",
                    extensions=[{"dataSchema": inputs_schema_url("https://pcfx.example.cn"), "data": {"directInputs": [line]}}])
    if preceding:
        document["precedingPfIds"] = [preceding]
    return document


def lookup_in(*footprints: dict[str, Any]):  # noqa: ANN201
    by_id = {f["id"]: f for f in footprints}
    return by_id.get


def test_the_total_splits_into_the_input_times_its_quantity_and_the_own_emissions():
    ore, product = supplier_footprint("ore-1", "2"), steel("steel-1", "3.5", "ore-1")
    explanation = explain(product, lookup_in(ore))
    assert explanation is not None and explanation.total == Decimal("3.5")
    assert [(p.key, p.contribution) for p in explanation.parts] == [(ORE, Decimal("3.0")), ("", Decimal("0.5"))]


def test_an_input_declared_per_10_kg_counts_per_kilogram():
    ore = supplier_footprint("ore-1", "20", amount="10")  # 20 kgCO2e per 10 kg: 2 per kg
    explanation = explain(steel("steel-1", "3.5", "ore-1"), lookup_in(ore))
    assert explanation.parts[0].contribution == Decimal("3.0") and explanation.parts[1].contribution == Decimal("0.5")


def test_a_supplier_footprint_has_nothing_to_explain_and_a_missing_input_leaves_own_unknown():
    assert explain(supplier_footprint("ore-1", "2"), lookup_in()) is None
    explanation = explain(steel("steel-1", "3.5", "gone"), lookup_in())
    assert [p.contribution for p in explanation.parts] == [None, None]


def test_the_latest_change_names_the_input_that_moved_and_by_how_much():
    ore1, ore2 = supplier_footprint("ore-1", "2"), supplier_footprint("ore-2", "3")
    lookup = lookup_in(ore1, ore2)
    before = explain(steel("steel-1", "3.5", "ore-1"), lookup)
    after = explain(steel("steel-2", "5", "ore-2", preceding="steel-1"), lookup)
    moved = changes(before, after)
    assert [(m.key, m.before, m.after, m.delta) for m in moved] == [(ORE, Decimal("3.0"), Decimal("4.5"), Decimal("1.5"))]
    assert after.total - before.total == Decimal("1.5")  # own emissions (0.5) did not move
