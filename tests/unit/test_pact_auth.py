"""Clients, hashed secrets, opaque tokens, and the Authorization headers the host accepts."""

from __future__ import annotations

import base64
import stat
import time

import pytest

from pcfx.connectors.pact_api.auth import SCHEMA, Callback, Clients, basic_credentials, check_secret, hash_secret
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.store import Store

COMPANY = "urn:pact:oem.de:company-id:42"


@pytest.fixture
def clients(tmp_path):
    store = Store(tmp_path / "auth.sqlite", (SCHEMA,))
    yield Clients(store)
    store.close()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_secret_is_stored_hashed_and_checked(clients):
    secret = clients.add("oem", COMPANY)
    stored = clients.store.conn.execute("SELECT secret_hash FROM clients").fetchone()[0]
    assert secret not in stored and stored.startswith("scrypt$")
    assert check_secret(secret, stored) and not check_secret(secret + "x", stored)
    assert hash_secret("same") != hash_secret("same")  # salted


def test_the_database_is_readable_by_its_owner_only(clients):
    assert stat.S_IMODE(clients.store.path.stat().st_mode) == 0o600


def test_token_identifies_the_client_and_its_company(clients):
    secret = clients.add("oem", COMPANY, callback=Callback("https://oem.example/pact", "us", "s3cret", verify_tls=False))
    token = clients.issue_token("oem", secret, ttl_s=60)
    client = clients.client_for_token(f"Bearer {token}")
    assert (client.client_id, client.company) == ("oem", COMPANY)
    assert client.callback == Callback("https://oem.example/pact", "us", "s3cret", verify_tls=False)


def test_wrong_secret_or_unknown_client_gets_no_token(clients):
    clients.add("oem", COMPANY, secret="right")
    assert clients.issue_token("oem", "wrong", ttl_s=60) is None
    assert clients.issue_token("nobody", "right", ttl_s=60) is None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "Bearer not-a-token"])
def test_missing_or_unknown_token_is_401_bad_request(clients, header):
    with pytest.raises(ApiError) as caught:
        clients.client_for_token(header)
    assert (caught.value.status, caught.value.code) == (401, "BadRequest")


def test_expired_token_is_401_token_expired(clients):
    secret = clients.add("oem", COMPANY)
    token = clients.issue_token("oem", secret, ttl_s=60)
    clients.store.conn.execute("UPDATE tokens SET expires_at = ?", (time.time() - 1,))
    with pytest.raises(ApiError) as caught:
        clients.client_for_token(f"Bearer {token}")
    assert (caught.value.status, caught.value.code) == (401, "TokenExpired")


def test_removing_a_client_ends_its_tokens_at_once(clients):
    secret = clients.add("oem", COMPANY)
    token = clients.issue_token("oem", secret, ttl_s=3600)
    assert clients.remove("oem") is True and clients.remove("oem") is False
    with pytest.raises(ApiError, match="invalid access token"):
        clients.client_for_token(f"Bearer {token}")


def test_duplicate_or_malformed_client_ids_are_refused(clients):
    clients.add("oem", COMPANY)
    with pytest.raises(ValueError, match="exists already"):
        clients.add("oem", COMPANY)
    with pytest.raises(ValueError, match="no ':'"):
        clients.add("a:b", COMPANY)


def test_basic_credentials_are_form_decoded_and_malformed_ones_ignored():
    assert basic_credentials(basic("test_client_id", "test_client_secret")) == ("test_client_id", "test_client_secret")
    assert basic_credentials(basic("id%3Awith%20colon", "p%2Bw")) == ("id:with colon", "p+w")
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials("Basic " + base64.b64encode(b"no-colon").decode()) is None
    assert basic_credentials("Bearer abc") is None
