"""How fast the wire codec is: records per second per core, fastavro (ours) against the ``avro`` package.

Run ``python -m pcfx.bench.codec [--seconds 0.5]``: prints one JSON document, then a one-line summary.
fastavro's cost grows with the number of fields (each optional field is a union), not with the bytes,
so the field count is printed beside the size.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from typing import Any

import avro.io

from pcfx.schemas.models import CarbonLabel, ProductFootprint
from pcfx.schemas.samples import FOOTPRINT, LABEL
from pcfx.streams.codec import HEADER_SIZE, as_avro_schema, codec_for

def per_second(work: Callable[[], Any], seconds: float) -> float:
    """Calls of ``work`` per second, best of three runs of about ``seconds`` each."""
    best = 0.0
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(100):
                work()
            calls += 100
        best = max(best, calls / elapsed)
    return best


def count_fields(schema: Any) -> int:
    """Fields of every record type in the schema, nested records included (each named type once)."""
    if isinstance(schema, list):
        return sum(count_fields(branch) for branch in schema)
    if not isinstance(schema, dict):
        return 0
    if schema.get("type") == "record":
        return sum(1 + count_fields(field["type"]) for field in schema["fields"])
    return count_fields(schema.get("items")) + count_fields(schema.get("values"))


def measure(model: ProductFootprint | CarbonLabel, seconds: float) -> dict[str, Any]:
    """Encode/decode rates of one record with fastavro (our codec) and with the avro package."""
    codec = codec_for(model.avro_name)
    record = model.to_avro()
    data = codec.encode(record)
    writer = avro.io.DatumWriter(as_avro_schema(codec.schema))
    reader = avro.io.DatumReader(as_avro_schema(codec.schema))
    return {
        "bytes": len(data),
        "schema_fields": count_fields({k: v for k, v in codec.schema.items() if not k.startswith("__")}),
        "fastavro_encode_per_s": round(per_second(lambda: codec.encode(record), seconds)),
        "fastavro_decode_per_s": round(per_second(lambda: codec.decode(data), seconds)),
        "avro_encode_per_s": round(
            per_second(lambda: writer.write(record, avro.io.BinaryEncoder(io.BytesIO())), seconds / 5)
        ),
        "avro_decode_per_s": round(
            per_second(lambda: reader.read(avro.io.BinaryDecoder(io.BytesIO(data[HEADER_SIZE:]))), seconds / 5)
        ),
        "model_to_avro_per_s": round(per_second(model.to_avro, seconds)),
        "model_from_avro_per_s": round(per_second(lambda: type(model).from_avro(record), seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one timed run")
    seconds = parser.parse_args().seconds
    results = {
        "ProductFootprint": measure(ProductFootprint.from_json(FOOTPRINT), seconds),
        "CarbonLabel": measure(CarbonLabel.from_json(LABEL), seconds),
    }
    print(json.dumps(results, indent=2))
    pf = results["ProductFootprint"]
    print(
        f"codec: ProductFootprint {pf['bytes']} B / {pf['schema_fields']} schema fields: fastavro encodes "
        f"{pf['fastavro_encode_per_s'] / 1000:.0f}k/s, decodes {pf['fastavro_decode_per_s'] / 1000:.0f}k/s "
        f"({pf['fastavro_encode_per_s'] / pf['avro_encode_per_s']:.0f}x / "
        f"{pf['fastavro_decode_per_s'] / pf['avro_decode_per_s']:.0f}x the avro package)"
    )


if __name__ == "__main__":
    main()
