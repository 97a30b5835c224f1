"""products.csv / bom.csv as read for ``pcfx compute`` (floats) and for ``pcfx import`` (quantities as written)."""

from datetime import datetime, timezone

import pytest

from pcfx.connectors.csv_io import CsvError, read_graph, read_tables
from pcfx.connectors.import_cli import recipe_documents
from pcfx.schemas.models import ProductRecipe

PRODUCTS = "product_id,name,declared_unit,direct_kgco2e_per_unit\ndoor,door,piece,1\nsteel,steel,kilogram,2\n"
NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)


def tables(tmp_path, bom: str, products: str = PRODUCTS):
    (tmp_path / "p.csv").write_text(products)
    (tmp_path / "b.csv").write_text(bom)
    return tmp_path / "p.csv", tmp_path / "b.csv"


def imported_inputs(products_path, bom_path) -> list[dict]:
    """The door's inputs as ``pcfx import`` sends them, validated as the client validates them."""
    door = next(d for d in recipe_documents(products_path, bom_path, NOW) if d["productIds"] == ["door"])
    return ProductRecipe.from_json(door).to_json()["inputs"]


def test_an_import_sends_each_quantity_exactly_as_bom_csv_wrote_it(tmp_path):
    digits = "0.12345678901234567890123"  # more digits than a float keeps
    products, bom = tables(tmp_path, "product_id,input_product_id,quantity_per_unit,unit\n"
                                     f"door,steel,{digits},kilogram\ndoor,steel,1.50,\ndoor,steel,-2,\n")
    assert [line["quantity"] for line in imported_inputs(products, bom)] == [digits, "1.50", "-2"]


def test_a_quantity_in_another_notation_is_written_out_exactly(tmp_path):
    products, bom = tables(tmp_path, "product_id,input_product_id,quantity_per_unit\n"
                                     "door,steel,1e-3\ndoor,steel, .5 \ndoor,steel,2.5E+2\n")
    assert [line["quantity"] for line in imported_inputs(products, bom)] == ["0.001", "0.5", "250"]


def test_pcfx_compute_reads_the_same_lines_as_floats(tmp_path):
    products, bom = tables(tmp_path, "product_id,input_product_id,quantity_per_unit,unit\n"
                                     "door,steel,2.5,kilogram\n\ndoor,steel,1e-3\n")
    events, leaves = read_graph(products, bom)
    door = next(e for e in events if e.product_id == "door").recipe
    assert [(i.product_id, i.quantity, i.unit) for i in door.inputs] == [("steel", 2.5, "kilogram"), ("steel", 0.001, None)]
    assert set(leaves) == {"steel"}


@pytest.mark.parametrize(("line", "column", "problem"), [
    ("door,steel,", "quantity_per_unit", "is empty"),
    ("door,steel,lots", "quantity_per_unit", "'lots' is not a number"),
    ("door,steel,inf", "quantity_per_unit", "'inf' is not a finite number"),
    ("door,,1", "input_product_id", "is empty"),
    ("window,steel,1", "product_id", "'window' is not in"),
])
def test_a_bad_bom_line_is_refused_naming_file_line_and_column(tmp_path, line, column, problem):
    products, bom = tables(tmp_path, f"product_id,input_product_id,quantity_per_unit\ndoor,steel,1\n{line}\n")
    for read in (read_tables, read_graph):
        with pytest.raises(CsvError) as caught:
            read(products, bom)
        assert f"b.csv line 3: column '{column}': {problem}" in str(caught.value)


def test_a_bom_without_its_columns_is_refused_naming_them(tmp_path):
    products, bom = tables(tmp_path, "product,input,qty\ndoor,steel,1\n")
    with pytest.raises(CsvError, match="missing column"):
        read_tables(products, bom)


def test_a_product_listed_twice_is_refused(tmp_path):
    products, bom = tables(tmp_path, "product_id,input_product_id,quantity_per_unit\n", PRODUCTS + "door,door,piece,3\n")
    with pytest.raises(CsvError, match="p.csv line 4: column 'product_id': 'door' appears twice"):
        read_tables(products, bom)
