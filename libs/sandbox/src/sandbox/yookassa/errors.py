"""Errors in YooKassa's wire format: ``{"type":"error","id","code","description","parameter"}``."""

from __future__ import annotations

import uuid
from typing import Any


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, description: str, parameter: str | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description
        self.parameter = parameter

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "error",
            "id": str(uuid.uuid4()),
            "code": self.code,
            "description": self.description,
        }
        if self.parameter is not None:
            body["parameter"] = self.parameter
        return body


def invalid_request(description: str, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", description, parameter)


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        "invalid_credentials",
        "Error in shopId or secret key. Check their validity. "
        "You can reissue the key in the Merchant Profile",
    )


def forbidden(description: str, parameter: str | None = None) -> ApiError:
    return ApiError(403, "forbidden", description, parameter)


def not_found(description: str, parameter: str | None = None) -> ApiError:
    return ApiError(404, "not_found", description, parameter)


def too_many_requests() -> ApiError:
    return ApiError(429, "too_many_requests", "Too many requests. Repeat the request later")


def internal_server_error() -> ApiError:
    """The answer when YooKassa could not say what became of the operation."""
    return ApiError(
        500,
        "internal_server_error",
        "Internal server error. The result is unknown: repeat the request with the same "
        "Idempotence-Key or request the object",
    )


def illegal_receipt() -> ApiError:
    return invalid_request("Receipt is missing or illegal", "receipt")


def idempotence_key_duplicated() -> ApiError:
    return invalid_request("Idempotence key duplicated", "Idempotence-Key")
