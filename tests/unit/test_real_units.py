"""``pcfx compute`` on graphs in the units ERP and LCA tools export: totals equal an independent dense solve."""

import csv
import math

import pytest
from click.testing import CliRunner
from unit_graphs import GRAPHS

from pcfx.cli import main

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
