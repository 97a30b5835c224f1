"""Carbon labels on the PACT API: each buyer reads its own labels (JSON or SVG) and subscribes to products.

The host follows the ``labels`` topic (key ``<buyer>|<product>``) into the SQLite table ``labels``: a label
is there only while the worker holds the buyer entitled to the product, and a tombstone removes it. Each
version's value is also kept in ``label_versions``, the history the web app charts (a compacted topic
forgets old versions; the host remembers those it saw). So the
entitlement check of these routes is the lookup itself: a client's company reads the rows of that company,
never another buyer's.

Routes (Bearer token, like every PACT action; ``productId`` is a URN or a pcfx product id):

- ``GET /3/labels``: the company's labels, ``{"data": [CarbonLabel...]}``;
- ``GET /3/labels/{productId}``: one label, 404 if the company has none for that product;
- ``GET /3/labels/{productId}/svg``: the same label as an SVG image (Chinese and English text);
- ``POST /3/subscriptions``: ``{"productIds": [...], "webhookUrl": "...", "active": true}`` subscribes the
  company (202); the worker answers on ``subscription-status``. A malformed request is a 400, a product no
  footprint in the exchange names is a 404.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from kafka.consumer.fetcher import ConsumerRecord
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pcfx.connectors.buyer import RequestError, as_product_urn, subscriptions_for
from pcfx.connectors.label_svg import render_label_svg
from pcfx.connectors.pact_api.errors import ApiError, bad_request
from pcfx.connectors.webhook_targets import AllowList, TargetRefused, check_target
from pcfx.schemas.models import CarbonLabel
from pcfx.schemas.subscriptions import KEY_SEPARATOR, Subscription
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model

if TYPE_CHECKING:
    from pcfx.connectors.pact_api.auth import Client
    from pcfx.connectors.pact_api.host import Host

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    buyer TEXT NOT NULL,
    product TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (buyer, product)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS label_versions (
    buyer TEXT NOT NULL,
    product TEXT NOT NULL,
    version INTEGER NOT NULL,
    value TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    PRIMARY KEY (buyer, product, version)
) WITHOUT ROWID
"""
TOPIC = "labels"
SVG = "image/svg+xml"
MAX_BODY_BYTES = 64 * 1024  # a subscription request names products, not footprints


def apply_label(conn: sqlite3.Connection, record: ConsumerRecord) -> None:
    """Follower callback: one ``labels`` record into the ``labels`` table (a tombstone deletes)."""
    buyer, _, product = (record.key or b"").decode("utf-8", "replace").partition(KEY_SEPARATOR)
    if record.value is None:
        conn.execute("DELETE FROM labels WHERE buyer = ? AND product = ?", (buyer.lower(), product))
        return
    label = decode_model(CarbonLabel, record.value)
    doc = json.dumps(label.to_json(), ensure_ascii=False, separators=(",", ":"))
    conn.execute("INSERT OR REPLACE INTO labels VALUES (?, ?, ?)", (buyer.lower(), product, doc))
    conn.execute("INSERT OR REPLACE INTO label_versions VALUES (?, ?, ?, ?, ?)",
                 (buyer.lower(), product, label.version, label.value, label.issued_at.isoformat()))


def labels_of(conn: sqlite3.Connection, company: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT doc FROM labels WHERE buyer = ? ORDER BY product", (company.lower(),))
    return [json.loads(row["doc"]) for row in rows]


def label_of(conn: sqlite3.Connection, company: str, product_id: str) -> CarbonLabel:
    """The company's label of a product, or a 404 that says so."""
    try:
        product = as_product_urn(product_id)
    except RequestError as error:
        raise bad_request(str(error)) from None
    row = conn.execute("SELECT doc FROM labels WHERE buyer = ? AND product = ?", (company.lower(), product)).fetchone()
    if row is None:
        raise ApiError("NotFound", f"{company} holds no label of {product}: subscribe to it (POST /3/subscriptions)")
    return CarbonLabel.from_json(json.loads(row["doc"]))


def known_product(conn: sqlite3.Connection, product: str) -> bool:
    """Does any footprint the host serves name this product?"""
    found = conn.execute("SELECT 1 FROM footprint_keys WHERE kind = 'product' AND value = ?", (product.lower(),))
    return found.fetchone() is not None


def caller(request: Request) -> tuple[Host, Client]:
    """The host and the authenticated client of a request (401 without a valid token)."""
    from pcfx.connectors.pact_api.app import authenticated, host_of  # noqa: PLC0415  (the app imports this module)

    return host_of(request), authenticated(request)


def list_labels(request: Request) -> JSONResponse:
    host, client = caller(request)
    return JSONResponse({"data": labels_of(host.store.conn, client.company)})


def get_label(request: Request) -> JSONResponse:
    host, client = caller(request)
    return JSONResponse({"data": label_of(host.store.conn, client.company, request.path_params["productId"]).to_json()})


def get_label_svg(request: Request) -> Response:
    host, client = caller(request)
    label = label_of(host.store.conn, client.company, request.path_params["productId"])
    return Response(render_label_svg(label), media_type=SVG)


async def post_subscriptions(request: Request) -> JSONResponse:
    """Subscribe the client's company; 202 once the subscriptions are on Kafka."""
    from pcfx.connectors.pact_api.app import capped_body  # noqa: PLC0415

    host, client = await run_in_threadpool(caller, request)
    subscriptions = subscription_request(client.company, await capped_body(request, MAX_BODY_BYTES))
    await run_in_threadpool(check_webhooks, host.settings, subscriptions)
    unknown = [s.product_id for s in subscriptions if s.active and not known_product(host.store.conn, s.product_id)]
    if unknown:
        raise ApiError("NotFound", f"unknown product(s) {', '.join(unknown)}: no footprint in the exchange names them")
    for subscription in subscriptions:
        await run_in_threadpool(host.send, "subscriptions", subscription.key, encode_model(subscription))
    return JSONResponse({"data": [s.to_json() for s in subscriptions]}, status_code=202)


def check_webhooks(settings: Settings, subscriptions: list[Subscription]) -> None:
    """A 400 for a webhookUrl the worker would refuse to call (:mod:`pcfx.connectors.webhook_targets`)."""
    allow = AllowList.parse(settings.webhook_allow)
    for url in sorted({s.webhook_url for s in subscriptions if s.active and s.webhook_url}):
        try:
            check_target(url, allow)
        except TargetRefused as error:
            raise bad_request(str(error)) from None


def subscription_request(company: str, body: bytes) -> list[Subscription]:
    """The subscriptions a request body asks for, or a 400 that says what is wrong."""
    shape = 'send {"productIds": [URN, ...], "webhookUrl": URL (optional), "active": true|false (optional)}'
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise bad_request(f"malformed subscription request: not JSON; {shape}") from None
    products = document.get("productIds") if isinstance(document, dict) else None
    if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
        raise bad_request(f"malformed subscription request: productIds must be a list of product ids; {shape}")
    active = document.get("active", True)
    if not isinstance(active, bool):
        raise bad_request(f"malformed subscription request: active must be true or false; {shape}")
    try:
        return subscriptions_for(company, products, document.get("webhookUrl"), active=active)
    except RequestError as error:
        raise bad_request(f"malformed subscription request: {error}") from None


ROUTES = [
    Route("/3/labels", list_labels),
    Route("/3/labels/{productId:path}/svg", get_label_svg),
    Route("/3/labels/{productId:path}", get_label),
    Route("/3/subscriptions", post_subscriptions, methods=["POST"]),
]
