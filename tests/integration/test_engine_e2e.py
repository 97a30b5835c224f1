"""The incremental engine end to end on the real broker, through real ``pcfx worker`` processes.

The chain checked by hand: a supplier sells t5 (2 kgCO2e/kg, later 3); each tier above makes one kilogram
from 2 kg of the tier below plus 1 kgCO2e of its own:

    t4 = 1 + 2 x t5,  t3 = 1 + 2 x t4,  t2 = 1 + 2 x t3,  t1 = 1 + 2 x t2

Larger graphs (bench's synthetic supply graph: fan-out, cycles, credits) go in as ``pcfx import`` does and
come out compared with a clean run (the same records folded by the pure step in one batch) and with
``pcfx compute``: same states, same Active pf ids, totals equal to the last bits a different batching may
move (``RELATIVE_EPSILON``).
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaProducer
from supply_chains import (
    active_ids,
    compute_totals,
    csv_recipes,
    derived_footprints,
    final_state,
    offline_state,
    recipe,
    records_of,
    stream_totals,
    supplier_footprint,
    write_graph_csv,
)
from pact_host import wait_for
from workers import start_worker, stop_worker

from pcfx.agents.topics import admin_client
from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.kafka_io import confirm, end_offsets, read_to_end, settle
from pcfx.connectors.supplier import SupplierClient, as_footprint, as_recipe
from pcfx.schemas.models import DeadLetter, FootprintRequest, ProductFootprint, ProductRecipe
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn
from pcfx.streams.engine import RELATIVE_EPSILON

WAIT_S = 180.0  # settle timeout; a restarted worker first waits out the dead one's session
V1, V2 = "5d1e0a52-7d0e-4c55-9a57-3c1c1f0e2a11", "5d1e0a52-7d0e-4c55-9a57-3c1c1f0e2a22"
T5 = product_urn("t5")
Model = ProductFootprint | ProductRecipe
TIERS = (("t4", T5), ("t3", "t4"), ("t2", "t3"), ("t1", "t2"))


@pytest.fixture
def worker(settings: Settings, tmp_path: Path):
    process = start_worker(settings, tmp_path / "worker.log")
    yield process
    stop_worker(process)


def chain_records(t5_value: str = "2", t5_id: str = V1, created: str = "2025-01-15T08:00:00Z") -> list[Model]:
    """The t5 supplier footprint, then the recipes of t4..t1."""
    footprint = as_footprint(supplier_footprint("t5", t5_id, t5_value, created))
    return [footprint, *(as_recipe(recipe(p, {i: "2"})) for p, i in TIERS)]


def publish(settings: Settings, records: list[Model]) -> None:
    """As suppliers do, through the client: footprints first, then recipes.

    Footprints and recipes travel on different topics, read by different agents, so a recipe may overtake a
    footprint sent just before it (the product is then briefly held and its input requested). Settling in
    between makes "footprints first" hold inside the exchange too, so the records a test counts are fixed.
    """
    footprints = [r for r in records if isinstance(r, ProductFootprint)]
    recipes = [r for r in records if isinstance(r, ProductRecipe)]
    with SupplierClient(settings) as supplier:
        supplier.publish_footprints(footprints)
        if footprints and recipes:
            settle(settings, WAIT_S)
        supplier.publish_recipes(recipes)


def records_on(settings: Settings, *names: str) -> int:
    """How many records the topics hold (their end offsets summed)."""
    return sum(end_offsets(settings, [settings.topic(name) for name in names]).values())


def assert_same_as_clean_run(settings: Settings, records: list[ProductRecipe]) -> None:
    """The exchange's final word equals a clean run's, and PACT's rule holds: one Active footprint per product."""
    clean, streamed = offline_state(records), final_state(settings)
    assert streamed.keys() == clean.keys()
    for product, (state, total, pf_id) in clean.items():
        assert streamed[product][0::2] == (state, pf_id), product
        assert math.isclose(float(streamed[product][1]), float(total), rel_tol=RELATIVE_EPSILON), product
    active = active_ids(derived_footprints(settings))
    assert {p: ids for p, ids in active.items() if len(ids) != 1} == {}  # never counted twice
    assert {product: [pf_id] for product, (_, _, pf_id) in streamed.items()} == {
        p.removeprefix("urn:pcfx:product:"): ids for p, ids in active.items()
    }


