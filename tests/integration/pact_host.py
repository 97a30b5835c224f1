"""A real PACT host for integration tests: `pcfx api` in a thread over TLS, real Kafka behind it, a real
HTTPS receiver for its callbacks, and the reference footprints published as Avro on ``footprints``.

The reference files are tests/fixtures/pact (pcfx's own v3 examples and the MIT multi-tier samples);
they are test data only and are never shipped.
"""

from __future__ import annotations

from pact_reference import EXAMPLES
import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from kafka import KafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pcfx.connectors.kafka_io import confirm
from pcfx.agents.topics import admin_client, create_topics
from pcfx.connectors.pact_api.api_cli import tls_server
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.records import footprint_to_value
from pcfx.connectors.pact_api.tls import write_self_signed
from pcfx.ops.kafka import free_port
from pcfx.settings import Settings

REFERENCE = EXAMPLES
RECEIVER_ID, RECEIVER_SECRET = "test_client_id", "test_client_secret"  # what the PACT conformance tool uses


def reference_footprints() -> list[dict[str, Any]]:
    """The two v3 examples and the 60 multi-tier samples (62 footprints, distinct ids and product ids)."""
    files = sorted(REFERENCE.glob("v3/example-*.json")) + sorted(REFERENCE.glob("multi-tier-samples/*.json"))
    footprints: list[dict[str, Any]] = []
    for path in files:
        content = json.loads(path.read_text())
        footprints += content if isinstance(content, list) else [content]
    return footprints


@contextmanager
def isolated_settings(kafka: str, folder: Path) -> Iterator[Settings]:
    """Settings on their own topic prefix (topics created, deleted afterwards) for a module-scoped host."""
    prefix = f"t{uuid.uuid4().hex[:12]}."
    settings = Settings.from_env(bootstrap_servers=kafka, topic_prefix=prefix, app_id=f"{prefix}app", data_dir=folder,
                                 partitions=3, api_port=free_port(), api_metrics_port=free_port())
    create_topics(settings)
    yield settings
    with admin_client(settings) as admin:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])


def publish(settings: Settings, footprints: list[dict[str, Any]], topic: str = "footprints") -> None:
    """Supplier footprints onto Kafka as the exchange carries them: Avro bytes keyed by product id."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    sent = []
    for footprint in footprints:
        key = footprint["productIds"][0] if topic == "footprints" else footprint["id"]
        sent.append(producer.send(settings.topic(topic), key=key.encode(), value=footprint_to_value(footprint)))
    confirm(producer, sent)
    producer.close()


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 60.0, poll_s: float = 0.1) -> Any:
    """Poll until ``condition()`` is truthy and return it; fail naming ``what`` after ``timeout_s``.

    ``poll_s`` is for conditions that read whole topics, which are worth asking less often.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


@contextmanager
def running(server: uvicorn.Server) -> Iterator[uvicorn.Server]:
    """Run a uvicorn server in a thread until the block ends."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), "the server to start")
    assert server.started, "the server thread died while starting"
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def pact_host(settings: Settings, host: Host | None = None) -> Iterator[Host]:
    """`pcfx api` in-process: the same app and TLS server the command runs, with its background threads;
    the host is closed when the block ends."""
    host = host or Host.open(settings)
    with running(tls_server(settings, create_app(settings, host=host), log_level="warning")):
        yield host


class Receiver:
    """The requester's side of asynchronous requests: a PACT token endpoint and events endpoint over HTTPS
    (like the conformance service's), recording every event POSTed with a token it issued."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._tokens: set[str] = set()
        self.cert, self.key = folder / "receiver-cert.pem", folder / "receiver-key.pem"
        write_self_signed(self.cert, self.key, ["127.0.0.1"])

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            expected = base64.b64encode(f"{RECEIVER_ID}:{RECEIVER_SECRET}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            issued = uuid.uuid4().hex
            self._tokens.add(issued)
            return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

        async def events(request: Request) -> Response:
            if request.headers.get("authorization", "").removeprefix("Bearer ") not in self._tokens:
                return JSONResponse({"code": "BadRequest", "message": "invalid token"}, status_code=401)
            self.paths.append(request.url.path)
            self.events.append(json.loads(await request.body()))
            return Response(status_code=200)

        return Starlette(routes=[Route("/auth/token", token, methods=["POST"]),
                                 Route("/3/events", events, methods=["POST"])])

    def server(self) -> uvicorn.Server:
        return uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, ssl_certfile=str(self.cert),
                                             ssl_keyfile=str(self.key), log_level="warning"))

    def answer_to(self, request_event_id: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("data", {}).get("requestEventId") == request_event_id), None)
