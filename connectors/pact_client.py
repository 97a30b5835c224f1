"""A small synchronous PACT v3 client: authenticate, list (following pagination), get, post an event.

The token endpoint is discovered from ``<auth base>/.well-known/openid-configuration`` and falls back to
``<auth base>/auth/token`` (PACT v3 Action Authenticate); the client authenticates there with HTTP Basic
and ``grant_type=client_credentials``, keeps the token until shortly before it expires, and fetches a new
one once if the host answers 401 (the token may have been revoked).

Used by the API's responder (answers to requests), the pull connector, and the worker (tokens for
authenticated webhooks, requests to suppliers' hosts).
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

EVENT_MEDIA_TYPE = "application/cloudevents+json; charset=UTF-8"
TOKEN_MARGIN_S = 30.0  # a token is renewed this many seconds before it expires
DEFAULT_TOKEN_LIFE_S = 300.0  # assumed lifetime when the token response has no expires_in, in seconds
LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")


class PactError(Exception):
    """A PACT host refused a call; ``code`` is the PACT error code (or OAuth2 ``error``) when it sent one."""

    def __init__(self, status: int, code: str, message: str, url: str) -> None:
        super().__init__(f"{url}: HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class PactClient:
    """Calls one PACT v3 host as one client. ``verify`` may be an SSL context that trusts a private CA;
    ``False`` only for a known self-signed test host."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        auth_base_url: str | None = None,
        verify: bool | ssl.SSLContext = True,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_base_url = (auth_base_url or base_url).rstrip("/")
        self._credentials = (client_id, client_secret)
        self._http = httpx.Client(verify=verify, timeout=timeout_s)
        self._token: str | None = None
        self._token_expires = 0.0

    def __enter__(self) -> "PactClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- Authenticate ------------------------------------------------------------------------------------

    def token_endpoint(self) -> str:
        """The OpenID-advertised token endpoint, else ``/auth/token`` under the auth base URL."""
        try:
            response = self._http.get(f"{self.auth_base_url}/.well-known/openid-configuration")
            endpoint = response.json().get("token_endpoint") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            endpoint = None
        return endpoint if isinstance(endpoint, str) and endpoint else f"{self.auth_base_url}/auth/token"

    def token(self) -> str:
        """A valid access token, fetched when there is none or it is about to expire."""
        if self._token is None or time.monotonic() >= self._token_expires:
            url = self.token_endpoint()
            response = self._http.post(url, data={"grant_type": "client_credentials"}, auth=self._credentials,
                                       headers={"Accept": "application/json"})
            body = _json(response)
            if response.status_code != 200 or not isinstance(body.get("access_token"), str):
                raise _error(response, body)
            life = body.get("expires_in")
            life_s = float(life) if isinstance(life, (int, float)) else DEFAULT_TOKEN_LIFE_S
            self._token = body["access_token"]
            self._token_expires = time.monotonic() + max(life_s - TOKEN_MARGIN_S, 0.0)
        return self._token

    def forget_token(self) -> None:
        """Drop the cached token (its receiver refused it): the next call fetches a new one."""
        self._token = None

    # -- ListFootprints, GetFootprint, Events ------------------------------------------------------------

    def list_footprints(self, limit: int | None = None, **criteria: str | Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every footprint matching ``criteria`` (e.g. ``productId=["urn:..."]``), page after page."""
        params: list[tuple[str, str]] = [(k, v) for k, vs in criteria.items() for v in ([vs] if isinstance(vs, str) else vs)]
        if limit is not None:
            params.append(("limit", str(limit)))
        url: str | None = str(httpx.URL(f"{self.base_url}/3/footprints", params=params))
        while url is not None:
            response = self._call("GET", url)  # a pagination link is used as given, query and all
            yield from _json(response)["data"]
            url = next_link(response.headers.get_list("link"))

    def get_footprint(self, pf_id: str) -> dict[str, Any]:
        return _json(self._call("GET", f"{self.base_url}/3/footprints/{pf_id}"))["data"]

    def post_event(self, event: Mapping[str, Any], url: str | None = None) -> None:
        """POST a CloudEvent to the host's events endpoint (or ``url``); raises PactError unless 2xx."""
        self._call("POST", url or f"{self.base_url}/3/events", json=dict(event), headers={"Content-Type": EVENT_MEDIA_TYPE})

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self.token()}"
            response = self._http.request(method, url, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired or revoked early: fetch a new token once
                continue
            if response.is_success:
                return response
            raise _error(response, _json(response))
        raise AssertionError("unreachable")  # pragma: no cover


def next_link(values: Sequence[str]) -> str | None:
    """The ``rel="next"`` target among RFC 8288 ``Link`` header values, or None."""
    for value in values:
        for target, params in LINK.findall(value):
            rels = re.search(r';\s*rel\s*=\s*"?([^";]+)"?', params)
            if rels and "next" in rels.group(1).lower().split():
                return target
    return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response, body: dict[str, Any]) -> PactError:
    code = str(body.get("code") or body.get("error") or "")
    message = str(body.get("message") or body.get("error_description") or response.text[:200])
    return PactError(response.status_code, code, message, str(response.request.url))
