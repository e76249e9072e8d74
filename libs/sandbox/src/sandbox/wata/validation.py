"""Request bodies and search queries of the API, checked as WATA's ASP.NET/ABP stack checks them.

Bodies bind case-insensitively; a value of the wrong JSON type is a conversion error; a
missing required field is ``'Amount' is required.``; all of them are reported together in
``validationErrors``. Business rules (amount range, currency) come after and answer with a
code. Each ``parse_*`` takes decoded JSON (floats arrive as ``Decimal``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar

from sandbox.wata.config import WataConfig
from sandbox.wata.errors import FieldError, business, invalid, invalid_field
from sandbox.wata.identifiers import canonical_guid, format_instant, parse_timestamp
from sandbox.wata.model import (
    CENT,
    CURRENCIES,
    MAX_AMOUNT_PROMPTS,
    MAX_LINK_AMOUNT,
    MAX_TOKENS,
    MIN_LINK_AMOUNT,
    AccessToken,
    JsonObject,
    LinkStatus,
    LinkType,
    TransactionStatus,
    TransactionType,
)

DEFAULT_PAGE_SIZE: Final = 10
MAX_PAGE_SIZE: Final = 1000
_INT_MAX: Final = 2_147_483_647
_Enum = TypeVar("_Enum", bound=StrEnum)


def display_name(member: str) -> str:
    """FluentValidation's name of a property: ``originalTransactionId`` is
    ``Original Transaction Id``."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", member)
    return words[:1].upper() + words[1:]


def has_cents_only(amount: Decimal) -> bool:
    return amount == amount.quantize(CENT)


class _Body:
    """The fields of a JSON object body, looked up as ASP.NET binds them: ignoring case."""

    def __init__(self, body: object) -> None:
        if not isinstance(body, Mapping):
            raise invalid_field("The request body must be a JSON object.", "$")
        self._fields = {str(key).lower(): value for key, value in body.items()}
        self.errors: list[FieldError] = []

    def present(self, member: str) -> bool:
        """Sent at all, even as null (which clears a setting)."""
        return member.lower() in self._fields

    def raw(self, member: str, required: bool = False) -> Any:
        value = self._fields.get(member.lower())
        if value is None and required:
            self.errors.append(FieldError(f"'{display_name(member)}' is required.", member))
        return value

    def _not_convertible(self, member: str, target: str) -> None:
        self.errors.append(
            FieldError(
                f"The JSON value could not be converted to {target}. Path: $.{member}", member
            )
        )

    def string(self, member: str, *, required: bool = False) -> str | None:
        value = self.raw(member, required)
        if value is None or isinstance(value, str):
            return value
        self._not_convertible(member, "System.String")
        return None

    def boolean(self, member: str) -> bool | None:
        value = self.raw(member, False)
        if value is None or isinstance(value, bool):
            return value
        self._not_convertible(member, "System.Boolean")
        return None

    def number(self, member: str, *, required: bool = False) -> Decimal | None:
        value = self.raw(member, required)
        if value is None:
            return None
        converted = _decimal(value)
        if converted is None:
            self._not_convertible(member, "System.Decimal")
        return converted

    def numbers(self, member: str) -> list[Decimal] | None:
        value = self.raw(member, False)
        if value is None:
            return None
        converted = [_decimal(item) for item in value] if isinstance(value, list) else [None]
        if any(item is None for item in converted):
            self._not_convertible(member, "System.Decimal[]")
            return None
        return [item for item in converted if item is not None]

    def enum(self, member: str, kind: type[_Enum], *, required: bool = False) -> _Enum | None:
        text = self.string(member, required=required)
        if text is None:
            return None
        for candidate in kind:
            if candidate.value.lower() == text.lower():
                return candidate
        self._not_convertible(member, kind.__name__)
        return None

    def moment(self, member: str) -> datetime | None:
        text = self.string(member)
        if text is None:
            return None
        moment = parse_timestamp(text)
        if moment is None:
            self._not_convertible(member, "System.DateTime")
        return moment

    def check(self) -> None:
        if self.errors:
            raise invalid(self.errors)


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


