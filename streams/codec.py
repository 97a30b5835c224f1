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
from fastavro import parse_schema, schemaless_reader, schemaless_writer
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
        self._skippers: dict[tuple[bytes, str], tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]] = {}
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

    def string_field(self, data: bytes, name: str) -> str:
        """The top-level string field ``name`` of the record in ``data``, read without decoding the rest."""
        start, end = self._string_span(data, name)
        _, body = _varint(data, start)
        return data[body:end].decode()

    def with_string_field(self, data: bytes, name: str, value: str) -> bytes:
        """``data`` with its top-level string field ``name`` set to ``value``, every other byte as it was: the
        same record as decoding, changing the field and encoding again would give, at a fraction of the cost."""
        start, end = self._string_span(data, name)
        text = value.encode()
        return data[:start] + _zigzag(len(text)) + text + data[end:]

    def without_field(self, data: bytes, name: str) -> bytes:
        """``data`` with the bytes of its top-level field ``name`` left out: what to compare when that field
        alone may differ (a recipe's ``updated`` on a re-import of the same files). Not a record any more."""
        start, end = self.field_span(data, name)
        return data[:start] + data[end:]

    def field_span(self, data: bytes, name: str) -> tuple[int, int]:
        """Where the value of the top-level field ``name`` starts and ends in ``data``."""
        field, start = self._field_start(data, name)
        writer, _ = self._writer_of(data)
        try:
            end = _skip(field["type"], data, start, writer.get("__named_schemas", {}))
        except (IndexError, KeyError) as error:
            raise DecodeError(f"{self.name}: truncated or corrupt body ({type(error).__name__}: {error})") from error
        if end > len(data):
            raise DecodeError(f"{self.name}: truncated or corrupt body ({name} runs past the end)")
        return start, end

    def string_list_field(self, data: bytes, name: str) -> list[str]:
        """The top-level array-of-strings field ``name`` (e.g. ``productIds``) of the record in ``data``, read
        without decoding the rest (a recipe's hundreds of input lines after it are not even skipped)."""
        position = self._typed_start(data, name, {"type": "array", "items": "string"}, "an array of strings")
        found: list[str] = []
        try:
            while True:  # blocks of items, a count of 0 ends; a negative count is followed by the block's size
                count, position = _varint(data, position)
                if count == 0:
                    return found
                if count < 0:
                    count, (_, position) = -count, _varint(data, position)
                for _ in range(count):
                    size, position = _varint(data, position)
                    if size < 0 or position + size > len(data):
                        raise IndexError("string runs past the end")
                    found.append(data[position:position + size].decode())
                    position += size
        except (IndexError, UnicodeDecodeError) as error:
            raise DecodeError(f"{self.name}: truncated or corrupt body ({type(error).__name__}: {error})") from error

    def _string_span(self, data: bytes, name: str) -> tuple[int, int]:
        """Where the top-level string field ``name`` lies in ``data``, its length prefix included."""
        position = self._typed_start(data, name, "string", "a string field")
        try:
            size, body = _varint(data, position)
            if body + size > len(data):
                raise IndexError("string runs past the end")
        except IndexError as error:
            raise DecodeError(f"{self.name}: truncated or corrupt body ({type(error).__name__}: {error})") from error
        return position, body + size

    def _typed_start(self, data: bytes, name: str, kind: Any, kind_name: str) -> int:
        """Where the value of the top-level field ``name``, of Avro type ``kind``, starts in ``data``."""
        field, position = self._field_start(data, name)
        if field["type"] != kind:
            raise ValueError(f"{self.name}.{name} is not {kind_name}")
        return position

    def _field_start(self, data: bytes, name: str) -> tuple[dict[str, Any], int]:
        """The writer's field ``name`` and where its value starts in ``data``: fastavro reads the fields written
        before it into a record that keeps none of them, so a recipe's input lines are skipped in C, not
        walked in Python (a tenth of the time of decoding them)."""
        writer, _ = self._writer_of(data)
        field, before, nothing = self._skipper(data[2:HEADER_SIZE], writer, name)
        if before is None:
            return field, HEADER_SIZE
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        try:
            schemaless_reader(body, before, nothing)
        except (EOFError, ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError) as error:
            raise DecodeError(f"{self.name}: truncated or corrupt body ({type(error).__name__}: {error})") from error
        return field, body.tell()

    def _skipper(self, fingerprint: bytes, writer: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        """For the writer of ``fingerprint``: its field ``name``, the writer's schema cut before that field
        (None: it is the first) and a reader of the same name without fields; made once per writer and name."""
        known = self._skippers.get((fingerprint, name))
        if known is None:
            fields = writer["fields"]
            index = next((k for k, field in enumerate(fields) if field["name"] == name), None)
            if index is None:
                raise ValueError(f"{self.name} has no field {name!r}")
            plain = {key: value for key, value in writer.items() if not key.startswith("__")}
            before = nothing = None
            if index:
                before = parse_schema({**plain, "fields": fields[:index]})
                nothing = parse_schema({"type": "record", "name": writer["name"], "fields": []})
            known = self._skippers[(fingerprint, name)] = (fields[index], before, nothing)
        return known

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


_FIXED_SIZES = {"null": 0, "boolean": 1, "float": 4, "double": 8}  # bytes of each fixed-size Avro primitive


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """The zigzag varint (an Avro int or long) at ``position``, and the position after it."""
    shift = result = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7


def read_long_at(data: bytes, position: int) -> tuple[int, int]:
    """The Avro int or long written at ``position`` in ``data``, and the position after it."""
    try:
        return _varint(data, position)
    except IndexError:
        raise DecodeError(f"not an Avro long: {data[position:position + 10].hex(' ')}") from None


def _zigzag(value: int) -> bytes:
    """An Avro long as its zigzag varint bytes."""
    number, out = (value << 1) ^ (value >> 63), bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _skip(schema: Any, data: bytes, position: int, named: dict[str, Any]) -> int:
    """The position after the value of ``schema`` written at ``position`` (Avro specification, "Binary
    encoding"); ``named`` resolves the named types that a parsed schema refers to by name."""
    if isinstance(schema, list):  # a union: the branch index, then the branch
        branch, position = _varint(data, position)
        return _skip(schema[branch], data, position, named)
    if isinstance(schema, str):
        if schema in _FIXED_SIZES:
            return position + _FIXED_SIZES[schema]
        if schema in ("int", "long"):
            return _varint(data, position)[1]
        if schema in ("string", "bytes"):
            size, position = _varint(data, position)
            return position + size
        return _skip(named[schema], data, position, named)
    kind = schema["type"]
    if kind == "record":
        for field in schema["fields"]:
            position = _skip(field["type"], data, position, named)
        return position
    if kind == "enum":
        return _varint(data, position)[1]
    if kind == "fixed":
        return position + schema["size"]
    if kind in ("array", "map"):
        while True:  # blocks of items, a count of 0 ends; a negative count is followed by the block's size
            count, position = _varint(data, position)
            if count == 0:
                return position
            if count < 0:
                size, position = _varint(data, position)
                position += size
                continue
            for _ in range(count):
                if kind == "map":
                    position = _skip("string", data, position, named)
                position = _skip(schema["items" if kind == "array" else "values"], data, position, named)
    return _skip(kind, data, position, named)  # a primitive with attributes, e.g. a logical type


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