def assert_same_totals_as_compute(settings: Settings, products: Path, bom: Path) -> None:
    computed, streamed = compute_totals(products, bom), stream_totals(settings)
    assert streamed.keys() == computed.keys()
    assert all(math.isclose(streamed[p], computed[p], rel_tol=RELATIVE_EPSILON) for p in computed)


def test_a_tier5_change_reaches_tier1_with_values_versions_and_lineage(settings, worker):
    publish(settings, chain_records("2"))
    settle(settings, WAIT_S)
    first = current_statuses(settings)
    assert float(first["t1"].pcf_excluding_biogenic_uptake) == 1 + 2 * (1 + 2 * (1 + 2 * (1 + 2 * 2)))

    publish(settings, [as_footprint(supplier_footprint("t5", V2, "3", created="2025-02-15T08:00:00Z"))])
    settle(settings, WAIT_S)
    now = current_statuses(settings)
    assert float(now["t1"].pcf_excluding_biogenic_uptake) == 1 + 2 * (1 + 2 * (1 + 2 * (1 + 2 * 3)))
    latest = {f.id: f for f in derived_footprints(settings)}
    tier1 = latest[now["t1"].pf_id]
    assert tier1.status == "Active"
    assert tier1.preceding_pf_ids == [first["t1"].pf_id]
    assert latest[first["t1"].pf_id].status == "Deprecated"  # re-published with its new status
    assert V2 in tier1.comment and V1 not in tier1.comment  # the driver: t5's new footprint
    # one hop: tier 1 lists tier 2's current footprint, nothing of t3..t5
    assert tier1.extensions[0].data["directInputs"] == [{"pfId": now["t2"].pf_id, "quantity": "2"}]
    assert [s.state for s in now.values()] == ["complete"] * 4


def test_a_recompute_that_changes_nothing_emits_nothing(settings, worker):
    publish(settings, chain_records())
    settle(settings, WAIT_S)
    before = records_on(settings, "derived", "product-status")
    # one footprint per tier (delivery is at least once: a rebalance may send one again, under the same id)
    assert len(set(read_to_end(settings, settings.topic("derived"), lambda key, _v: key))) == 4

    publish(settings, chain_records())  # the very same footprint and recipes again
    settle(settings, WAIT_S)
    assert records_on(settings, "derived", "product-status") == before


def test_a_missing_input_holds_the_product_requests_it_and_completes_when_it_arrives(settings, worker):
    steel, paint = product_urn("steel"), product_urn("paint")
    publish(settings, [as_footprint(supplier_footprint("steel", V1, "2")), as_recipe(recipe("frame", {steel: "3", paint: "0.5"}, own="1.5"))])
    settle(settings, WAIT_S)
    held = current_statuses(settings)["frame"]
    assert (held.state, held.coverage, held.missing, held.pf_id) == ("incomplete", "0.5", [paint], None)
    requests = list(read_to_end(settings, settings.topic("outbound-requests"), lambda _k, v: decode_model(FootprintRequest, v)))
    assert [r.product_id for r in requests] == [[paint]]

    publish(settings, [as_footprint(supplier_footprint("paint", V2, "4"))])
    settle(settings, WAIT_S)
    done = current_statuses(settings)["frame"]
    assert (done.state, done.coverage, done.missing) == ("complete", "1.0", [])
    assert float(done.pcf_excluding_biogenic_uptake) == 1.5 + 3 * 2 + 0.5 * 4


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_worker_killed_mid_propagation_and_restarted_ends_in_the_clean_state(settings, tmp_path, store):
    # small batches make propagation take many steps; a short session lets the restart take over quickly
    crashing = settings.model_copy(update={"store": store, "batch_max": 25, "worker_session_timeout_s": 10})
    products, bom = write_graph_csv(tmp_path, 2000)
    recipes = csv_recipes(products, bom)
    first = start_worker(crashing, tmp_path / "first.log")
    try:
        publish(crashing, recipes)
        wait_for(lambda: records_on(crashing, "derived") > 0, "a first derived footprint", WAIT_S, poll_s=0.05)
    finally:
        stop_worker(first, kill=True)  # SIGKILL: no clean shutdown, no last commit
    assert 0 < records_on(crashing, "derived") < len(recipes)  # it died mid-propagation
    second = start_worker(crashing, tmp_path / "second.log")
    try:
        settle(crashing, WAIT_S)
        assert_same_as_clean_run(crashing, recipes)
        assert_same_totals_as_compute(crashing, products, bom)
    finally:
        stop_worker(second)


