"""Browser sessions on top of the host's OAuth2 client credentials, and the CSRF tokens that guard forms.

Signing in checks the company's API client id and secret and issues an ordinary access token
(:meth:`Clients.issue_token`); the browser keeps it in an HttpOnly, Secure, SameSite=Strict cookie, so a
session ends exactly like a token does (expiry, or the client being removed). A form's CSRF token is a
hash of the session token: a page can carry it, a cross-site attacker, who cannot read the cookie, cannot
compute it. The sign-in form, before any session, uses a random double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_COOKIE = "pcfx_session"
LOGIN_COOKIE = "pcfx_login"
COOKIE_PATH = "/web"


def csrf_token(session_token: str) -> str:
    """The CSRF token of the forms of one session: derived from the session token, never equal to it."""
    return hashlib.sha256(f"pcfx-web-csrf:{session_token}".encode()).hexdigest()[:32]


def csrf_valid(session_token: str | None, submitted: str | None) -> bool:
    """Does a form's token belong to this session? (constant-time comparison)"""
    if not session_token or not submitted:
        return False
    return hmac.compare_digest(csrf_token(session_token), submitted)


def login_nonce() -> str:
    """The sign-in form's double-submit value, sent both as a cookie and as a hidden field."""
    return secrets.token_urlsafe(24)


def login_valid(cookie: str | None, submitted: str | None) -> bool:
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie, submitted)  # type: ignore[arg-type]


def cookie_header(name: str, value: str, max_age_s: int) -> str:
    """A ``Set-Cookie`` value the page's scripts cannot read and other sites cannot make the browser send."""
    return f"{name}={value}; Max-Age={max_age_s}; Path={COOKIE_PATH}; Secure; HttpOnly; SameSite=Strict"


def same_origin(origin: str | None, host: str | None) -> bool:
    """A POST's Origin header, when the browser sends one, must name this host (a second CSRF guard)."""
    if origin is None:
        return True
    return bool(host) and origin in (f"https://{host}", f"http://{host}")
