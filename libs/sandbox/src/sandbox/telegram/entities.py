"""Message entities: the list a message carries, in UTF-16 code units.

After any parsing, Telegram trims the text and adds the entities it finds by itself (bot
commands, mentions, hashtags, URLs; here: those with an http(s) scheme), then sorts them as
TDLib does. The ``entities`` parameter is read here too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from sandbox.telegram.errors import bad_request


class EntityParseError(Exception):
    """TDLib's text for refused markup or entities, before the Bot API server's prefix."""


_TRIMMED = " \t\r\n\v\f"
_ENTITY_TYPES = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bank_card_number", "bold", "italic", "underline", "strikethrough", "spoiler",
        "blockquote", "expandable_blockquote", "code", "pre", "text_link", "text_mention",
        "custom_emoji", "date_time",
    }
)  # fmt: skip
# TDLib's sort order for entities that start and end at the same place.
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49,
    "text_mention": 49, "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93,
    "spoiler": 94, "custom_emoji": 99,
}  # fmt: skip
_UNSPLITTABLE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})

_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@])")
_HASHTAG = re.compile(r"(?<![\w#])#(?=\w*[^\W\d])\w{1,256}")
_URL = re.compile(r"(?<![\w/])https?://[^\s<>\"]+", re.IGNORECASE)


@dataclass(frozen=True)
class Entity:
    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user_json: str | None = None
    unix_time: int | None = None
    date_time_format: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"offset": self.offset, "length": self.length, "type": self.type}
        if self.url is not None:
            body["url"] = self.url
        if self.user_json is not None:
            body["user"] = json.loads(self.user_json)
        if self.language:
            body["language"] = self.language
        if self.custom_emoji_id is not None:
            body["custom_emoji_id"] = self.custom_emoji_id
        if self.unix_time is not None:
            body["unix_time"] = self.unix_time
        if self.date_time_format:
            body["date_time_format"] = self.date_time_format
        return body


@dataclass(frozen=True)
class FormattedText:
    text: str
    entities: tuple[Entity, ...] = ()

    def entities_json(self) -> list[dict[str, Any]]:
        return [entity.to_json() for entity in self.entities]


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def normalize(formatted: FormattedText) -> FormattedText:
    text = formatted.text
    start = 0
    while start < len(text) and text[start] in _TRIMMED:
        start += 1
    stop = len(text)
    while stop > start and text[stop - 1] in _TRIMMED:
        stop -= 1
    trimmed = text[start:stop]
    shift = utf16_length(text[:start])
    limit = utf16_length(trimmed)
    entities: list[Entity] = []
    for entity in formatted.entities:
        offset = max(0, entity.offset - shift)
        end = min(limit, entity.end - shift)
        if end > offset:
            entities.append(replace(entity, offset=offset, length=end - offset))
    entities += _found_entities(trimmed, entities)
    return FormattedText(trimmed, tuple(sorted(entities, key=_entity_order)))


def _entity_order(entity: Entity) -> tuple[int, int, int]:
    return entity.offset, -entity.length, _PRIORITY.get(entity.type, 50)


def _found_entities(text: str, existing: list[Entity]) -> list[Entity]:
    blocked = [entity for entity in existing if entity.type in _UNSPLITTABLE]
    found: list[Entity] = []
    for kind, pattern in (
        ("bot_command", _BOT_COMMAND),
        ("mention", _MENTION),
        ("hashtag", _HASHTAG),
        ("url", _URL),
    ):
        for match in pattern.finditer(text):
            value = match.group().rstrip(".,:;!?'")
            offset = utf16_length(text[: match.start()])
            entity = Entity(kind, offset, utf16_length(value))
            if not any(_overlap(entity, other) for other in blocked + found):
                found.append(entity)
    return found


def _overlap(left: Entity, right: Entity) -> bool:
    return left.offset < right.end and right.offset < left.end


def parse_entities_param(raw: str) -> list[Entity]:
    if raw.strip() == "":
        return []
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise bad_request("can't parse entities JSON object") from error
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("expected an Array of MessageEntity")
    entities: list[Entity] = []
    for item in value:
        try:
            entities.append(_entity_from_json(item))
        except EntityParseError as error:
            raise bad_request(f"can't parse MessageEntity: {error}") from error
    return entities


def _entity_from_json(item: Any) -> Entity:
    if not isinstance(item, dict):
        raise EntityParseError("expected an Object")
    kind = _required_string(item, "type")
    offset = _required_int(item, "offset")
    length = _required_int(item, "length")
    if kind not in _ENTITY_TYPES:
        raise EntityParseError("Unsupported type specified")
    entity = Entity(kind, offset, length)
    if kind == "text_link":
        return replace(entity, url=_required_string(item, "url"))
    if kind == "pre":
        return replace(entity, language=str(item.get("language") or "") or None)
    if kind == "custom_emoji":
        return replace(entity, custom_emoji_id=_required_string(item, "custom_emoji_id"))
    if kind == "text_mention":
        user = item.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise EntityParseError('Can\'t find field "user"')
        return replace(entity, user_json=json.dumps(user, separators=(",", ":")))
    return entity


def _required_string(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        raise EntityParseError(f'Can\'t find field "{name}"')
    if not isinstance(value, str):
        raise EntityParseError(f'Field "{name}" must be of type String')
    return value


def _required_int(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    if value is None:
        raise EntityParseError(f'Can\'t find field "{name}"')
    if isinstance(value, bool) or not isinstance(value, int):
        raise EntityParseError(f'Field "{name}" must be of type Number')
    return value
