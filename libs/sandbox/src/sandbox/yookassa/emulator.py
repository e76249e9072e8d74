"""The state of a YooKassa test account, held in memory, and every operation on it.

No I/O here: notifications are handed to ``notification_sink`` as they happen, and the
HTTP layer (``app.py``) delivers them. Time comes from an injectable clock that tests
can move forward (idempotence keys expire, held payments run out of capture time).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import itertools
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from sandbox.yookassa.config import YooKassaConfig
from sandbox.yookassa.errors import (
    ApiError,
    forbidden,
    illegal_receipt,
    invalid_credentials,
    invalid_request,
    not_found,
)
from sandbox.yookassa.faults import FaultPlan
from sandbox.yookassa.idempotence import IdempotenceStore, StoredResponse, error_response
from sandbox.yookassa.identifiers import ObjectKind, new_object_id
from sandbox.yookassa.model import (
    PAYMENT_CANCELLATION_PARTIES,
    PAYMENT_CANCELLATION_REASONS,
    PAYMENT_METHOD_TYPES,
    REFUND_CANCELLATION_PARTIES,
    REFUND_CANCELLATION_REASONS,
    SAVABLE_METHOD_TYPES,
    CancellationDetails,
    JsonObject,
    Payment,
    PaymentStatus,
    PlannedOutcome,
    Refund,
    RefundStatus,
    SavedPaymentMethod,
    Shop,
    card_authorization_details,
    payment_method_details,
)
from sandbox.yookassa.money import Amount
from sandbox.yookassa.validation import (
    ConfirmationRequest,
    Page,
    encode_cursor,
    parse_capture_request,
    parse_payment_query,
    parse_payment_request,
    parse_receipt,
    parse_refund_query,
    parse_refund_request,
    parse_shop_settings,
)

MAX_RENOTIFY: Final = 100
MAX_PLANNED: Final = 100
PLANNABLE_STATUSES: Final = frozenset({"pending", "canceled"})
_Listed = TypeVar("_Listed", Payment, Refund)


@dataclass(frozen=True)
class Notification:
    """One notification to deliver: the body YooKassa POSTs to the shop's URL."""

    shop_id: str
    url: str
    event: str
    payment_id: str
    object_id: str
    body: JsonObject


NotificationSink = Callable[[Notification], None]


