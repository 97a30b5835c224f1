"""Issue 17 (b): a flood of wrong secrets on the real PACT API (TLS, uvicorn, Kafka behind it) gets its quota of
secret checks and then only 429s that cost no hash, while a client elsewhere still gets its token.

The flood comes from 127.0.0.2 and the other client from 127.0.0.1 (both loopback; the API sees two
addresses). Secret checks are counted by wrapping ``auth.check_secret``, the one place scrypt runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from pact_host import pact_host

from pcfx.connectors.pact_api import auth
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.throttle import FAILURES_PER_ADDRESS
from pcfx.settings import Settings

CONNECTIONS = 60
FORM = {"grant_type": "client_credentials"}
FLOODER, OTHER = "127.0.0.2", "127.0.0.1"


def client_from(address: str, url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, transport=httpx.AsyncHTTPTransport(local_address=address, verify=False),
                             timeout=60)


async def flood_and_ask(url: str, secret: str) -> tuple[Counter, int]:
    """60 connections of wrong secrets for made-up client ids until the address has had its quota of 401s;
    once the first refusal is seen, the other client asks for its token. Returns the flood's status codes and
    the other client's."""
    codes: Counter = Counter()
    refused = asyncio.Event()
    deadline = time.monotonic() + 120

    async def one(n: int) -> None:
        async with client_from(FLOODER, url) as client:
            k = 0
            while codes[401] < FAILURES_PER_ADDRESS and time.monotonic() < deadline:
                k += 1
                answer = await client.post("/auth/token", data=FORM, auth=(f"guess-{n}-{k}", "wrong"))
                codes[answer.status_code] += 1
                if answer.status_code == 429:
                    refused.set()

    async def other() -> int:
        await refused.wait()
        async with client_from(OTHER, url) as client:
            return (await client.post("/auth/token", data=FORM, auth=("reader", secret))).status_code

    *_, status = await asyncio.gather(*(one(n) for n in range(CONNECTIONS)), other())
    return codes, status


def test_a_wrong_secret_flood_gets_its_quota_of_checks_then_429s_without_hashing(settings: Settings, tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    host = Host.open(settings)
    secret = host.clients.add("reader", "urn:pcfx:company:reader")
    checks: list[str] = []
    real = auth.check_secret
    monkeypatch.setattr(auth, "check_secret", lambda given, stored: checks.append(stored) or real(given, stored))
    url = f"https://127.0.0.1:{settings.api_port}"
    with pact_host(settings, host):
        codes, other_status = asyncio.run(flood_and_ask(url, secret))
        assert other_status == 200  # a client elsewhere gets its token during the flood
        # the flood's quota: exactly FAILURES_PER_ADDRESS checks, each a 401; every other answer a 429 unhashed
        assert codes[401] == FAILURES_PER_ADDRESS and set(codes) == {401, 429}, codes
        assert len(checks) == FAILURES_PER_ADDRESS + 1  # the flood's, and the other client's one
        hashed = len(checks)

        async def from_flooder() -> list[int]:
            async with client_from(FLOODER, url) as client:
                answers = [await client.post("/auth/token", data=FORM, auth=(f"late-{n}", "wrong")) for n in range(30)]
                answers.append(await client.post("/auth/token", data=FORM, auth=("reader", secret)))
                return [answer.status_code for answer in answers]

        assert asyncio.run(from_flooder()) == [429] * 31  # locked: even the right secret, and nothing hashed
        assert len(checks) == hashed
