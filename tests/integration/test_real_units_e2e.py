"""Real units through the real exchange: ``pcfx import`` of the three graphs of ``unit_graphs`` (an
input-output table in USD, a Brightway-like chain, a Chinese BOM) on the broker, then ``pcfx footprints
--settle``: every total equals an independent dense solve, and only products in a unit PACT has are
published over PACT, in PACT's unit."""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from supply_chains import derived_footprints
from unit_graphs import all_graphs
from workers import start_worker, stop_worker

from pcfx.connectors.footprints_cli import current_statuses
from pcfx.settings import Settings
from pcfx.streams.derive import product_urn

WAIT_S = 180.0
RELATIVE = 1e-9
NOT_IN_PACT = {"transport": "kilometer", "铜缆": "米", "S07": "USD (2013, producer price)", "M3": "Mill USD"}


@pytest.fixture
def worker(settings: Settings, tmp_path: Path):
    process = start_worker(settings, tmp_path / "worker.log")
    yield process
    stop_worker(process)


def test_import_then_footprints_settle_gives_exact_totals_in_real_units(settings, tmp_path, worker):
    graph = all_graphs()
    products, bom = graph.write(tmp_path)
    env = {**os.environ, **settings.to_env()}
    pcfx = [sys.executable, "-m", "pcfx.cli"]
    imported = subprocess.run([*pcfx, "import", "--products", str(products), "--bom", str(bom)], env=env,
                              capture_output=True, text=True, check=True)
    assert imported.stdout.startswith(f"published {len(graph.products)} recipe(s)")
    shown = subprocess.run([*pcfx, "footprints", "--format", "csv", "--settle", "--timeout", str(WAIT_S)], env=env,
                           capture_output=True, text=True, check=True)
    rows = {row["product_id"]: row for row in csv.DictReader(io.StringIO(shown.stdout))}
    expected = graph.expected()
    assert rows.keys() == expected.keys()
    for product, total in expected.items():
        assert rows[product]["state"] == "complete", rows[product]
        assert math.isclose(float(rows[product]["total_kgco2e_per_unit"]), total, rel_tol=RELATIVE), product

    statuses = current_statuses(settings)
    for product, unit in NOT_IN_PACT.items():
        assert rows[product]["pf_id"] == ""
        assert f"declared unit {unit!r} has no PACT" in statuses[product].reasons[0]
    footprints = {f.product_ids[0]: f for f in derived_footprints(settings) if f.status == "Active"}
    assert not {product_urn(p) for p in NOT_IN_PACT} & footprints.keys()
    steel = footprints[product_urn("钢材")]
    assert (steel.pcf.declared_unit_of_measurement, steel.pcf.declared_unit_amount) == ("kilogram", "1000")
    assert steel.id == rows["钢材"]["pf_id"]
    assert footprints[product_urn("delivered")].pcf.declared_unit_of_measurement == "piece"