def test_two_workers_sharing_the_partitions_end_in_the_state_of_one(settings, tmp_path):
    products, bom = write_graph_csv(tmp_path, 1000, seed=11)
    recipes = csv_recipes(products, bom)
    random.Random(5).shuffle(recipes)  # inputs and their users arrive in any order
    first = start_worker(settings, tmp_path / "first.log")
    second = None
    try:
        publish(settings, recipes[:500])
        # the second worker joins mid-run: a real consumer-group rebalance, each its own data dir
        second = start_worker(settings.model_copy(update={"data_dir": tmp_path / "second"}), tmp_path / "second.log")
        publish(settings, recipes[500:])
        settle(settings, WAIT_S)
        assert group_members(settings) == 2
        assert_same_as_clean_run(settings, recipes)
        assert_same_totals_as_compute(settings, products, bom)
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)


def scaled_products(products: Path, factor: float, folder: Path) -> Path:
    """A copy of products.csv with every product's own emissions multiplied by ``factor``."""
    folder.mkdir(exist_ok=True)
    with products.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = folder / "products.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "direct_kgco2e_per_unit": repr(float(row["direct_kgco2e_per_unit"]) * factor)} for row in rows)
    return out


def assert_never_two_active(footprints: list[ProductFootprint]) -> None:
    """Every product's versions on ``derived`` form one chain: no version has two successors (two Active
    footprints at once, e.g. from two workers), and every version but the last was deprecated."""
    versions: dict[str, dict[str, tuple[tuple[str, ...], set[str]]]] = {}
    for footprint in footprints:
        known = versions.setdefault(footprint.product_ids[0], {})
        preceding, statuses = known.setdefault(footprint.id, (tuple(footprint.preceding_pf_ids or ()), set()))
        statuses.add(footprint.status)
    for product, known in versions.items():
        successors = [preceding for preceding, _ in known.values()]
        assert len(successors) == len(set(successors)), f"{product}: a version with two successors"
        heads = [pf for pf, (_, statuses) in known.items() if "Deprecated" not in statuses]
        assert len(heads) == 1, f"{product}: {len(heads)} versions never deprecated"


def test_three_workers_one_killed_and_one_joining_mid_shock_end_like_pcfx_compute(settings, tmp_path):
    """The recompute's shards shared by three workers (one shard each); mid-shock one dies by SIGKILL and
    another joins: the rebalances move shards with their state, and the end is what one worker reaches."""
    shocked = settings.model_copy(update={"batch_max": 50, "worker_session_timeout_s": 10})
    products, bom = write_graph_csv(tmp_path, 1500, seed=13)

    def a_worker(name: str):  # noqa: ANN202
        return start_worker(shocked.model_copy(update={"data_dir": tmp_path / name}), tmp_path / f"{name}.log")

    workers = [a_worker(f"w{k}") for k in range(3)]
    try:
        publish(shocked, csv_recipes(products, bom))
        settle(shocked, WAIT_S)
        assert group_members(shocked) == 3
        before = records_on(shocked, "derived")
        shock = scaled_products(products, 1.1, tmp_path / "shock")  # every product's own emissions up 10 %
        publish(shocked, csv_recipes(shock, bom))
        wait_for(lambda: records_on(shocked, "derived") > before, "a derived footprint of the shock", WAIT_S, poll_s=0.02)
        stop_worker(workers[0], kill=True)  # mid-shock: no clean shutdown, no last commit
        assert records_on(shocked, "derived") < before + 2 * 1500  # it died before every product had its new version
        workers.append(a_worker("w3"))
        settle(shocked, WAIT_S)
        assert_same_totals_as_compute(shocked, shock, bom)
        assert_never_two_active(derived_footprints(shocked))
        assert all(len(ids) == 1 for ids in active_ids(derived_footprints(shocked)).values())
    finally:
        for worker in workers:
            stop_worker(worker)


