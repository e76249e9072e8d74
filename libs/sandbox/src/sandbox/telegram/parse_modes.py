"""Parse modes: HTML, MarkdownV2 and legacy Markdown into plain text plus entities.

The parsers follow TDLib's (``MessageEntity.cpp``): the same tag and character rules and the
same error texts, with UTF-8 byte offsets in errors and UTF-16 offsets in entities.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

from sandbox.telegram.entities import Entity, EntityParseError, utf16_length
from sandbox.telegram.links import LinkError, check_link

_SPACES = " \t\r\n\v\f\0"
_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE_HTML_ENTITIES = {
    "i": "italic", "em": "italic", "b": "bold", "strong": "bold", "s": "strikethrough",
    "strike": "strikethrough", "del": "strikethrough", "u": "underline", "ins": "underline",
    "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_MARKDOWN_V2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MARK_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "custom_emoji": "CustomEmoji",
    "code": "Code", "pre": "Pre", "text_link": "TextUrl",
}  # fmt: skip


class _Source:
    """Text read the way the C++ parsers read it: past the end there is a NUL."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __getitem__(self, index: int) -> str:
        return self.text[index] if index < len(self.text) else "\0"

    def __len__(self) -> int:
        return len(self.text)

    def byte_offset(self, index: int) -> int:
        return len(self.text[:index].encode("utf-8"))


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int
    text_position: int
    byte_offset: int
    expandable: bool = False
    unix_time: int | None = None


def parse_html(text: str) -> tuple[str, list[Entity]]:
    source = _Source(text)
    out: list[str] = []
    entities: list[Entity] = []
    stack: list[_OpenTag] = []
    utf16 = 0
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            decoded, after = _decode_html_entity(source, i)
            if decoded is not None:
                out.append(decoded)
                utf16 += utf16_length(decoded)
                i = after
                continue
        if char != "<":
            out.append(char)
            utf16 += utf16_length(char)
            i += 1
            continue
        if source[i + 1] != "/":
            tag, i = _read_start_tag(source, i)
            stack.append(replace(tag, offset=utf16, text_position=len(out)))
            continue
        begin = i
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {source.byte_offset(begin)}")
        i += 1
        while source[i] not in _SPACES and source[i] != ">":
            i += 1
        end_name = source.text[begin + 2 : i]
        while source[i] in _SPACES and source[i] != "\0":
            i += 1
        if source[i] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {source.byte_offset(begin)}")
        i += 1
        opened = stack.pop()
        if end_name and end_name.lower() != opened.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {source.byte_offset(begin)}, "
                f'expected "</{opened.name}>", found "</{end_name}>"'
            )
        if utf16 > opened.offset:
            _close_html_entity(opened, out, utf16, entities)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for index, entity in enumerate(entities):
        if entity.type == "code" and entity.language:
            entities[index] = replace(entity, language=None)
    return "".join(out), entities


def _read_start_tag(source: _Source, begin: int) -> tuple[_OpenTag, int]:
    at = source.byte_offset(begin)
    i = begin + 1
    while source[i] not in _SPACES and source[i] != ">":
        i += 1
    if source[i] == "\0":
        raise EntityParseError(f"Unclosed start tag at byte offset {at}")
    name = source.text[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {at}')
    tag = _OpenTag(name=name, argument="", offset=0, text_position=0, byte_offset=at)
    while source[i] != ">":
        while source[i] != "\0" and source[i] in _SPACES:
            i += 1
        if source[i] == ">":
            break
        attribute_begin = i
        while source[i] not in _SPACES and source[i] not in "=>":
            i += 1
        attribute = source.text[attribute_begin:i]
        if not attribute:
            raise EntityParseError(f'Empty attribute name in the tag "{name}" at byte offset {at}')
        while source[i] != "\0" and source[i] in _SPACES:
            i += 1
        if source[i] != "=":
            if name == "blockquote" and attribute.lower() == "expandable":
                tag.expandable = True
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{name}" at byte offset {at}'
            )
        i += 1
        while source[i] != "\0" and source[i] in _SPACES:
            i += 1
        if source[i] == "\0":
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        value, i = _read_attribute_value(source, i)
        if source[i] == "\0":
            raise EntityParseError(f"Unclosed start tag at byte offset {at}")
        _apply_attribute(tag, attribute.lower(), value)
    if name == "span" and tag.argument != "spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    return tag, i + 1


