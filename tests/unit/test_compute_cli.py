"""``pcfx compute`` on small CSV graphs whose totals can be checked by hand."""

import csv

import pytest
from click.testing import CliRunner

from pcfx.cli import main


def write(path, text):
    path.write_text(text.strip() + "\n")
    return str(path)


def run(tmp_path, products, bom):
    out = tmp_path / "totals.csv"
    result = CliRunner().invoke(
        main,
        ["compute", "--products", write(tmp_path / "p.csv", products), "--bom", write(tmp_path / "b.csv", bom), "--out", str(out)],
    )
    rows = {r["product_id"]: r for r in csv.DictReader(out.open())} if out.exists() else {}
    return result, rows


def test_two_level_bom_totals(tmp_path):
    result, rows = run(
        tmp_path,
        """
product_id,name,declared_unit,direct_kgco2e_per_unit,company
0042,steel sheet,kilogram,10,ACME
P-7,paint,liter,4,ACME
door,door,piece,1.5,Car Co
car,car,piece,100,Car Co
""",
        """
product_id,input_product_id,quantity_per_unit
door,0042,2
door,P-7,0.5
car,door,4
""",
    )
    assert result.exit_code == 0, result.output
    assert float(rows["door"]["total_kgco2e_per_unit"]) == 1.5 + 2 * 10 + 0.5 * 4
    assert float(rows["car"]["total_kgco2e_per_unit"]) == 100 + 4 * (1.5 + 2 * 10 + 0.5 * 4)
    assert float(rows["0042"]["total_kgco2e_per_unit"]) == 10  # a leaf: its direct value is its footprint
    assert list(rows) == ["0042", "P-7", "door", "car"]  # ids verbatim, input order
    assert rows["car"]["complete"] == "true"


def test_cycle_matches_the_closed_form_and_floats_round_trip(tmp_path):
    # power = 0.3 + 0.1 steel ; steel = 1.2 + 2 power + 1 * ore(0.7)
    result, rows = run(
        tmp_path,
        """
product_id,name,declared_unit,direct_kgco2e_per_unit
power,grid power,kilowatt hour,0.3
steel,steel,kilogram,1.2
ore,ore,kilogram,0.7
""",
        """
product_id,input_product_id,quantity_per_unit
power,steel,0.1
steel,power,2
steel,ore,1
""",
    )
    assert result.exit_code == 0, result.output
    steel = (1.2 + 2 * 0.3 + 0.7) / (1 - 2 * 0.1)
    assert float(rows["steel"]["total_kgco2e_per_unit"]) == pytest.approx(steel, rel=1e-15)
    assert float(rows["power"]["total_kgco2e_per_unit"]) == pytest.approx(0.3 + 0.1 * steel, rel=1e-15)
    written = rows["steel"]["total_kgco2e_per_unit"]
    assert repr(float(written)) == written


def test_units_and_optional_columns(tmp_path):
    result, rows = run(
        tmp_path,
        """
product_id,name,declared_unit,direct_kgco2e_per_unit,declared_amount,mass_per_unit,pds
wheel,wheel,piece,30,1,12,80
cart,cart,piece,0,,,100
""",
        """
product_id,input_product_id,quantity_per_unit,unit
cart,wheel,48,kilogram
""",
    )
    assert result.exit_code == 0, result.output
    assert float(rows["cart"]["total_kgco2e_per_unit"]) == 48 / 12 * 30
    assert float(rows["cart"]["pds"]) == 80.0  # own emissions are 0, so the wheel's PDS is all there is


def test_missing_input_is_reported_not_silent(tmp_path):
    result, rows = run(
        tmp_path,
        "product_id,name,declared_unit,direct_kgco2e_per_unit\ndoor,door,piece,1.5",
        "product_id,input_product_id,quantity_per_unit\ndoor,ghost,2",
    )
    assert result.exit_code == 0
    assert rows["door"]["complete"] == "false" and float(rows["door"]["coverage"]) == 0.0
    assert "input 'ghost' has no footprint" in rows["door"]["problems"]
    assert "1 incomplete" in result.output and "ghost" in result.output


def test_bad_cell_names_file_line_and_column(tmp_path):
    result, _ = run(
        tmp_path,
        "product_id,name,declared_unit,direct_kgco2e_per_unit\ndoor,door,piece,lots",
        "product_id,input_product_id,quantity_per_unit",
    )
    assert result.exit_code != 0
    assert "p.csv line 2: column 'direct_kgco2e_per_unit': 'lots' is not a number" in result.output


def test_an_empty_declared_unit_is_refused_naming_line_and_column(tmp_path):
    result, _ = run(
        tmp_path,
        "product_id,name,declared_unit,direct_kgco2e_per_unit\ndoor,door, ,1",
        "product_id,input_product_id,quantity_per_unit",
    )
    assert result.exit_code != 0
    assert "line 2: column 'declared_unit'" in result.output and "is empty" in result.output


def test_a_line_unit_of_another_dimension_is_reported_on_the_consumer(tmp_path):
    result, rows = run(
        tmp_path,
        "product_id,name,declared_unit,direct_kgco2e_per_unit\ncable,cable,米,1\nbox,box,件,2",
        "product_id,input_product_id,quantity_per_unit,unit\nbox,cable,3,kWh",
    )
    assert result.exit_code == 0
    assert rows["box"]["complete"] == "false"
    assert "input 'cable': unit: a quantity in 'kilowatt hour' cannot be converted to the input's declared unit 'meter'" in rows["box"]["problems"]
