"""Issue 17.4: the token endpoint throttles guessing per client id and per address, answers unknown client
ids after a check as costly as a known one's, and hashes in its own pool."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from pcfx.connectors.pact_api import auth
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.throttle import FAILURES_PER_ADDRESS, FAILURES_PER_CLIENT, WINDOW_S, Refused, TokenGuard
from pcfx.settings import Settings

FORM = {"grant_type": "client_credentials"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def attempt(guard: TokenGuard, client: str, address: str, ok: bool) -> None:
    guard.admit(client, address)
    guard.done(client, address, ok)


def test_a_client_id_is_locked_after_its_failures_and_freed_after_the_window() -> None:
    clock = Clock()
    guard = TokenGuard(clock)
    for n in range(FAILURES_PER_CLIENT):
        attempt(guard, "frames", f"10.0.0.{n}", ok=False)  # from different addresses: the client's count
    with pytest.raises(Refused) as refused:
        guard.admit("frames", "10.0.1.1")
    assert 0 < refused.value.retry_after_s <= WINDOW_S
    guard.admit("other", "10.0.1.1")  # other clients are not affected
    clock.now += WINDOW_S + 0.1
    guard.admit("frames", "10.0.1.1")


def test_an_address_is_locked_after_its_failures_whatever_the_client_ids() -> None:
    guard = TokenGuard(Clock())
    for n in range(FAILURES_PER_ADDRESS):
        attempt(guard, f"guess-{n}", "192.0.2.7", ok=False)
    with pytest.raises(Refused):
        guard.admit("frames", "192.0.2.7")
    guard.admit("frames", "192.0.2.8")


def test_a_success_clears_the_clients_count() -> None:
    guard = TokenGuard(Clock())
    for _ in range(FAILURES_PER_CLIENT - 1):
        attempt(guard, "frames", "a", ok=False)
    attempt(guard, "frames", "b", ok=True)
    attempt(guard, "frames", "c", ok=False)
    guard.admit("frames", "d")


@pytest.fixture
def api(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:1", api_public_url="https://pact.test")
    host = Host.open(settings)
    with TestClient(create_app(settings, host=host, background=False), base_url="https://pact.test") as client:
        yield client, host


def test_after_ten_wrong_secrets_even_the_right_one_waits(api) -> None:
    client, host = api
    secret = host.clients.add("frames", "urn:pcfx:company:frames")
    answers = [client.post("/auth/token", data=FORM, auth=("frames", "wrong")).status_code for _ in range(FAILURES_PER_CLIENT)]
    assert answers == [401] * FAILURES_PER_CLIENT
    locked = client.post("/auth/token", data=FORM, auth=("frames", secret))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert locked.json()["error"] == "invalid_client"


def test_an_unknown_client_id_costs_one_secret_check_like_a_known_one(api, monkeypatch) -> None:
    client, host = api
    host.clients.add("frames", "urn:pcfx:company:frames")
    checks = []
    real = auth.check_secret
    monkeypatch.setattr(auth, "check_secret", lambda secret, stored: checks.append(stored) or real(secret, stored))
    assert client.post("/auth/token", data=FORM, auth=("frames", "wrong")).status_code == 401
    assert client.post("/auth/token", data=FORM, auth=("nobody", "wrong")).status_code == 401
    assert len(checks) == 2 and checks[1] == auth.dummy_hash()  # the same scrypt work for an unknown id
