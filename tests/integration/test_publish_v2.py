"""`pcfx publish` with a PACT v2 footprint: converted to v3, then on the real broker as Avro."""

from __future__ import annotations

import os
import subprocess
import sys

from pact_reference import EXAMPLES

from pcfx.connectors.kafka_io import read_to_end
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

V2_EXAMPLE = EXAMPLES / "v2" / "get-footprint-response.json"
ETHANOL_ID = "d6a0f3c8-5e17-4b92-8c4d-1f2e9a7b0c35"  # the soybean oil of pcfx's own v2.3 example


def publish(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pcfx.cli", "publish", str(V2_EXAMPLE), *args]
    return subprocess.run(command, env={**os.environ, **settings.to_env()}, capture_output=True, text=True, timeout=120)


def test_the_v2_example_is_refused_then_published_as_v3_once_its_density_is_given(settings: Settings) -> None:
    refused = publish(settings)
    assert refused.returncode == 1 and "pcf.productMassPerDeclaredUnit: missing" in refused.stderr
    accepted = publish(settings, "--v2-mass", f"{ETHANOL_ID}=0.92")
    assert accepted.returncode == 0, accepted.stderr
    assert "published 1 footprint(s) (1 converted from PACT v2)" in accepted.stdout
    [footprint] = read_to_end(settings, settings.topic("footprints"), lambda _k, value: decode_model(ProductFootprint, value))
    assert (footprint.id, footprint.spec_version) == (ETHANOL_ID, "3.0.3")
    assert footprint.pcf.pcf_excluding_biogenic_uptake == "3.04"  # 2.04 + 0.5 + 0.3 + 0.2
    assert any("pcf.dqi" in note for note in footprint.normalisations)
