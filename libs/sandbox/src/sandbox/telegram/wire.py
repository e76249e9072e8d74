"""Request parameters and response bodies exactly as the Bot API server reads and writes them.

Parameters come from the query string and from an urlencoded, JSON or multipart body; when a
name occurs twice the first occurrence wins (query string first). Every value is text: a JSON
body's non-string values are kept as their raw JSON text, and nested objects are decoded later
by whoever needs them.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from sandbox.telegram.errors import BotApiError, bad_request, unsupported_media_type

_TRUE_WORDS = frozenset({"true", "yes", "1"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_JSON_WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder()


@dataclass(frozen=True)
class UploadedFile:
    name: str
    filename: str
    content_type: str
    data: bytes


class Params:
    """The merged parameters of one call, read with the server's conversions."""

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]] = (),
        files: Iterable[UploadedFile] = (),
    ) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            self._values.setdefault(name, value)
        self._files: dict[str, UploadedFile] = {}
        for upload in files:
            self._files.setdefault(upload.name, upload)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def text(self, name: str) -> str:
        return self._values.get(name, "")

    def required(self, name: str) -> str:
        """A parameter the server insists on: absent and empty read the same."""
        value = self.text(name)
        if value == "":
            raise bad_request(f'parameter "{name}" is required')
        return value

    def flag(self, name: str) -> bool:
        return to_bool(self.text(name))

    def integer(self, name: str, *, default: int, lowest: int, highest: int) -> int:
        raw = self.text(name)
        value = default if raw == "" else to_integer(raw)
        return max(lowest, min(highest, value))

    def file(self, name: str) -> UploadedFile | None:
        return self._files.get(name)

    def as_dict(self) -> dict[str, str]:
        return dict(self._values)


def to_bool(value: str) -> bool:
    return value.strip().lower() in _TRUE_WORDS


def to_integer(value: str) -> int:
    """Leading sign and digits, anything after them ignored; garbage reads as 0."""
    text = value.strip()
    negative = text.startswith("-")
    digits = ""
    for char in text[1:] if negative else text:
        if not char.isascii() or not char.isdigit():
            break
        digits += char
    number = int(digits) if digits else 0
    return -number if negative else number


def to_int64(value: str) -> int | None:
    """td::to_integer_safe<int64>: an optional '-' and digits, nothing else, in range."""
    body = value[1:] if value.startswith("-") else value
    if not body or not body.isascii() or not body.isdigit():
        return None
    number = int(value)
    return number if INT64_MIN <= number <= INT64_MAX else None


def to_exact_integer(value: str) -> int | None:
    """The whole text as a decimal integer, or None (how chat ids are read)."""
    text = value.strip()
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def parse_params(
    query_string: str, content_type: str, content_encoding: str, body: bytes
) -> Params:
    body = _decode_content(content_encoding, body)
    pairs = _parse_urlencoded(query_string)
    files: list[UploadedFile] = []
    kind = content_type.lower()
    if "application/x-www-form-urlencoded" in kind:
        pairs += _parse_urlencoded(body.decode("utf-8", errors="replace"))
    elif "application/json" in kind:
        pairs += parse_json_object(body.decode("utf-8", errors="replace"))
    elif "multipart/form-data" in kind:
        fields, files = parse_multipart(content_type, body)
        pairs += fields
    return Params(pairs, files)


def _decode_content(content_encoding: str, body: bytes) -> bytes:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError) as error:
        raise bad_request(f"can't decode content: {error}") from error
    raise unsupported_media_type("unsupported content-encoding")


def _parse_urlencoded(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text, keep_blank_values=True)


def parse_json_object(text: str) -> list[tuple[str, str]]:
    """Top-level members of a JSON object; non-string values stay raw JSON text."""
    if not text.strip():
        return []
    position = _skip_whitespace(text, 0)
    if not text.startswith("{", position):
        raise bad_request("JSON object expected")
    pairs: list[tuple[str, str]] = []
    position = _skip_whitespace(text, position + 1)
    if text.startswith("}", position):
        return _after_object_end(text, position + 1, pairs)
    while True:
        if not text.startswith('"', position):
            raise bad_request("expected parameter name")
        name, position = _scan_json_value(text, position, what="parameter name")
        position = _skip_whitespace(text, position)
        if not text.startswith(":", position):
            raise bad_request("expected ':'")
        position = _skip_whitespace(text, position + 1)
        start = position
        value, position = _scan_json_value(text, position, what="parameter value")
        pairs.append((str(name), value if isinstance(value, str) else text[start:position]))
        position = _skip_whitespace(text, position)
        if text.startswith(",", position):
            position = _skip_whitespace(text, position + 1)
            continue
        if text.startswith("}", position):
            return _after_object_end(text, position + 1, pairs)
        raise bad_request("expected ',' or '}'")


def _scan_json_value(text: str, position: int, *, what: str) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise bad_request(f"can't parse {what}: {error.msg}") from error


def _after_object_end(
    text: str, position: int, pairs: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    if _skip_whitespace(text, position) != len(text):
        raise bad_request("unexpected data after object end")
    return pairs


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _JSON_WHITESPACE:
        position += 1
    return position


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[list[tuple[str, str]], list[UploadedFile]]:
    boundary = _header_param("content-type", content_type, "boundary")
    if not boundary:
        raise bad_request("can't find boundary in multipart/form-data")
    delimiter = b"--" + boundary.encode("latin-1")
    fields: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        part = _parse_part(chunk.removeprefix(b"\r\n").removesuffix(b"\r\n"))
        if part is None:
            continue
        if isinstance(part, UploadedFile):
            files.append(part)
        else:
            fields.append(part)
    return fields, files


def _parse_part(part: bytes) -> UploadedFile | tuple[str, str] | None:
    head, separator, content = part.partition(b"\r\n\r\n")
    if not separator:
        return None
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    name = _header_param("content-disposition", disposition, "name")
    if not name:
        return None
    filename = _header_param("content-disposition", disposition, "filename")
    if filename is None:
        return name, content.decode("utf-8", errors="replace")
    content_type = headers.get("content-type", "application/octet-stream")
    return UploadedFile(name=name, filename=filename, content_type=content_type, data=content)


def _header_param(header: str, value: str, param: str) -> str | None:
    message = Message()
    message[header] = value
    found = message.get_param(param, header=header)
    if found is None:
        return None
    if isinstance(found, tuple):
        return str(found[2])
    return str(found)


def json_text(value: Any) -> str:
    """Compact JSON as the server writes it (UTF-8, no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ok_body(result_json: str, description: str | None = None) -> str:
    body = '{"ok":true,"result":' + result_json
    if description is not None:
        body += ',"description":' + json_text(description)
    return body + "}"


def error_body(error: BotApiError) -> str:
    return json_text(error.to_json())
