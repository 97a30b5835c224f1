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


def test_checks_under_way_count_towards_the_lock_so_a_flood_gets_only_its_quota() -> None:
    """Issue 17 (b): with 19 failures booked and a 20th check running, a 21st is refused before it is hashed
    (counting only finished checks let a flood of many connections past its quota while the first ran)."""
    guard = TokenGuard(Clock())
    for n in range(FAILURES_PER_ADDRESS - 1):
        attempt(guard, f"guess-{n}", "192.0.2.7", ok=False)
    guard.admit("guess-last", "192.0.2.7")  # under way
    with pytest.raises(Refused, match="under way"):
        guard.admit("guess-more", "192.0.2.7")
    guard.done("guess-last", "192.0.2.7", ok=False)
    with pytest.raises(Refused, match="too many failed attempts"):
        guard.admit("frames", "192.0.2.7")


def test_one_address_holds_at_most_its_share_of_the_queue_and_others_still_get_in() -> None:
    from pcfx.connectors.pact_api.throttle import WAITING_PER_ADDRESS  # noqa: PLC0415

    guard = TokenGuard(Clock())
    for n in range(WAITING_PER_ADDRESS):
        guard.admit(f"guess-{n}", "192.0.2.7")
    with pytest.raises(Refused, match="from this address"):
        guard.admit("guess-x", "192.0.2.7")
    guard.admit("frames", "192.0.2.8")  # another client, another address: in


def test_the_secret_thread_runs_at_a_lower_priority() -> None:
    import os  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from pcfx.connectors.pact_api.throttle import HASH_NICE  # noqa: PLC0415

    guard = TokenGuard()
    try:
        niceness = guard.pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    finally:
        guard.close()
    assert niceness >= min(os.getpriority(os.PRIO_PROCESS, 0) + HASH_NICE, 19)


def test_an_address_that_got_a_token_lately_has_its_own_lane_when_a_spread_flood_fills_the_common_one() -> None:
    from pcfx.connectors.pact_api.throttle import MAX_WAITING, TRUSTED_S  # noqa: PLC0415

    clock = Clock()
    guard = TokenGuard(clock)
    attempt(guard, "frames", "10.0.0.1", ok=True)  # the working client got a token before
    common = [guard.admit(f"guess-{n}", f"192.0.2.{n}") for n in range(MAX_WAITING)]  # one each from 16 addresses
    assert {id(pool) for pool in common} == {id(guard.pool)}
    with pytest.raises(Refused, match="at once"):
        guard.admit("guess-x", "192.0.2.200")  # the common lane is full
    lane = guard.admit("frames", "10.0.0.1")
    assert lane is not guard.pool  # the trusted lane: the working client is not kept out
    guard.done("frames", "10.0.0.1", True, lane)
    clock.now += TRUSTED_S + 1
    with pytest.raises(Refused, match="at once"):  # a day later the address is one like any other
        guard.admit("frames", "10.0.0.1")
