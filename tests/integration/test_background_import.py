"""`pcfx background import` on the real broker, and a real worker recomputing a product that uses the
database's datasets when a new database version arrives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
from workers import start_worker, stop_worker

from pcfx.connectors.kafka_io import read_to_end
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

SAMPLE = Path(str(resources.files("pcfx.connectors").joinpath("data/background-sample.csv")))
SOURCE = "Yangtze Delta PCF database (SAMPLE)"
STEEL, GRID = "urn:pcfx:product:CN-JS-hot-rolled-steel", "urn:pcfx:product:CN-JS-grid-electricity"
FRAME = "frame-js"


def background_import(settings: Settings, version: str, csv_file: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pcfx.cli", "background", "import", "--source", SOURCE, "--version", version,
               *options, str(csv_file)]
    return subprocess.run(command, env={**os.environ, **settings.to_env()}, capture_output=True, text=True, timeout=120)


def footprints(settings: Settings, topic: str) -> list[ProductFootprint]:
    return list(read_to_end(settings, settings.topic(topic), lambda _key, value: decode_model(ProductFootprint, value)))


def next_version(tmp_path: Path) -> Path:
    """The sample with steel at 1.95 and Jiangsu electricity at 0.600 kgCO2e per unit (version 2025.1)."""
    text = SAMPLE.read_text().replace(",0.652,", ",0.600,").replace(",2.05,", ",1.95,")
    path = tmp_path / "background-2025.csv"
    path.write_text(text)
    return path


def test_importing_a_version_twice_publishes_it_once_and_a_new_version_deprecates_the_old(settings: Settings, tmp_path: Path) -> None:
    trial = background_import(settings, "2024.1", SAMPLE, "--dry-run")
    assert "would publish 6 new footprint(s)" in trial.stdout and footprints(settings, "footprints") == []
    first, again = background_import(settings, "2024.1", SAMPLE), background_import(settings, "2024.1", SAMPLE)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert "6 new footprint(s), 0 previous version(s) deprecated, 0 unchanged" in first.stdout
    assert "0 new footprint(s), 0 previous version(s) deprecated, 6 unchanged" in again.stdout
    assert len(footprints(settings, "footprints")) == 6
    newer = background_import(settings, "2025.1", next_version(tmp_path))
    assert "6 new footprint(s), 6 previous version(s) deprecated" in newer.stdout, newer.stderr
    records = footprints(settings, "footprints")
    assert len(records) == 6 + 2 * 6
    latest = {pf.product_ids[0]: pf for pf in records}  # what compaction keeps: the last record per key
    assert {pf.status for pf in latest.values()} == {"Active"}
    assert {s.version for pf in latest.values() for s in pf.pcf.secondary_emission_factor_sources} == {"2025.1"}


def test_a_new_database_version_recomputes_the_products_that_use_it(settings: Settings, tmp_path: Path) -> None:
    # 1 kgCO2e of the frame's own + 4.2 kg steel + 10 kWh of Jiangsu electricity, per database version
    old_total, new_total = 1 + 4.2 * 2.05 + 10 * 0.652, 1 + 4.2 * 1.95 + 10 * 0.600
    assert background_import(settings, "2024.1", SAMPLE).returncode == 0
    with SupplierClient(settings) as client:
        client.publish_recipes([frame_recipe()])
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        before = wait_for_frame(settings, old_total)
        assert background_import(settings, "2025.1", next_version(tmp_path)).returncode == 0
        after = wait_for_frame(settings, new_total)  # steel and electricity may arrive in separate batches
    finally:
        stop_worker(worker)
    assert [(s.name, s.version) for s in before.pcf.secondary_emission_factor_sources] == [(SOURCE, "2024.1")]
    assert [(s.name, s.version) for s in after.pcf.secondary_emission_factor_sources] == [(SOURCE, "2025.1")]


def frame_recipe() -> ProductRecipe:
    return ProductRecipe.from_json({
        "recipeId": "frame-js-2025", "productIds": [FRAME], "companyName": "Wuxi Frames",
        "companyIds": ["urn:pact:wuxi-frames.cn:company-id:1"], "productNameCompany": "Frame JS",
        "declaredUnitOfMeasurement": "piece", "declaredUnitAmount": "1", "productMassPerDeclaredUnit": "4.2",
        "ownEmissions": {"pcfExcludingBiogenicUptake": "1", "fossilGhgEmissions": "1"},
        "primaryDataShare": "100", "dqi": {"technologicalDQR": "1", "geographicalDQR": "1", "temporalDQR": "1"},
        "referencePeriodStart": "2024-01-01T00:00:00Z", "referencePeriodEnd": "2025-01-01T00:00:00Z",
        "inputs": [{"productId": STEEL, "quantity": "4.2", "unit": "kilogram"},
                   {"productId": GRID, "quantity": "10", "unit": "kilowatt hour"}],
        "updated": "2025-02-01T10:00:00Z",
    })


def wait_for_frame(settings: Settings, total: float, timeout_s: float = 120.0) -> ProductFootprint:
    """The frame's Active derived footprint once its pcfExcludingBiogenicUptake is ``total``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pf in footprints(settings, "derived"):
            if pf.status == "Active" and float(pf.pcf.pcf_excluding_biogenic_uptake) == pytest.approx(total):
                return pf
        time.sleep(0.5)
    raise AssertionError(f"no derived footprint of {FRAME} with {total} kgCO2e within {timeout_s} s")