@dataclass(frozen=True)
class LinkRequest:
    amount: Decimal
    currency: str
    type: LinkType
    expiration_time: datetime
    order_id: str | None
    description: str | None
    success_redirect_url: str | None
    fail_redirect_url: str | None
    is_arbitrary_amount_allowed: bool
    email: str | None
    extras: JsonObject


_ECHOED: Final = ("phone", "username", "userId")


def parse_link_request(body: object, *, now: datetime, config: WataConfig) -> LinkRequest:
    fields = _Body(body)
    amount = fields.number("amount", required=True)
    currency = fields.string("currency", required=True)
    link_type = fields.enum("type", LinkType)
    expiration = fields.moment("expirationDateTime")
    order_id = fields.string("orderId")
    description = fields.string("description")
    success_url = fields.string("successRedirectUrl")
    fail_url = fields.string("failRedirectUrl")
    arbitrary = fields.boolean("isArbitraryAmountAllowed")
    prompts = fields.numbers("arbitraryAmountPrompts")
    email = fields.string("email")
    echoed = {member: fields.string(member) for member in _ECHOED}
    earliest, latest = now + config.min_link_lifetime, now + config.max_link_lifetime
    if expiration is not None and not earliest <= expiration <= latest:
        fields.errors.append(
            FieldError(
                f"'Expiration Date Time' must be between {format_instant(earliest)} and "
                f"{format_instant(latest)}. You entered {format_instant(expiration)}.",
                "expirationDateTime",
            )
        )
    if prompts is not None and len(prompts) > MAX_AMOUNT_PROMPTS:
        fields.errors.append(
            FieldError(
                f"'Arbitrary Amount Prompts' must not have more than {MAX_AMOUNT_PROMPTS} items.",
                "arbitraryAmountPrompts",
            )
        )
    if prompts is not None and amount is not None and any(p < amount for p in prompts):
        fields.errors.append(
            FieldError(
                "Each of 'Arbitrary Amount Prompts' must not be less than 'Amount'.",
                "arbitraryAmountPrompts",
            )
        )
    fields.check()
    assert amount is not None
    assert currency is not None
    if currency not in CURRENCIES:
        raise business("Payment:PL_1002")
    if not (has_cents_only(amount) and MIN_LINK_AMOUNT[currency] <= amount <= MAX_LINK_AMOUNT):
        raise business("Payment:PL_1001")
    extras: JsonObject = {}
    if link_type is not None:
        extras["type"] = link_type.value
    if arbitrary is not None:
        extras["isArbitraryAmountAllowed"] = arbitrary
    if prompts is not None:
        extras["arbitraryAmountPrompts"] = [prompt.quantize(CENT) for prompt in prompts]
    if email is not None:
        extras["email"] = email
    extras.update({member: value for member, value in echoed.items() if value is not None})
    return LinkRequest(
        amount=amount,
        currency=currency,
        type=link_type or LinkType.ONE_TIME,
        expiration_time=expiration or now + config.default_link_lifetime,
        order_id=order_id,
        description=description,
        success_redirect_url=success_url,
        fail_redirect_url=fail_url,
        is_arbitrary_amount_allowed=bool(arbitrary),
        email=email,
        extras=extras,
    )


@dataclass(frozen=True)
class RefundRequest:
    original_transaction_id: str
    amount: Decimal


def parse_refund_request(body: object) -> RefundRequest:
    fields = _Body(body)
    original = fields.string("originalTransactionId", required=True)
    amount = fields.number("amount", required=True)
    original_id = None if original is None else canonical_guid(original)
    if original is not None and original_id is None:
        fields.errors.append(
            FieldError(
                "The JSON value could not be converted to System.Guid. "
                "Path: $.originalTransactionId",
                "originalTransactionId",
            )
        )
    fields.check()
    assert original_id is not None
    assert amount is not None
    return RefundRequest(original_id, amount)


# -- search queries ---------------------------------------------------------------------------


