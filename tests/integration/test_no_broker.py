"""Every command that talks to Kafka, run where no broker listens (a refused address): one line that says to
run `pcfx kafka start`, a non-zero exit, no traceback, and no 30 s of a Kafka client's retries first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcfx.schemas.samples import FOOTPRINT

BUYER, SUPPLIER = "urn:pact:buyer.example:company-id:1", "urn:pact:supplier.example:company-id:1"


def inputs(folder: Path) -> dict[str, str]:
    (folder / "fp.json").write_text(json.dumps(FOOTPRINT))
    (folder / "p.csv").write_text("product_id,name,declared_unit,direct_kgco2e_per_unit\na,A,kilogram,1\nb,B,kilogram,2\n")
    (folder / "b.csv").write_text("product_id,input_product_id,quantity_per_unit\na,b,0.5\n")
    (folder / "bg.csv").write_text("dataset_id,name,declared_unit,value_kgco2e,reference_period_start,reference_period_end\n"
                                   "grid-js,Jiangsu grid,kilowatt hour,0.58,2024-01-01T00:00:00Z,2025-01-01T00:00:00Z\n")
    return {name: str(folder / name) for name in ("fp.json", "p.csv", "b.csv", "bg.csv")}


COMMANDS = {
    "publish": ["publish", "{fp.json}"],
    "footprints": ["footprints", "--format", "csv"],
    "footprints-settle": ["footprints", "--format", "json", "--settle"],
    "worker": ["worker", "--web-port", "0"],
    "import": ["import", "--products", "{p.csv}", "--bom", "{b.csv}"],
    "subscribe": ["subscribe", "--buyer", BUYER, "--product", "0042"],
    "entitle": ["entitle", "--supplier", SUPPLIER, "--buyer", BUYER, "--product", "0042"],
    "watch": ["watch", "--buyer", BUYER],
    "background-import": ["background", "import", "--source", "Jiangsu PCF database", "--version", "2024.1", "{bg.csv}"],
    "topics": ["topics"],
    "pull": ["pull", "--url", "https://127.0.0.1:9/pact", "--client-id", "a", "--client-secret", "b"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_without_a_broker_says_so_in_one_line(name, refused_address, tmp_path):
    files = inputs(tmp_path)
    args = [files[arg[1:-1]] if arg.startswith("{") else arg for arg in COMMANDS[name]]
    env = {**os.environ, "PCFX_BOOTSTRAP_SERVERS": refused_address, "PCFX_DATA_DIR": str(tmp_path / "data")}
    # the timeout only bounds a hang; the command ends after one refused TCP connect
    done = subprocess.run([sys.executable, "-m", "pcfx.cli", *args], env=env, capture_output=True, text=True, timeout=25)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert output.splitlines() == [
        f"Error: no Kafka broker answers at {refused_address} (PCFX_BOOTSTRAP_SERVERS): start one with "
        "`pcfx kafka start`, or point PCFX_BOOTSTRAP_SERVERS at yours"
    ]


def test_a_bootstrap_setting_that_is_no_address_is_named(tmp_path):
    env = {**os.environ, "PCFX_BOOTSTRAP_SERVERS": "localhost", "PCFX_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pcfx.cli", "topics"], env=env, capture_output=True, text=True, timeout=25)
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: PCFX_BOOTSTRAP_SERVERS = 'localhost': not host:port[,host:port...]"
