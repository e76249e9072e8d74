"""Photos: reading an image's size from its header and the PhotoSize set Telegram makes of it."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from sandbox.telegram.errors import bad_request

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# Telegram stores a photo as thumbnails whose longer side is at most each of these.
_SIZE_LIMITS = (90, 320, 800, 1280, 2560)


@dataclass(frozen=True)
class PhotoSize:
    file_id: str
    file_unique_id: str
    width: int
    height: int
    file_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_size:
            body["file_size"] = self.file_size
        body["width"] = self.width
        body["height"] = self.height
        return body


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG image, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (segment_length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return int(width), int(height)
        position += 2 + segment_length
    return None


def check_photo(data: bytes) -> tuple[int, int]:
    """The server's refusals for an uploaded or downloaded photo."""
    if len(data) > MAX_PHOTO_BYTES:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width <= 0 or height <= 0 or width + height > 10000:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    if max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


def scaled_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The thumbnail sizes Telegram keeps: one per limit, up to the original (capped at 2560)."""
    sizes: list[tuple[int, int]] = []
    longer = max(width, height)
    for limit in _SIZE_LIMITS:
        if longer <= limit:
            sizes.append((width, height))
            break
        scale = limit / longer
        sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes
