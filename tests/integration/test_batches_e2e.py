"""One change, one version, on the real broker through a real ``pcfx worker``.

The chain of test_engine_e2e (t5 a supplier footprint, t4..t1 each 1 kgCO2e + 2 kg of the tier below). A
bulk change goes in as one marked batch, even when its records arrive seconds apart, so every product gets
exactly one new derived version; an identical re-import publishes nothing downstream; a new recipe version
tells the label stage only about the input lines it added or dropped.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from kafka import KafkaProducer
from supply_chains import active_ids, csv_recipes, derived_footprints, recipe, supplier_footprint, write_graph_csv
from workers import start_worker, stop_worker

from pcfx.bench.common import worker_counter
from pcfx.connectors.buyer import BuyerClient
from pcfx.connectors.footprints_cli import current_statuses
from pcfx.connectors.kafka_io import confirm, end_offsets, read_to_end, settle
from pcfx.connectors.supplier import SupplierClient, as_footprint, as_recipe
from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import DeadLetter
from pcfx.schemas.subscriptions import Subscription
from pcfx.settings import Settings
from pcfx.streams.batches import BATCH_HEADER, CANCEL_HEADER, marks_for
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn

WAIT_S = 180.0
TIERS = (("t4", product_urn("t5")), ("t3", "t4"), ("t2", "t3"), ("t1", "t2"))
UPDATED = ("2025-02-01T10:00:00Z", "2025-03-01T10:00:00Z")


@pytest.fixture
def worker(settings: Settings, tmp_path: Path):
    process = start_worker(settings, tmp_path / "worker.log", web_port=settings.worker_web_port)
    yield process
    stop_worker(process)


def records_on(settings: Settings, name: str) -> int:
    return sum(end_offsets(settings, [settings.topic(name)]).values())


def chain(quantity: str, updated: str):
    return [as_recipe(recipe(p, {i: quantity}, updated=updated)) for p, i in TIERS]


def versions(settings: Settings) -> dict[str, int]:
    """Product URN -> how many distinct Active derived footprints it has had."""
    seen: dict[str, set[str]] = {}
    for footprint in derived_footprints(settings):
        if footprint.status == "Active":
            seen.setdefault(footprint.product_ids[0], set()).add(footprint.id)
    return {product: len(ids) for product, ids in seen.items()}


def test_a_batch_arriving_in_pieces_makes_one_version_per_changed_product(settings, worker):
    with SupplierClient(settings) as supplier:
        supplier.publish(as_footprint(supplier_footprint("t5", "5d1e0a52-7d0e-4c55-9a57-3c1c1f0e2a11", "2")))
        settle(settings, WAIT_S)
        supplier.publish_recipes(chain("2", UPDATED[0]))  # one call: one marked batch
    stages: list[tuple[int, float]] = []
    settle(settings, WAIT_S, settled=lambda index, seconds: stages.append((index, seconds)))
    assert versions(settings) == {product_urn(p): 1 for p, _ in TIERS}
    assert [index for index, _ in stages] == [0, 1, 2, 3]  # each stage reported once, in order, as it settled
    assert [seconds for _, seconds in stages] == sorted(seconds for _, seconds in stages)

    # The next version of every recipe, sent lowest tier first and seconds apart (several micro-batches):
    # unmarked, t4 alone would be republished up to four times as its consumers' changes trickle in.
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    changed = chain("3", UPDATED[1])
    for model, mark in zip(changed, marks_for([1] * len(changed))):
        confirm(producer, [producer.send(settings.topic("recipes"), key=model.product_ids[0].encode(), value=encode_model(model),
                                         headers=[(BATCH_HEADER, mark.text().encode())])])
        time.sleep(1.5)
    producer.close()
    settle(settings, WAIT_S)
    assert versions(settings) == {product_urn(p): 2 for p, _ in TIERS}  # exactly one new version each
    assert {p: len(ids) for p, ids in active_ids(derived_footprints(settings)).items()} == {product_urn(p): 1 for p, _ in TIERS}
    t1 = current_statuses(settings)["t1"]
    assert float(t1.pcf_excluding_biogenic_uptake) == 1 + 3 * (1 + 3 * (1 + 3 * (1 + 3 * 2)))


def test_an_identical_reimport_publishes_nothing_downstream(settings, worker, tmp_path):
    products, bom = write_graph_csv(tmp_path, 60)
    recipes = csv_recipes(products, bom)
    used = next(line.product_id for r in recipes for line in r.inputs)
    buyer = recipes[0].company_ids[0]  # its recipes list `used`: entitled, so labels flow
    with BuyerClient(settings) as client:
        client.subscribe([Subscription(buyer_id=buyer, product_id=product_urn(used), active=True,
                                       created_at=datetime.now(timezone.utc))])
    with SupplierClient(settings) as supplier:
        supplier.publish_recipes(recipes)
    settle(settings, WAIT_S)
    before = {name: records_on(settings, name) for name in ("derived", "labels", "label-inputs", "product-status")}
    assert before["derived"] > 0 and before["labels"] > 0

    recalled = worker_counter(settings.worker_web_port, "pcfx_recipes_recalled")
    assert recalled is not None, "pcfx_recipes_recalled_total is not on the worker's /metrics"

    again = [r.model_copy(update={"updated": datetime.now(timezone.utc)}) for r in recipes]  # a new import of the same files
    with SupplierClient(settings) as supplier:
        supplier.publish_recipes(again)
    settle(settings, WAIT_S)
    after = {name: records_on(settings, name) for name in before}
    assert after == before
    # and the worker knew them: none was decoded and validated again
    assert worker_counter(settings.worker_web_port, "pcfx_recipes_recalled") - recalled == len(recipes)


def test_a_recipe_change_sends_only_the_changed_lines_to_the_label_stage(settings, worker):
    first = as_recipe(recipe("bike", {"frame": "1", "wheel": "2", "chain": "1"}, updated=UPDATED[0]))
    with SupplierClient(settings) as supplier:
        supplier.publish_recipes([first])
        settle(settings, WAIT_S)
        assert records_on(settings, "label-inputs") == 4  # new: its three inputs and itself
        supplier.publish_recipes([as_recipe(recipe("bike", {"frame": "1", "wheel": "2", "bell": "1"}, updated=UPDATED[1]))])
        settle(settings, WAIT_S)
        assert records_on(settings, "label-inputs") == 4 + 2  # chain dropped, bell added; frame, wheel, bike untouched


def test_a_batch_that_breaks_the_contract_half_way_is_cancelled_and_leaves_no_trace(settings, worker):
    downstream = ("graph-updates", "derived", "product-status", "label-sources", "label-inputs", "labels")
    good = [recipe(p, {i: "2"}, updated=UPDATED[0]) for p, i in TIERS]
    broken = {**good[2], "inputs": [{"productId": "t3", "quantity": "two"}]}
    with SupplierClient(settings) as supplier:
        supplier.publish(as_footprint(supplier_footprint("t5", "5d1e0a52-7d0e-4c55-9a57-3c1c1f0e2a11", "2")))
        settle(settings, WAIT_S)
        before = {name: records_on(settings, name) for name in downstream}
        with pytest.raises(ContractError, match="quantity"):
            supplier.publish_recipes([good[0], good[1], broken, good[3]])  # t4 and t3 go out before t2 fails
        assert records_on(settings, "recipes") == 2 + 1  # what was sent, and the cancel
        settle(settings, WAIT_S)
        after = {name: records_on(settings, name) for name in downstream}
        assert after == {**before, "graph-updates": before["graph-updates"] + 2 + 1}  # held, then dropped
        assert not current_statuses(settings).keys() & {p for p, _ in TIERS}  # no recipe of the batch took effect
        assert worker_counter(settings.worker_web_port, "pcfx_batches_cancelled") == 1

        supplier.publish_recipes(good)  # the batch whole: applied as one change
    settle(settings, WAIT_S)
    assert versions(settings) == {product_urn(p): 1 for p, _ in TIERS}
    assert records_on(settings, "label-sources") == before["label-sources"] + len(TIERS)  # each recipe once, as applied


def test_a_cancel_of_footprints_is_a_dead_letter_saying_why(settings, worker):
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    confirm(producer, [producer.send(settings.topic("footprints"), key=b"void:b1", value=b"", headers=[(CANCEL_HEADER, b"b1")])])
    producer.close()
    settle(settings, WAIT_S)
    (letter,) = [decode_model(DeadLetter, v) for v in read_to_end(settings, settings.topic("dlq.footprints"), lambda _k, v: v)]
    assert "only a batch of recipes can be cancelled" in letter.error and letter.stage == "validate_footprints"
    assert records_on(settings, "graph-updates") == 0  # nothing reached the router


def test_settling_gives_up_only_when_nothing_moves_and_reports_each_stage(settings):
    with SupplierClient(settings) as supplier:
        supplier.publish_recipes(chain("2", UPDATED[0]))  # and no worker to take them
    seen = []
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no progress for 2 s: .*recipes\[\d\] \d behind"):
        settle(settings, 2.0, progress=seen.append, every_s=0.5)
    assert 2.0 <= time.monotonic() - started < 30
    assert seen and sum(seen[-1].behind.values()) == 4 and seen[-1].stage == 0
    assert seen[-1].line().startswith("settling ") and "recipes 4 | graph-updates 0" in seen[-1].line()
