"""B3 codec: the real ProductFootprint schema encoded and decoded with fastavro (pcfx's codec), the ``avro``
package and json (the baseline: PACT JSON as the API serves it), and the codec's share of the CPU one update
costs in the full pipeline (B4(e) on a worker that times its codec calls, :mod:`pcfx.bench.worker_child`).

Two levels: bytes <-> dict (the serialisation alone, via :func:`pcfx.bench.codec.measure`) and bytes <->
validated model (what agents call: ``encode_model``/``decode_model``; json: ``to_json``/``from_json``).
"""

from __future__ import annotations

import json
from typing import Any

from pcfx.bench import pipeline
from pcfx.bench.codec import measure as byte_rates
from pcfx.bench.codec import per_second
from pcfx.bench.common import Run, report, repeated, scratch, worker
from pcfx.schemas.models import ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.codec import decode_model, encode_model


def rates(model: ProductFootprint, seconds: float) -> dict[str, float]:
    """Operations per second on one footprint, byte level and model level, each codec."""
    as_json = model.to_json()
    text, data = json.dumps(as_json).encode(), encode_model(model)
    figures: dict[str, float] = byte_rates(model, seconds)
    figures.update({
        "json_encode_per_s": per_second(lambda: json.dumps(as_json).encode(), seconds),
        "json_decode_per_s": per_second(lambda: json.loads(text), seconds),
        "json_bytes": len(text),
        "model_fastavro_encode_per_s": per_second(lambda: encode_model(model), seconds),
        "model_fastavro_decode_per_s": per_second(lambda: decode_model(ProductFootprint, data), seconds),
        "model_json_encode_per_s": per_second(lambda: json.dumps(model.to_json()).encode(), seconds),
        "model_json_decode_per_s": per_second(lambda: ProductFootprint.from_json(json.loads(text)), seconds),
    })
    return figures


def codec_share(run: Run) -> dict[str, Any]:
    """Passes of the full pipeline on a worker that times every codec call."""
    with scratch(run, "b3") as settings:
        stats = settings.data_dir / "codec-stats.json"
        with worker(settings, "--codec-stats", str(stats)) as process:
            graph = pipeline.prepare(settings, run.size(200, 2_000))
            return repeated(lambda r: pipeline.full_pass(settings, graph, pipeline.versions(r), process.pid, stats), run.repeats)


def main(run: Run) -> dict:
    model = ProductFootprint.from_json(FOOTPRINT)
    micro = repeated(lambda _r: rates(model, 0.02 if run.quick else 0.1), run.repeats)
    m = micro["median"]
    ratios = {
        "fastavro_over_json_encode": m["fastavro_encode_per_s"] / m["json_encode_per_s"],
        "fastavro_over_json_decode": m["fastavro_decode_per_s"] / m["json_decode_per_s"],
        "model_fastavro_over_json_decode": m["model_fastavro_decode_per_s"] / m["model_json_decode_per_s"],
    }
    share = codec_share(run)
    s = share["median"]
    summary = (
        f"fastavro {m['fastavro_encode_per_s'] / 1e3:.0f}k enc/s, {m['fastavro_decode_per_s'] / 1e3:.0f}k dec/s "
        f"= {ratios['fastavro_over_json_encode']:.2f}x / {ratios['fastavro_over_json_decode']:.2f}x json "
        f"({m['avro_encode_per_s'] / 1e3:.1f}k / {m['avro_decode_per_s'] / 1e3:.1f}k with the avro package); "
        f"to/from a validated model {m['model_fastavro_encode_per_s'] / 1e3:.1f}k / {m['model_fastavro_decode_per_s'] / 1e3:.1f}k/s; "
        f"in the pipeline Avro bytes are {100 * s['avro_share']:.1f} % and codec+models {100 * s['codec_share']:.1f} % "
        f"of the {s['cpu_per_update_us']:.0f} us CPU per update"
    )
    return report("b3", run, {"codec": micro, "ratios": ratios, "pipeline_share": share}, summary)
