"""Records the end-to-end benchmarks publish: supplier footprints, recipes that chain them into tiers, and a
buyer's subscriptions, all valid PACT records built through the contract (``from_json``).

Every recipe belongs to :data:`BUYER`, who subscribes to the products it wants labels for (a buyer sees the
products it owns). A footprint version changes the value, so each one yields a new derived footprint and
label: ``value(version)`` kgCO2e per kilogram grows by 0.001 per version.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.schemas.samples import FOOTPRINT
from pcfx.schemas.subscriptions import Subscription
from pcfx.streams.derive import product_urn

BUYER = "urn:pcfx:company:bench-buyer"
NAMESPACE = uuid.UUID("5d2f7a1c-8e3b-4c6d-9f0a-1b2c3d4e5f60")
CREATED = datetime(2025, 1, 15, tzinfo=timezone.utc)


def leaf_id(index: int) -> str:
    """Product URN of supplier product ``index``."""
    return f"urn:pcfx:bench:leaf-{index}"


def value(version: int) -> str:
    """kgCO2e per kilogram of a supplier footprint version, as a PACT decimal."""
    return f"{2 + version / 1000:.3f}"


def footprint(product: str, version: int) -> ProductFootprint:
    """Version ``version`` of the supplier footprint of ``product`` (later versions are created later)."""
    doc = copy.deepcopy(FOOTPRINT)
    doc["id"] = str(uuid.uuid5(NAMESPACE, f"{product}|{version}"))
    doc["productIds"] = [product]
    doc["created"] = (CREATED + timedelta(milliseconds=version)).isoformat().replace("+00:00", "Z")
    for name in ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions"):
        doc["pcf"][name] = value(version)
    return ProductFootprint.from_json(doc)


def recipe(product: str, inputs: list[tuple[str, float]]) -> ProductRecipe:
    """The buyer's recipe of ``product``: 0.1 kgCO2e of its own per kilogram plus ``inputs`` (id, kg)."""
    return ProductRecipe.from_json({
        "productIds": [product],
        "companyName": "Bench Buyer",
        "companyIds": [BUYER],
        "productNameCompany": product,
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "1",
        "ownEmissions": {"pcfExcludingBiogenicUptake": "0.1", "fossilGhgEmissions": "0.1"},
        "referencePeriodStart": "2024-01-01T00:00:00Z",
        "referencePeriodEnd": "2025-01-01T00:00:00Z",
        "inputs": [{"productId": p, "quantity": f"{q:g}", "unit": "kilogram"} for p, q in inputs],
        "updated": "2025-02-01T10:00:00Z",
    })


def subscription(product: str) -> Subscription:
    """The buyer's subscription to the labels of recipe product ``product``."""
    return Subscription.from_json({"buyerId": BUYER, "productId": product_urn(product), "createdAt": "2025-02-01T10:00:00Z"})


@dataclass
class Graph:
    """Supplier products (``leaves``) and recipes; ``tiers[k]`` lists the recipe products of tier k + 1."""

    leaves: list[str]
    recipes: list[ProductRecipe] = field(default_factory=list)
    tiers: list[list[str]] = field(default_factory=list)


def chains(count: int, tiers: int) -> Graph:
    """``count`` independent chains leaf -> c<i>-t1 -> ... -> c<i>-t<tiers>, 1 kg of the tier below each."""
    graph = Graph([leaf_id(i) for i in range(count)], tiers=[[] for _ in range(tiers)])
    for chain, leaf in enumerate(graph.leaves):
        below = leaf
        for tier in range(1, tiers + 1):
            product = f"c{chain}-t{tier}"
            graph.recipes.append(recipe(product, [(below, 1.0)]))
            graph.tiers[tier - 1].append(product)
            below = product
    return graph


def background_graph(products: int, tiers: int = 5, inputs: int = 2, seed: int = 0) -> Graph:
    """A background-database shock: one supplier footprint (a grid electricity factor) under ``products``
    recipes in ``tiers`` equal tiers; tier 1 uses the grid, every higher product ``inputs`` products of the
    tier below, so every product depends on the grid."""
    rng = np.random.default_rng(seed)
    graph = Graph([leaf_id(0)])
    per_tier = products // tiers
    below = graph.leaves
    for tier in range(1, tiers + 1):
        names = [f"g-t{tier}-{i}" for i in range(per_tier)]
        for name in names:
            picks = rng.choice(len(below), size=min(inputs, len(below)), replace=False)
            graph.recipes.append(recipe(name, [(below[int(p)], 0.5) for p in picks]))
        graph.tiers.append(names)
        below = names
    return graph
