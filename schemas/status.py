"""The engine's status record for each recipe product: what ``pcfx footprints`` prints and the API reports."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from pcfx.schemas.base import ContractModel
from pcfx.schemas.pact_types import DeclaredUnit, OpaqueId, PactDecimal, UtcMillis

ProductState = Literal["complete", "incomplete", "error", "removed"]


class ProductStatus(ContractModel):
    """``complete``: a derived footprint ``pfId`` is Active, or, for a declared unit without a PACT equivalent,
    the total is final and ``reasons`` says why no footprint is published (docs/contract.md). ``incomplete``: held back until its ``missing``
    inputs arrive (``coverage`` is the usable share of direct inputs, 0..1, and the partial value counts the
    missing ones as 0). ``error``: no meaningful footprint (a cycle that amplifies itself) or an invalid result, see ``reasons``."""

    record_kind: ClassVar[str] = "product status"
    label_keys: ClassVar[tuple[str, ...]] = ("productId",)
    avro_name: ClassVar[str] = "ProductStatus"

    product_id: OpaqueId
    state: ProductState
    pf_id: str | None = None
    pcf_excluding_biogenic_uptake: PactDecimal | None = None
    declared_unit_of_measurement: DeclaredUnit | None = None
    coverage: PactDecimal
    missing: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    upstream_changed_at: UtcMillis | None = None
    updated_at: UtcMillis