def handovers(settings: Settings) -> list[str]:
    """Products handed from one shard to another so far (``recompute-steps`` records of kind handover)."""
    from pcfx.streams.shards import Handover  # noqa: PLC0415

    return [Handover.from_bytes(r.value).product_id for r in records_of(settings, "recompute-steps")
            if dict(r.headers).get("pcfx-shard") == b"handover"]


def test_a_product_joining_a_cycle_moves_to_its_shard_with_its_footprint(settings, worker):
    """power and steel form a cycle (one shard); scrap, on another shard, joins it: it moves there in the step
    that merges them, its Active footprint with it, so its next version deprecates the old one."""
    from pcfx.streams.shards import home_of  # noqa: PLC0415

    assert home_of("scrap", settings.partitions) != home_of("power", settings.partitions)  # the move is real
    ore = product_urn("ore")
    publish(settings, [as_footprint(supplier_footprint("ore", V1, "2")),
                       *(as_recipe(r) for r in (recipe("power", {"steel": "0.5"}), recipe("steel", {"power": "0.2"}),
                                                 recipe("scrap", {ore: "1"})))])
    settle(settings, WAIT_S)
    before = current_statuses(settings)["scrap"]
    assert float(before.pcf_excluding_biogenic_uptake) == 1 + 2
    later = "2025-02-02T10:00:00Z"
    publish(settings, [as_recipe(recipe("scrap", {ore: "1", "power": "0.1"}, updated=later)),
                       as_recipe(recipe("power", {"steel": "0.5", "scrap": "0.3"}, updated=later))])
    settle(settings, WAIT_S)
    assert handovers(settings) == ["scrap"]
    now = current_statuses(settings)
    power = 2.4 / 0.87  # power = 1 + 0.5 steel + 0.3 scrap, steel = 1 + 0.2 power, scrap = 1 + 2 + 0.1 power
    for product, total in (("power", power), ("steel", 1 + 0.2 * power), ("scrap", 3 + 0.1 * power)):
        assert math.isclose(float(now[product].pcf_excluding_biogenic_uptake), total, rel_tol=1e-12), product
    footprints = derived_footprints(settings)
    [moved] = [f for f in footprints if f.id == now["scrap"].pf_id]
    assert moved.preceding_pf_ids == [before.pf_id]  # the footprint in force moved with the product
    assert_never_two_active(footprints)


def group_members(settings: Settings) -> int:
    with admin_client(settings) as admin:
        return len(admin.describe_groups([settings.app_id])[settings.app_id]["members"])


def test_duplicated_and_reordered_records_give_the_same_final_state(settings, tmp_path, worker):
    products, bom = write_graph_csv(tmp_path, 300, seed=3)
    recipes = csv_recipes(products, bom)
    newer = supplier_footprint("t5", V2, "3", created="2025-02-15T08:00:00Z")
    everything = [*recipes, *chain_records("2"), as_footprint(newer)] * 2
    random.Random(9).shuffle(everything)  # the old t5 may come last: it must not win
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    rng, sent = random.Random(10), []
    for model in everything:  # any partition, not the one the key hashes to
        topic = settings.topic("footprints" if isinstance(model, ProductFootprint) else "recipes")
        sent.append(producer.send(topic, key=model.product_ids[0].encode(), value=encode_model(model), partition=rng.randrange(3)))
    confirm(producer, sent)
    producer.close()
    settle(settings, WAIT_S)

    statuses = current_statuses(settings)
    assert float(statuses["t1"].pcf_excluding_biogenic_uptake) == 1 + 2 * (1 + 2 * (1 + 2 * (1 + 2 * 3)))
    tiers = {p for p, _ in TIERS}
    clean = offline_state(recipes)
    streamed = {p: s for p, s in final_state(settings).items() if p not in tiers}
    assert {p: s[0::2] for p, s in streamed.items()} == {p: s[0::2] for p, s in clean.items()}
    assert all(math.isclose(float(streamed[p][1]), float(clean[p][1]), rel_tol=RELATIVE_EPSILON) for p in clean)
    assert all(len(ids) == 1 for ids in active_ids(derived_footprints(settings)).values())


