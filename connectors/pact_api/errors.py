"""PACT v3 error responses: ``{"code": ..., "message": ...}`` with the HTTP status the spec pairs with it."""

from __future__ import annotations

from starlette.responses import JSONResponse

STATUS_OF_CODE = {
    "BadRequest": 400,
    "TokenExpired": 401,
    "AccessDenied": 403,
    "NotFound": 404,
    "InternalError": 500,
    "NotImplemented": 501,
}


class ApiError(Exception):
    """A request the host refuses; ``status`` defaults to the one the spec gives ``code``.

    The one exception is a missing or unknown access token: PACT's Error enum has no "Unauthorized" code,
    so the host answers 401 (the OpenAPI's UnauthorizedResponse) with code ``BadRequest``, which is what the
    conformance tool looks for.
    """

    def __init__(self, code: str, message: str, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_OF_CODE[code]
        self.headers = headers or {}  # e.g. Allow on a 405

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="pcfx", error="invalid_token"'} if self.status == 401 else {}
        headers.update(self.headers)
        return JSONResponse({"code": self.code, "message": self.message}, status_code=self.status, headers=headers)


def bad_request(message: str) -> ApiError:
    return ApiError("BadRequest", message)
