"""The ``crypto-pay-api-signature`` header, and the wrong ones a forger would send.

"…comparing the header parameter crypto-pay-api-signature and the hexadecimal
representation of HMAC-SHA-256 signature used to sign the entire request body (unparsed
JSON string) with a secret key that is SHA256 hash of your app's token"
(help.crypt.bot/crypto-pay-api#verifying-webhook-updates). The key is the raw digest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from enum import StrEnum

SIGNATURE_HEADER = "crypto-pay-api-signature"


class SignatureMode(StrEnum):
    """How a forged update is signed."""

    VALID = "valid"  # correctly, over the bytes sent
    NONE = "none"  # no header at all
    GARBAGE = "garbage"  # 64 random hex digits
    OTHER_BYTES = "other_bytes"  # correctly, but over different bytes than those sent
    WRONG_TOKEN = "wrong_token"  # noqa: S105 - over the bytes sent, with another token


def sign(body: bytes, token: str) -> str:
    secret = hashlib.sha256(token.encode()).digest()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def forged_signature(
    mode: SignatureMode,
    body: bytes,
    token: str,
    *,
    signed_body: bytes | None = None,
    wrong_token: str | None = None,
) -> str | None:
    if mode is SignatureMode.VALID:
        return sign(body, token)
    if mode is SignatureMode.NONE:
        return None
    if mode is SignatureMode.GARBAGE:
        return secrets.token_hex(32)
    if mode is SignatureMode.OTHER_BYTES:
        return sign(signed_body if signed_body is not None else _reformatted(body), token)
    app_part = token.partition(":")[0]
    return sign(body, wrong_token or f"{app_part}:{secrets.token_urlsafe(24)}")


def _reformatted(body: bytes) -> bytes:
    """The same JSON written differently: what a receiver that re-serializes would sign."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return body + b"\n"
    reformatted = json.dumps(decoded, indent=2, ensure_ascii=True).encode()
    return reformatted if reformatted != body else body + b"\n"