class YooKassaEmulator:
    """YooKassa as seen by its shops: API operations take the authenticated ``Shop``.

    API operations raise ``ApiError`` exactly as the API answers; the test hooks
    (``succeed``, ``decline``, ``renotify``, ...) act for the user, the bank or YooKassa.
    """

    def __init__(
        self,
        config: YooKassaConfig | None = None,
        *,
        shops: Iterable[Shop] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config or YooKassaConfig()
        self.notification_sink: NotificationSink | None = None
        self._clock = clock or (lambda: datetime.now(UTC))
        self._clock_offset = timedelta()
        self._shops: dict[str, Shop] = {}
        self._payments: dict[str, Payment] = {}
        self._refunds: dict[str, Refund] = {}
        self._saved_methods: dict[str, SavedPaymentMethod] = {}
        self._planned_refunds: dict[str, deque[PlannedOutcome]] = {}
        # Charges planned for a method a pending payment will save (its id is the payment's).
        self._planned_for_unsaved: dict[str, deque[PlannedOutcome]] = {}
        self._awaiting_capture: set[str] = set()
        self.faults = FaultPlan()
        self._idempotence = IdempotenceStore(self.config.idempotence_ttl)
        self._sequence = itertools.count(1)
        for shop in shops:
            self.put_shop(shop)

    # -- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The emulator's time, to the millisecond as YooKassa writes it."""
        moment = self._clock() + self._clock_offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def advance_clock(self, delta: timedelta) -> None:
        if delta < timedelta():
            raise invalid_request("The clock only moves forward", "seconds")
        self._clock_offset += delta
        self._expire_overdue()

    # -- shops and credentials --------------------------------------------------------------

    def put_shop(self, shop: Shop) -> Shop:
        self._shops[shop.shop_id] = shop
        return shop

    def add_shop(self, shop_id: str, settings: object) -> Shop:
        return self.put_shop(Shop(shop_id=shop_id, **parse_shop_settings(settings, partial=False)))

    def configure_shop(self, shop_id: str, changes: object) -> Shop:
        shop = self.shop(shop_id)
        for name, value in parse_shop_settings(changes, partial=True).items():
            setattr(shop, name, value)
        return shop

    def shop(self, shop_id: str) -> Shop:
        shop = self._shops.get(shop_id)
        if shop is None:
            raise not_found(f"No shop {shop_id!r} in the sandbox", "shop_id")
        return shop

    def shops(self) -> list[Shop]:
        return list(self._shops.values())

    def authenticate(self, authorization: str | None) -> Shop:
        """The shop of a ``Basic base64(shopId:secretKey)`` header, or 401."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            raise invalid_credentials()
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_credentials() from None
        shop_id, separator, secret_key = decoded.partition(":")
        shop = self._shops.get(shop_id)
        if (
            not separator
            or shop is None
            or not hmac.compare_digest(secret_key.encode(), shop.secret_key.encode())
        ):
            raise invalid_credentials()
        return shop

    def run_idempotent(
        self, shop: Shop, key: str, fingerprint: str, operation: Callable[[], JsonObject]
    ) -> StoredResponse:
        """Run a POST once per (shop, key); a repeat gets the first answer, errors included."""
        now = self.now()
        stored = self._idempotence.lookup(shop.shop_id, key, fingerprint, now)
        if stored is not None:
            return stored
        try:
            response = StoredResponse(200, operation())
        except ApiError as error:
            response = error_response(error)
        self._idempotence.remember(shop.shop_id, key, fingerprint, response, now)
        return response

    # -- payments ---------------------------------------------------------------------------

    def create_payment(self, shop: Shop, body: object) -> Payment:
        self._expire_overdue()
        request = parse_payment_request(body)
        receipt = self._receipt_for(shop, request.raw_receipt, request.amount)
        if (
            request.payment_method_type is not None
            and request.payment_method_type not in shop.payment_methods
        ):
            raise forbidden(
                f"Payment method {request.payment_method_type} is not enabled for this shop",
                "payment_method_data.type",
            )
        saved_method: SavedPaymentMethod | None = None
        if request.payment_method_id is not None:
            self._require_autopayments(shop, "payment_method_id")
            saved_method = self._saved_methods.get(request.payment_method_id)
            if saved_method is None or saved_method.shop_id != shop.shop_id:
                raise invalid_request(
                    "Incorrect payment_method_id. Saved payment method doesn't exist "
                    "or access denied",
                    "payment_method_id",
                )
        elif request.save_payment_method:
            self._require_autopayments(shop, "save_payment_method")
        now = self.now()
        payment_id = self._new_id(ObjectKind.PAYMENT, now, self._payments)
        payment = Payment(
            id=payment_id,
            shop_id=shop.shop_id,
            sequence=next(self._sequence),
            amount=request.amount,
            capture=request.capture,
            created_at=now,
            recipient=shop.recipient(),
            test=shop.test,
            description=request.description,
            metadata=request.metadata,
            receipt=receipt,
            save_payment_method=request.save_payment_method and saved_method is None,
            merchant_customer_id=request.merchant_customer_id,
        )
        self._payments[payment_id] = payment
        if saved_method is not None:
            self._charge_saved_method(payment, saved_method)
            return payment
        if request.confirmation is not None:
            payment.confirmation = self._confirmation(request.confirmation, payment)
        if request.payment_method_type is not None:
            payment.payment_method = {
                "type": request.payment_method_type,
                "id": payment_id,
                "saved": False,
            }
        return payment

    def payment(self, shop: Shop, payment_id: str) -> Payment:
        self._expire_overdue()
        return self._shop_payment(shop, payment_id)

    def list_payments(self, shop: Shop, query: Mapping[str, str]) -> JsonObject:
        self._expire_overdue()
        criteria = parse_payment_query(query)
        matching = (
            payment
            for payment in reversed(self._payments.values())
            if payment.shop_id == shop.shop_id
            and criteria.created_at.contains(payment.created_at)
            and criteria.captured_at.contains(payment.captured_at)
            and (criteria.status is None or payment.status is criteria.status)
            and (
                criteria.payment_method is None
                or (payment.payment_method or {}).get("type") == criteria.payment_method
            )
        )
        return _list_page(matching, criteria.page)

    def capture_payment(self, shop: Shop, payment_id: str, body: object) -> Payment:
        self._expire_overdue()
        payment = self._shop_payment(shop, payment_id)
        request = parse_capture_request(body)
        self._require_status(payment, PaymentStatus.WAITING_FOR_CAPTURE, "captured")
        amount = request.amount or payment.amount
        if amount.currency != payment.amount.currency:
            raise invalid_request(
                "Capture currency differs from the payment currency", "amount.currency"
            )
        if amount.minor > payment.amount.minor:
            raise invalid_request("Capture amount exceeds the payment amount", "amount.value")
        if request.raw_receipt is not None:
            payment.receipt = parse_receipt(request.raw_receipt, amount)
        elif shop.fiscalization_enabled and amount != payment.amount:
            # The receipt given at creation covers the whole amount, not a partial capture.
            raise illegal_receipt()
        self._mark_succeeded(payment, amount)
        return payment

    def cancel_payment(self, shop: Shop, payment_id: str) -> Payment:
        self._expire_overdue()
        payment = self._shop_payment(shop, payment_id)
        self._require_status(payment, PaymentStatus.WAITING_FOR_CAPTURE, "canceled")
        self._cancel(payment, CancellationDetails("merchant", "canceled_by_merchant"))
        return payment

    # -- refunds ----------------------------------------------------------------------------

    def create_refund(self, shop: Shop, body: object) -> Refund:
        self._expire_overdue()
        request = parse_refund_request(body)
        payment = self._payments.get(request.payment_id)
        if payment is None or payment.shop_id != shop.shop_id:
            raise invalid_request(
                "Incorrect payment_id. Payment doesn't exist or access denied", "payment_id"
            )
        if payment.status is not PaymentStatus.SUCCEEDED:
            raise invalid_request(
                f"Payment is {payment.status.value}: only a succeeded payment can be refunded",
                "payment_id",
            )
        if request.amount.currency != payment.amount.currency:
            raise invalid_request(
                "Refund currency differs from the payment currency", "amount.currency"
            )
        if request.amount.minor > payment.refundable_minor:
            raise invalid_request(
                "Refund amount exceeds the amount available for refund", "amount.value"
            )
        receipt = self._receipt_for(shop, request.raw_receipt, request.amount)
        now = self.now()
        refund = Refund(
            id=self._new_id(ObjectKind.REFUND, now, self._refunds),
            payment_id=payment.id,
            shop_id=shop.shop_id,
            sequence=next(self._sequence),
            amount=request.amount,
            created_at=now,
            description=request.description,
            receipt=receipt,
            status=RefundStatus.PENDING,
        )
        self._refunds[refund.id] = refund
        payment.reserved_refund_minor += refund.amount.minor
        planned = self._planned_refunds.get(payment.id)
        outcome = planned.popleft() if planned else None
        if outcome is None:
            self._refund_succeeded(payment, refund)
        elif outcome.cancellation is not None:
            self._refund_canceled(payment, refund, outcome.cancellation)
        return refund

    def refund(self, shop: Shop, refund_id: str) -> Refund:
        refund = self._refunds.get(refund_id)
        if refund is None or refund.shop_id != shop.shop_id:
            raise not_found(
                "Incorrect refund_id. Refund doesn't exist or access denied", "refund_id"
            )
        return refund

    def list_refunds(self, shop: Shop, query: Mapping[str, str]) -> JsonObject:
        criteria = parse_refund_query(query)
        matching = (
            refund
            for refund in reversed(self._refunds.values())
            if refund.shop_id == shop.shop_id
            and criteria.created_at.contains(refund.created_at)
            and (criteria.payment_id is None or refund.payment_id == criteria.payment_id)
            and (criteria.status is None or refund.status is criteria.status)
        )
        return _list_page(matching, criteria.page)

    # -- the user's side and other test hooks -----------------------------------------------

    def succeed(self, payment_id: str, payment_method_type: str | None = None) -> Payment:
        """The user pays: ``succeeded``, or ``waiting_for_capture`` for a two-stage payment."""
        self._expire_overdue()
        payment = self._any_payment(payment_id)
        self._require_status(payment, PaymentStatus.PENDING, "paid")
        preselected = (payment.payment_method or {}).get("type")
        if payment.saved_method_id is not None:
            # A held autopayment: the bank answers at last, charging the saved method.
            if payment_method_type not in (None, preselected):
                raise invalid_request(
                    "An autopayment is charged to its saved payment method", "payment_method_type"
                )
            self._authorize(payment)
            return payment
        method_type = payment_method_type or preselected or "bank_card"
        if method_type not in PAYMENT_METHOD_TYPES:
            raise invalid_request("Unknown payment method type", "payment_method_type")
        saved = payment.save_payment_method and method_type in SAVABLE_METHOD_TYPES
        payment.payment_method = payment_method_details(method_type, payment.id, saved=saved)
        planned = self._planned_for_unsaved.pop(payment.id, deque())
        if saved:
            self._saved_methods[payment.id] = SavedPaymentMethod(
                id=payment.id,
                shop_id=payment.shop_id,
                details=copy.deepcopy(payment.payment_method),
                planned_charges=planned,
            )
        self._authorize(payment)
        return payment

    def decline(self, payment_id: str, *, reason: str, party: str) -> Payment:
        """YooKassa or the bank cancels the payment, e.g. the user never paid."""
        self._expire_overdue()
        if reason not in PAYMENT_CANCELLATION_REASONS:
            raise invalid_request("Unknown cancellation reason", "reason")
        if party not in PAYMENT_CANCELLATION_PARTIES:
            raise invalid_request("Unknown cancellation party", "party")
        payment = self._any_payment(payment_id)
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE):
            raise invalid_request(
                f"Payment is {payment.status.value}: it can no longer be canceled", "payment_id"
            )
        self._cancel(payment, CancellationDetails(party=party, reason=reason))
        return payment

    def revoke_payment_method(self, method_id: str) -> None:
        """The user withdraws consent to autopayments: later charges fail."""
        self._saved_method(method_id).revoked = True

    def plan_charges(
        self,
        method_id: str,
        status: str,
        *,
        reason: str | None = None,
        party: str | None = None,
        count: int = 1,
    ) -> SavedPaymentMethod:
        """What the bank does with the next ``count`` autopayments from the method.

        ``canceled``: the charge is declined with ``reason`` (by ``party``, by default the
        card's bank); ``pending``: the charge stays ``pending`` until ``succeed`` or
        ``decline``. Charges beyond the plan are paid at once. ``method_id`` may also be a
        pending payment's that asked to save its method: the plan then waits for it.
        """
        future = self._payments.get(method_id)
        if (
            method_id not in self._saved_methods
            and future is not None
            and future.save_payment_method
            and future.status is PaymentStatus.PENDING
        ):
            plans = self._planned_for_unsaved.setdefault(method_id, deque())
            plans.extend([self._outcome_for_charge(status, reason, party)] * _planned_count(count))
            return SavedPaymentMethod(
                id=method_id, shop_id=future.shop_id, details={}, planned_charges=plans
            )
        saved = self._saved_method(method_id)
        saved.planned_charges.extend(
            [self._outcome_for_charge(status, reason, party)] * _planned_count(count)
        )
        return saved

    @staticmethod
    def _outcome_for_charge(status: str, reason: str | None, party: str | None) -> PlannedOutcome:
        if reason is None:
            reason = "insufficient_funds"
        if party is None:
            # YooKassa itself reports a revoked consent; a decline comes from the card's bank.
            party = "yoo_money" if reason == "permission_revoked" else "payment_network"
        return _planned_outcome(
            status, reason, party, PAYMENT_CANCELLATION_REASONS, PAYMENT_CANCELLATION_PARTIES
        )

    def payment_method_state(self, method_id: str) -> JsonObject:
        return self._saved_method(method_id).state()

    def plan_refunds(
        self,
        payment_id: str,
        status: str,
        *,
        reason: str | None = None,
        party: str | None = None,
        count: int = 1,
    ) -> list[PlannedOutcome]:
        """How the next ``count`` refunds of the payment end, instead of ``succeeded`` at once.

        ``pending``: the refund waits for ``succeed_refund`` or ``cancel_refund``;
        ``canceled``: it is declined with a refund cancellation ``reason``.
        """
        self._any_payment(payment_id)
        outcome = _planned_outcome(
            status,
            reason or "general_decline",
            party or "payment_network",
            REFUND_CANCELLATION_REASONS,
            REFUND_CANCELLATION_PARTIES,
        )
        planned = self._planned_refunds.setdefault(payment_id, deque())
        planned.extend([outcome] * _planned_count(count))
        return list(planned)

    def succeed_refund(self, refund_id: str) -> Refund:
        """The bank returns the money of a pending refund."""
        refund = self._pending_refund(refund_id)
        self._refund_succeeded(self._payments[refund.payment_id], refund)
        return refund

    def cancel_refund(self, refund_id: str, *, reason: str, party: str) -> Refund:
        """The bank or YooKassa declines a pending refund; its amount is refundable again."""
        if reason not in REFUND_CANCELLATION_REASONS:
            raise invalid_request("Unknown refund cancellation reason", "reason")
        if party not in REFUND_CANCELLATION_PARTIES:
            raise invalid_request("Unknown refund cancellation party", "party")
        refund = self._pending_refund(refund_id)
        payment = self._payments[refund.payment_id]
        self._refund_canceled(payment, refund, CancellationDetails(party, reason))
        return refund

    def refund_state(self, refund_id: str) -> JsonObject:
        """A refund as the API shows it, with the receipt sent for it."""
        refund = self._any_refund(refund_id)
        return {
            "shop_id": refund.shop_id,
            "refund": refund.to_json(),
            "receipt": copy.deepcopy(refund.receipt),
        }

    def renotify(self, payment_id: str, times: int) -> str:
        """Send the notification of the payment's current status again, ``times`` times."""
        if not 1 <= times <= MAX_RENOTIFY:
            raise invalid_request(f"times must be from 1 to {MAX_RENOTIFY}", "times")
        payment = self._any_payment(payment_id)
        event = payment.status.event
        if event is None:
            raise invalid_request("A pending payment has no notification to repeat", "payment_id")
        shop = self.shop(payment.shop_id)
        for _ in range(times):
            self._notify(shop, event, payment.id, payment.id, payment.to_json())
        return event

    def payment_state(self, payment_id: str) -> JsonObject:
        """Everything the emulator knows about a payment, beyond what the API shows."""
        self._expire_overdue()
        payment = self._any_payment(payment_id)
        saved = self._saved_methods.get(payment.id)
        return {
            "shop_id": payment.shop_id,
            "payment": payment.to_json(),
            "capture": payment.capture,
            "payment_method_id": payment.saved_method_id,
            "save_payment_method": payment.save_payment_method,
            "saved_payment_method": None
            if saved is None
            else {"id": saved.id, "revoked": saved.revoked},
            "receipt": copy.deepcopy(payment.receipt),
            "refunds": [
                refund.to_json()
                for refund in self._refunds.values()
                if refund.payment_id == payment.id
            ],
            "planned_refunds": [
                outcome.to_json() for outcome in self._planned_refunds.get(payment.id, ())
            ],
            "events": list(payment.events),
        }

    def reset(self, *, keep_shops: bool = False) -> None:
        if not keep_shops:
            self._shops.clear()
        self._payments.clear()
        self._refunds.clear()
        self._saved_methods.clear()
        self._planned_refunds.clear()
        self._planned_for_unsaved.clear()
        self._awaiting_capture.clear()
        self._idempotence.clear()
        self.faults.clear()
        self._clock_offset = timedelta()

    # -- internals --------------------------------------------------------------------------

    def _new_id(self, kind: ObjectKind, now: datetime, taken: Mapping[str, object]) -> str:
        while (object_id := new_object_id(kind, now)) in taken:
            pass
        return object_id

    def _shop_payment(self, shop: Shop, payment_id: str) -> Payment:
        payment = self._payments.get(payment_id)
        if payment is None or payment.shop_id != shop.shop_id:
            raise not_found(
                "Incorrect payment_id. Payment doesn't exist or access denied", "payment_id"
            )
        return payment

    def _any_payment(self, payment_id: str) -> Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise not_found("Payment doesn't exist", "payment_id")
        return payment

    def _any_refund(self, refund_id: str) -> Refund:
        refund = self._refunds.get(refund_id)
        if refund is None:
            raise not_found("Refund doesn't exist", "refund_id")
        return refund

    def _pending_refund(self, refund_id: str) -> Refund:
        refund = self._any_refund(refund_id)
        if refund.status is not RefundStatus.PENDING:
            raise invalid_request(
                f"Refund is {refund.status.value}: only a pending refund can be settled",
                "refund_id",
            )
        return refund

    def _saved_method(self, method_id: str) -> SavedPaymentMethod:
        saved = self._saved_methods.get(method_id)
        if saved is None:
            raise not_found("No saved payment method with this id", "payment_method_id")
        return saved

    def _require_status(self, payment: Payment, status: PaymentStatus, action: str) -> None:
        if payment.status is not status:
            raise invalid_request(
                f"Payment is {payment.status.value}: only a payment in status {status.value} "
                f"can be {action}",
                "payment_id",
            )

    def _require_autopayments(self, shop: Shop, parameter: str) -> None:
        if not shop.autopayments_enabled:
            raise forbidden("Autopayments are not enabled for this shop", parameter)

    def _receipt_for(self, shop: Shop, raw: object | None, total: Amount) -> JsonObject | None:
        if raw is None:
            if shop.fiscalization_enabled:
                raise illegal_receipt()
            return None
        return parse_receipt(raw, total)

    def _confirmation(self, request: ConfirmationRequest, payment: Payment) -> JsonObject:
        confirmation: JsonObject = {"type": request.type}
        if request.enforce is not None:
            confirmation["enforce"] = request.enforce
        if request.locale is not None:
            confirmation["locale"] = request.locale
        if request.return_url is not None:
            confirmation["return_url"] = request.return_url
        if request.type in ("redirect", "mobile_application"):
            base = self.config.confirmation_url_base
            confirmation["confirmation_url"] = f"{base}?orderId={payment.id}"
        elif request.type == "embedded":
            confirmation["confirmation_token"] = f"ct-{payment.id}"
        elif request.type == "qr":
            confirmation["confirmation_data"] = (
                f"https://qr.nspk.ru/{secrets.token_hex(16).upper()}?type=02"
                f"&bank=100000000111&sum={payment.amount.minor}&cur={payment.amount.currency}"
                f"&crc={secrets.token_hex(2).upper()}"
            )
        return confirmation

    def _charge_saved_method(self, payment: Payment, saved: SavedPaymentMethod) -> None:
        """An autopayment needs no confirmation from the user: the method is charged at once."""
        payment.payment_method = copy.deepcopy(saved.details)
        payment.saved_method_id = saved.id
        saved.charges.append(payment.id)
        if saved.revoked:
            self._cancel(payment, CancellationDetails("yoo_money", "permission_revoked"))
            return
        outcome = saved.planned_charges.popleft() if saved.planned_charges else None
        if outcome is None:
            self._authorize(payment)
        elif outcome.cancellation is not None:
            self._cancel(payment, outcome.cancellation)
        # Otherwise the bank has not answered yet and the payment stays pending.

    def _refund_succeeded(self, payment: Payment, refund: Refund) -> None:
        payment.reserved_refund_minor -= refund.amount.minor
        payment.refunded_minor += refund.amount.minor
        refund.status = RefundStatus.SUCCEEDED
        payment.events.append("refund.succeeded")
        shop = self._shops.get(refund.shop_id)
        if shop is not None:
            self._notify(shop, "refund.succeeded", payment.id, refund.id, refund.to_json())

    def _refund_canceled(
        self, payment: Payment, refund: Refund, details: CancellationDetails
    ) -> None:
        # YooKassa has no refund.canceled notification: the shop learns it by asking.
        payment.reserved_refund_minor -= refund.amount.minor
        refund.status = RefundStatus.CANCELED
        refund.cancellation = details

    def _authorize(self, payment: Payment) -> None:
        if (
            payment.authorization_details is None
            and (payment.payment_method or {}).get("type") == "bank_card"
        ):
            payment.authorization_details = card_authorization_details()
        if payment.capture:
            self._mark_succeeded(payment, payment.amount)
            return
        payment.status = PaymentStatus.WAITING_FOR_CAPTURE
        payment.expires_at = self.now() + self.config.capture_window
        self._awaiting_capture.add(payment.id)
        self._announce(payment)

    def _mark_succeeded(self, payment: Payment, amount: Amount) -> None:
        payment.status = PaymentStatus.SUCCEEDED
        payment.amount = amount
        payment.captured_at = self.now()
        payment.income_amount = amount.minus_commission(self.config.commission_rate)
        self._awaiting_capture.discard(payment.id)
        self._announce(payment)

    def _cancel(self, payment: Payment, details: CancellationDetails) -> None:
        payment.status = PaymentStatus.CANCELED
        payment.cancellation = details
        self._awaiting_capture.discard(payment.id)
        self._announce(payment)

    def _expire_overdue(self) -> None:
        now = self.now()
        for payment_id in sorted(self._awaiting_capture):
            payment = self._payments[payment_id]
            if payment.expires_at is not None and payment.expires_at <= now:
                self._cancel(payment, CancellationDetails("yoo_money", "expired_on_capture"))

    def _announce(self, payment: Payment) -> None:
        event = payment.status.event
        if event is None:
            return
        payment.events.append(event)
        shop = self._shops.get(payment.shop_id)
        if shop is not None:
            self._notify(shop, event, payment.id, payment.id, payment.to_json())

    def _notify(
        self, shop: Shop, event: str, payment_id: str, object_id: str, obj: JsonObject
    ) -> None:
        if shop.notification_url is None or self.notification_sink is None:
            return
        body = {"type": "notification", "event": event, "object": obj}
        self.notification_sink(
            Notification(shop.shop_id, shop.notification_url, event, payment_id, object_id, body)
        )


def _planned_outcome(
    status: str,
    reason: str,
    party: str,
    reasons: frozenset[str],
    parties: frozenset[str],
) -> PlannedOutcome:
    if status not in PLANNABLE_STATUSES:
        raise invalid_request("status must be pending or canceled", "status")
    if status == "pending":
        return PlannedOutcome("pending")
    if reason not in reasons:
        raise invalid_request("Unknown cancellation reason", "reason")
    if party not in parties:
        raise invalid_request("Unknown cancellation party", "party")
    return PlannedOutcome("canceled", CancellationDetails(party, reason))


def _planned_count(count: int) -> int:
    if not 1 <= count <= MAX_PLANNED:
        raise invalid_request(f"count must be from 1 to {MAX_PLANNED}", "count")
    return count


def _list_page(matching: Iterator[_Listed], page: Page) -> JsonObject:
    """One page of a newest-first list, with the cursor of the next one if there is more."""
    if page.after_sequence is not None:
        after = page.after_sequence
        matching = (item for item in matching if item.sequence < after)
    items = list(itertools.islice(matching, page.limit + 1))
    body: JsonObject = {"type": "list", "items": [item.to_json() for item in items[: page.limit]]}
    if len(items) > page.limit:
        body["next_cursor"] = encode_cursor(items[page.limit - 1].sequence)
    return body
