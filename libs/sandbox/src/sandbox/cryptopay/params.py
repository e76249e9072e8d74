"""Method parameters from wherever the caller put them.

"Use either URL query string or application/json or application/x-www-form-urlencoded or
multipart/form-data for passing parameters" (help.crypt.bot/crypto-pay-api). Query
parameters are read first and the body's override them. The project does not depend on
python-multipart, so form bodies are decoded with the standard library.
"""

from __future__ import annotations

import json
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qsl

from starlette.requests import Request

from sandbox.cryptopay.errors import bad_request

Params = dict[str, object]


async def read_params(request: Request) -> Params:
    params: Params = dict(request.query_params)
    body = await request.body()
    if request.method != "POST" or not body.strip():
        return params
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == "application/json":
        params.update(_json_object(body))
    elif media_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif media_type == "multipart/form-data":
        params.update(_multipart_fields(body, content_type))
    return params


def _json_object(body: bytes) -> Params:
    try:
        decoded = json.loads(body, parse_float=Decimal)
    except ValueError:
        raise bad_request("BAD_REQUEST") from None
    if not isinstance(decoded, dict):
        raise bad_request("BAD_REQUEST")
    return {str(name): value for name, value in decoded.items() if value is not None}


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise bad_request("BAD_REQUEST")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        fields[name] = payload.decode(part.get_content_charset() or "utf-8", "replace")
    return fields
