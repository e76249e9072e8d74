"""Bot API errors as the Bot API server words them (``<Prefix>: <message>``).

The messages are written here already in their final case: the server lower-cases the
first letter of TDLib texts unless they are MTProto constants such as ``BUTTON_DATA_INVALID``.
"""

from __future__ import annotations

from typing import Any


class BotApiError(Exception):
    """An ``ok: false`` answer: the HTTP status always equals ``error_code``."""

    def __init__(
        self, error_code: int, description: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(message: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {message}")


def unauthorized() -> BotApiError:
    return BotApiError(401, "Unauthorized")


def forbidden(message: str) -> BotApiError:
    return BotApiError(403, f"Forbidden: {message}")


def not_found() -> BotApiError:
    return BotApiError(404, "Not Found")


def conflict(message: str) -> BotApiError:
    return BotApiError(409, f"Conflict: {message}")


def unsupported_media_type(message: str) -> BotApiError:
    return BotApiError(415, f"Unsupported Media Type: {message}")


def too_many_requests(retry_after: int) -> BotApiError:
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
    )


def internal_error(message: str) -> BotApiError:
    return BotApiError(500, f"Internal Server Error: {message}")


class ControlError(Exception):
    """A refused control-API request (a simulated user cannot do that), with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
