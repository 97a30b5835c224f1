"""Routes of the web app, mounted in the PACT host's Starlette app under ``/web``.

- ``GET/POST /web/login``: sign in with the company's API client id and secret (CSRF: double-submit nonce);
- ``POST /web/logout``: sign out (CSRF token of the session);
- ``GET /web/board``: the company's labels; ``GET /web/events``: the same labels as server-sent events,
  one event per changed label, which ``/web/static/live.js`` swaps into the open page;
- ``GET /web/products/{product}``: a product's label, data quality and version history; 403 unless the
  access seam (:func:`access.may_see`) lets the company see it.

Errors here are HTML pages, not the PACT JSON errors of the API routes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from importlib import resources
from urllib.parse import parse_qsl, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from pcfx.connectors.label_api import labels_of
from pcfx.connectors.pact_api.auth import Client
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.web import pages
from pcfx.connectors.pact_api.host import public_base
from pcfx.connectors.web.access import may_see
from pcfx.connectors.web.explain import changes, explain
from pcfx.connectors.web.qr import qr_svg
from pcfx.connectors.web.supplier import open_requests_of, published_of, refused_of
from pcfx.connectors.web.session import (LOGIN_COOKIE, SESSION_COOKIE, cookie_header, csrf_token, csrf_valid,
                                         login_nonce, login_valid, same_origin)
from pcfx.schemas.models import CarbonLabel

POLL_S = 0.1  # how often an open event stream looks for changed labels in the host's table, in seconds
HEARTBEAT_S = 15.0  # a comment line keeps idle streams (and proxies) open, in seconds
MAX_FORM_BYTES = 4096
NO_STORE = {"Cache-Control": "no-store"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def host_of(request: Request):  # noqa: ANN201 (the app module imports this one)
    return request.app.state.host


def lang_of(request: Request) -> str:
    return pages.pick_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**NO_STORE, "Content-Security-Policy": CSP,
                                                           "X-Content-Type-Options": "nosniff", **(headers or {})})


def session_client(request: Request) -> tuple[Client, str] | None:
    """The signed-in client and its session token, or None (no cookie, expired, client removed)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return host_of(request).clients.client_for_token(f"Bearer {token}"), token
    except ApiError:
        return None


def to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/web/login?lang={lang_of(request)}", status_code=303)


# -- sign-in ----------------------------------------------------------------------------------------------


def login_form(request: Request) -> Response:
    nonce = login_nonce()
    response = html(pages.sign_in_page(lang_of(request), nonce))
    response.headers.append("set-cookie", cookie_header(LOGIN_COOKIE, nonce, 600))
    return response


async def login(request: Request) -> Response:
    lang = lang_of(request)
    body = await request.body()
    form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
    if not same_origin(request.headers.get("origin"), request.headers.get("host")) or not login_valid(
            request.cookies.get(LOGIN_COOKIE), form.get("nonce")):
        nonce = login_nonce()
        response = html(pages.sign_in_page(lang, nonce, "bad_form"), 403)
        response.headers.append("set-cookie", cookie_header(LOGIN_COOKIE, nonce, 600))
        return response
    host = host_of(request)
    ttl = host.settings.token_ttl_s
    token = await run_in_threadpool(host.clients.issue_token, form.get("client_id", ""), form.get("client_secret", ""), ttl)
    if token is None:
        nonce = login_nonce()
        response = html(pages.sign_in_page(lang, nonce, "bad_credentials"), 401)
        response.headers.append("set-cookie", cookie_header(LOGIN_COOKIE, nonce, 600))
        return response
    response = RedirectResponse(f"/web/board?lang={lang}", status_code=303, headers=NO_STORE)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, token, ttl))
    response.headers.append("set-cookie", cookie_header(LOGIN_COOKIE, "", 0))
    return response


async def logout(request: Request) -> Response:
    form = dict(parse_qsl((await request.body())[:MAX_FORM_BYTES].decode("utf-8", "replace")))
    token = request.cookies.get(SESSION_COOKIE)
    if not same_origin(request.headers.get("origin"), request.headers.get("host")) or not csrf_valid(token, form.get("csrf")):
        return html(pages.error_page(lang_of(request), 403), 403)
    response = to_sign_in(request)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", 0))
    return response


def index(request: Request) -> Response:
    return RedirectResponse(f"/web/board?lang={lang_of(request)}", status_code=303)


# -- buyer board ------------------------------------------------------------------------------------------


def company_labels(request: Request, company: str) -> list[CarbonLabel]:
    return [CarbonLabel.from_json(doc) for doc in labels_of(host_of(request).store.conn, company)]


