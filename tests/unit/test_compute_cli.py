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


def test_an_amplifying_cycle_is_reported_per_product_not_written_as_a_total(tmp_path):
    result, rows = run(
        tmp_path,
        "product_id,name,declared_unit,direct_kgco2e_per_unit\nsteel,steel,kilogram,1\npower,power,kilowatt hour,0.5",
        "product_id,input_product_id,quantity_per_unit\nsteel,power,10\npower,steel,0.2",
    )
    assert result.exit_code == 0
    assert "2 without a meaningful footprint" in result.output
    for product in ("steel", "power"):
        assert rows[product]["total_kgco2e_per_unit"] == "" and rows[product]["complete"] == "false"
        assert "spectral radius 1.414 >= 1" in rows[product]["problems"]
        assert f"  {product}: no meaningful footprint: the cycle through 'power', 'steel'" in result.output


def test_the_terminal_shows_totals_rounded_for_people_and_the_csv_keeps_them_exact(tmp_path):
    result, rows = run(
        tmp_path,
        "product_id,name,declared_unit,direct_kgco2e_per_unit,dqr_technological,dqr_geographical,dqr_temporal\n"
        "a,A,kilogram,0.1,5,4.9999,5\nb,B,kilogram,0.2,5,5,5\nc,C,kilogram,0.3,4.9,5,5",
        "product_id,input_product_id,quantity_per_unit\na,b,0.7\na,c,0.3",
    )
    # 0.1 + 0.7 x 0.2 + 0.3 x 0.3 = 0.33, as a float 0.32999999999999996; DQR by contribution (0.1, 0.14, 0.09):
    # technological (0.1 x 5 + 0.14 x 5 + 0.09 x 4.9) / 0.33 = 4.9727..., geographical 4.99997 -> 5
    assert rows["a"]["total_kgco2e_per_unit"] == repr(0.1 + 0.7 * 0.2 + 0.3 * 0.3)
    assert "  a: 0.33 kgCO2e per declared unit, PDS 0 %, DQR 4.97/5/5" in result.output.splitlines()
