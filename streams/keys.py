"""Keys of ``graph-updates`` and ``label-sources`` records: ``<kind>:<product id>``, the kind being ``leaf`` (a
supplier footprint) or ``recipe``. Product ids may hold colons; the kind never does."""

from __future__ import annotations

LEAF, RECIPE = "leaf", "recipe"


def key_of(kind: str, product_id: str) -> str:
    """``("recipe", "frame:7")`` -> ``"recipe:frame:7"``."""
    return f"{kind}:{product_id}"


def split_key(key: str) -> tuple[str, str]:
    """``"recipe:frame:7"`` -> ``("recipe", "frame:7")``."""
    kind, _, product_id = key.partition(":")
    return kind, product_id
