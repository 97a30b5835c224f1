"""Real units through the real exchange: ``pcfx import`` of the three graphs of ``unit_graphs`` (an
input-output table in USD, a Brightway-like chain, a Chinese BOM) on the broker, then ``pcfx footprints
--settle``: every total equals an independent dense solve, and only products in a unit PACT has are
published over PACT, in PACT's unit; the others still get labels, in their own unit."""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pact_host import wait_for
from supply_chains import derived_footprints
from unit_graphs import all_graphs
from workers import start_worker, stop_worker

from pcfx.agents.topics import admin_client, buyer_topic_name
from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.import_cli import DEFAULT_COMPANY
from pcfx.connectors.kafka_io import read_to_end
from pcfx.schemas.models import CarbonLabel
from pcfx.streams.codec import decode_model
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

    # Labels: the owner subscribes to a USD sector and a kilometer service; each label is in the product's unit
    for product in ("S07", "transport"):
        answer = subprocess.run([*pcfx, "subscribe", "--buyer", DEFAULT_COMPANY, "--product", product], env=env,
                                capture_output=True, text=True)
        assert answer.returncode == 0, answer.stderr
    labels = wait_for(lambda: owner_labels(settings, 2), "the owner's two labels", WAIT_S, poll_s=0.3)
    assert {(label.declared_unit_of_measurement, label.value) for label in labels.values()} == {
        ("USD (2013, producer price)", statuses["S07"].pcf_excluding_biogenic_uptake),
        ("kilometer", statuses["transport"].pcf_excluding_biogenic_uptake),
    }


def owner_labels(settings: Settings, count: int) -> dict[str, CarbonLabel] | None:
    """The latest label per product on the CSV owner's own topic, once there are ``count`` of them."""
    topic = settings.topic(buyer_topic_name(DEFAULT_COMPANY))
    with admin_client(settings) as admin:
        if topic not in admin.list_topics():
            return None
    found = dict(read_to_end(settings, topic, lambda k, v: (k.decode(), decode_model(CarbonLabel, v))))
    return found if len(found) >= count else None

