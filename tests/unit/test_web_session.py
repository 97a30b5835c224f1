"""connectors/web/session.py: CSRF tokens bound to a session, the sign-in nonce, and the cookie's flags."""

from __future__ import annotations

from pcfx.connectors.web.session import (cookie_header, csrf_token, csrf_valid, login_nonce, login_valid,
                                         same_origin)


def test_a_csrf_token_is_fixed_per_session_differs_between_sessions_and_is_not_the_session_token():
    assert csrf_token("session-a") == csrf_token("session-a")
    assert csrf_token("session-a") != csrf_token("session-b")
    assert "session-a" not in csrf_token("session-a")
    assert len(csrf_token("session-a")) == 32


def test_a_form_passes_only_with_its_own_sessions_token():
    assert csrf_valid("session-a", csrf_token("session-a"))
    assert not csrf_valid("session-a", csrf_token("session-b"))
    assert not csrf_valid(None, csrf_token("session-a"))
    assert not csrf_valid("session-a", None)
    assert not csrf_valid("session-a", "")


def test_the_sign_in_nonce_must_come_back_in_both_the_cookie_and_the_form():
    nonce = login_nonce()
    assert nonce != login_nonce()
    assert login_valid(nonce, nonce)
    assert not login_valid(nonce, login_nonce())
    assert not login_valid(None, nonce) and not login_valid(nonce, None) and not login_valid("", "")


def test_the_session_cookie_is_hidden_from_scripts_and_other_sites():
    header = cookie_header("pcfx_session", "abc", 3600)
    assert header.startswith("pcfx_session=abc; Max-Age=3600; Path=/web")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict"):
        assert flag in header.split("; ")


def test_a_post_from_another_origin_is_refused_and_one_without_origin_relies_on_the_token():
    assert same_origin("https://127.0.0.1:8443", "127.0.0.1:8443")
    assert not same_origin("https://evil.example", "127.0.0.1:8443")
    assert not same_origin("https://127.0.0.1:8443", None)
    assert same_origin(None, "127.0.0.1:8443")
