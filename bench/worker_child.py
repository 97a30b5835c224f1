"""The worker the benchmarks run: the very app ``pcfx worker`` runs (:func:`pcfx.agents.app.create_app`),
with two switches that only a benchmark needs.

``--no-metrics`` (B8) builds the app without Faust's Prometheus sensor, the lag timer and ``/metrics``, and
hands the agents metrics that record nothing. ``--codec-stats FILE`` (B3) times every Avro encode/decode
(the fastavro layer, :class:`~pcfx.streams.codec.Codec`) and every model conversion around it
(``encode_model``/``decode_model``, pydantic validation included) and rewrites ``FILE`` with the running
totals ten times a second, so the parent can difference two snapshots taken while the worker is idle.

Run by :func:`pcfx.bench.common.start_worker` with the settings as ``PCFX_*`` variables.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from pcfx.streams import codec

TOTALS: dict[str, float] = {"avro_s": 0.0, "avro_calls": 0, "model_s": 0.0, "model_calls": 0}


class Silent:
    """A metric that records nothing: every prometheus-client call the agents make is a no-op."""

    def labels(self, *_args: Any, **_labels: Any) -> "Silent":
        return self

    def inc(self, *_args: Any) -> None:
        return None

    observe = set = inc

    def clear(self) -> None:
        return None


def silent_metrics(*_args: Any, **_kwargs: Any) -> Any:
    """Stands in for ``install_worker_metrics``: no sensor, no ``/metrics``, no lag timer."""
    from pcfx.metrics import Metrics  # noqa: PLC0415

    return Metrics(CollectorRegistry(), *[Silent()] * (len(Metrics._fields) - 1))


def timed(call: Callable[..., Any], seconds: str, calls: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            TOTALS[seconds] += time.perf_counter() - start
            TOTALS[calls] += 1

    return wrapper


def time_codec(stats: Path) -> None:
    """Wrap the codec before the agent modules import it, and start the thread that writes the totals."""
    codec.Codec.encode = timed(codec.Codec.encode, "avro_s", "avro_calls")
    codec.Codec.decode = timed(codec.Codec.decode, "avro_s", "avro_calls")
    codec.encode_model = timed(codec.encode_model, "model_s", "model_calls")
    codec.decode_model = timed(codec.decode_model, "model_s", "model_calls")

    def write_totals() -> None:
        while True:
            partial = stats.with_suffix(".tmp")
            partial.write_text(json.dumps(TOTALS))
            partial.replace(stats)
            time.sleep(0.1)

    threading.Thread(target=write_totals, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--no-metrics", action="store_true")
    parser.add_argument("--codec-stats", type=Path)
    options = parser.parse_args()
    if options.codec_stats:
        time_codec(options.codec_stats)
    from pcfx.agents import app as app_module  # noqa: PLC0415  (after the codec is wrapped)
    from pcfx.agents.topics import create_topics  # noqa: PLC0415
    from pcfx.agents.worker import PcfxWorker  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    if options.no_metrics:
        app_module.install_worker_metrics = silent_metrics
    settings = Settings.from_env()
    create_topics(settings)  # as `pcfx worker` does: the catalogue this code expects
    wiring = app_module.create_app(settings, web_port=options.web_port)
    PcfxWorker(wiring.app, loglevel="warn", quiet=True, stop_timeout_s=settings.worker_stop_timeout_s).execute_from_commandline()


if __name__ == "__main__":
    main()
