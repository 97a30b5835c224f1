"""A cycle that amplifies itself, through a real worker on the real broker: the status of each product says so,
and no derived footprint (hence no label) is published for it."""

from __future__ import annotations

from pathlib import Path

from supply_chains import derived_footprints, recipe
from workers import start_worker, stop_worker

from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.kafka_io import settle
from pcfx.connectors.supplier import SupplierClient, as_recipe
from pcfx.settings import Settings

WAIT_S = 180.0


def test_steel_and_power_amplifying_each_other_get_an_error_status_and_no_footprint(settings: Settings, tmp_path: Path) -> None:
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        with SupplierClient(settings) as supplier:  # steel: 10 kWh per kg; power: 0.2 kg of steel per kWh
            supplier.publish_recipes([as_recipe(recipe("steel", {"power": "10"})), as_recipe(recipe("power", {"steel": "0.2"})),
                                      as_recipe(recipe("bike", {"steel": "3"}))])
        settle(settings, WAIT_S)
        statuses = current_statuses(settings)
        cycle = ("no meaningful footprint: the cycle through 'power', 'steel' (2 products) amplifies itself "
                 "(loop gain: spectral radius 1.414 >= 1)")
        assert {p: (statuses[p].state, statuses[p].reasons) for p in ("steel", "power")} == {
            "steel": ("error", [cycle]), "power": ("error", [cycle])}
        assert statuses["bike"].state == "error"
        assert statuses["bike"].reasons == ["no meaningful footprint: input 'steel' has none (a cycle upstream amplifies itself)"]
        assert derived_footprints(settings) == []
    finally:
        stop_worker(worker)
