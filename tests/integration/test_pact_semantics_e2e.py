"""Issue 15 on the real broker, through a real ``pcfx worker``: the rolled-up declarations of a derived
footprint, its validity bounded by its inputs', and an input that expires while nothing else happens.

The chain is the worked example of docs/contract.md: one frame (1 kg) uses 10 kg of steel (2 kgCO2e/kg,
20 % exempted, AR5) and 4 kg of paint (0.5 kgCO2e/kg, none exempted, AR6) plus 13 kgCO2e of its own:
total 35, exempted 10 x 0.5 = 5, so 5 / 40 = 12.5 %.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pact_host import wait_for
from supply_chains import recipe, supplier_footprint
from workers import start_worker, stop_worker

from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.kafka_io import read_to_end, settle
from pcfx.connectors.supplier import SupplierClient, as_footprint, as_recipe
from pcfx.schemas.models import FootprintRequest, ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model
from pcfx.streams.derive import product_urn

WAIT_S = 180.0
STEEL_ID, PAINT_ID = "7a0c1e52-3b4d-4e6f-8a9b-0c1d2e3f4a01", "7a0c1e52-3b4d-4e6f-8a9b-0c1d2e3f4a02"
STEEL, PAINT = product_urn("steel"), product_urn("paint")
VALID_FOR_S = 25  # the steel footprint's validity, counted from its publication


@pytest.fixture
def worker(settings: Settings, tmp_path: Path):
    settings = settings.model_copy(update={"label_expiry_check_s": 0.5})
    process = start_worker(settings, tmp_path / "worker.log")
    yield settings
    stop_worker(process)


def steel_valid_until(ends: datetime) -> ProductFootprint:
    document = supplier_footprint("steel", STEEL_ID, "2")
    reference_end = ends - timedelta(days=30)
    document["pcf"].update(exemptedEmissionsPercent="20", ipccCharacterizationFactors=["AR5"],
                           referencePeriodStart=_iso(reference_end - timedelta(days=365)), referencePeriodEnd=_iso(reference_end))
    document.update(validityPeriodStart=_iso(reference_end), validityPeriodEnd=_iso(ends))
    return as_footprint(document)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def frame_derived(settings: Settings) -> list[ProductFootprint]:
    return [f for f in read_to_end(settings, settings.topic("derived"), lambda _k, v: decode_model(ProductFootprint, v))
            if f.product_ids == [product_urn("frame")]]


def test_derived_declarations_roll_up_and_an_input_that_expires_holds_its_users(worker: Settings) -> None:
    settings = worker
    paint = supplier_footprint("paint", PAINT_ID, "0.5")
    paint["pcf"].update(exemptedEmissionsPercent="0", ipccCharacterizationFactors=["AR6"])
    frame = recipe("frame", {STEEL: "10", PAINT: "4"}, own="13")
    frame.update(crossSectoralStandards=["ISO14067", "GB/T 24067"], certificationScheme="Jiangsu carbon label pilot")
    with SupplierClient(settings) as supplier:
        supplier.publish_footprints([as_footprint(paint)])
        supplier.publish_recipes([as_recipe(frame)])
    settle(settings, WAIT_S)  # the worker is up: the frame waits for its steel
    assert current_statuses(settings)["frame"].state == "incomplete"

    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=VALID_FOR_S)
    with SupplierClient(settings) as supplier:
        supplier.publish_footprints([steel_valid_until(ends)])
    settle(settings, WAIT_S)
    assert datetime.now(UTC) < ends, "the machine took longer than the steel's validity to settle"
    complete = current_statuses(settings)["frame"]
    assert complete.state == "complete"
    [footprint] = [f for f in frame_derived(settings) if f.id == complete.pf_id]
    pcf = footprint.pcf
    assert (pcf.pcf_excluding_biogenic_uptake, pcf.exempted_emissions_percent) == ("35.0", "12.5")
    assert pcf.ipcc_characterization_factors == ["AR5", "AR6"]
    assert pcf.cross_sectoral_standards == ["ISO14067", "GB/T 24067"]
    [rule] = pcf.product_or_sector_specific_rules
    assert (rule.operator, rule.rule_names, rule.other_operator_name) == ("Other", ["PCR-BIKE-FRAME"], "Jiangsu carbon label pilot")
    assert footprint.validity_period_end == ends  # never valid beyond the steel
    assert uuid.UUID(footprint.id).version == 4
    assert footprint.extensions[0].data_schema == settings.api_base_url() + "/extensions/direct-inputs/1.0.0/schema.json"

    # Nothing is published from here on: the worker notices the expiry by itself.
    held = wait_for(lambda: (s := current_statuses(settings)["frame"]).state == "incomplete" and s, "the frame held after the steel expired",
                    timeout_s=VALID_FOR_S + WAIT_S, poll_s=0.5)
    assert datetime.now(UTC) >= ends
    assert held.missing == [STEEL] and held.pf_id is None
    assert held.reasons == [f"input {STEEL!r}: its footprint {STEEL_ID} expired at {_iso(ends)} (validityPeriodEnd)"]
    requests = wait_for(lambda: [r for r in read_to_end(settings, settings.topic("outbound-requests"),
                                                         lambda _k, v: decode_model(FootprintRequest, v))
                                 if STEEL_ID in (r.comment or "")], "the request for a fresh steel footprint",
                        WAIT_S, poll_s=0.5)
    assert [r.product_id for r in requests] == [[STEEL]]


def test_an_input_that_expired_while_no_worker_ran_holds_its_users_after_the_restart(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"label_expiry_check_s": 0.5})
    paint = supplier_footprint("paint", PAINT_ID, "0.5")
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        with SupplierClient(settings) as supplier:
            supplier.publish_footprints([as_footprint(paint)])
            supplier.publish_recipes([as_recipe(recipe("frame", {STEEL: "10", PAINT: "4"}, own="13"))])
        settle(settings, WAIT_S)
        ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=VALID_FOR_S)
        with SupplierClient(settings) as supplier:
            supplier.publish_footprints([steel_valid_until(ends)])
        settle(settings, WAIT_S)
        assert datetime.now(UTC) < ends, "the machine took longer than the steel's validity to settle"
        assert current_statuses(settings)["frame"].state == "complete"
    finally:
        stop_worker(worker)
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 1)  # the steel expires with no worker up
    assert current_statuses(settings)["frame"].state == "complete"
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        held = wait_for(lambda: (s := current_statuses(settings)["frame"]).state == "incomplete" and s,
                        "the restarted worker holding the frame", WAIT_S, poll_s=0.5)
    finally:
        stop_worker(worker)
    assert held.missing == [STEEL] and "expired" in held.reasons[0]
    frames = frame_derived(settings)
    assert [f.status for f in frames].count("Active") == 1  # nothing published twice across the restart
