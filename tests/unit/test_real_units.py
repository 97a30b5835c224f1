"""Graphs in the units ERP and LCA tools export: ``pcfx compute`` and the worker's step give totals equal to an
independent dense solve; the declared unit decides what is published over PACT (docs/units.md)."""

import csv
import math
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from unit_graphs import GRAPHS, all_graphs

from pcfx.cli import main
from pcfx.connectors.import_cli import recipe_documents
from pcfx.schemas.models import ProductRecipe
from pcfx.streams.derive import Deprecation
from pcfx.streams.engine import Engine
from pcfx.streams.recompute import TableView, Update, recompute

RELATIVE = 1e-9


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_compute_totals_match_a_dense_solve(tmp_path, name):
    graph = GRAPHS[name]()
    products, bom = graph.write(tmp_path)
    out = tmp_path / "totals.csv"
    result = CliRunner().invoke(main, ["compute", "--products", str(products), "--bom", str(bom), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {row["product_id"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    expected = graph.expected()
    assert rows.keys() == expected.keys()
    for product, total in expected.items():
        assert rows[product]["complete"] == "true", rows[product]
        assert math.isclose(float(rows[product]["total_kgco2e_per_unit"]), total, rel_tol=RELATIVE), product


def test_the_io_table_is_dense_and_one_cycle():
    graph = GRAPHS["io_table"]()
    usd = [line for line in graph.lines if line[0].startswith("S")]
    assert len(usd) > 0.7 * 40 * 40
    assert {line[3] for line in usd} >= {"", "USD (2013, producer price)", "usd (2013,  producer price)"}


def stream_step(tmp_path):
    """The worker's pure recompute step on the recipes ``pcfx import`` publishes for all three graphs."""
    graph = all_graphs()
    products, bom = graph.write(tmp_path)
    now = datetime(2026, 1, 5, tzinfo=timezone.utc)
    recipes = [ProductRecipe.from_json(document) for document in recipe_documents(products, bom, now)]
    updates = [Update(f"recipe:{r.product_ids[0]}", r, 0) for r in recipes]
    empty = TableView(input=lambda _k: None, summary=lambda _k: None, published=lambda _p: None, requested=lambda _p: False)
    return graph, recompute(Engine(), updates, empty, now)


def test_the_streaming_step_gives_the_same_exact_totals(tmp_path):
    graph, out = stream_step(tmp_path)
    statuses = {s.product_id: s for s in out.statuses}
    expected = graph.expected()
    assert statuses.keys() == expected.keys()
    for product, total in expected.items():
        assert statuses[product].state == "complete", statuses[product]
        assert math.isclose(float(statuses[product].pcf_excluding_biogenic_uptake), total, rel_tol=RELATIVE), product


def test_aliases_publish_pact_footprints_in_the_pact_unit_exactly(tmp_path):
    _, out = stream_step(tmp_path)
    pcf = {product: out.published[product].pcf for product in ("钢材", "螺钉", "电力", "空调", "part")}
    assert (pcf["钢材"].declared_unit_of_measurement, pcf["钢材"].declared_unit_amount) == ("kilogram", "1000")
    assert (pcf["螺钉"].declared_unit_of_measurement, pcf["螺钉"].declared_unit_amount) == ("piece", "1000")
    assert (pcf["电力"].declared_unit_of_measurement, pcf["电力"].declared_unit_amount) == ("kilowatt hour", "1")
    assert pcf["空调"].declared_unit_of_measurement == "piece"
    assert pcf["part"].declared_unit_of_measurement == "piece"  # Brightway's "unit"


def test_a_unit_without_pact_equivalent_gets_totals_and_status_but_no_pact_footprint(tmp_path):
    _, out = stream_step(tmp_path)
    statuses = {s.product_id: s for s in out.statuses}
    for product, unit in (("S00", "USD (2013, producer price)"), ("M0", "Mill USD"), ("transport", "kilometer"), ("铜缆", "米")):
        status = statuses[product]
        assert product not in out.published
        assert (status.state, status.pf_id) == ("complete", None)
        assert status.pcf_excluding_biogenic_uptake is not None
        assert status.reasons == [f"not published as a PACT footprint: declared unit {unit!r} has no PACT "
                                  "declaredUnitOfMeasurement (the total above is per that unit)"]
    # a consumer of such a product is published, its direct-inputs line naming no footprint for that input
    delivered = out.published["delivered"]
    lines = delivered.extensions[0].data["directInputs"]
    assert [line.get("pfId") for line in lines if line.get("unit") in ("km", "m")] == [None, None]
    published_ids = {f.id for f in out.footprints if not isinstance(f, Deprecation)}
    assert all(line["pfId"] in published_ids for line in lines if line.get("unit") not in ("km", "m"))


def test_a_recipe_re_declared_in_a_unit_pact_lacks_withdraws_its_footprint():
    from pcfx.schemas import samples
    from pcfx.schemas.models import ProductRecipe
    from pcfx.streams.derive import published_of

    def recipe(unit: str, own: str, updated: str) -> ProductRecipe:
        doc = {**samples.RECIPE, "productIds": ["sector"], "declaredUnitOfMeasurement": unit, "inputs": [],
               "ownEmissions": {"pcfExcludingBiogenicUptake": own}, "updated": updated}
        return ProductRecipe.from_json(doc)

    published, engine, now = {}, Engine(), datetime(2026, 1, 5, tzinfo=timezone.utc)
    view = TableView(input=lambda _k: None, summary=lambda _k: None, published=published.get, requested=lambda _p: False)
    first = recompute(engine, [Update("recipe:sector", recipe("kilogram", "2.5", "2026-01-01T00:00:00Z"), 0)], view, now)
    footprint = first.published["sector"]
    published["sector"] = published_of(footprint)

    second = recompute(engine, [Update("recipe:sector", recipe("Mill USD", "410", "2026-01-02T00:00:00Z"), 0)], view, now)
    assert second.footprints == [Deprecation("sector", footprint.id)]
    assert second.withdrawn == ["sector"] and second.published == {}
    status = second.statuses[0]
    assert (status.state, status.pf_id) == ("complete", None) and "'Mill USD' has no PACT" in status.reasons[0]


def test_import_gives_a_mass_declared_unit_its_own_mass_when_the_csv_has_none(tmp_path):
    _, out = stream_step(tmp_path)
    assert out.published["钢材"].pcf.product_mass_per_declared_unit == "1000"  # 1 吨, published as 1000 kilogram
    assert out.published["steel"].pcf.product_mass_per_declared_unit == "1"
    assert out.published["电力"].pcf.product_mass_per_declared_unit == "0"  # energy: no mass given


def test_a_product_without_pact_footprint_still_gets_labels_in_its_own_unit(tmp_path):
    from pcfx.connectors.import_cli import DEFAULT_COMPANY
    from pcfx.connectors.label_svg import render_label_svg
    from pcfx.schemas.subscriptions import Subscription
    from pcfx.streams.derive import product_urn
    from pcfx.streams.labels import FootprintSeen, issue

    graph, out = stream_step(tmp_path)
    assert set(out.offers) == {p for p, _, unit, _, _ in graph.products if unit in ("USD (2013, producer price)", "Mill USD", "kilometer", "米")}
    offer = out.offers["S07"]
    status = {s.product_id: s for s in out.statuses}["S07"]
    assert offer.value == status.pcf_excluding_biogenic_uptake
    now = datetime(2026, 1, 6, tzinfo=timezone.utc)
    urn = product_urn("S07")
    state, _ = issue(None, urn, FootprintSeen(offer), now)
    subscription = Subscription(buyer_id=DEFAULT_COMPANY, product_id=urn, active=True, created_at=now)
    _, sent = issue(state, urn, subscription, now)
    [label] = [s.label for s in sent.labels]
    assert (label.value, label.declared_unit_of_measurement, label.declared_unit_amount) == (
        offer.value, "USD (2013, producer price)", "1.0")
    assert "per 1.0 USD (2013, producer price)" in render_label_svg(label)
    (tmp_path / "again").mkdir()
    again = stream_step(tmp_path / "again")[1]
    assert again.offers["S07"].pf_id == offer.pf_id  # a replay makes the same result id
