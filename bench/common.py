"""Plumbing shared by the benchmark suite: repeats and medians, machine facts, the JSON report and its
one-line summary, scratch topics on the real broker, and benchmark worker processes.

Every benchmark measures its baseline in the same run, on the same machine, and reports pcfx as a ratio to
it: these machines are shared and noisy, so absolute figures from different runs do not compare.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from pcfx.agents.topics import admin_client, create_topics
from pcfx.connectors.kafka_io import end_offsets, settle
from pcfx.ops.kafka import free_port, libs_dir, resolve_jars
from pcfx.settings import Settings

REPEATS = 5  # every figure is the median of at least this many runs (one run in --quick smoke runs)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT_S = 30.0


@dataclass
class Run:
    """One ``pcfx bench`` invocation: the user's settings, the size, and the results so far (later
    benchmarks read earlier ones, e.g. B2 loads the broker at a share of B4's maximum)."""

    settings: Settings
    quick: bool
    shock_products: int | None = None  # the shock's graph size, if not the default
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def size(self, quick: int, full: int) -> int:
        return quick if self.quick else full

    @property
    def repeats(self) -> int:
        return 1 if self.quick else REPEATS


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats drifting
    return float(ordered[int(rank) - 1])


def repeated(measure: Callable[[int], dict[str, float]], times: int) -> dict[str, Any]:
    """Run ``measure(repeat)`` ``times`` times; the median of every figure, and every run's figures."""
    runs = [measure(index) for index in range(times)]
    return {"median": {key: median([run[key] for run in runs]) for key in runs[0]}, "runs": runs}


def machine(settings: Settings) -> dict[str, Any]:
    """Where and when the figures were taken."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "kafka": _kafka_version(settings),
        **{name: _version(name) for name in ("faust-streaming", "aiokafka", "kafka-python", "fastavro", "avro")},
    }


def _meminfo_kib(name: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _kafka_version(settings: Settings) -> str:
    jars = sorted(libs_dir(settings).glob("kafka-clients-*.jar"))
    return jars[0].stem.removeprefix("kafka-clients-") if jars else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def report(name: str, run: Run, result: dict[str, Any], summary: str) -> dict[str, Any]:
    """Print the benchmark's JSON document, then its one-line summary (``<name>: ...``); return the document."""
    document = {"benchmark": name, "quick": run.quick, "machine": machine(run.settings), **result}
    print(json.dumps(document, indent=2), flush=True)
    print(f"{name}: {summary}", flush=True)
    run.results[name] = document
    return document


def kafka_classpath(settings: Settings) -> str:
    """Class path of the Kafka jars (broker and tools), resolved with Maven on first use."""
    return str(resolve_jars(libs_dir(settings)) / "*")


@contextmanager
def scratch(run: Run, tag: str, **overrides: Any) -> Iterator[Settings]:
    """Settings with their own topic prefix, app id, data dir and web port; every catalogue topic is created,
    and the topics and data dir are deleted afterwards. The Kafka jars stay where the user's settings have them."""
    prefix = f"bench-{tag}-{uuid.uuid4().hex[:8]}."
    folder = Path(tempfile.mkdtemp(prefix=f"pcfx-bench-{tag}-"))
    settings = run.settings.model_copy(update={
        "topic_prefix": prefix, "app_id": f"{prefix}app", "data_dir": folder, "kafka_libs": str(libs_dir(run.settings)),
        "worker_web_port": free_port(), **overrides,
    })
    create_topics(settings)
    try:
        yield settings
    finally:
        _delete_topics(settings)
        shutil.rmtree(folder, ignore_errors=True)


def prefixed_topics(settings: Settings) -> list[str]:
    """Every topic on the broker under the settings' topic prefix (a run's own, Faust's changelogs included)."""
    with admin_client(settings) as admin:
        return [name for name in admin.list_topics() if name.startswith(settings.topic_prefix)]


def _delete_topics(settings: Settings) -> None:
    mine = prefixed_topics(settings)
    if mine:
        with admin_client(settings) as admin:
            admin.delete_topics(mine, raise_errors=False)


def start_process(settings: Settings, module: str, *args: str) -> subprocess.Popen:
    """``python -m module args`` with ``settings`` as ``PCFX_*`` variables; its log is ``<data dir>/<module>.log``."""
    env = {**os.environ, **settings.to_env()}
    with (settings.data_dir / f"{module}.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def start_worker(settings: Settings, *options: str) -> subprocess.Popen:
    """A worker process (:mod:`pcfx.bench.worker_child`) on ``settings``, serving its web port."""
    return start_process(settings, "pcfx.bench.worker_child", "--web-port", str(settings.worker_web_port), *options)


def worker_counter(port: int, name: str) -> float | None:
    """The counter ``name`` (without ``_total``, summed over its labels) on the ``/metrics`` of the worker
    serving ``port``; None when the page has no such counter."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:  # noqa: S310 (our own worker)
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    return None


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process has not ended after :data:`STOP_TIMEOUT_S`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def worker(settings: Settings, *options: str) -> Iterator[subprocess.Popen]:
    process = start_worker(settings, *options)
    try:
        yield process
    finally:
        stop(process)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_until(condition: Callable[[], Any], what: str, timeout_s: float, pause_s: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy and return its value; ``TimeoutError`` names ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark gave up after {timeout_s:.0f} s waiting for {what}")
        time.sleep(pause_s)


def drain(settings: Settings, names: Sequence[str], timeout_s: float, settled_at: dict[str, float] | None = None) -> float:
    """Wait until the worker has committed everything on ``names`` (stage by stage, in the order given):
    ``pcfx footprints --settle``'s own wait (:func:`pcfx.connectors.kafka_io.settle`), which gives up after
    ``timeout_s`` without progress. Returns the seconds waited; ``settled_at``, if given, receives the
    seconds from the call until each name had settled."""
    def note(index: int, seconds: float) -> None:
        if settled_at is not None:
            settled_at[names[index]] = seconds

    return settle(settings, timeout_s, stages=[(name,) for name in names], settled=note)


def read_since(settings: Settings, name: str, since: dict[TopicPartition, int]) -> list[Any]:
    """Every record of logical topic ``name`` from offsets ``since`` (missing partitions: from 0) to its
    end at the time of the call, as kafka-python ``ConsumerRecord``s."""
    ends = {tp: end for tp, end in end_offsets(settings, [settings.topic(name)]).items() if end > since.get(tp, 0)}
    records: list[Any] = []
    if not ends:
        return records
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                             max_partition_fetch_bytes=8 * 2**20)
    try:
        consumer.assign(list(ends))
        for tp in ends:
            consumer.seek(tp, since.get(tp, 0))
        while ends:
            for tp, batch in consumer.poll(timeout_ms=500).items():
                records += [r for r in batch if r.offset < ends.get(tp, 0)]
                if consumer.position(tp) >= ends.get(tp, 0):
                    ends.pop(tp, None)
    finally:
        consumer.close()
    return records
