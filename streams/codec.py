"""Bytes on every pcfx topic: Avro single-object encoding, written and read with fastavro.

Framing, stated once (Avro specification, "Single object encoding"): each message is

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | Avro binary body

There is no registry and no home-made header: any Avro library that has our ``.avsc`` files can read a
message, and a reader with a newer schema version finds the writer's version by its fingerprint and
resolves the two (schema evolution). No Confluent framing (magic byte + registry id) is used.

fastavro does the per-message work (about 10x the ``avro`` package's speed, same bytes). The ``avro``
package checks every ``.avsc`` when it is loaded and judges reader/writer compatibility. The
fingerprint comes from fastavro's Parsing Canonical Form: ``avro`` 1.12 keeps ``{"type": "long"}`` for
a logical-typed long where the specification (and Java) write ``"long"``, which would give a
fingerprint no other Avro library computes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro import schemaless_reader, schemaless_writer
from fastavro.repository import AbstractSchemaRepository, SchemaRepositoryError
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import load_schema as fastavro_load_schema
from fastavro.schema import to_parsing_canonical_form

import pcfx.schemas
from pcfx.schemas.base import ContractModel

SCHEMA_DIR = Path(pcfx.schemas.__file__).parent
NAMESPACE = "io.pcfx"
MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8

M = TypeVar("M", bound=ContractModel)


class DecodeError(ValueError):
    """Bytes that are not a pcfx message: bad marker, unknown schema fingerprint, or a broken body."""


class IncompatibleSchema(ValueError):
    """A reader schema cannot read data written with a writer schema (Avro schema resolution)."""


class SchemaFolders(AbstractSchemaRepository):
    """Finds ``<full name>.avsc`` (fastavro's convention) in the first folder that has it, so a schema in
    ``schemas/evolution/`` can use the named types of ``schemas/``."""

    def __init__(self, *folders: Path) -> None:
        self.folders = folders

    def load(self, name: str) -> dict[str, Any]:
        for folder in self.folders:
            path = folder / f"{name}.avsc"
            if path.exists():
                return json.loads(path.read_text())
        raise SchemaRepositoryError(f"no {name}.avsc in {', '.join(map(str, self.folders))}")


def load_schema(name: str, folder: Path | None = None) -> dict[str, Any]:
    """The parsed schema ``io.pcfx.<name>`` (e.g. ``"ProductFootprint"``) from ``folder`` or ``schemas/``,
    named types it uses expanded from their own files; also parsed by the ``avro`` package as a check."""
    folders = (folder, SCHEMA_DIR) if folder else (SCHEMA_DIR,)
    schema = fastavro_load_schema(f"{NAMESPACE}.{name}", repo=SchemaFolders(*folders))
    as_avro_schema(schema)
    return schema


def as_avro_schema(schema: dict[str, Any]) -> avro.schema.Schema:
    """The same schema as an ``avro`` package object (fastavro's private ``__`` keys removed)."""
    plain = {key: value for key, value in schema.items() if not key.startswith("__")}
    return avro.schema.parse(json.dumps(plain))


def fingerprint(schema: dict[str, Any] | str) -> bytes:
    """CRC-64-AVRO of the schema's Parsing Canonical Form, as the 8 bytes single-object encoding writes."""
    return bytes.fromhex(fastavro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def check_compatible(reader: dict[str, Any], writer: dict[str, Any]) -> None:
    """Raise :class:`IncompatibleSchema` unless ``reader`` can read what ``writer`` wrote (``avro`` package)."""
    result = ReaderWriterCompatibilityChecker().get_compatibility(as_avro_schema(reader), as_avro_schema(writer))
    if result.compatibility is not SchemaCompatibilityType.compatible:
        raise IncompatibleSchema("; ".join(sorted(result.messages)) or "incompatible")


class Codec:
    """Encodes records with one schema and decodes records written with it or any known older or newer
    version (``writers``); each writer version is checked for compatibility once, here."""

    def __init__(self, schema: dict[str, Any], writers: Iterable[dict[str, Any]] = ()) -> None:
        self.schema = schema
        self.name = schema["name"]
        self.header = MARKER + fingerprint(schema)
        self._writers: dict[bytes, tuple[dict[str, Any], dict[str, Any] | None]] = {self.header[2:]: (schema, None)}
        for writer in writers:
            check_compatible(schema, writer)
            self._writers[fingerprint(writer)] = (writer, schema)

    def encode(self, record: dict[str, Any]) -> bytes:
        """Single-object-encoded bytes of ``record`` (a dict shaped like the schema)."""
        out = io.BytesIO()
        out.write(self.header)
        schemaless_writer(out, self.schema, record)
        return out.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in ``data``, resolved to this codec's schema; :class:`DecodeError` says why not."""
        writer, reader = self._writer_of(data)
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(body, writer, reader)
        except (EOFError, ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError) as error:
            raise DecodeError(f"{self.name}: truncated or corrupt body ({type(error).__name__}: {error})") from error
        left = len(data) - body.tell()
        if left:
            raise DecodeError(f"{self.name}: {left} bytes left after the record: corrupt body or wrong schema")
        return record

    def _writer_of(self, data: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
        if len(data) < HEADER_SIZE:
            raise DecodeError(
                f"{self.name}: truncated header, {len(data)} bytes where single-object encoding needs {HEADER_SIZE}"
            )
        if data[:2] != MARKER:
            raise DecodeError(f"{self.name}: bad marker {data[:2].hex(' ')}, not Avro single-object encoding (c3 01)")
        known = self._writers.get(data[2:HEADER_SIZE])
        if known is None:
            raise DecodeError(
                f"{self.name}: unknown schema fingerprint {data[2:HEADER_SIZE].hex()}, "
                "written with a schema version this reader does not know"
            )
        return known


@cache
def codec_for(name: str) -> Codec:
    """The shared codec of ``io.pcfx.<name>``, e.g. ``codec_for("ProductFootprint")``."""
    return Codec(load_schema(name))


def encode_model(model: ContractModel) -> bytes:
    """Bytes of a pcfx model, with the schema named by its ``avro_name``."""
    return codec_for(model.avro_name).encode(model.to_avro())


def decode_model(cls: type[M], data: bytes) -> M:
    """The model in ``data``; raises :class:`DecodeError` for bad bytes, ``ContractError`` for a bad record."""
    return cls.from_avro(codec_for(cls.avro_name).decode(data))
