"""Token flood: how much a flood of wrong secrets on ``POST /auth/token`` slows other clients of the PACT API.

A real ``pcfx api`` process (TLS, its own data dir and ports, the configured Kafka behind it) serves one
reader client whose company holds a few footprints. The reader lists ``GET /3/footprints`` one request at a
time, with a short pause, and each list's latency is noted: first with nobody else calling (quiet), then while
a flood process keeps 60 connections busy sending wrong secrets for made-up client ids, in two shapes:

- ``one address``: all 60 connections from 127.0.0.2 (one attacker; the address lock answers 429 soon);
- ``many addresses``: each connection from its own address 127.0.1.<n> (a spread attacker: every address
  gets its 20 failed checks a minute, and an unknown client id costs a full scrypt check, so the secret
  pool is kept busy all along).

The reader connects from 127.0.0.1 and also fetches fresh tokens under each flood. The flood runs in a
process of its own, so its client work does not share the measuring process's interpreter lock; on a
2-core machine it still shares the cores with the API, which is part of what is measured.

Run: ``python -m pcfx.bench.token_flood [--quick]`` (or ``pcfx bench flood``). Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx

from pcfx.bench.common import Run, percentile, report, scratch, start_process, stop, wait_until
from pcfx.ops.kafka import free_port
from pcfx.settings import Settings

CONNECTIONS = 60
READER, COMPANY, SECRET = "reader", "urn:pcfx:company:bench-reader", "reader-secret-of-the-bench"
PAUSE_S = 0.02  # between two lists of the reader
FOOTPRINTS = 20


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_request(client: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"authorization": basic(client_id, secret)})


def list_latencies_ms(client: httpx.Client, token: str, count: int) -> list[float]:
    """``count`` lists of the reader's footprints, one at a time, with a token it holds; each one's latency in ms."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client.get("/3/footprints", headers={"authorization": f"Bearer {token}"}).raise_for_status()
        times.append(1000 * (time.perf_counter() - start))
        time.sleep(PAUSE_S)
    return times


def token_latencies_ms(client: httpx.Client, count: int) -> tuple[list[float], Counter]:
    """The reader fetching ``count`` fresh tokens: latency in ms and the answers' status codes."""
    times, codes = [], Counter()
    for _ in range(count):
        start = time.perf_counter()
        codes[token_request(client, READER, SECRET).status_code] += 1
        times.append(1000 * (time.perf_counter() - start))
    return times, codes


def figures(times: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(times, 0.5), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "max_ms": round(max(times), 1), "count": len(times)}


# -- the flood (its own process) ------------------------------------------------------------------------


async def flood(url: str, connections: int, seconds: float, spread: bool) -> dict[str, Any]:
    """``connections`` clients, each one keep-alive connection, posting wrong secrets for ``seconds``."""
    codes: Counter = Counter()
    deadline = time.monotonic() + seconds

    async def one(n: int) -> None:
        address = f"127.0.1.{n + 1}" if spread else "127.0.0.2"
        transport = httpx.AsyncHTTPTransport(local_address=address, verify=False)
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as client:
            while time.monotonic() < deadline:
                guess = f"guess-{secrets.token_hex(4)}"
                try:
                    answer = await client.post("/auth/token", data={"grant_type": "client_credentials"},
                                               headers={"authorization": basic(guess, secrets.token_hex(8))})
                    codes[answer.status_code] += 1
                except httpx.HTTPError as error:
                    codes[type(error).__name__] += 1

    await asyncio.gather(*(one(n) for n in range(connections)))
    return {str(code): count for code, count in codes.items()}


def flood_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--spread", action="store_true")
    options = parser.parse_args(argv)
    print(json.dumps(asyncio.run(flood(options.url, options.connections, options.seconds, options.spread))), flush=True)


# -- the benchmark ----------------------------------------------------------------------------------------


