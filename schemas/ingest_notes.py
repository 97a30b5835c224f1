"""pcfx's own notes on a PACT footprint: what it changed on ingest and which rules it found broken.

In PACT JSON the notes travel in one DataModelExtension of pcfx (``dataSchema`` below), so a footprint
that leaves pcfx says what pcfx did to it; reading that JSON again restores the notes and does not
normalise twice. In Avro they are the fields ``normalisations`` and ``findings``.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from pcfx.schemas.pact_types import DECIMAL_TEXT, format_decimal

#: Where ``pcfx api`` serves the extension's JSON schema, under its base URL: a PACT DataModelExtension's
#: ``dataSchema`` is the URL of the extension's schema file.
PCFX_EXTENSION_PATH = "/extensions/ingest-notes/1.0.0/schema.json"
PCFX_EXTENSION_SCHEMA_FILE = "extensions/ingest-notes-1.0.0.schema.json"  # in the pcfx.schemas package
#: What pcfx wrote as ``dataSchema`` before it served the schema; still recognised on the way in.
PCFX_EXTENSION_URN = "urn:pcfx:extension:ingest-notes:1.0.0"
PCFX_EXTENSION_SPEC_VERSION = "2.0.0"  # version of the PACT Data Model Extensions specification


@functools.cache
def pcfx_extension_url() -> str:
    """The ``dataSchema`` of the notes: this process's PACT host (PCFX_API_PUBLIC_URL, else PCFX_API_HOST and
    PCFX_API_PORT) plus :data:`PCFX_EXTENSION_PATH`. Read once per process, as every setting is."""
    from pcfx.settings import Settings  # noqa: PLC0415  (the contract layer reads no settings otherwise)

    return Settings.from_env().api_base_url() + PCFX_EXTENSION_PATH


def is_pcfx_extension(data_schema: object) -> bool:
    """True for the ``dataSchema`` of pcfx's notes as any pcfx host writes it (or wrote it, the URN)."""
    return isinstance(data_schema, str) and (data_schema == PCFX_EXTENSION_URN or data_schema.endswith(PCFX_EXTENSION_PATH))


def pcfx_extension(normalisations: list[str], findings: list[str]) -> dict[str, Any]:
    """The pcfx DataModelExtension (PACT JSON) that carries the notes."""
    return {
        "specVersion": PCFX_EXTENSION_SPEC_VERSION,
        "dataSchema": pcfx_extension_url(),
        "data": {"normalisations": normalisations, "findings": findings},
    }


def split_pcfx_extension(data: dict[str, Any]) -> dict[str, Any]:
    """Move a pcfx extension found in ``extensions`` into ``normalisations`` / ``findings``."""
    extensions = data.get("extensions")
    if not isinstance(extensions, list):
        return data
    ours = [e for e in extensions if isinstance(e, dict) and is_pcfx_extension(e.get("dataSchema"))]
    if not ours:
        return data
    data = dict(data)
    others = [e for e in extensions if e not in ours]
    if others:
        data["extensions"] = others
    else:
        del data["extensions"]
    notes = ours[0].get("data") or {}
    data["normalisations"] = list(notes.get("normalisations", []))
    data["findings"] = list(notes.get("findings", []))
    return data


def normalise_fractional_pds(data: dict[str, Any]) -> dict[str, Any]:
    """PDS normalisation: PACT v3 methodology 4.2.2 defines ``primaryDataShare`` as a percent 0..100,
    but the WBCSD multi-tier samples write ``"0.52"`` for 52 %. A PDS strictly between 0 and 1 is read
    as a fraction and multiplied by 100 (``"0.52" -> "52"``) and the change is recorded, unless pcfx
    already normalised this record. A genuine PDS below 1 % is therefore misread; it stays visible in
    ``normalisations``."""
    pcf = data.get("pcf")
    if not isinstance(pcf, dict) or any(n.startswith("pcf.primaryDataShare") for n in data.get("normalisations", [])):
        return data
    text = pcf.get("primaryDataShare")
    if not isinstance(text, str) or not _is_fraction(text):
        return data
    percent = format_decimal(Decimal(text).scaleb(2))
    note = (
        f"pcf.primaryDataShare {text!r} read as a fraction and written as the percent {percent!r} "
        "(PACT v3 methodology 4.2.2)"
    )
    notes = [*data.get("normalisations", []), note]
    return {**data, "pcf": {**pcf, "primaryDataShare": percent}, "normalisations": notes}


def _is_fraction(text: str) -> bool:
    return DECIMAL_TEXT.fullmatch(text) is not None and Decimal(0) < Decimal(text) < Decimal(1)