def _read_attribute_value(source: _Source, i: int) -> tuple[str, int]:
    if source[i] not in "'\"":
        begin = i
        while (source[i].isascii() and source[i].isalnum()) or source[i] in ".-":
            i += 1
        if source[i] not in _SPACES and source[i] != ">":
            raise EntityParseError(
                f"Unexpected end of name token at byte offset {source.byte_offset(begin)}"
            )
        return source.text[begin:i].lower(), i
    quote = source[i]
    i += 1
    value: list[str] = []
    while source[i] != quote and source[i] != "\0":
        if source[i] == "&":
            decoded, after = _decode_html_entity(source, i)
            if decoded is not None:
                value.append(decoded)
                i = after
                continue
        value.append(source[i])
        i += 1
    if source[i] == quote:
        i += 1
    return "".join(value), i


def _apply_attribute(tag: _OpenTag, attribute: str, value: str) -> None:
    if tag.name == "a" and attribute == "href":
        tag.argument = value
    elif tag.name == "code" and attribute == "class" and value.startswith("language-"):
        tag.argument = value.removeprefix("language-")
    elif tag.name == "span" and attribute == "class" and value.startswith("tg-"):
        tag.argument = value.removeprefix("tg-")
    elif tag.name == "tg-emoji" and attribute == "emoji-id":
        tag.argument = value
    elif tag.name == "tg-time" and attribute == "unix":
        tag.unix_time = int(value) if value.isdigit() else None
    elif tag.name == "tg-time" and attribute == "format":
        tag.argument = value


def _close_html_entity(
    opened: _OpenTag, out: list[str], utf16: int, entities: list[Entity]
) -> None:
    offset, length = opened.offset, utf16 - opened.offset
    name = opened.name
    if name in _SIMPLE_HTML_ENTITIES:
        entities.append(Entity(_SIMPLE_HTML_ENTITIES[name], offset, length))
    elif name == "a":
        url = opened.argument or "".join(out[opened.text_position :])
        # TDLib drops links it cannot accept and keeps the text.
        with contextlib.suppress(LinkError):
            entities.append(Entity("text_link", offset, length, url=check_link(url)))
    elif name == "tg-emoji":
        if opened.argument.isdigit():
            entities.append(Entity("custom_emoji", offset, length, custom_emoji_id=opened.argument))
    elif name == "tg-time":
        if opened.unix_time is not None:
            entities.append(
                Entity(
                    "date_time",
                    offset,
                    length,
                    unix_time=opened.unix_time,
                    date_time_format=opened.argument or None,
                )
            )
    elif name == "blockquote":
        kind = "expandable_blockquote" if opened.expandable else "blockquote"
        entities.append(Entity(kind, offset, length))
    elif name == "pre":
        last = entities[-1] if entities else None
        if last and last.type == "code" and last.language and _same_place(last, offset, length):
            entities[-1] = replace(last, type="pre")
        else:
            entities.append(Entity("pre", offset, length))
    elif name == "code":
        last = entities[-1] if entities else None
        if last and last.type == "pre" and opened.argument and _same_place(last, offset, length):
            entities[-1] = replace(last, language=opened.argument)
        else:
            entities.append(Entity("code", offset, length, language=opened.argument or None))


def _same_place(entity: Entity, offset: int, length: int) -> bool:
    return (entity.offset, entity.length) == (offset, length)