def board(request: Request) -> Response:
    signed_in = session_client(request)
    if signed_in is None:
        return to_sign_in(request)
    client, token = signed_in
    labels = company_labels(request, client.company)
    now = datetime.now(timezone.utc)
    return html(pages.board_page(labels, lang_of(request), client.company, csrf_token(token), now))


async def events(request: Request) -> Response:
    """Server-sent events: every current label when the stream opens, then one ``label`` event per label
    that is new or changed."""
    signed_in = await run_in_threadpool(session_client, request)
    if signed_in is None:
        return Response(status_code=401)
    company, lang = signed_in[0].company, lang_of(request)
    conn = host_of(request).store.conn

    def current() -> dict[str, str]:
        rows = conn.execute("SELECT product, doc FROM labels WHERE buyer = ?", (company.lower(),))
        return {row["product"]: row["doc"] for row in rows}

    async def stream() -> AsyncIterator[str]:
        # every current label goes out first: one issued between the page's rendering and this stream's
        # opening would otherwise never reach the page (the script swaps a row only if its version moved)
        seen: dict[str, str] = {}
        quiet_s = 0.0
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            await asyncio.sleep(POLL_S)
            now_docs = current()
            changed = [product for product, doc in now_docs.items() if seen.get(product) != doc]
            seen = now_docs
            quiet_s = 0.0 if changed else quiet_s + POLL_S
            for product in changed:
                label = CarbonLabel.from_json(json.loads(now_docs[product]))
                row = pages.board_row(label, lang, datetime.now(timezone.utc))
                data = json.dumps({"product": label.product_id, "version": label.version, "row": row})
                yield f"event: label\ndata: {data}\n\n"
            if quiet_s >= HEARTBEAT_S:
                quiet_s = 0.0
                yield ": still here\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={**NO_STORE, "X-Accel-Buffering": "no"})


# -- product page -----------------------------------------------------------------------------------------


def product(request: Request) -> Response:
    signed_in = session_client(request)
    if signed_in is None:
        return to_sign_in(request)
    client, token = signed_in
    lang, csrf = lang_of(request), csrf_token(token)
    product_id = unquote(request.path_params["product"])
    conn = host_of(request).store.conn
    if not may_see(conn, client.company, product_id):
        return html(pages.error_page(lang, 403, csrf), 403)
    row = conn.execute("SELECT doc FROM labels WHERE buyer = ? AND lower(product) = ?",
                       (client.company.lower(), product_id.lower())).fetchone()
    label = None if row is None else CarbonLabel.from_json(json.loads(row["doc"]))
    versions = [(r["version"], r["value"], r["issued_at"]) for r in conn.execute(
        "SELECT version, value, issued_at FROM label_versions WHERE buyer = ? AND lower(product) = ? ORDER BY version",
        (client.company.lower(), product_id.lower()))]
    why = qr = ""
    if label is not None:
        why = product_explanation(host_of(request), label, lang)
        page_url = f"{public_base(host_of(request).settings, request)}{pages.product_href(label.product_id, lang)}"
        qr = qr_svg(page_url, pages.text(lang, "qr"))
    return html(pages.product_page(label, product_id, versions, lang, csrf, why, qr))


def product_explanation(host, label: CarbonLabel, lang: str) -> str:  # noqa: ANN001 (Host: the app imports us)
    """The label's footprint split into its direct inputs, and the change from the footprint it replaced."""
    footprint = host.readmodel.get(label.pf_id)
    if footprint is None:
        return ""
    explanation = explain(footprint, host.readmodel.get_any)
    moves = total_before = None
    preceding = footprint.get("precedingPfIds") or []
    previous = host.readmodel.get_any(preceding[0]) if preceding else None
    if explanation is not None and previous is not None:
        before = explain(previous, host.readmodel.get_any)
        if before is not None:
            moves, total_before = changes(before, explanation), before.total
    return pages.explanation_section(explanation, moves, total_before, lang)


def supplier(request: Request) -> Response:
    signed_in = session_client(request)
    if signed_in is None:
        return to_sign_in(request)
    client, token = signed_in
    conn = host_of(request).store.conn
    body = pages.supplier_page(published_of(conn, client.company), refused_of(conn, client.company), client.company,
                               lang_of(request), csrf_token(token), open_requests_of(conn, client.company))
    return html(body)


def static_script(request: Request) -> Response:
    source = resources.files("pcfx.connectors.web").joinpath("static/live.js").read_text("utf-8")
    return Response(source, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


ROUTES = [
    Route("/web", index),
    Route("/web/", index),
    Route("/web/login", login_form, methods=["GET"]),
    Route("/web/login", login, methods=["POST"]),
    Route("/web/logout", logout, methods=["POST"]),
    Route("/web/board", board),
    Route("/web/events", events),
    Route("/web/products/{product:path}", product),
    Route("/web/supplier", supplier),
    Route("/web/static/live.js", static_script),
]
