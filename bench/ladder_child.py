"""The Faust rungs of the B4 overhead ladder, one process per run (started by :mod:`pcfx.bench.b4_overhead`).

``b``: a Faust agent consuming the ``footprints`` topic and decoding every record (bytes -> validated
``ProductFootprint``), run as the validating agent runs: micro-batches of ``take_events``, pcfx's
logging settings and its worker (:class:`~pcfx.agents.worker.PcfxWorker`, garbage-collector thresholds
included). ``c``: the same, plus a write of each record to an in-memory table backed by a changelog
topic, made as the worker's agents make theirs: staged per micro-batch and committed once Kafka has the
changelog records (:class:`~pcfx.agents.state.StagedWrites`). ``d``: ``c`` on the RocksDB store.
``replay``: start the ``c`` app again and time how fast the table is rebuilt from its changelog (from the
start of Faust's recovery until the table holds the ``--count`` entries ``c`` wrote).

Each writes ``{"seconds": ..., "records": ...}`` to ``--out`` once ``--count`` records were handled, timed
from the first record to the last, so start-up and group joins do not count.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import faust

from prometheus_client import CollectorRegistry

from pcfx.agents.app import aiokafka_producer, quiet_per_record_logging
from pcfx.agents.outbox import Outbox
from pcfx.agents.state import StagedWrites
from pcfx.agents.worker import PcfxWorker
from pcfx.metrics import Metrics
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

RAW = "raw"
UNCOUNTED = Metrics.create(CollectorRegistry())  # the rung's outbox counts into a registry nobody serves


def build(settings: Settings, options: argparse.Namespace, finish) -> tuple[faust.App, faust.types.TableT | None]:
    """The rung's app; ``finish`` is called once per record the agent handles."""
    store = "rocksdb://" if options.rung == "d" else "memory://"
    app = faust.App(options.app_id, broker=f"kafka://{settings.bootstrap_servers}", store=store,
                    datadir=str(settings.data_dir / options.app_id), topic_partitions=options.partitions,
                    consumer_auto_offset_reset="earliest", broker_commit_interval=0.5, producer_acks=-1,
                    web_enabled=False)
    topic = app.topic(settings.topic("footprints"), key_serializer=RAW, value_serializer=RAW, partitions=options.partitions)
    table = None
    if options.rung != "b":
        # key and value types, not a Schema: the table picks its changelog serializers from them on recovery
        table = app.Table("footprint_by_key", partitions=options.partitions, key_type=str, value_type=bytes)

    @app.agent(topic, name="consume_footprints")
    async def consume_footprints(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            staged = StagedWrites()
            for event in events:
                decode_model(ProductFootprint, event.message.value)
                if table is not None:
                    staged.put(table, event.message.key.decode(), event.message.value, event)
            if table is not None:
                await staged.commit(Outbox(aiokafka_producer(app), UNCOUNTED, settings.topic_prefix))
            for _ in events:
                finish()

    return app, table


def finisher(out: Path, count: int):
    """A callable to call once per record; on the ``count``-th it writes the elapsed time to ``out``."""
    state = {"seen": 0, "first": 0.0}

    def tick() -> None:
        if state["seen"] == 0:
            state["first"] = time.perf_counter()
        state["seen"] += 1
        if state["seen"] == count:
            out.write_text(json.dumps({"seconds": time.perf_counter() - state["first"], "records": count}))

    return tick


def watch_replay(app: faust.App, table: faust.types.TableT, out: Path, count: int) -> None:
    """Poll every millisecond until the table holds ``count`` entries; time that from the moment Faust's
    recovery started reading the changelog (its own ``monotonic()`` stamp)."""
    while len(table) < count:
        time.sleep(0.001)
    started = app.tables.recovery._recovery_started_at  # noqa: SLF001  (Faust keeps no public stamp)
    out.write_text(json.dumps({"seconds": time.monotonic() - started, "records": count}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rung", choices=["b", "c", "d", "replay"])
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    quiet_per_record_logging()  # as the pcfx worker runs Faust
    settings = Settings.from_env()

    if options.rung == "replay":  # the agent has nothing new to read; only the table counts
        app, table = build(settings, options, lambda: None)
        threading.Thread(target=watch_replay, args=(app, table, options.out, options.count), daemon=True).start()
    else:
        app, _ = build(settings, options, finisher(options.out, options.count))
    PcfxWorker(app, loglevel="warn", quiet=True, stop_timeout_s=settings.worker_stop_timeout_s).execute_from_commandline()


if __name__ == "__main__":
    main()
