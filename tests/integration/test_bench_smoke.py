"""`pcfx bench --quick` runs every benchmark once at small sizes against the real broker, and each prints one
JSON document followed by its one-line summary. No figure is asserted: speed is the benchmarks' business."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pcfx.bench.bench_cli import BENCHMARKS
from pcfx.ops.kafka import libs_dir
from pcfx.settings import Settings


def documents(out: str) -> list[tuple[dict, str]]:
    """(JSON document, summary line) pairs in the order printed; anything else in between is an error."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while out[at:].strip():
        at += len(out[at:]) - len(out[at:].lstrip())
        document, at = decoder.raw_decode(out, at)
        line, _, _ = out[at:].lstrip("\n").partition("\n")
        at = out.index(line, at) + len(line)
        found.append((document, line))
    return found


def test_every_benchmark_prints_json_then_a_summary(kafka):
    env = {**os.environ, "PCFX_BOOTSTRAP_SERVERS": kafka, "PCFX_KAFKA_LIBS": str(libs_dir(Settings.from_env()))}
    done = subprocess.run([sys.executable, "-m", "pcfx.cli", "bench", "--quick"], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = documents(done.stdout)
    assert [document["benchmark"] for document, _ in printed] == list(BENCHMARKS)
    for document, summary in printed:
        assert summary.startswith(f"{document['benchmark']}: ") and len(summary) > 20
        assert document["quick"] is True
        assert document["machine"]["nproc"] >= 1 and document["machine"]["kafka"] != "unknown"
