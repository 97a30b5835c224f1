"""The PACT v3 host as a Starlette app: Authenticate, ListFootprints, GetFootprint, Events, the OpenAPI.

:func:`create_app` wires the routes to one :class:`~pcfx.connectors.pact_api.host.Host`. With ``background=True`` the app's lifespan also runs the threads that follow the topics into
the read model and deliver answers to requests. Plain HTTP never reaches these routes: ``pcfx api``
serves them over TLS only (see :mod:`tls`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pcfx.connectors.label_api import ROUTES as LABEL_ROUTES
from pcfx.connectors.pact_api.auth import SCOPES, Client, basic_credentials
from pcfx.connectors.pact_api.errors import ApiError, bad_request
from pcfx.connectors.pact_api.events import REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, Event, is_uuid, parse_event
from pcfx.connectors.pact_api.filters import criteria_from_query
from pcfx.connectors.pact_api.host import Host, public_base
from pcfx.connectors.pact_api.pagination import link_header, next_link, split_page
from pcfx.connectors.pact_api.records import request_to_value
from pcfx.connectors.pact_api.responder import callback_target, request_key
from pcfx.connectors.web.app import ROUTES as WEB_ROUTES
from pcfx.connectors.pact_api.throttle import Refused
from pcfx.metrics import METRICS
from pcfx.schemas.ingest_notes import PCFX_EXTENSION_PATH, PCFX_EXTENSION_SCHEMA_FILE
from pcfx.streams.derive import INPUTS_EXTENSION_PATH, INPUTS_SCHEMA_FILE
from pcfx.settings import Settings

log = logging.getLogger(__name__)

INBOUND_TOPIC = "inbound-events"  # PublishedEvents (and answers to our requests) for the pull connector
#: Largest event body accepted (413 beyond): the event goes on Kafka as one record, keyed by its source, and
#: Kafka takes records up to 1 MiB by default (the producer's max_request_size); this leaves room for the
#: key and headers. A RequestFulfilledEvent of 100 footprints is ~300 KB.
MAX_EVENT_BYTES = 960 * 1024
MAX_FORM_BYTES = 16 * 1024  # largest token request body; it holds grant_type and perhaps a scope


# -- routes ------------------------------------------------------------------------------------------------


def openid_configuration(request: Request) -> JSONResponse:
    base = public_base(host_of(request).settings, request)
    return JSONResponse({
        "issuer": base,
        "token_endpoint": f"{base}/auth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "response_types_supported": ["token"],
        "scopes_supported": SCOPES.split(),
    })


async def issue_token(request: Request) -> JSONResponse:
    """Action Authenticate (RFC 6749 §4.4): HTTP Basic client authentication, grant_type=client_credentials."""
    host = host_of(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return oauth_error(400, "invalid_request", "send grant_type=client_credentials as application/x-www-form-urlencoded")
    form = dict(parse_qsl((await capped_body(request, MAX_FORM_BYTES)).decode("utf-8", "replace")))
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        return oauth_error(401, "invalid_client", "authenticate the client with HTTP Basic (client id and secret)")
    if form.get("grant_type") != "client_credentials":
        code = "invalid_request" if "grant_type" not in form else "unsupported_grant_type"
        return oauth_error(400, code, f"grant_type must be client_credentials, not {form.get('grant_type')!r}")
    ttl, guard = host.settings.token_ttl_s, host.token_guard
    address = request.client.host if request.client else ""
    try:  # decided from counts alone: a refused request costs no secret check
        pool = guard.admit(credentials[0], address)
    except Refused as refused:
        return oauth_error(429, "invalid_client", refused.reason, retry_after_s=refused.retry_after_s)
    token = None
    try:  # in the guard's own pool: a flood of secret checks does not hold up other clients' requests
        token = await asyncio.get_running_loop().run_in_executor(pool, host.clients.issue_token, *credentials, ttl)
    finally:
        guard.done(credentials[0], address, token is not None, pool)
    if token is None:
        return oauth_error(401, "invalid_client", "client authentication failed")
    body = {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": SCOPES}
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def list_footprints(request: Request) -> Response:
    """Action ListFootprints: filtered, paginated, only what the client's company may see."""
    host = host_of(request)
    client = authenticated(request)
    page, rest = split_page(request.query_params.multi_items())
    criteria = criteria_from_query(rest)
    upto = page.upto if page.upto is not None else host.readmodel.last_seq()
    rows = host.readmodel.query(client.company, criteria, after=page.after, upto=upto, limit=page.size + 1)
    headers = {}
    if len(rows) > page.size:
        rows = rows[: page.size]
        link = next_link(public_base(host.settings, request), criteria, page, rows[-1]["seq"], upto)
        headers["Link"] = link_header(link)
    body = '{"data":[' + ",".join(row["doc"] for row in rows) + "]}"
    return Response(body, media_type="application/json", headers=headers)


def get_footprint(request: Request) -> JSONResponse:
    """Action GetFootprint: 404 if unknown, 403 if the client may not see it, deprecated ones served."""
    host = host_of(request)
    client = authenticated(request)
    pf_id = request.path_params["id"]
    if not is_uuid(pf_id):
        raise ApiError("NotFound", f"no footprint with id {pf_id!r}: footprint ids are UUIDs")
    footprint = host.readmodel.get(pf_id)
    if footprint is None:
        raise ApiError("NotFound", f"no footprint with id {pf_id!r}")
    if not host.readmodel.visible(client.company, footprint):
        raise ApiError("AccessDenied", f"footprint {pf_id} is not shared with {client.company}")
    return JSONResponse({"data": footprint})


