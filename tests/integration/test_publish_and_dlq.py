"""A supplier publishes through the real CLI; bad records end in the dead-letter topic, good ones flow on."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import fastavro
from kafka import KafkaProducer
from workers import start_worker, stop_worker

from pcfx.connectors.kafka_io import confirm, end_offsets, read_to_end
from pcfx.schemas.models import DeadLetter, ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
HEADER = 10  # single-object encoding: C3 01 + 8-byte fingerprint


def run_pcfx(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "pcfx.cli", *args], input=stdin, env=env, capture_output=True, text=True, timeout=120)


def raw_values(settings: Settings, topic: str) -> list[bytes]:
    return list(read_to_end(settings, settings.topic(topic), lambda _key, value: value))


def test_publish_writes_bytes_any_avro_reader_decodes(settings: Settings) -> None:
    result = run_pcfx(settings, "publish", "-", stdin=json.dumps({"data": [FOOTPRINT]}))
    assert result.returncode == 0, result.stderr
    [value] = raw_values(settings, "footprints")
    assert value[:2] == b"\xc3\x01"
    # An independent reader: plain fastavro with only our .avsc files, no pcfx code.
    schema = fastavro.schema.load_schema(SCHEMAS / "io.pcfx.ProductFootprint.avsc")
    record = fastavro.schemaless_reader(__import__("io").BytesIO(value[HEADER:]), schema)
    assert record["id"] == FOOTPRINT["id"]
    assert record["pcf"]["pcfExcludingBiogenicUptake"] == "2.31"  # the decimal text, exactly as published


def test_publish_rejects_an_invalid_footprint_and_sends_nothing(settings: Settings) -> None:
    bad = copy.deepcopy(FOOTPRINT)
    bad["pcf"]["primaryDataShare"] = "150"
    result = run_pcfx(settings, "publish", "-", stdin=json.dumps([FOOTPRINT, bad]))
    assert result.returncode == 1
    assert "pcf.primaryDataShare" in result.stderr and "'150'" in result.stderr
    assert sum(end_offsets(settings, [settings.topic("footprints")]).values()) == 0


def test_a_consumer_dead_letters_bad_records_and_processes_the_good_ones(settings: Settings, tmp_path: Path) -> None:
    good = ProductFootprint.from_json(FOOTPRINT)
    broken_contract = copy.deepcopy(FOOTPRINT)
    broken_contract["pcf"]["dqi"]["temporalDQR"] = "7"
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    topic = settings.topic("footprints")
    # All on one partition, in this order: good, garbage bytes, a record that breaks a PACT rule, good again.
    bad_record = encode_model(good)[:HEADER] + b"\x00garbage"
    contract_bytes = _encode_unvalidated(broken_contract)
    values = (encode_model(good), b"not avro at all", bad_record, contract_bytes, encode_model(good))
    confirm(producer, [producer.send(topic, key=b"coil-7", value=value, partition=0) for value in values])
    producer.close()

    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        letters = _wait_for(lambda: [decode_model(DeadLetter, v) for v in raw_values(settings, "dlq.footprints")], 3)
        forwarded = _wait_for(lambda: raw_values(settings, "graph-updates"), 2)
    finally:
        stop_worker(worker)
    assert [letter.offset for letter in letters] == [1, 2, 3]
    assert letters[0].original_bytes == b"not avro at all"
    assert letters[0].error_type == "DecodeError"
    assert letters[2].error_type == "ContractError" and "pcf.dqi.temporalDQR" in letters[2].error
    assert all(letter.source_topic == topic and letter.partition == 0 for letter in letters)
    assert [decode_model(ProductFootprint, value).id for value in forwarded] == [good.id, good.id]


def _encode_unvalidated(document: dict) -> bytes:
    """Bytes of a footprint that breaks a PACT rule: valid Avro, written without the model's checks."""
    valid = ProductFootprint.from_json(copy.deepcopy(FOOTPRINT)).to_avro()
    valid["pcf"]["dqi"]["temporalDQR"] = document["pcf"]["dqi"]["temporalDQR"]
    from pcfx.streams.codec import codec_for

    return codec_for("ProductFootprint").encode(valid)


def _wait_for(read, count: int, timeout_s: float = 90.0):
    deadline = time.monotonic() + timeout_s
    while True:
        found = read()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
