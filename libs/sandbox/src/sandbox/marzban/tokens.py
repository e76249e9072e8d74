"""Admin JWTs (HS256, as PyJWT writes them) and subscription tokens (``app/utils/jwt.py``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JWT_HEADER = {"alg": "HS256", "typ": "JWT"}
# A legacy subscription token is a JWT, recognised by its (fixed) encoded header.
LEGACY_SUBSCRIPTION_PREFIX = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."


class InvalidToken(Exception):
    pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("bad base64") from exc


def _json(value: Mapping[str, Any], *, sort_keys: bool = False) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys).encode()


def encode_jwt(payload: Mapping[str, Any], secret: str) -> str:
    signing_input = f"{_b64url(_json(JWT_HEADER, sort_keys=True))}.{_b64url(_json(payload))}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _numeric_claim(payload: Mapping[str, Any], name: str) -> int | None:
    if name not in payload:
        return None
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"{name} must be a number")
    return int(value)


def decode_jwt(token: str, secret: str, *, now: float) -> dict[str, Any]:
    """Verify like ``jwt.decode(token, secret, algorithms=["HS256"])``; any failure raises."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    header_part, payload_part, signature_part = parts
    try:
        header = json.loads(_b64url_decode(header_part))
        payload = json.loads(_b64url_decode(payload_part))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("bad JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("algorithm not allowed")
    expected = hmac.new(
        secret.encode(), f"{header_part}.{payload_part}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, _b64url_decode(signature_part)):
        raise InvalidToken("signature mismatch")
    if not isinstance(payload, dict):
        raise InvalidToken("payload is not an object")
    exp = _numeric_claim(payload, "exp")
    if exp is not None and exp <= now:
        raise InvalidToken("expired")
    for claim in ("iat", "nbf"):
        value = _numeric_claim(payload, claim)
        if value is not None and value > now:
            raise InvalidToken(f"{claim} in the future")
    return payload


def admin_token_payload(
    username: str, *, is_sudo: bool, now: float, expire_minutes: int
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sub": username,
        "access": "sudo" if is_sudo else "admin",
        "iat": int(now),
    }
    if expire_minutes > 0:
        payload["exp"] = int(now) + expire_minutes * 60
    return payload


@dataclass(frozen=True)
class AdminClaims:
    username: str
    is_sudo: bool
    issued_at: float | None


def read_admin_token(token: str, secret: str, *, now: float) -> AdminClaims:
    payload = decode_jwt(token, secret, now=now)
    username = payload.get("sub")
    access = payload.get("access")
    if not username or not isinstance(username, str) or access not in ("admin", "sudo"):
        raise InvalidToken("not an admin token")
    iat = payload.get("iat")
    return AdminClaims(
        username=username, is_sudo=access == "sudo", issued_at=float(iat) if iat else None
    )


def _subscription_signature(encoded: str, secret: str) -> str:
    digest = hashlib.sha256((encoded + secret).encode()).digest()
    return base64.b64encode(digest, altchars=b"-_").decode()[:10]


def create_subscription_token(username: str, secret: str, *, now: float) -> str:
    data = f"{username},{math.ceil(now)}"
    encoded = base64.b64encode(data.encode(), altchars=b"-_").decode().rstrip("=")
    return encoded + _subscription_signature(encoded, secret)


@dataclass(frozen=True)
class SubscriptionClaims:
    username: str
    created_at: float


def read_subscription_token(token: str, secret: str, *, now: float) -> SubscriptionClaims:
    if len(token) < 15:
        raise InvalidToken("too short")
    if token.startswith(LEGACY_SUBSCRIPTION_PREFIX):
        payload = decode_jwt(token, secret, now=now)
        if payload.get("access") != "subscription":
            raise InvalidToken("not a subscription token")
        try:
            return SubscriptionClaims(str(payload["sub"]), float(payload["iat"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidToken("incomplete") from exc
    encoded, signature = token[:-10], token[-10:]
    try:
        padded = encoded.encode() + b"=" * (-len(encoded) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        username, created_at = decoded.split(",")[0], int(decoded.split(",")[1])
    except (binascii.Error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed") from exc
    if not hmac.compare_digest(signature, _subscription_signature(encoded, secret)):
        raise InvalidToken("signature mismatch")
    return SubscriptionClaims(username, float(created_at))