def test_csv_import_then_footprints_equals_compute_through_the_real_cli(settings, tmp_path, worker):
    products, bom = write_graph_csv(tmp_path, 200, seed=5)
    env = {**os.environ, **settings.to_env()}
    pcfx = [sys.executable, "-m", "pcfx.cli"]
    imported = subprocess.run([*pcfx, "import", "--products", str(products), "--bom", str(bom)], env=env,
                              capture_output=True, text=True, check=True)
    assert imported.stdout.startswith("published 200 recipe(s)")
    shown = subprocess.run([*pcfx, "footprints", "--format", "csv", "--settle", "--timeout", str(WAIT_S)], env=env,
                           capture_output=True, text=True, check=True)
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert {row["state"] for row in rows} == {"complete"}
    streamed = {row["product_id"]: float(row["total_kgco2e_per_unit"]) for row in rows}
    computed = compute_totals(products, bom)
    assert streamed.keys() == computed.keys()
    assert all(math.isclose(streamed[p], computed[p], rel_tol=RELATIVE_EPSILON) for p in computed)


def test_an_import_with_a_recipe_that_breaks_the_contract_imports_nothing(settings, tmp_path, worker):
    products, bom = write_graph_csv(tmp_path, 30, seed=5)
    rows = list(csv.DictReader(products.open(newline="")))
    rows[-1]["reference_period_start"] = "2025-13-01"  # a CSV-valid row whose recipe PACT refuses
    with products.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [*rows[0].keys(), "reference_period_start"])
        writer.writeheader()
        writer.writerows(rows)
    env = {**os.environ, **settings.to_env()}
    imported = subprocess.run([sys.executable, "-m", "pcfx.cli", "import", "--products", str(products), "--bom", str(bom)],
                              env=env, capture_output=True, text=True)
    assert imported.returncode == 1
    assert f"recipe {rows[-1]['product_id']}" in imported.stderr and "referencePeriodStart" in imported.stderr
    assert "nothing was imported" in imported.stderr
    settle(settings, WAIT_S)
    assert sum(end_offsets(settings, [settings.topic("recipes")]).values()) > 1  # recipes went out, then the cancel
    assert current_statuses(settings) == {} and derived_footprints(settings) == []


def test_a_record_the_step_fails_on_is_dead_lettered_and_its_batch_goes_on(settings, tmp_path):
    # Straight onto graph-updates (as an older or broken writer could), before the worker starts, so the
    # worker takes the poison and the chain in one batch.
    poison_key, poison = b"leaf:" + T5.encode() + b"-broken", b"\xc3\x01not an avro record"
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    graph_updates, sent = settings.topic("graph-updates"), []
    for model in chain_records("2"):
        kind = "leaf" if isinstance(model, ProductFootprint) else "recipe"
        sent.append(producer.send(graph_updates, key=f"{kind}:{model.product_ids[0]}".encode(), value=encode_model(model)))
        if kind == "leaf":
            sent.append(producer.send(graph_updates, key=poison_key, value=poison))
    confirm(producer, sent)
    producer.close()
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        settle(settings, WAIT_S)
        [letter] = read_to_end(settings, settings.topic("dlq.graph-updates"), lambda _k, v: decode_model(DeadLetter, v))
        assert (letter.source_topic, letter.partition, letter.offset) == (graph_updates, 0, 1)
        assert (letter.key, letter.original_bytes, letter.stage) == (poison_key, poison, "recompute_products")
        assert letter.error.startswith(f"{graph_updates}[0]@1: ")
        t1 = current_statuses(settings)["t1"]
        assert float(t1.pcf_excluding_biogenic_uptake) == 1 + 2 * (1 + 2 * (1 + 2 * (1 + 2 * 2)))
        assert worker.poll() is None  # the worker is still running
    finally:
        stop_worker(worker)
