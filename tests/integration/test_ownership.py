"""Issue 17.1: a company cannot replace another company's footprint; the first publisher of a product owns it,
on the real broker, across a worker crash."""

from __future__ import annotations

import copy
import time
from pathlib import Path

from kafka import KafkaProducer
from pact_host import wait_for
from supply_chains import records_of
from workers import start_worker, stop_worker

from pcfx.connectors.kafka_io import confirm, read_to_end
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import DeadLetter, ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model

PRODUCT = FOOTPRINT["productIds"][0]
OWNER = FOOTPRINT["companyIds"][0]
EVIL = "urn:pcfx:company:evil"
WAIT_S = 120.0


def footprint_of(company: str, pf_id: str, value: str) -> ProductFootprint:
    document = copy.deepcopy(FOOTPRINT)
    document.update(id=pf_id, companyIds=[company], companyName=company.rsplit(":", 1)[-1])
    document["pcf"]["pcfExcludingBiogenicUptake"] = document["pcf"]["pcfIncludingBiogenicUptake"] = value
    return ProductFootprint.from_json(document)


def leaves(settings: Settings) -> list[str]:
    """The footprint ids the validating agent let through to the engine."""
    found = read_to_end(settings, settings.topic("graph-updates"), lambda k, v: (k, v))
    return [decode_model(ProductFootprint, v).id for k, v in found if k.startswith(b"leaf:")]


def letters(settings: Settings) -> list[DeadLetter]:
    return [decode_model(DeadLetter, v) for v in read_to_end(settings, settings.topic("dlq.footprints"), lambda k, v: v)]


def test_a_footprint_from_a_company_that_does_not_own_the_product_is_dead_lettered(settings: Settings, tmp_path: Path) -> None:
    ids = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
           "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444",
           "55555555-5555-4555-8555-555555555555"]
    with SupplierClient(settings) as owner:
        owner.publish(footprint_of(OWNER, ids[0], "2.5"))
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        wait_for(lambda: leaves(settings) == [ids[0]], "the owner's footprint to reach the engine", WAIT_S, poll_s=0.5)
        with SupplierClient(settings) as evil:  # the record's own companyIds say evil: refused
            evil.publish(footprint_of(EVIL, ids[1], "2000"))
        [letter] = wait_for(lambda: letters(settings), "the dead letter of the evil footprint", WAIT_S, poll_s=0.5)
    finally:
        stop_worker(worker, kill=True)  # a crash: the claim must survive in the table's changelog
    assert letter.error_type == "OwnershipError" and letter.stage == "validate_footprints"
    assert PRODUCT in letter.error and OWNER in letter.error and EVIL in letter.error

    # A header naming the owner does not help a record that is not the owner's; the owner's update flows on.
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    confirm(producer, [producer.send(settings.topic("footprints"), key=PRODUCT.encode(),
                                     value=encode_model(footprint_of(EVIL, ids[2], "2000")),
                                     headers=[("pcfx-publisher", OWNER.encode())])])
    producer.close()
    with SupplierClient(settings) as evil:  # after the restart the claim still holds
        evil.publish(footprint_of(EVIL, ids[4], "2000"))
    with SupplierClient(settings, publisher=OWNER) as owner:
        owner.publish(footprint_of(OWNER, ids[3], "2.6"))
    worker = start_worker(settings, tmp_path / "worker2.log")
    try:
        wait_for(lambda: len(leaves(settings)) >= 2, "the owner's update to reach the engine", WAIT_S, poll_s=0.5)
        # by record: a crashed worker may dead-letter a record again when it resumes before its last commit
        found = wait_for(lambda: len(by_record := {(x.partition, x.offset): x for x in letters(settings)}) >= 3 and by_record,
                         "three dead letters", WAIT_S, poll_s=0.5)
    finally:
        stop_worker(worker)
    # the evil values never reached the engine (delivery is at least once: a batch retried after a failed table
    # write, or resumed after the kill, may forward a record twice, which the engine folds as a duplicate)
    assert list(dict.fromkeys(leaves(settings))) == [ids[0], ids[3]]
    header_letter, late_letter = (found[key] for key in sorted(found)[1:])  # all on one partition, in order
    assert "not one of the footprint's companyIds" in header_letter.error
    assert late_letter.error_type == "OwnershipError" and f"owned by {OWNER}" in late_letter.error