def prepare(settings: Settings) -> None:
    """The reader client and its company's footprints (on Kafka, for the API's read model to follow)."""
    from pcfx.connectors.supplier import SupplierClient  # noqa: PLC0415
    from pcfx.schemas.models import ProductFootprint  # noqa: PLC0415
    from pcfx.schemas.samples import FOOTPRINT  # noqa: PLC0415

    env = {**os.environ, **settings.to_env()}
    subprocess.run([sys.executable, "-m", "pcfx.cli", "clients", "add", READER, "--company", COMPANY, "--secret", SECRET],
                   env=env, check=True, capture_output=True)
    models = [ProductFootprint.from_json({**FOOTPRINT, "id": f"f10dca7e-0000-4000-8000-{n:012d}", "companyIds": [COMPANY],
                                          "productIds": [f"urn:pcfx:product:bench-{n}"]}) for n in range(FOOTPRINTS)]
    with SupplierClient(settings) as supplier:
        supplier.publish_footprints(models)


def phase(client: httpx.Client, url: str, lists: int, shape: str | None) -> dict[str, Any]:
    """The reader's figures with no flood (``shape`` None) or under a flood of that shape. The reader lists
    with a token it got before (tokens last an hour), then asks for fresh tokens."""
    token = token_request(client, READER, SECRET).raise_for_status().json()["access_token"]
    if shape is None:
        tokens_ms, codes = token_latencies_ms(client, 10)
        return {"list": figures(list_latencies_ms(client, token, lists)), "reader_token": {**figures(tokens_ms), "codes": dict(codes)}}
    seconds = lists * (PAUSE_S + 0.03) + 20  # outlasts the reader's lists and tokens on a busy machine
    command = [sys.executable, "-m", "pcfx.bench.token_flood", "--flood", url, "--seconds", str(seconds)]
    flooder = subprocess.Popen([*command, *(["--spread"] if shape == "many addresses" else [])], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # the flood's connections are open and their addresses meet the locks
        lists_ms = list_latencies_ms(client, token, lists)
        tokens_ms, codes = token_latencies_ms(client, 10)
        out, _ = flooder.communicate(timeout=seconds + 60)
    finally:
        if flooder.poll() is None:
            flooder.kill()
    return {"list": figures(lists_ms), "reader_token": {**figures(tokens_ms), "codes": dict(codes)},
            "flood_answers": json.loads(out.strip().splitlines()[-1])}


def main(run: Run) -> dict:
    lists = run.size(100, 400)
    with scratch(run, "flood", api_port=free_port(), api_metrics_port=free_port()) as settings:
        prepare(settings)
        api = start_process(settings, "pcfx.cli", "api")
        url = f"https://127.0.0.1:{settings.api_port}"
        try:
            with httpx.Client(base_url=url, verify=False, trust_env=False, timeout=60) as client:
                wait_until(lambda: _answers(client), "pcfx api to answer", 60)
                wait_until(lambda: _listed(client) >= FOOTPRINTS, "the reader's footprints in the read model", 120)
                result = {shape or "quiet": phase(client, url, lists, shape)
                          for shape in (None, "one address", "many addresses")}
        finally:
            stop(api)
    quiet, one, many = (result[k]["list"] for k in ("quiet", "one address", "many addresses"))
    summary = (f"other client's list p50/p95 ms: quiet {quiet['p50_ms']}/{quiet['p95_ms']}, flood from one address "
               f"{one['p50_ms']}/{one['p95_ms']}, from {CONNECTIONS} addresses {many['p50_ms']}/{many['p95_ms']}")
    return report("token-flood", run, {"connections": CONNECTIONS, **result}, summary)


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/.well-known/openid-configuration").status_code == 200
    except httpx.HTTPError:
        return False


def _listed(client: httpx.Client) -> int:
    token = token_request(client, READER, SECRET).raise_for_status().json()["access_token"]
    return len(client.get("/3/footprints", headers={"authorization": f"Bearer {token}"}).raise_for_status().json()["data"])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood"]:
        flood_main(sys.argv[2:])
    else:
        main(Run(Settings.from_env(), quick="--quick" in sys.argv[1:]))
