"""Message text and captions: a parse mode or an entities list in, checked text out.

The checks run in the Bot API server's order: the raw text (empty, too long), the parse mode,
the parsing; then, once the chat is known, TDLib's (non-empty after trimming, length).
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.telegram.entities import (
    Entity,
    EntityParseError,
    FormattedText,
    normalize,
    parse_entities_param,
)
from sandbox.telegram.errors import bad_request
from sandbox.telegram.parse_modes import parse_html, parse_markdown, parse_markdown_v2

MAX_RAW_TEXT_BYTES = 32768
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


def parse_formatted_text(text: str, parse_mode: str, entities_param: str) -> FormattedText:
    """Steps before the chat is looked at: parse_mode, then the markup or the entities list."""
    mode = parse_mode.lower()
    if text and mode not in ("", "none"):
        if mode == "html":
            return _parsed(parse_html, text)
        if mode == "markdownv2":
            return _parsed(parse_markdown_v2, text)
        if mode == "markdown":
            return _parsed(parse_markdown, text)
        raise bad_request("unsupported parse_mode")
    return FormattedText(text, tuple(parse_entities_param(entities_param)))


def _parsed(parser: Callable[[str], tuple[str, list[Entity]]], text: str) -> FormattedText:
    try:
        plain, entities = parser(text)
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from error
    return FormattedText(plain, tuple(entities))


def check_message_text(text: str) -> None:
    """The raw-text checks the server makes before parsing."""
    if text == "":
        raise bad_request("message text is empty")
    if len(text.encode("utf-8")) > MAX_RAW_TEXT_BYTES:
        raise bad_request("text is too long")


def finish_text(formatted: FormattedText) -> FormattedText:
    """Trim, clip, add the entities Telegram finds itself, sort; then the length checks."""
    finished = normalize(formatted)
    if finished.text == "":
        raise bad_request("text must be non-empty")
    if len(finished.text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return finished


def finish_caption(formatted: FormattedText) -> FormattedText:
    finished = normalize(formatted)
    if len(finished.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return finished
