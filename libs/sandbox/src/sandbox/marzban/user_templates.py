"""User templates (``app/routers/user_template.py``, ``app/models/user_template.py``).

The panel only stores them; a client applies one itself. What it stores has two quirks the
ORM causes: a missing ``name`` (allowed by the model) fails the NOT NULL column, which the
router reports as a duplicate name (409), and a missing ``data_limit``/``expire_duration``
takes the column default 0. Inbound tags unknown to the core are dropped silently, and the
tags come back grouped under their own protocol, whatever key they were sent under.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from sandbox.marzban.core import CoreConfig
from sandbox.marzban.errors import Conflict, NotFound
from sandbox.marzban.schemas import ProxyTypes

DUPLICATE = "Template by this name already exists"


class UserTemplateBody(BaseModel):
    """``UserTemplateCreate`` and ``UserTemplateModify`` (the same fields)."""

    name: str | None = None
    data_limit: int | None = Field(ge=0, default=None)
    expire_duration: int | None = Field(ge=0, default=None)
    username_prefix: str | None = Field(max_length=20, min_length=1, default=None)
    username_suffix: str | None = Field(max_length=20, min_length=1, default=None)
    inbounds: dict[ProxyTypes, list[str]] = {}

    def tags(self) -> list[str]:
        return [tag for tags in self.inbounds.values() for tag in tags]


@dataclass
class UserTemplateRecord:
    id: int
    name: str
    data_limit: int | None = 0
    expire_duration: int | None = 0
    username_prefix: str | None = None
    username_suffix: str | None = None
    tags: set[str] = field(default_factory=set)

    def as_dict(self, core: CoreConfig) -> dict[str, Any]:
        """``UserTemplateResponse``: inbounds regrouped by the core's protocols."""
        inbounds: dict[str, list[str]] = {}
        for protocol in core.protocols():
            for tag in core.tags_of(protocol):
                if tag in self.tags:
                    inbounds.setdefault(protocol, []).append(tag)
        return {
            "name": self.name,
            "data_limit": self.data_limit,
            "expire_duration": self.expire_duration,
            "username_prefix": self.username_prefix,
            "username_suffix": self.username_suffix,
            "inbounds": inbounds,
            "id": self.id,
        }


@dataclass
class UserTemplateStore:
    templates: dict[int, UserTemplateRecord] = field(default_factory=dict)

    def get(self, template_id: int) -> UserTemplateRecord:
        """``dependencies.get_user_template``."""
        record = self.templates.get(template_id)
        if record is None:
            raise NotFound("User Template not found")
        return record

    def list(self, offset: int | None, limit: int | None) -> list[UserTemplateRecord]:
        records = list(self.templates.values())
        if offset and offset > 0:
            records = records[offset:]
        if limit and limit > 0:
            records = records[:limit]
        return records

    def _taken(self, name: str, but: int | None = None) -> bool:
        return any(t.name == name and t.id != but for t in self.templates.values())

    def create(self, body: UserTemplateBody, core: CoreConfig) -> UserTemplateRecord:
        if body.name is None or self._taken(body.name):
            raise Conflict(DUPLICATE)
        record = UserTemplateRecord(
            id=max(self.templates, default=0) + 1,  # SQLite's max(rowid) + 1
            name=body.name,
            data_limit=body.data_limit if body.data_limit is not None else 0,
            expire_duration=body.expire_duration if body.expire_duration is not None else 0,
            username_prefix=body.username_prefix,
            username_suffix=body.username_suffix,
            tags={tag for tag in body.tags() if core.has_tag(tag)},
        )
        self.templates[record.id] = record
        return record

    def modify(
        self, record: UserTemplateRecord, body: UserTemplateBody, core: CoreConfig
    ) -> UserTemplateRecord:
        """``crud.update_user_template``: null keeps a field, and ``{}`` keeps the inbounds."""
        if body.name is not None:
            if self._taken(body.name, but=record.id):
                raise Conflict(DUPLICATE)
            record.name = body.name
        if body.data_limit is not None:
            record.data_limit = body.data_limit
        if body.expire_duration is not None:
            record.expire_duration = body.expire_duration
        if body.username_prefix is not None:
            record.username_prefix = body.username_prefix
        if body.username_suffix is not None:
            record.username_suffix = body.username_suffix
        if body.inbounds:
            record.tags = {tag for tag in body.tags() if core.has_tag(tag)}
        return record

    def remove(self, record: UserTemplateRecord) -> None:
        del self.templates[record.id]
