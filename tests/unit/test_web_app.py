"""The web app's routes in-process (no TLS, no Kafka): sign-in, sessions, CSRF guards, the 403 page."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.web.session import LOGIN_COOKIE, SESSION_COOKIE
from pcfx.schemas.samples import LABEL
from pcfx.settings import Settings

BUYER = "urn:pact:frames.example:company-id:1"
STRANGER = "urn:pact:other.example:company-id:9"
PRODUCT = "urn:pcfx:product:steel-1"


@pytest.fixture
def host(tmp_path):
    host = Host.open(Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:1"))
    host.clients.add("buyer", BUYER, "buyer-secret")
    host.clients.add("stranger", STRANGER, "stranger-secret")
    with host.store.transaction() as conn:
        conn.execute("INSERT INTO labels VALUES (?, ?, ?)", (BUYER, PRODUCT, json.dumps({**LABEL, "productId": PRODUCT})))
    return host


@pytest.fixture
def web(host):
    with TestClient(create_app(host.settings, host=host, background=False), base_url="https://pact.test") as client:
        yield client


def sign_in(web: TestClient, client_id: str, secret: str):
    form = web.get("/web/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)
    return web.post("/web/login", data={"nonce": nonce, "client_id": client_id, "client_secret": secret},
                    follow_redirects=False)


def test_the_board_asks_for_sign_in_and_the_right_credentials_open_it(web):
    assert web.get("/web/board", follow_redirects=False).headers["location"].startswith("/web/login")
    assert sign_in(web, "buyer", "wrong").status_code == 401
    signed = sign_in(web, "buyer", "buyer-secret")
    assert signed.status_code == 303 and signed.headers["location"].startswith("/web/board")
    cookie = next(h for h in signed.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
    board = web.get("/web/board")
    assert board.status_code == 200 and PRODUCT in board.text
    assert "script-src 'self'" in board.headers["content-security-policy"]


def test_sign_in_without_the_forms_nonce_or_from_another_origin_is_refused(web):
    web.get("/web/login")
    nonce = web.cookies.get(LOGIN_COOKIE)
    fields = {"client_id": "buyer", "client_secret": "buyer-secret"}
    assert web.post("/web/login", data=fields, follow_redirects=False).status_code == 403
    assert web.post("/web/login", data={**fields, "nonce": "guess"}, follow_redirects=False).status_code == 403
    crossed = web.post("/web/login", data={**fields, "nonce": nonce}, headers={"origin": "https://evil.example"},
                       follow_redirects=False)
    assert crossed.status_code == 403


def test_sign_out_needs_the_sessions_csrf_token(web):
    sign_in(web, "buyer", "buyer-secret")
    token = re.search(r'name="csrf" value="([^"]+)"', web.get("/web/board").text).group(1)
    assert web.post("/web/logout", data={"csrf": "forged"}, follow_redirects=False).status_code == 403
    assert web.get("/web/board", follow_redirects=False).status_code == 200  # still signed in
    assert web.post("/web/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    web.cookies.clear()
    assert web.get("/web/board", follow_redirects=False).status_code == 303


def test_another_companys_product_is_a_403_page_and_the_event_stream_needs_a_session(web):
    assert web.get("/web/events").status_code == 401
    sign_in(web, "stranger", "stranger-secret")
    page = web.get(f"/web/products/{PRODUCT}")
    assert page.status_code == 403 and "403" in page.text and page.headers["content-type"].startswith("text/html")
    web.cookies.clear()
    sign_in(web, "buyer", "buyer-secret")
    assert web.get(f"/web/products/{PRODUCT}").status_code == 200
