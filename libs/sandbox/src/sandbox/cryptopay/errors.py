"""Errors in Crypto Pay's wire format, ``{"ok":false,"error":{"code":400,"name":"..."}}``.

The HTTP status equals ``code``, as the clients that branch on the status expect
(LulzLoL231's CryptoPayAPI: 401, 403, 405). Names seen from the real API are listed in
``sandbox.cryptopay``'s docstring; the ``<PARAM>_REQUIRED``, ``<PARAM>_INVALID`` and
``<PARAM>_TOO_LONG`` names are extrapolated from the observed ``PAID_BTN_URL_REQUIRED``
and ``EXPIRES_IN_INVALID``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, code: int, name: str) -> None:
        super().__init__(f"{code} {name}")
        self.code = code
        self.name = name

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": {"code": self.code, "name": self.name}}


def bad_request(name: str) -> ApiError:
    return ApiError(400, name)


def required(parameter: str) -> ApiError:
    return bad_request(f"{parameter.upper()}_REQUIRED")


def invalid(parameter: str) -> ApiError:
    return bad_request(f"{parameter.upper()}_INVALID")


def too_long(parameter: str) -> ApiError:
    return bad_request(f"{parameter.upper()}_TOO_LONG")


def unauthorized() -> ApiError:
    return ApiError(401, "UNAUTHORIZED")


def method_disabled() -> ApiError:
    return ApiError(403, "METHOD_DISABLED")


def method_not_found() -> ApiError:
    return ApiError(405, "METHOD_NOT_FOUND")


class ControlError(Exception):
    """A refused ``/sandbox`` request: ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.message}
