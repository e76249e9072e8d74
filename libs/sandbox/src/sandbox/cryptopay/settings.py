"""App settings as the control API takes them: what @CryptoBot's "My Apps" screen sets."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sandbox.cryptopay.errors import ControlError
from sandbox.cryptopay.model import TOKEN_PATTERN

_URL: Final = re.compile(r"https?://\S+")
_FIELDS: Final = frozenset({"name", "token", "webhook_url", "transfer_enabled", "balances"})


def parse_app_settings(body: object, *, partial: bool) -> dict[str, Any]:
    """``App`` keyword arguments; ``partial`` (PATCH) takes only the settings given."""
    if not isinstance(body, dict):
        raise ControlError(400, "expected a JSON object of app settings")
    unknown = set(body) - _FIELDS
    if unknown:
        raise ControlError(400, f"unknown app settings: {', '.join(sorted(unknown))}")
    settings: dict[str, Any] = {}
    if not partial or "name" in body:
        settings["name"] = _non_empty(body.get("name"), "name")
    if not partial or "token" in body:
        token = body.get("token")
        if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
            raise ControlError(400, "token must look like <digits>:<letters, digits, _ or ->")
        settings["token"] = token
    if not partial or "webhook_url" in body:
        url = body.get("webhook_url")
        if url is not None and not (isinstance(url, str) and _URL.fullmatch(url)):
            raise ControlError(400, "webhook_url must be an http(s) URL or null")
        settings["webhook_url"] = url
    if not partial or "transfer_enabled" in body:
        enabled = body.get("transfer_enabled", False)
        if not isinstance(enabled, bool):
            raise ControlError(400, "transfer_enabled must be true or false")
        settings["transfer_enabled"] = enabled
    if not partial or "balances" in body:
        settings["balances"] = _balances(body.get("balances") or {})
    return settings


def _non_empty(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"{name} must be a non-empty string")
    return value


def _balances(value: object) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise ControlError(400, 'balances must be {"<asset>": "<amount>"}')
    balances: dict[str, Decimal] = {}
    for asset, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
            raise ControlError(400, f"the {asset} balance must be a decimal string")
        try:
            parsed = Decimal(amount)
        except InvalidOperation:
            raise ControlError(400, f"the {asset} balance must be a decimal string") from None
        if not parsed.is_finite() or parsed < 0:
            raise ControlError(400, f"the {asset} balance cannot be negative")
        balances[_non_empty(asset, "an asset code")] = parsed
    return balances