def _decode_html_entity(source: _Source, position: int) -> tuple[str | None, int]:
    end = position + 1
    code = 0
    if source[end] == "#":
        end += 1
        if source[end] == "x":
            end += 1
            while source[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(source[end], 16)
                end += 1
        else:
            while source[end].isascii() and source[end].isdigit():
                code = code * 10 + int(source[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - position >= 10 or 0xD800 <= code <= 0xDFFF:
            return None, position
        decoded = chr(code)
    else:
        while source[end].isascii() and source[end].isalpha():
            end += 1
        name = source.text[position + 1 : end]
        if name not in _NAMED_HTML_ENTITIES:
            return None, position
        decoded = _NAMED_HTML_ENTITIES[name]
    return decoded, end + 1 if source[end] == ";" else end


@dataclass
class _OpenMark:
    type: str
    argument: str
    offset: int
    byte_offset: int
    text_position: int


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    source = _Source(text)
    out: list[str] = []
    entities: list[Entity] = []
    stack: list[_OpenMark] = []
    utf16 = 0
    quote: _OpenMark | None = None
    i = 0
    while i < len(source):
        char = source[i]
        at_line_start = i == 0 or source[i - 1] == "\n"
        if at_line_start and quote is not None and char != ">":
            _close_quote(quote, utf16, entities)
            quote = None
        if at_line_start and char == ">" and not stack:
            if quote is None:
                quote = _OpenMark("blockquote", "", utf16, source.byte_offset(i), len(out))
            i += 1
            continue
        if char == "\\" and "\0" < source[i + 1] <= "~":
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        reserved = "`" if stack and stack[-1].type in ("code", "pre") else _MARKDOWN_V2_RESERVED
        if char not in reserved:
            out.append(char)
            utf16 += utf16_length(char)
            i += 1
            continue
        if stack and _ends_mark(stack[-1], source, i):
            i = _close_mark(stack.pop(), source, i, out, utf16, entities)
            continue
        mark, i = _open_mark(source, i, utf16, len(out))
        stack.append(mark)
    if stack:
        mark = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MARK_NAMES[mark.type]} entity at byte offset {mark.byte_offset}"
        )
    if quote is not None:
        _close_quote(quote, utf16, entities)
    return "".join(out), entities


def _close_quote(quote: _OpenMark, utf16: int, entities: list[Entity]) -> None:
    if utf16 > quote.offset:
        entities.append(Entity("blockquote", quote.offset, utf16 - quote.offset))


def _ends_mark(mark: _OpenMark, source: _Source, i: int) -> bool:
    char = source[i]
    if mark.type == "bold":
        return char == "*"
    if mark.type == "italic":
        return char == "_" and source[i + 1] != "_"
    if mark.type == "underline":
        return char == "_" and source[i + 1] == "_"
    if mark.type == "strikethrough":
        return char == "~"
    if mark.type == "spoiler":
        return char == "|" and source[i + 1] == "|"
    if mark.type == "code":
        return char == "`"
    if mark.type == "pre":
        return char == "`" and source[i + 1] == "`" and source[i + 2] == "`"
    return char == "]"  # text_link and custom_emoji


def _reserved_error(char: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _open_mark(source: _Source, i: int, utf16: int, text_position: int) -> tuple[_OpenMark, int]:
    char = source[i]
    begin = source.byte_offset(i)
    argument = ""
    if char == "_" and source[i + 1] == "_":
        kind, i = "underline", i + 2
    elif char == "_":
        kind, i = "italic", i + 1
    elif char == "*":
        kind, i = "bold", i + 1
    elif char == "~":
        kind, i = "strikethrough", i + 1
    elif char == "|" and source[i + 1] == "|":
        kind, i = "spoiler", i + 2
    elif char == "[":
        kind, i = "text_link", i + 1
    elif char == "!" and source[i + 1] == "[":
        kind, i = "custom_emoji", i + 2
    elif char == "`" and source[i + 1] == "`" and source[i + 2] == "`":
        kind, argument, i = "pre", *_read_pre_language(source, i + 3)
    elif char == "`":
        kind, i = "code", i + 1
    else:
        raise _reserved_error(char)
    return _OpenMark(kind, argument, utf16, begin, text_position), i


def _read_pre_language(source: _Source, i: int) -> tuple[str, int]:
    language_end = i
    while source[language_end] not in _SPACES and source[language_end] != "`":
        language_end += 1
    language = ""
    if i != language_end and language_end < len(source) and source[language_end] != "`":
        language = source.text[i:language_end]
        i = language_end
    if source[i] in "\r\n" and source[i] != "\0":
        pair = source[i + 1] in "\r\n" and source[i + 1] != "\0" and source[i] != source[i + 1]
        i += 2 if pair else 1
    return language, i


def _close_mark(
    mark: _OpenMark, source: _Source, i: int, out: list[str], utf16: int, entities: list[Entity]
) -> int:
    skip = utf16 == mark.offset
    length = utf16 - mark.offset
    if mark.type in ("underline", "spoiler"):
        i += 2
    elif mark.type == "pre":
        i += 3
    elif mark.type in ("text_link", "custom_emoji"):
        url, i = _read_link_target(source, i, "".join(out[mark.text_position :]), mark)
        if mark.type == "custom_emoji":
            emoji_id = url.removeprefix("tg://emoji?id=")
            if not skip and emoji_id.isdigit() and url.startswith("tg://emoji?id="):
                entities.append(
                    Entity("custom_emoji", mark.offset, length, custom_emoji_id=emoji_id)
                )
            return i
        if not skip:
            with contextlib.suppress(LinkError):
                entities.append(Entity("text_link", mark.offset, length, url=check_link(url)))
        return i
    else:
        i += 1
    if not skip:
        entities.append(Entity(mark.type, mark.offset, length, language=mark.argument or None))
    return i


def _read_link_target(source: _Source, i: int, label: str, mark: _OpenMark) -> tuple[str, int]:
    if source[i + 1] != "(":
        if mark.type == "custom_emoji":
            raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
        return label, i + 1
    i += 2
    begin = source.byte_offset(i)
    url: list[str] = []
    while i < len(source) and source[i] != ")":
        if source[i] == "\\" and "\0" < source[i + 1] <= "~":
            url.append(source[i + 1])
            i += 2
            continue
        url.append(source[i])
        i += 1
    if source[i] != ")":
        raise EntityParseError(f"Can't find end of a URL at byte offset {begin}")
    return "".join(url), i + 1


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: * _ ` ``` and [text](url), no nesting, escapes only for those."""
    source = _Source(text)
    out: list[str] = []
    entities: list[Entity] = []
    utf16 = 0
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and source[i + 1] in "_*`[" and source[i + 1] != "\0":
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            utf16 += utf16_length(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        i += 1
        is_pre = False
        language = ""
        if char == "`" and source[i] == "`" and source[i + 1] == "`":
            is_pre = True
            language, i = _read_pre_language(source, i + 2)
        entity_offset = utf16
        label_start = len(out)
        while i < len(source) and (
            source[i] != end_char or (is_pre and not (source[i + 1] == source[i + 2] == "`"))
        ):
            out.append(source[i])
            utf16 += utf16_length(source[i])
            i += 1
        if i >= len(source):
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {source.byte_offset(begin)}"
            )
        length = utf16 - entity_offset
        if char == "[":
            url = "".join(out[label_start:])
            if source[i + 1] == "(":
                i += 2
                target: list[str] = []
                while i < len(source) and source[i] != ")":
                    target.append(source[i])
                    i += 1
                url = "".join(target)
            if length > 0:
                with contextlib.suppress(LinkError):
                    entities.append(Entity("text_link", entity_offset, length, url=check_link(url)))
        elif length > 0:
            kind = {"_": "italic", "*": "bold"}.get(char, "pre" if is_pre else "code")
            entities.append(Entity(kind, entity_offset, length, language=language or None))
        i += 3 if is_pre else 1
    return "".join(out), entities
