"""The base of every pcfx record: PACT JSON in and out, the Avro dict in and out, errors that name fields.

Python attributes are snake_case; the JSON and Avro names are the PACT camelCase names (aliases).
Two sources feed a model, told apart by the validation context:

- ``from_json`` reads PACT JSON (a number where PACT wants a decimal string is an error, as is
  ``"true"`` for a boolean: the field types are strict) and is the only place where ingest
  normalisations apply;
- ``from_avro`` reads the dict fastavro decoded from our own bytes.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from pcfx.schemas.errors import ContractError, problems_of

FROM_JSON = {"source": "json"}
FROM_AVRO = {"source": "avro"}
TO_AVRO = {"target": "avro"}


def reading(info: ValidationInfo, source: dict[str, str]) -> bool:
    """True while validating input that came from ``source`` (:data:`FROM_JSON` or :data:`FROM_AVRO`)."""
    return info.context == source


def writing_avro(info: SerializationInfo) -> bool:
    """True while dumping the dict that fastavro will write."""
    return info.context == TO_AVRO


class ContractModel(BaseModel):
    """Shared conversions. Subclasses set ``record_kind`` and ``label_keys`` for error messages."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    record_kind: ClassVar[str] = "record"
    label_keys: ClassVar[tuple[str, ...]] = ()
    avro_name: ClassVar[str] = ""  # the .avsc schema of a top-level record, e.g. "ProductFootprint"

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Self:
        """Validate PACT JSON (a parsed JSON object); raise :class:`ContractError` naming field and value."""
        try:
            return cls.model_validate(obj, context=FROM_JSON)
        except ValidationError as error:
            raise ContractError(cls.record_label(obj), problems_of(error)) from None

    def to_json(self) -> dict[str, Any]:
        """PACT JSON: camelCase names, decimals as strings, UTC date-times; absent fields omitted, never null."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_avro(self) -> dict[str, Any]:
        """The dict fastavro writes with this record's ``.avsc`` (every field present, nulls included)."""
        return self.model_dump(by_alias=True, context=TO_AVRO)

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        """Rebuild the model from a decoded Avro dict; the rules run again, so bad bytes cannot sneak in."""
        try:
            return cls.model_validate(record, context=FROM_AVRO)
        except ValidationError as error:
            raise ContractError(cls.record_label(record), problems_of(error)) from None

    @classmethod
    def record_label(cls, obj: Any) -> str:
        """``footprint <id>``: the kind of record and the first identifying value found in the raw input."""
        if isinstance(obj, dict):
            for key in cls.label_keys:
                value = obj.get(key)
                if isinstance(value, list) and value:
                    value = value[0]
                if isinstance(value, (str, int)) and value != "":
                    return f"{cls.record_kind} {value}"
        return f"{cls.record_kind} (no {cls.label_keys[0] if cls.label_keys else 'id'})"


class PactObject(ContractModel):
    """A PACT data-model object. PACT allows properties it does not define (``additionalProperties`` is
    open), and the official examples carry some (e.g. a stray ``pcf.otherOperatorName``). We keep them:
    inline in JSON, and as the JSON text field ``extraJson`` in Avro, so a footprint leaves pcfx as it came.
    """

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def unpack_extra_json(cls, data: Any, info: ValidationInfo) -> Any:
        """From Avro: put the properties kept in ``extraJson`` back beside the known fields."""
        if not (reading(info, FROM_AVRO) and isinstance(data, dict)):
            return data
        data = dict(data)
        extra = data.pop("extraJson", None)
        if extra:
            data.update(json.loads(extra))
        return data

    @model_serializer(mode="wrap")
    def pack_extra_json(self, handler: Any, info: SerializationInfo) -> dict[str, Any]:
        """To Avro: move properties PACT does not define into ``extraJson`` (JSON text, or null).
        Otherwise: the PACT JSON form, see :meth:`pact_form`."""
        data = handler(self)
        if not writing_avro(info):
            return self.pact_form(data)
        extra = {key: data.pop(key) for key in (self.model_extra or {}) if key in data}
        data["extraJson"] = json.dumps(extra, ensure_ascii=False) if extra else None
        return data

    def pact_form(self, data: dict[str, Any]) -> dict[str, Any]:
        """Turn the dumped fields into PACT JSON; a hook for objects that carry pcfx-only fields."""
        return data