async def post_event(request: Request) -> Response:
    """Action Events: 200 with an empty body once the event is safely on Kafka, 4xx if it is malformed."""
    host = host_of(request)
    client = await run_in_threadpool(authenticated, request)
    event = parse_event(await capped_body(request, MAX_EVENT_BYTES), request.headers.get("content-type"))
    await run_in_threadpool(accept_event, host, client, event)
    return Response(status_code=200)


def accept_event(host: Host, client: Client, event: Event) -> None:
    """A request goes to ``requests`` for the responder; a supplier's answer to one of our requests for a
    missing input is recorded (:mod:`outbound`); every other event goes to ``inbound-events``."""
    if event.type in (REQUEST_FULFILLED, REQUEST_REJECTED) and host.outbound is not None:
        if host.outbound.record_answer(client, event.type, event.data):
            return
    if event.type == REQUEST_CREATED:
        target = callback_target(client, event.source)
        try:
            value = request_to_value(event.id, event.criteria(), event.data.get("comment"), client.client_id, target)
        except ValueError as error:
            raise bad_request(f"the request cannot be served: {error}") from None
        host.send("requests", request_key(target, event.id), value)
        return
    headers = [("content-type", b"application/cloudevents+json"), ("pcfx-client-id", client.client_id.encode()),
               ("pcfx-company", client.company.encode())]
    host.send(INBOUND_TOPIC, event.source, json.dumps(event.raw).encode(), headers)


@cache
def openapi_text() -> str:
    return resources.files("pcfx.connectors.pact_api").joinpath("openapi.yaml").read_text("utf-8")


def openapi_document(request: Request) -> Response:
    return Response(openapi_text(), media_type="application/yaml")


@cache
def schema_text(name: str) -> str:
    return resources.files("pcfx.schemas").joinpath(name).read_text("utf-8")


def inputs_schema_document(request: Request) -> Response:
    """The JSON schema of pcfx's direct-inputs extension: the ``dataSchema`` URL of every derived footprint
    points here (PACT Data Model Extensions), so it is public like the OpenAPI document."""
    return Response(schema_text(INPUTS_SCHEMA_FILE), media_type="application/schema+json")


def notes_schema_document(request: Request) -> Response:
    """The JSON schema of pcfx's ingest-notes extension (``dataSchema`` of the notes on a footprint)."""
    return Response(schema_text(PCFX_EXTENSION_SCHEMA_FILE), media_type="application/schema+json")


# -- plumbing ----------------------------------------------------------------------------------------------


def host_of(request: Request) -> Host:
    return request.app.state.host


def authenticated(request: Request) -> Client:
    return host_of(request).clients.client_for_token(request.headers.get("authorization"))


async def capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) once it grows past ``limit`` bytes instead of filling memory."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError("BadRequest", f"the request body is larger than {limit} bytes", 413)
    return bytes(body)


def oauth_error(status: int, error: str, description: str, retry_after_s: float | None = None) -> JSONResponse:
    """RFC 6749 §5.2 error body; 401 also names the Basic scheme the endpoint expects, 429 when to retry."""
    headers = {"WWW-Authenticate": 'Basic realm="pcfx"'} if status == 401 else {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    headers["Cache-Control"] = "no-store"
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


async def api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error.response()


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's own 404/405 in the PACT error shape."""
    assert isinstance(error, HTTPException)
    code = "NotFound" if error.status_code == 404 else "BadRequest"
    message = f"no such endpoint: {request.url.path}" if error.status_code == 404 else str(error.detail)
    return ApiError(code, message, error.status_code, dict(error.headers or {})).response()  # a 405 keeps its Allow


async def internal_error(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return ApiError("InternalError", "an unexpected error occurred; it was logged").response()


class Observed:
    """ASGI middleware: requests by route template and status, with handling time (pcfx.metrics)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"strict-transport-security", b"max-age=31536000"))
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            METRICS.observe_request(route, status, time.perf_counter() - started)


def create_app(settings: Settings, *, host: Host | None = None, background: bool = True) -> Starlette:
    """The ASGI app; ``background`` also follows the topics and delivers answers while it runs."""
    host = host or Host.open(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if background:
            host.start()
        try:
            yield
        finally:
            await run_in_threadpool(host.close)

    routes = [
        Route("/.well-known/openid-configuration", openid_configuration),
        Route("/auth/token", issue_token, methods=["POST"]),
        Route("/3/footprints", list_footprints),
        Route("/3/footprints/{id}", get_footprint),
        Route("/3/events", post_event, methods=["POST"]),
        Route("/openapi.yaml", openapi_document),
        Route(INPUTS_EXTENSION_PATH, inputs_schema_document),
        Route(PCFX_EXTENSION_PATH, notes_schema_document),
        *LABEL_ROUTES,
        *WEB_ROUTES,
    ]
    handlers = {ApiError: api_error, HTTPException: http_error, Exception: internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    app.state.host = host
    app.add_middleware(Observed)
    return app
