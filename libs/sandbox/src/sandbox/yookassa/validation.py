"""Request bodies and list queries of the API, checked as YooKassa checks them.

Each ``parse_*`` takes decoded JSON (floats arrive as ``Decimal``) and returns a typed
request or raises ``ApiError`` naming the offending ``parameter``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, TypeVar

from sandbox.yookassa.errors import ApiError, illegal_receipt, invalid_request
from sandbox.yookassa.identifiers import parse_timestamp
from sandbox.yookassa.model import PAYMENT_METHOD_TYPES, JsonObject, PaymentStatus, RefundStatus
from sandbox.yookassa.money import CURRENCIES, Amount, to_minor

MAX_DESCRIPTION: Final = 128
MAX_REFUND_DESCRIPTION: Final = 250
MAX_METADATA_KEYS: Final = 16
MAX_METADATA_KEY: Final = 32
MAX_METADATA_VALUE: Final = 512
MAX_RECEIPT_ITEM_DESCRIPTION: Final = 128
VAT_CODES: Final = range(1, 13)
PAYMENT_MODES: Final = frozenset(
    {
        "full_prepayment",
        "partial_prepayment",
        "advance",
        "full_payment",
        "partial_payment",
        "credit",
        "credit_payment",
    }
)
PAYMENT_SUBJECTS: Final = frozenset(
    {
        "commodity",
        "excise",
        "job",
        "service",
        "gambling_bet",
        "gambling_prize",
        "lottery",
        "lottery_prize",
        "intellectual_activity",
        "payment",
        "agent_commission",
        "composite",
        "another",
        "property_right",
        "non_operating_gain",
        "insurance_premium",
        "sales_tax",
        "resort_fee",
        "marked",
        "non_marked",
        "fine",
        "tax",
        "lien",
        "cost",
        "pension_insurance_without_payouts",
        "pension_insurance_with_payouts",
        "health_insurance_without_payouts",
        "health_insurance_with_payouts",
        "health_insurance",
        "casino",
        "agent_withdrawals",
    }
)
CONFIRMATION_TYPES: Final = frozenset(
    {"redirect", "embedded", "qr", "external", "mobile_application"}
)
LOCALES: Final = frozenset({"ru_RU", "en_US"})
_Status = TypeVar("_Status", bound=StrEnum)
DEFAULT_PAGE_SIZE: Final = 10
MAX_PAGE_SIZE: Final = 100


@dataclass(frozen=True)
class ConfirmationRequest:
    type: str
    return_url: str | None = None
    locale: str | None = None
    enforce: bool | None = None


@dataclass(frozen=True)
class PaymentRequest:
    amount: Amount
    capture: bool
    description: str | None
    confirmation: ConfirmationRequest | None
    metadata: dict[str, str]
    raw_receipt: object | None
    save_payment_method: bool
    payment_method_id: str | None
    payment_method_type: str | None
    merchant_customer_id: str | None


@dataclass(frozen=True)
class CaptureRequest:
    amount: Amount | None
    raw_receipt: object | None


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str
    amount: Amount
    description: str | None
    raw_receipt: object | None


def _object(body: object, parameter: str | None = None) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise invalid_request(
            f"{parameter or 'Request body'} must be a JSON object", parameter=parameter
        )
    return body


def _string(body: Mapping[str, Any], name: str, parameter: str, *, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_request(f"Invalid {parameter} value: a string is expected", parameter)
    if len(value) > max_length:
        raise invalid_request(
            f"Invalid {parameter} value: at most {max_length} characters are allowed", parameter
        )
    return value


def _bool(body: Mapping[str, Any], name: str, parameter: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise invalid_request(f"Invalid {parameter} value: true or false is expected", parameter)


def parse_amount(raw: object, parameter: str = "amount") -> Amount:
    if raw is None:
        raise invalid_request(f"Parameter {parameter} is missing", parameter)
    amount = _object(raw, parameter)
    currency = amount.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise invalid_request(f"Invalid currency in {parameter}", f"{parameter}.currency")
    value = amount.get("value")
    parsed = Amount.parse_value(value, currency) if isinstance(value, str) else None
    if parsed is None or parsed.minor <= 0:
        raise invalid_request(
            f'Invalid {parameter} value: a positive decimal string like "299.00" is expected',
            f"{parameter}.value",
        )
    return parsed


def parse_metadata(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    metadata = _object(raw, "metadata")
    if len(metadata) > MAX_METADATA_KEYS:
        raise invalid_request(
            f"Invalid metadata: at most {MAX_METADATA_KEYS} keys are allowed", "metadata"
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise invalid_request(
                f"Invalid metadata: key {key[:40]!r} is longer than {MAX_METADATA_KEY} characters",
                "metadata",
            )
        if not isinstance(value, str):
            raise invalid_request(f"Invalid metadata: value of {key!r} is not a string", "metadata")
        if len(value) > MAX_METADATA_VALUE:
            raise invalid_request(
                f"Invalid metadata: value of {key!r} is longer than {MAX_METADATA_VALUE} "
                "characters",
                "metadata",
            )
    return dict(metadata)


def parse_confirmation(raw: object) -> ConfirmationRequest | None:
    if raw is None:
        return None
    confirmation = _object(raw, "confirmation")
    kind = confirmation.get("type")
    if kind not in CONFIRMATION_TYPES:
        raise invalid_request("Invalid confirmation type", "confirmation.type")
    return_url = _string(confirmation, "return_url", "confirmation.return_url", max_length=2048)
    if kind in ("redirect", "mobile_application") and not return_url:
        raise invalid_request("Parameter return_url is missing", "confirmation.return_url")
    locale = confirmation.get("locale")
    if locale is not None and locale not in LOCALES:
        raise invalid_request("Invalid confirmation locale", "confirmation.locale")
    return ConfirmationRequest(
        type=kind,
        return_url=return_url,
        locale=locale,
        enforce=_bool(confirmation, "enforce", "confirmation.enforce"),
    )


def parse_payment_request(body: object) -> PaymentRequest:
    request = _object(body)
    amount = parse_amount(request.get("amount"))
    payment_method_type: str | None = None
    if request.get("payment_method_data") is not None:
        method_data = _object(request["payment_method_data"], "payment_method_data")
        method_type = method_data.get("type")
        if method_type not in PAYMENT_METHOD_TYPES:
            raise invalid_request("Invalid payment_method_data type", "payment_method_data.type")
        payment_method_type = method_type
    payment_method_id = _string(request, "payment_method_id", "payment_method_id", max_length=64)
    confirmation = parse_confirmation(request.get("confirmation"))
    if confirmation is None and payment_method_id is None and not request.get("payment_token"):
        raise invalid_request("Parameter confirmation is missing", "confirmation")
    return PaymentRequest(
        amount=amount,
        capture=_bool(request, "capture", "capture") or False,
        description=_string(request, "description", "description", max_length=MAX_DESCRIPTION),
        confirmation=confirmation,
        metadata=parse_metadata(request.get("metadata")),
        raw_receipt=request.get("receipt"),
        save_payment_method=_bool(request, "save_payment_method", "save_payment_method") or False,
        payment_method_id=payment_method_id,
        payment_method_type=payment_method_type,
        merchant_customer_id=_string(
            request, "merchant_customer_id", "merchant_customer_id", max_length=200
        ),
    )


def parse_capture_request(body: object) -> CaptureRequest:
    request = _object({} if body is None else body)
    amount = request.get("amount")
    return CaptureRequest(
        amount=None if amount is None else parse_amount(amount),
        raw_receipt=request.get("receipt"),
    )


def parse_refund_request(body: object) -> RefundRequest:
    request = _object(body)
    payment_id = _string(request, "payment_id", "payment_id", max_length=64)
    if not payment_id:
        raise invalid_request("Parameter payment_id is missing", "payment_id")
    return RefundRequest(
        payment_id=payment_id,
        amount=parse_amount(request.get("amount")),
        description=_string(
            request, "description", "description", max_length=MAX_REFUND_DESCRIPTION
        ),
        raw_receipt=request.get("receipt"),
    )


def _quantity(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        return None
    try:
        quantity = Decimal(raw)
    except InvalidOperation:
        return None
    return quantity if quantity.is_finite() and quantity > 0 else None


def _receipt_item(raw: object, currency: str) -> tuple[JsonObject, int]:
    """One receipt line, normalized, and its total in kopecks."""
    if not isinstance(raw, Mapping):
        raise illegal_receipt()
    description = raw.get("description")
    if not isinstance(description, str) or not 0 < len(description) <= MAX_RECEIPT_ITEM_DESCRIPTION:
        raise illegal_receipt()
    quantity = _quantity(raw.get("quantity"))
    vat_code = raw.get("vat_code")
    if quantity is None or isinstance(vat_code, bool) or vat_code not in VAT_CODES:
        raise illegal_receipt()
    try:
        price = parse_amount(raw.get("amount"), "receipt.items.amount")
    except ApiError:
        raise illegal_receipt() from None
    if price.currency != currency:
        raise illegal_receipt()
    item: JsonObject = {
        "description": description,
        "quantity": str(quantity),
        "amount": price.to_json(),
        "vat_code": vat_code,
    }
    for name, allowed in (("payment_subject", PAYMENT_SUBJECTS), ("payment_mode", PAYMENT_MODES)):
        value = raw.get(name)
        if value is None:
            continue
        if value not in allowed:
            raise illegal_receipt()
        item[name] = value
    return item, to_minor(price.decimal * quantity)


def parse_receipt(raw: object, total: Amount) -> JsonObject:
    """A 54-FZ receipt whose lines add up to ``total``, normalized; else ``illegal_receipt``."""
    if not isinstance(raw, Mapping):
        raise illegal_receipt()
    customer = raw.get("customer") or {}
    if not isinstance(customer, Mapping):
        raise illegal_receipt()
    # The top-level email/phone is the older spelling of the customer's contact.
    email = customer.get("email") or raw.get("email")
    phone = customer.get("phone") or raw.get("phone")
    if not (isinstance(email, str) and "@" in email) and not (
        isinstance(phone, str) and phone.lstrip("+").isdigit()
    ):
        raise illegal_receipt()
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        raise illegal_receipt()
    lines = [_receipt_item(item, total.currency) for item in items]
    if sum(line_total for _, line_total in lines) != total.minor:
        raise illegal_receipt()
    contact = {
        key: value for key, value in (("email", email), ("phone", phone)) if isinstance(value, str)
    }
    receipt: JsonObject = {
        "customer": {**{k: v for k, v in customer.items() if isinstance(v, str)}, **contact},
        "items": [item for item, _ in lines],
    }
    if raw.get("tax_system_code") is not None:
        receipt["tax_system_code"] = raw["tax_system_code"]
    return receipt


@dataclass(frozen=True)
class TimeRange:
    gte: datetime | None = None
    gt: datetime | None = None
    lte: datetime | None = None
    lt: datetime | None = None

    def contains(self, moment: datetime | None) -> bool:
        bounds = (self.gte, self.gt, self.lte, self.lt)
        if all(bound is None for bound in bounds):
            return True
        if moment is None:
            return False
        return (
            (self.gte is None or moment >= self.gte)
            and (self.gt is None or moment > self.gt)
            and (self.lte is None or moment <= self.lte)
            and (self.lt is None or moment < self.lt)
        )


@dataclass(frozen=True)
class Page:
    limit: int
    after_sequence: int | None


@dataclass(frozen=True)
class PaymentQuery:
    page: Page
    created_at: TimeRange
    captured_at: TimeRange
    status: PaymentStatus | None
    payment_method: str | None


@dataclass(frozen=True)
class RefundQuery:
    page: Page
    created_at: TimeRange
    payment_id: str | None
    status: RefundStatus | None


def encode_cursor(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{sequence}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "seq" or not number.isdigit():
        raise invalid_request("Invalid cursor value", "cursor")
    return int(number)


def _page(query: Mapping[str, str]) -> Page:
    limit_text = query.get("limit")
    limit = DEFAULT_PAGE_SIZE
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
            raise invalid_request(
                f"Invalid limit value: an integer from 1 to {MAX_PAGE_SIZE} is expected", "limit"
            )
        limit = int(limit_text)
    cursor = query.get("cursor")
    return Page(limit=limit, after_sequence=None if cursor is None else _decode_cursor(cursor))


def _time_range(query: Mapping[str, str], field_name: str) -> TimeRange:
    bounds: dict[str, datetime] = {}
    for operator in ("gte", "gt", "lte", "lt"):
        parameter = f"{field_name}.{operator}"
        text = query.get(parameter)
        if text is None:
            continue
        moment = parse_timestamp(text)
        if moment is None:
            raise invalid_request(f"Invalid {parameter} value: ISO 8601 is expected", parameter)
        bounds[operator] = moment
    return TimeRange(**bounds)


def _status(query: Mapping[str, str], kind: type[_Status]) -> _Status | None:
    text = query.get("status")
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise invalid_request("Invalid status value", "status") from None


def parse_payment_query(query: Mapping[str, str]) -> PaymentQuery:
    payment_method = query.get("payment_method")
    if payment_method is not None and payment_method not in PAYMENT_METHOD_TYPES:
        raise invalid_request("Invalid payment_method value", "payment_method")
    return PaymentQuery(
        page=_page(query),
        created_at=_time_range(query, "created_at"),
        captured_at=_time_range(query, "captured_at"),
        status=_status(query, PaymentStatus),
        payment_method=payment_method,
    )


def parse_refund_query(query: Mapping[str, str]) -> RefundQuery:
    return RefundQuery(
        page=_page(query),
        created_at=_time_range(query, "created_at"),
        payment_id=query.get("payment_id"),
        status=_status(query, RefundStatus),
    )


_SHOP_FLAGS: Final = ("fiscalization_enabled", "test", "autopayments_enabled")


def parse_shop_settings(body: object, *, partial: bool) -> dict[str, Any]:
    """Shop fields from the control API: all of them to add a shop, some to change one."""
    settings = _object({} if body is None and partial else body)
    fields: dict[str, Any] = {}
    if not partial or "secret_key" in settings:
        secret_key = settings.get("secret_key")
        if not isinstance(secret_key, str) or not secret_key:
            raise invalid_request("secret_key must be a non-empty string", "secret_key")
        fields["secret_key"] = secret_key
    if "notification_url" in settings:
        url = settings["notification_url"]
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise invalid_request("notification_url must be an http(s) URL", "notification_url")
        fields["notification_url"] = url
    for flag in _SHOP_FLAGS:
        if flag in settings:
            if not isinstance(settings[flag], bool):
                raise invalid_request(f"{flag} must be true or false", flag)
            fields[flag] = settings[flag]
    if settings.get("gateway_id") is not None:
        gateway_id = settings["gateway_id"]
        if not isinstance(gateway_id, str):
            raise invalid_request("gateway_id must be a string", "gateway_id")
        fields["gateway_id"] = gateway_id
    if "payment_methods" in settings:
        methods = settings["payment_methods"]
        if not isinstance(methods, list) or not all(m in PAYMENT_METHOD_TYPES for m in methods):
            raise invalid_request(
                "payment_methods must list payment method types", "payment_methods"
            )
        fields["payment_methods"] = tuple(methods)
    return fields
