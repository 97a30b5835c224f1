"""One access model, end to end on the real broker: a buyer's webhooks authenticate at its own token endpoint,
and every footprint id a webhook names can be fetched over the PACT API by the notified buyer and by no
company outside the rule of :mod:`pcfx.streams.access` (owner, owner's grant, buyer of the product).

The chain of ``test_labels_e2e``: Anhui Ore (tier 3) -> Jiangsu Steel (tier 2) -> Wuxi Frames (tier 1, the
buyer). Wuxi Frames buys steel (its frame recipe lists it); Anhui Ore grants it its ore with ``pcfx
clients grant``, which writes the same Entitlement as ``pcfx entitle``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from test_labels_e2e import FRAMES_CO, ORE, ORE_CO, STEEL, STEEL_CO, latest, pcfx, publish_chain, running_worker, wait_for

from pcfx.connectors.kafka_io import settle
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.ops.kafka import free_port
from pcfx.settings import Settings

STRANGER_CO = "urn:pact:stranger.example:company-id:9"
CLIENT_ID, CLIENT_SECRET = "pcfx-exchange", "s3cret-issued-by-frames"


class PactReceiver:
    """The buyer's side: a token endpoint that issues tokens for the credentials it gave the exchange, and an
    events endpoint that records each CloudEvent with the Authorization header it came with."""

    def __init__(self) -> None:
        self.port = free_port()
        self.tokens: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (no OpenID document: the client falls back to /auth/token)
                self.send_response(404)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/auth/token":
                    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {basic}":
                        return self._json(401, {"error": "invalid_client"})
                    token = secrets.token_urlsafe(16)
                    receiver.tokens.add(token)
                    return self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
                receiver.events.append({"authorization": self.headers.get("Authorization"), **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def pf_ids(self) -> set[str]:
        return {pf_id for event in self.events for pf_id in event["data"]["pfIds"]}


def test_every_notified_footprint_is_fetchable_by_the_notified_buyer_and_nobody_else(settings: Settings,
                                                                                       tmp_path: Path) -> None:
    receiver = PactReceiver()
    try:
        added = pcfx(settings, "partners", "add", FRAMES_CO, "--url", receiver.base, "--client-id", CLIENT_ID,
                     "--client-secret", CLIENT_SECRET)
        assert added.exit_code == 0, added.output
        with running_worker(settings, tmp_path / "worker.log"):
            publish_chain(settings)
            settle(settings)
            host = Host.open(settings)
            with TestClient(create_app(settings, host=host), base_url="https://pact.test") as api:
                # the owner's grant of its ore, through the API operator's command: an Entitlement like `pcfx entitle`
                wait_for(lambda: host.readmodel.owner_of(ORE), "the ore footprint in the API's read model")
                granted = pcfx(settings, "clients", "grant", FRAMES_CO, "--product", ORE)
                assert granted.exit_code == 0, granted.output
                webhook = f"{receiver.base}/pact/events"
                for product in ("steel-1", ORE):
                    answer = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", product, "--webhook", webhook)
                    assert answer.exit_code == 0, answer.output
                steel, ore = (wait_for(lambda p=p: latest(settings, p, 1), f"label of {p}") for p in (STEEL, ORE))
                wait_for(lambda: receiver.pf_ids() == {steel.pf_id, ore.pf_id}, "both webhooks")
                tokens = {co: bearer(api, host, co) for co in (FRAMES_CO, STEEL_CO, ORE_CO, STRANGER_CO)}
                wait_for(lambda: fetch(api, tokens[FRAMES_CO], steel.pf_id) == 200, "the API following recipes")
                seen = {(co, pf): fetch(api, token, pf) for co, token in tokens.items() for pf in receiver.pf_ids()}
                listed = {co: {pf["id"] for pf in api.get("/3/footprints", headers=token).json()["data"]}
                          for co, token in tokens.items()}
    finally:
        receiver.stop()

    assert all(event["authorization"] in {f"Bearer {t}" for t in receiver.tokens} for event in receiver.events)
    assert seen == {
        (FRAMES_CO, steel.pf_id): 200, (FRAMES_CO, ore.pf_id): 200,  # the notified buyer: it buys steel, was granted ore
        (STEEL_CO, steel.pf_id): 200, (STEEL_CO, ore.pf_id): 200,  # the steel's owner; it buys the ore
        (ORE_CO, steel.pf_id): 403, (ORE_CO, ore.pf_id): 200,  # the ore's owner does not buy steel
        (STRANGER_CO, steel.pf_id): 403, (STRANGER_CO, ore.pf_id): 403,
    }
    assert {steel.pf_id, ore.pf_id} <= listed[FRAMES_CO] and not listed[STRANGER_CO] & {steel.pf_id, ore.pf_id}
    assert steel.pf_id not in listed[ORE_CO]


def bearer(api: TestClient, host: Host, company: str) -> dict[str, str]:
    client_id = company.rsplit(":", 3)[1]
    secret = host.clients.add(client_id, company)
    answer = api.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def fetch(api: TestClient, headers: dict[str, str], pf_id: str) -> int:
    return api.get(f"/3/footprints/{pf_id}", headers=headers).status_code


def test_partners_are_listed_without_their_secret_and_can_be_removed(settings: Settings) -> None:
    base = "https://pact.frames.example/pact"
    added = pcfx(settings, "partners", "add", FRAMES_CO, "--url", base, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET)
    bad = pcfx(settings, "partners", "add", "not a urn", "--url", base, "--client-id", "x", "--client-secret", "y")
    listed = pcfx(settings, "partners", "list")
    removed = pcfx(settings, "partners", "remove", FRAMES_CO.upper())
    after = pcfx(settings, "partners", "list")
    again = pcfx(settings, "partners", "remove", FRAMES_CO)

    assert added.exit_code == 0 and bad.exit_code == 2 and "companyId" in bad.output
    assert listed.output == f"{FRAMES_CO}\t{base}\tclient_id={CLIENT_ID}\n" and CLIENT_SECRET not in listed.output
    assert removed.exit_code == 0 and after.output == ""
    assert again.exit_code == 1 and "no partner" in again.output