class Query:
    """Query parameters as ASP.NET binds them: names ignore case, lists repeat the name."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name.lower(), []).append(value)
        self.errors: list[FieldError] = []

    def text(self, name: str) -> str | None:
        values = [value for value in self._values.get(name.lower(), []) if value != ""]
        return values[-1] if values else None

    def texts(self, name: str) -> list[str]:
        return [value for value in self._values.get(name.lower(), []) if value != ""]

    def _not_valid(self, name: str, value: str) -> None:
        self.errors.append(
            FieldError(f"The value '{value}' is not valid for {name}.", _camel(name))
        )

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        text = self.text(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            self._not_valid(name, text)
            return default
        if not low <= value <= high:
            self.errors.append(
                FieldError(f"The field {name} must be between {low} and {high}.", _camel(name))
            )
        return value

    def number(self, name: str) -> Decimal | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            value = Decimal(text)
        except ArithmeticError:
            value = None
        if value is None or not value.is_finite():
            self._not_valid(name, text)
            return None
        return value

    def moment(self, name: str) -> datetime | None:
        text = self.text(name)
        if text is None:
            return None
        moment = parse_timestamp(text)
        if moment is None:
            self._not_valid(name, text)
        return moment

    def enums(self, name: str, kind: type[_Enum]) -> frozenset[_Enum]:
        chosen: set[_Enum] = set()
        for text in self.texts(name):
            match = next((c for c in kind if c.value.lower() == text.lower()), None)
            if match is None:
                self._not_valid(name, text)
            else:
                chosen.add(match)
        return frozenset(chosen)

    def currencies(self, name: str) -> frozenset[str]:
        chosen: set[str] = set()
        for text in self.texts(name):
            if text.upper() in (*CURRENCIES, "GBP"):  # GBP is in WATA's schema, never allowed
                chosen.add(text.upper())
            else:
                self._not_valid(name, text)
        return frozenset(chosen)

    def sorting(self, allowed: tuple[str, ...], default: str) -> tuple[str, bool]:
        text = self.text("Sorting") or default
        parts = text.split()
        field_name = next((f for f in allowed if parts and f.lower() == parts[0].lower()), None)
        direction = parts[1].lower() if len(parts) == 2 else "asc"
        if field_name is None or len(parts) > 2 or direction not in ("asc", "desc"):
            self.errors.append(
                FieldError(
                    f"Sorting by '{text}' is not supported: use {', '.join(allowed)}.", "sorting"
                )
            )
            return default.split()[0], True
        return field_name, direction == "desc"

    def page_size(self) -> int:
        size = self.integer("MaxResultCount", DEFAULT_PAGE_SIZE, 1, _INT_MAX)
        if size > MAX_PAGE_SIZE:
            self.errors.append(
                FieldError(
                    f"MaxResultCount can not be more than {MAX_PAGE_SIZE}! Increase "
                    "LimitedResultRequestDto.MaxMaxResultCount on the server to allow more "
                    "results.",
                    "maxResultCount",
                )
            )
        return size

    def check(self) -> None:
        if self.errors:
            raise invalid(self.errors)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@dataclass(frozen=True)
class Filters:
    order_id: str | None
    amount_from: Decimal | None
    amount_to: Decimal | None
    currencies: frozenset[str]
    created_from: datetime | None
    created_to: datetime | None

    def accepts(
        self, order_id: str | None, amount: Decimal, currency: str, created: datetime
    ) -> bool:
        return (
            (self.order_id is None or order_id == self.order_id)
            and (self.amount_from is None or amount >= self.amount_from)
            and (self.amount_to is None or amount <= self.amount_to)
            and (not self.currencies or currency in self.currencies)
            and (self.created_from is None or created >= self.created_from)
            and (self.created_to is None or created <= self.created_to)
        )


def _filters(query: Query) -> Filters:
    return Filters(
        order_id=query.text("OrderId"),
        amount_from=query.number("AmountFrom"),
        amount_to=query.number("AmountTo"),
        currencies=query.currencies("Currencies"),
        created_from=query.moment("CreationTimeFrom"),
        created_to=query.moment("CreationTimeTo"),
    )


@dataclass(frozen=True)
class LinkQuery:
    filters: Filters
    statuses: frozenset[LinkStatus]
    sort_by: str
    descending: bool
    skip: int
    limit: int


def parse_link_query(query: Query) -> LinkQuery:
    filters = _filters(query)
    statuses = query.enums("Statuses", LinkStatus)
    sort_by, descending = query.sorting(("orderId", "creationTime", "amount"), "creationTime desc")
    skip = query.integer("SkipCount", 0, 0, _INT_MAX)
    limit = query.page_size()
    query.check()
    return LinkQuery(filters, statuses, sort_by, descending, skip, limit)


@dataclass(frozen=True)
class TransactionQuery:
    filters: Filters
    statuses: frozenset[TransactionStatus]
    payment_link_ids: frozenset[str]
    sort_by: str
    descending: bool
    cursor_id: str | None
    cursor_amount: Decimal | None
    cursor_date: datetime | None
    limit: int


def parse_transaction_query(query: Query) -> TransactionQuery:
    filters = _filters(query)
    statuses = query.enums("Statuses", TransactionStatus)
    link_ids = frozenset(canonical_guid(text) or text for text in query.texts("PaymentLinkIds"))
    sort_by, descending = query.sorting(("creationTime", "amount"), "creationTime desc")
    cursor_id = query.text("CursorId")
    cursor_amount = query.number("CursorAmount")
    cursor_date = query.moment("CursorDate")
    limit = query.page_size()
    query.check()
    return TransactionQuery(
        filters,
        statuses,
        link_ids,
        sort_by,
        descending,
        None if cursor_id is None else canonical_guid(cursor_id) or cursor_id,
        cursor_amount,
        cursor_date,
        limit,
    )


# -- control requests -------------------------------------------------------------------------

_TERMINAL_FLAGS: Final = {
    "sendPayWebhook": "send_pay_webhook",
    "sendPayWebhookOnDecline": "send_pay_webhook_on_decline",
    "sendRefundWebhook": "send_refund_webhook",
    "refundsEnabled": "refunds_enabled",
}


def parse_terminal_settings(body: object, *, partial: bool) -> dict[str, Any]:
    """Keyword arguments of ``Terminal`` from a control request in the cabinet's names."""
    fields = _Body({} if body is None and partial else body)
    settings: dict[str, Any] = {}
    name = fields.string("name", required=not partial)
    if name is not None:
        settings["name"] = name
    public_id = fields.string("publicId")
    if public_id is not None:
        settings["public_id"] = canonical_guid(public_id) or public_id
    if fields.present("webhookUrl") or not partial:
        settings["webhook_url"] = fields.string("webhookUrl")
    for member, attribute in _TERMINAL_FLAGS.items():
        flag = fields.boolean(member)
        if flag is not None:
            settings[attribute] = flag
    methods = fields.raw("paymentMethods", False)
    if methods is not None:
        valid = {method.value for method in TransactionType}
        if not isinstance(methods, list) or not methods or not set(methods) <= valid:
            fields.errors.append(
                FieldError(f"paymentMethods must be a list of {sorted(valid)}", "paymentMethods")
            )
        else:
            settings["payment_methods"] = tuple(methods)
    tokens = fields.raw("tokens", False)
    if tokens is not None:
        parsed = _tokens(tokens)
        if parsed is None:
            fields.errors.append(
                FieldError(
                    f"tokens must be 1 to {MAX_TOKENS} distinct strings or "
                    '{"value": ..., "expiresAt": ...} objects',
                    "tokens",
                )
            )
        else:
            settings["tokens"] = parsed
    fields.check()
    return settings


def _tokens(raw: object) -> tuple[AccessToken, ...] | None:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TOKENS:
        return None
    tokens: list[AccessToken] = []
    for item in raw:
        if isinstance(item, str) and item:
            tokens.append(AccessToken(item))
        elif isinstance(item, Mapping) and isinstance(item.get("value"), str) and item["value"]:
            expires_text = item.get("expiresAt")
            expires = None if expires_text is None else parse_timestamp(str(expires_text))
            if expires_text is not None and expires is None:
                return None
            tokens.append(AccessToken(item["value"], expires))
        else:
            return None
    if len({token.value for token in tokens}) != len(tokens):
        return None
    return tuple(tokens)
