"""Errors the panel answers with, as domain exceptions the HTTP layer renders verbatim."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError


class PanelError(Exception):
    """An ``HTTPException`` of the panel: ``{"detail": detail}`` with ``status``."""

    status = 400

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})


class BadRequest(PanelError):
    status = 400


class Unauthorized(PanelError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(PanelError):
    status = 403

    def __init__(self, detail: str = "You're not allowed") -> None:
        super().__init__(detail)


class NotFound(PanelError):
    status = 404


class Conflict(PanelError):
    status = 409


class InvalidRequest(Exception):
    """Request validation failed: pydantic-style errors whose ``loc`` starts with the source."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = list(errors)

    @classmethod
    def in_body(cls, exc: ValidationError) -> InvalidRequest:
        """Errors of a model validated from the request body, located as FastAPI does."""
        return cls(
            [{"loc": ("body", *error["loc"]), "msg": error["msg"]} for error in exc.errors()]
        )


class PanelCrash(Exception):
    """Where the real panel raises an unhandled exception and answers a bare 500."""
