"""Method parameters checked as Crypto Pay checks them.

Each ``parse_*`` takes the merged parameters (strings from a query or a form; any JSON
value from a JSON body, floats as ``Decimal``) and returns a typed request, or raises the
``ApiError`` the API answers. Limits come from the official docstrings (aiocryptopay,
aiosend): description 1024, hidden_message 2048, payload 4 KB, expires_in 1-2678400,
count 1-1000 (default 100), spend_id 64, transfer comment 1024.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from sandbox.cryptopay.errors import bad_request, invalid, required, too_long
from sandbox.cryptopay.model import CurrencyType, InvoiceStatus
from sandbox.cryptopay.params import Params

MAX_DESCRIPTION: Final = 1024
MAX_HIDDEN_MESSAGE: Final = 2048
MAX_PAYLOAD_BYTES: Final = 4096
MAX_EXPIRES_IN: Final = 2_678_400
MAX_COUNT: Final = 1000
DEFAULT_COUNT: Final = 100
MAX_SPEND_ID: Final = 64
MAX_TRANSFER_COMMENT: Final = 1024
PAID_BUTTONS: Final = frozenset({"viewItem", "openChannel", "openBot", "callback"})
# The assets aiosend's docstring lists for swap_to.
SWAP_ASSETS: Final = frozenset({"USDT", "TON", "TRX", "ETH", "SOL", "BTC", "LTC"})
LISTED_STATUSES: Final = frozenset({InvoiceStatus.ACTIVE, InvoiceStatus.PAID})

_DECIMAL: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_INTEGER: Final = re.compile(r"-?[0-9]+")
_URL: Final = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Catalog:
    """What the emulator accepts: asset and fiat codes."""

    assets: tuple[str, ...]
    fiats: tuple[str, ...]


@dataclass(frozen=True)
class CreateInvoiceRequest:
    currency_type: CurrencyType
    asset: str | None
    fiat: str | None
    accepted_assets: tuple[str, ...] | None
    amount: Decimal
    description: str | None
    hidden_message: str | None
    payload: str | None
    paid_btn_name: str | None
    paid_btn_url: str | None
    allow_comments: bool
    allow_anonymous: bool
    expires_in: int | None
    swap_to: str | None


@dataclass(frozen=True)
class Page:
    offset: int
    count: int


@dataclass(frozen=True)
class InvoiceQuery:
    assets: frozenset[str] | None
    fiats: frozenset[str] | None
    invoice_ids: frozenset[int] | None
    status: InvoiceStatus | None
    page: Page


@dataclass(frozen=True)
class TransferRequest:
    user_id: int
    asset: str
    amount: Decimal
    spend_id: str
    comment: str | None
    disable_send_notification: bool


@dataclass(frozen=True)
class TransferQuery:
    assets: frozenset[str] | None
    transfer_ids: frozenset[int] | None
    spend_id: str | None
    page: Page


def parse_create_invoice(params: Params, catalog: Catalog) -> CreateInvoiceRequest:
    currency_type = _choice(params, "currency_type", {t.value for t in CurrencyType}) or "crypto"
    asset: str | None = None
    fiat: str | None = None
    accepted: tuple[str, ...] | None = None
    if currency_type == CurrencyType.CRYPTO:
        asset = _supported(_required_text(params, "asset"), catalog.assets, "UNSUPPORTED_ASSET")
    else:
        fiat = _supported(_required_text(params, "fiat"), catalog.fiats, "UNSUPPORTED_FIAT")
        listed = _codes(params, "accepted_assets")
        for code in listed or ():
            _supported(code, catalog.assets, "UNSUPPORTED_ASSET")
        accepted = listed or catalog.assets
    amount = _positive_decimal(params, "amount")
    description = _bounded_text(params, "description", MAX_DESCRIPTION)
    hidden_message = _bounded_text(params, "hidden_message", MAX_HIDDEN_MESSAGE)
    payload = _text(params, "payload")
    if payload is not None and len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise too_long("payload")
    paid_btn_name = _choice(params, "paid_btn_name", PAID_BUTTONS)
    paid_btn_url: str | None = None
    if paid_btn_name is not None:
        paid_btn_url = _required_text(params, "paid_btn_url")
        if not _URL.fullmatch(paid_btn_url):
            raise invalid("paid_btn_url")
    expires_in = _integer(params, "expires_in")
    if expires_in is not None and not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise invalid("expires_in")
    return CreateInvoiceRequest(
        currency_type=CurrencyType(currency_type),
        asset=asset,
        fiat=fiat,
        accepted_assets=accepted,
        amount=amount,
        description=description,
        hidden_message=hidden_message,
        payload=payload,
        paid_btn_name=paid_btn_name,
        paid_btn_url=paid_btn_url,
        allow_comments=_boolean(params, "allow_comments", default=True),
        allow_anonymous=_boolean(params, "allow_anonymous", default=True),
        expires_in=expires_in,
        swap_to=_choice(params, "swap_to", SWAP_ASSETS),
    )


def parse_invoice_query(params: Params) -> InvoiceQuery:
    status = _choice(params, "status", {s.value for s in LISTED_STATUSES})
    return InvoiceQuery(
        assets=_code_set(params, "asset"),
        fiats=_code_set(params, "fiat"),
        invoice_ids=_id_set(params, "invoice_ids"),
        status=None if status is None else InvoiceStatus(status),
        page=_page(params),
    )


def parse_invoice_id(params: Params) -> int:
    invoice_id = _integer(params, "invoice_id")
    if invoice_id is None:
        raise required("invoice_id")
    if invoice_id < 1:
        raise invalid("invoice_id")
    return invoice_id


def parse_transfer(params: Params, catalog: Catalog) -> TransferRequest:
    user_id = _integer(params, "user_id")
    if user_id is None:
        raise required("user_id")
    if user_id < 1:
        raise invalid("user_id")
    asset = _supported(_required_text(params, "asset"), catalog.assets, "UNSUPPORTED_ASSET")
    amount = _positive_decimal(params, "amount")
    spend_id = _required_text(params, "spend_id")
    if len(spend_id) > MAX_SPEND_ID:
        raise too_long("spend_id")
    return TransferRequest(
        user_id=user_id,
        asset=asset,
        amount=amount,
        spend_id=spend_id,
        comment=_bounded_text(params, "comment", MAX_TRANSFER_COMMENT),
        disable_send_notification=_boolean(params, "disable_send_notification", default=False),
    )


def parse_transfer_query(params: Params) -> TransferQuery:
    return TransferQuery(
        assets=_code_set(params, "asset"),
        transfer_ids=_id_set(params, "transfer_ids"),
        spend_id=_text(params, "spend_id"),
        page=_page(params),
    )


def _page(params: Params) -> Page:
    offset = _integer(params, "offset")
    if offset is not None and offset < 0:
        raise invalid("offset")
    count = _integer(params, "count")
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise invalid("count")
    return Page(offset or 0, DEFAULT_COUNT if count is None else count)


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | Decimal):
        return str(value)
    raise invalid(name)


def _required_text(params: Params, name: str) -> str:
    value = _text(params, name)
    if not value:
        raise required(name)
    return value


def _bounded_text(params: Params, name: str, limit: int) -> str | None:
    value = _text(params, name)
    if value is not None and len(value) > limit:
        raise too_long(name)
    return value


def _choice(params: Params, name: str, allowed: Collection[str]) -> str | None:
    value = _text(params, name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise invalid(name)
    return value


def _supported(code: str, known: tuple[str, ...], error_name: str) -> str:
    if code not in known:
        raise bad_request(error_name)
    return code


def _boolean(params: Params, name: str, *, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0"):
        return False
    raise invalid(name)


def _integer(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise invalid(name)


def _positive_decimal(params: Params, name: str) -> Decimal:
    value = params.get(name)
    if value is None or value == "":
        raise required(name)
    if isinstance(value, bool):
        raise invalid(name)
    if isinstance(value, str) and not _DECIMAL.fullmatch(value.strip()):
        raise invalid(name)
    if not isinstance(value, str | int | Decimal):
        raise invalid(name)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise invalid(name) from None
    if not amount.is_finite() or amount <= 0:
        raise invalid(name)
    return amount


def _listed(params: Params, name: str) -> list[str] | None:
    """``"USDT,TON"`` or, from a JSON body, ``["USDT", "TON"]``; None when absent."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, list):
        items = value
    elif isinstance(value, str | int):
        items = str(value).split(",")
    else:
        raise invalid(name)
    if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in items):
        raise invalid(name)
    listed = [str(item).strip() for item in items]
    if not all(listed):
        raise invalid(name)
    return listed


def _codes(params: Params, name: str) -> tuple[str, ...] | None:
    listed = _listed(params, name)
    return None if listed is None else tuple(dict.fromkeys(listed))


def _code_set(params: Params, name: str) -> frozenset[str] | None:
    listed = _listed(params, name)
    return None if listed is None else frozenset(listed)


def _id_set(params: Params, name: str) -> frozenset[int] | None:
    listed = _listed(params, name)
    if listed is None:
        return None
    if not all(_INTEGER.fullmatch(item) and int(item) > 0 for item in listed):
        raise invalid(name)
    return frozenset(int(item) for item in listed)