def test_entitle_by_a_company_that_does_not_own_the_product_is_refused(settings: Settings) -> None:
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from pcfx.schemas.samples import RECIPE  # noqa: PLC0415

    with SupplierClient(settings) as supplier:
        supplier.publish_recipes([RECIPE])  # product 0042, owned by the recipe's company
    owner, env = RECIPE["companyIds"][0], {**os.environ, **settings.to_env()}

    def entitle(supplier: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "pcfx.cli", "entitle", "--supplier", supplier, "--buyer", "urn:pcfx:company:buyer",
                   "--product", "0042"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    refused = entitle(EVIL)
    assert refused.returncode == 1 and f"owned by {owner}" in refused.stderr and "nothing published" in refused.stderr
    assert list(read_to_end(settings, settings.topic("entitlements"), lambda k, v: k)) == []
    granted = entitle(owner)
    assert granted.returncode == 0 and granted.stdout.startswith("granted"), granted.stderr
    assert len(list(read_to_end(settings, settings.topic("entitlements"), lambda k, v: k))) == 1


def test_reimporting_with_another_company_column_moves_the_ownership(settings: Settings, tmp_path: Path) -> None:
    """Issue 14.4: the CSV ``company`` column names the owner; a re-import that changes it hands the product over,
    so the new owner's grant is taken and the old owner's refused."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    env = {**os.environ, **settings.to_env()}
    bom = tmp_path / "bom.csv"
    bom.write_text("product_id,input_product_id,quantity_per_unit\n")

    def pcfx(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pcfx.cli", *args], env=env, capture_output=True, text=True, timeout=120)

    def import_as(company: str) -> None:
        products = tmp_path / "products.csv"
        products.write_text(f"product_id,name,declared_unit,direct_kgco2e_per_unit,company\nbolt-9,Bolt,pcs,0.3,{company}\n")
        done = pcfx("import", "--products", str(products), "--bom", str(bom))
        assert done.returncode == 0, done.stderr

    def entitle(supplier: str) -> subprocess.CompletedProcess:
        return pcfx("entitle", "--supplier", supplier, "--buyer", "urn:pcfx:company:buyer", "--product", "bolt-9")

    import_as("acme")
    assert entitle("urn:pcfx:company:acme").returncode == 0
    import_as("urn:pcfx:company:zenith")  # the same product, now declared as zenith's
    refused = entitle("urn:pcfx:company:acme")
    assert refused.returncode == 1 and "owned by urn:pcfx:company:zenith" in refused.stderr
    assert entitle("urn:pcfx:company:zenith").returncode == 0


def compact_quickly(settings: Settings) -> None:
    """Let the broker's log cleaner take this test's ``footprints`` soon: segments roll after a second and any
    dirt makes a segment cleanable (the whole config is set: ``alter_configs`` replaces it)."""
    from kafka.admin import ConfigResource, ConfigResourceType  # noqa: PLC0415

    from pcfx.agents.topics import admin_client  # noqa: PLC0415

    configs = {"cleanup.policy": "compact", "segment.ms": "1000", "min.cleanable.dirty.ratio": "0.01",
               "min.compaction.lag.ms": "0", "delete.retention.ms": "1000"}
    with admin_client(settings) as admin:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic("footprints"), configs=configs)])


def test_an_impostors_record_of_a_product_cannot_compact_the_owners_away(settings: Settings, tmp_path: Path) -> None:
    """Issue 17 (a): footprints are keyed by publisher and product, partitioned by product. The impostor's record
    of the owner's product gets a key of its own on the owner's partition, so it is dead-lettered by the worker and
    log compaction, run for real, keeps the owner's record (under one shared key it kept the impostor's)."""
    from pcfx.agents.partition import partition_of  # noqa: PLC0415

    compact_quickly(settings)
    ids = ["a1111111-1111-4111-8111-111111111111", "a2222222-2222-4222-8222-222222222222",
           "a3333333-3333-4333-8333-333333333333", "a4444444-4444-4444-8444-444444444444",
           "a5555555-5555-4555-8555-555555555555"]
    # a second product of the owner on the same partition: two versions of it show that compaction ran
    canary = next(f"urn:pcfx:product:canary-{n}" for n in range(100)
                  if partition_of(f"urn:pcfx:product:canary-{n}".encode(), 3) == partition_of(PRODUCT.encode(), 3))

    def canary_of(pf_id: str) -> ProductFootprint:
        document = copy.deepcopy(FOOTPRINT)
        document.update(id=pf_id, companyIds=[OWNER], productIds=[canary])
        return ProductFootprint.from_json(document)

    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        with SupplierClient(settings, publisher=OWNER) as owner:
            owner.publish(footprint_of(OWNER, ids[0], "2.5"))
        with SupplierClient(settings, publisher=EVIL) as evil:
            evil.publish(footprint_of(EVIL, ids[1], "2000"))
        [letter] = wait_for(lambda: letters(settings), "the dead letter of the impostor's footprint", WAIT_S, poll_s=0.5)
    finally:
        stop_worker(worker)
    assert letter.error_type == "OwnershipError" and f"owned by {OWNER}" in letter.error

    mine, theirs = records_of(settings, "footprints")
    assert mine.key == f"{OWNER}|{PRODUCT}".encode() and theirs.key == f"{EVIL}|{PRODUCT}".encode()
    assert mine.partition == theirs.partition == partition_of(PRODUCT.encode(), 3)  # as the bare product id's
    assert letter.key == theirs.key and (letter.partition, letter.offset) == (theirs.partition, theirs.offset)

    with SupplierClient(settings, publisher=OWNER) as owner:
        owner.publish(canary_of(ids[2]))
        owner.publish(canary_of(ids[3]))
        time.sleep(1.5)  # past segment.ms: the next record rolls the segment, leaving the others to the cleaner
        owner.publish(canary_of(ids[4]))

    def compacted() -> list | None:
        left = [decode_model(ProductFootprint, record.value).id for record in records_of(settings, "footprints")]
        return left if ids[2] not in left else None

    left = wait_for(compacted, "the log cleaner to compact the canary's versions", 180, poll_s=0.5)  # it wakes every 15 s
    assert ids[0] in left and ids[1] in left  # each company's latest record of the product is kept
