"""The state of a WATA merchant account, held in memory, and every operation on it.

No I/O here: webhooks are handed to ``webhook_sink`` (body bytes ready, signed at send
time) and the HTTP layer (``app.py``) delivers them. Time comes from an injectable clock
that tests move forward: links expire, the per-object GET limit lets the next read through.
"""

from __future__ import annotations

import hmac
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sandbox.wata import wire
from sandbox.wata.config import WataConfig
from sandbox.wata.errors import (
    ERROR_DESCRIPTIONS,
    business,
    entity_not_found,
    invalid_field,
    too_many_requests,
    unauthorized,
)
from sandbox.wata.identifiers import (
    canonical_guid,
    format_micros,
    new_access_token,
    sequential_guid,
)
from sandbox.wata.model import (
    CENT,
    MAX_LINK_AMOUNT,
    AccessToken,
    JsonObject,
    LinkStatus,
    LinkType,
    PaymentLink,
    Terminal,
    Transaction,
    TransactionKind,
    TransactionStatus,
    TransactionType,
    money,
)
from sandbox.wata.signing import SigningKey
from sandbox.wata.validation import (
    Query,
    has_cents_only,
    parse_link_query,
    parse_link_request,
    parse_refund_request,
    parse_terminal_settings,
    parse_transaction_query,
)

GENERIC_DECLINE: Final = "Payment:TRA_2999"
MAX_RESEND: Final = 100


@dataclass(frozen=True)
class Webhook:
    """One webhook to deliver: the exact bytes WATA POSTs to the terminal's URL."""

    terminal_public_id: str
    url: str
    transaction_id: str
    kind: str
    status: str
    body: bytes


WebhookSink = Callable[[Webhook], None]


@dataclass(frozen=True)
class Settlement:
    """How a pending transaction ends: ``Paid``, ``Declined`` with an error, or not yet."""

    status: TransactionStatus
    error_code: str | None = None
    error_description: str | None = None

    @classmethod
    def of(
        cls, outcome: str, error_code: str | None = None, error_description: str | None = None
    ) -> Settlement:
        status = next((s for s in TransactionStatus if s.value.lower() == outcome.lower()), None)
        if status is None or status is TransactionStatus.CREATED:
            raise invalid_field("outcome must be Paid, Declined or Pending", "outcome")
        if status is not TransactionStatus.DECLINED:
            if error_code is not None or error_description is not None:
                raise invalid_field("only a Declined outcome has an error", "errorCode")
            return cls(status)
        code = error_code or GENERIC_DECLINE
        return cls(status, code, error_description or ERROR_DESCRIPTIONS.get(code))

    def to_json(self) -> JsonObject:
        return {
            "outcome": self.status.value,
            "errorCode": self.error_code,
            "errorDescription": self.error_description,
        }


class WataEmulator:
    """WATA as seen by its merchants: API operations take the authenticated ``Terminal``.

    API operations raise ``ApiError`` exactly as the API answers; the test hooks (``pay``,
    ``settle``, ``plan_refunds``, ``resend_webhook``, ...) act for the payer, the bank or
    the merchant cabinet.
    """

    def __init__(
        self,
        config: WataConfig | None = None,
        *,
        terminals: Iterable[Terminal] = (),
        clock: Callable[[], datetime] | None = None,
        signing_key: SigningKey | None = None,
    ) -> None:
        self.config = config or WataConfig()
        self.webhook_sink: WebhookSink | None = None
        self.signing_key = signing_key or SigningKey(self.config.key_size)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._clock_offset = timedelta()
        self._terminals: dict[str, Terminal] = {}
        self._links: dict[str, PaymentLink] = {}
        self._transactions: dict[str, Transaction] = {}
        self._refund_plan: deque[Settlement] = deque()
        self._last_reads: dict[tuple[str, str, str], datetime] = {}
        self._sequence = itertools.count(1)
        for terminal in terminals:
            self.put_terminal(terminal)

    # -- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock() + self._clock_offset

    def advance_clock(self, delta: timedelta) -> None:
        if delta < timedelta():
            raise invalid_field("The clock only moves forward", "seconds")
        self._clock_offset += delta
        self._expire_overdue()

    # -- terminals and tokens ---------------------------------------------------------------

    def put_terminal(self, terminal: Terminal) -> Terminal:
        """Add the terminal, or replace the one with its public id."""
        self._check_tokens(terminal.access_tokens, terminal.public_id)
        self._terminals[terminal.public_id] = terminal
        return terminal

    def add_terminal(self, settings: object) -> Terminal:
        """A terminal from control-API settings; a missing public id or token is issued."""
        fields = parse_terminal_settings(settings, partial=False)
        now = self.now()
        public_id = fields.pop("public_id", None) or sequential_guid(now)
        tokens = fields.pop("tokens", None) or (new_access_token(public_id, now),)
        return self.put_terminal(Terminal(public_id=public_id, tokens=tokens, **fields))

    def configure_terminal(self, public_id: str, changes: object) -> Terminal:
        terminal = self.terminal(public_id)
        fields = parse_terminal_settings(changes, partial=True)
        if fields.pop("public_id", public_id) != public_id:
            raise invalid_field("A terminal's public id cannot change", "publicId")
        if "tokens" in fields:
            self._check_tokens(fields["tokens"], public_id)
        for name, value in fields.items():
            setattr(terminal, name, value)
        return terminal

    def terminal(self, public_id: str) -> Terminal:
        terminal = self._terminals.get(canonical_guid(public_id) or public_id)
        if terminal is None:
            raise entity_not_found("Terminal", public_id)
        return terminal

    def terminals(self) -> list[Terminal]:
        return list(self._terminals.values())

    def authenticate(self, authorization: str | None) -> Terminal:
        """The terminal of a ``Bearer <token>`` header, or the JWT handler's 401."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized(token_given=False)
        terminal = self._token_owner(token)
        if terminal is None:
            raise unauthorized(token_given=True)
        access = next(t for t in terminal.access_tokens if t.value == token)
        if access.expired(self.now()):
            raise unauthorized(token_given=True, expired_at=access.expires_at)
        return terminal

    def throttle(self, terminal: Terminal, endpoint: str, key: str) -> None:
        """One read of an object per window (GET by id, search by order), else 429."""
        window = self.config.rate_limit_window
        if window is None:
            return
        now = self.now()
        slot = (terminal.public_id, endpoint, key)
        last = self._last_reads.get(slot)
        if last is not None and now - last < window:
            raise too_many_requests()
        self._last_reads[slot] = now

    # -- the signing key --------------------------------------------------------------------

    def public_key(self) -> str:
        return self.signing_key.public_pem

    def sign(self, data: bytes) -> str:
        return self.signing_key.sign(data)

    def rotate_key(self) -> str:
        return self.signing_key.rotate()

    # -- payment links ----------------------------------------------------------------------

    def create_link(self, terminal: Terminal, body: object) -> PaymentLink:
        self._expire_overdue()
        now = self.now()
        request = parse_link_request(body, now=now, config=self.config)
        link_id = sequential_guid(now)
        link = PaymentLink(
            id=link_id,
            sequence=next(self._sequence),
            terminal_public_id=terminal.public_id,
            terminal_name=terminal.name,
            url=f"{self.config.payment_form_url_base.rstrip('/')}/{link_id}",
            amount=money(request.amount),
            currency=request.currency,
            type=request.type,
            creation_time=now,
            expiration_time=request.expiration_time,
            order_id=request.order_id,
            description=request.description,
            success_redirect_url=request.success_redirect_url,
            fail_redirect_url=request.fail_redirect_url,
            is_arbitrary_amount_allowed=request.is_arbitrary_amount_allowed,
            email=request.email,
            extras=request.extras,
        )
        self._links[link_id] = link
        return link

    def link(self, terminal: Terminal, link_id: str) -> PaymentLink:
        self._expire_overdue()
        link = self._links.get(canonical_guid(link_id) or link_id)
        if link is None or link.terminal_public_id != terminal.public_id:
            raise entity_not_found("PaymentLink", link_id)
        return link

    def search_links(self, terminal: Terminal, query: Query) -> JsonObject:
        self._expire_overdue()
        criteria = parse_link_query(query)
        matching = [
            link
            for link in self._links.values()
            if link.terminal_public_id == terminal.public_id
            and criteria.filters.accepts(
                link.order_id, link.amount, link.currency, link.creation_time
            )
            and (not criteria.statuses or link.status in criteria.statuses)
        ]

        def sort_key(link: PaymentLink) -> tuple[str | Decimal | datetime, int]:
            if criteria.sort_by == "orderId":
                return link.order_id or "", link.sequence
            if criteria.sort_by == "amount":
                return link.amount, link.sequence
            return link.creation_time, link.sequence

        matching.sort(key=sort_key, reverse=criteria.descending)
        page = matching[criteria.skip : criteria.skip + criteria.limit]
        return {"items": [link.to_json() for link in page], "totalCount": len(matching)}

    # -- transactions -----------------------------------------------------------------------

    def transaction(self, terminal: Terminal, transaction_id: str) -> Transaction:
        transaction = self._transactions.get(canonical_guid(transaction_id) or transaction_id)
        if transaction is None or transaction.terminal_public_id != terminal.public_id:
            raise entity_not_found("Transaction", transaction_id)
        return transaction

    def search_transactions(self, terminal: Terminal, query: Query) -> JsonObject:
        criteria = parse_transaction_query(query)
        by_amount = criteria.sort_by == "amount"

        def sort_value(transaction: Transaction) -> Decimal:
            return transaction.amount if by_amount else _micros(transaction.creation_time)

        matching = [
            transaction
            for transaction in self._transactions.values()
            if transaction.terminal_public_id == terminal.public_id
            and criteria.filters.accepts(
                transaction.order_id,
                transaction.amount,
                transaction.currency,
                transaction.creation_time,
            )
            and (not criteria.statuses or transaction.status in criteria.statuses)
            and (
                not criteria.payment_link_ids
                or transaction.payment_link_id in criteria.payment_link_ids
            )
        ]
        matching.sort(key=lambda t: (sort_value(t), t.sequence), reverse=criteria.descending)
        # The cursor is the last item seen: its id plus the value sorted by. Without that
        # value (CursorDate, or CursorAmount when sorting by amount) the cursor is ignored.
        cursor_value = (
            criteria.cursor_amount
            if by_amount
            else None
            if criteria.cursor_date is None
            else _micros(criteria.cursor_date)
        )
        if criteria.cursor_id is not None and cursor_value is not None:
            seen = self._transactions.get(criteria.cursor_id)
            after_sequence = seen.sequence if seen is not None else None

            def after_cursor(transaction: Transaction) -> bool:
                value = sort_value(transaction)
                if value != cursor_value or after_sequence is None:
                    return value < cursor_value if criteria.descending else value > cursor_value
                if criteria.descending:
                    return transaction.sequence < after_sequence
                return transaction.sequence > after_sequence

            matching = [t for t in matching if after_cursor(t)]
        page = matching[: criteria.limit]
        more = len(matching) > criteria.limit
        last = page[-1] if more and page else None
        body: JsonObject = {
            "items": [transaction.to_json() for transaction in page],
            "hasNextPage": more,
            "nextCursorId": None if last is None else last.id,
            "nextCursorDate": None if last is None else format_micros(last.creation_time),
        }
        if by_amount:
            body["nextCursorAmount"] = None if last is None else money(last.amount)
        return body

    def create_refund(self, terminal: Terminal, body: object) -> JsonObject:
        """A ``Pending`` refund transaction; it ends as planned (default ``Paid``) at once."""
        request = parse_refund_request(body)
        original = self._transactions.get(request.original_transaction_id)
        if original is None or original.terminal_public_id != terminal.public_id:
            raise entity_not_found("Transaction", request.original_transaction_id)
        if not terminal.refunds_enabled:
            raise business(None, "Возвраты недоступны на этом терминале")
        if original.kind is not TransactionKind.PAYMENT or original.status is not (
            TransactionStatus.PAID
        ):
            raise business(None, "Возврат возможен только по оплаченной транзакции")
        if not (
            request.amount > 0
            and has_cents_only(request.amount)
            and request.amount <= self.refundable(original)
        ):
            raise business("Payment:TRA_1005")
        refund = self._new_transaction(
            terminal,
            original.type,
            TransactionKind.REFUND,
            money(request.amount),
            original.currency,
            payment_link_id=original.payment_link_id,
            order_id=original.order_id,
            order_description=original.order_description,
            email=original.email,
            original_transaction_id=original.id,
        )
        response = refund.refund_response()
        plan = self._refund_plan.popleft() if self._refund_plan else Settlement.of("Paid")
        self._settle(refund, plan)
        return response

    def refundable(self, payment: Transaction) -> Decimal:
        """What is left to refund; refunds still pending hold their amount."""
        if payment.kind is not TransactionKind.PAYMENT or payment.status is not (
            TransactionStatus.PAID
        ):
            return Decimal("0.00")
        held = sum(
            (
                refund.amount
                for refund in self._refunds_of(payment)
                if refund.status is not TransactionStatus.DECLINED
            ),
            Decimal("0.00"),
        )
        return money(payment.amount - held)

    # -- the payer's side and other test hooks ----------------------------------------------

    def pay(
        self,
        link_id: str,
        *,
        method: str = TransactionType.CARD_CRYPTO.value,
        outcome: str = "Paid",
        error_code: str | None = None,
        error_description: str | None = None,
        amount: Decimal | None = None,
        email: str | None = None,
    ) -> Transaction:
        """The payer pays on the link's form: a transaction that ends as ``outcome`` says."""
        self._expire_overdue()
        settlement = Settlement.of(outcome, error_code, error_description)
        link = self._any_link(link_id)
        terminal = self.terminal(link.terminal_public_id)
        if link.status is not LinkStatus.OPENED:
            raise business("Payment:PL_1003")
        transaction_type = next(
            (t for t in TransactionType if t.value.lower() == method.lower()), None
        )
        if transaction_type is None:
            raise invalid_field("method must be CardCrypto, SBP or TPay", "method")
        if transaction_type not in terminal.methods:
            raise business("Payment:TRA_1013")
        paid_amount = link.amount if amount is None else amount
        if paid_amount != link.amount and not (
            link.is_arbitrary_amount_allowed
            and has_cents_only(paid_amount)
            and link.amount <= paid_amount <= MAX_LINK_AMOUNT
        ):
            raise business("Payment:TRA_1005")
        transaction = self._new_transaction(
            terminal,
            transaction_type,
            TransactionKind.PAYMENT,
            money(paid_amount),
            link.currency,
            payment_link_id=link.id,
            order_id=link.order_id,
            order_description=link.description,
            email=email or link.email,
        )
        self._settle(transaction, settlement)
        return transaction

    def settle(
        self,
        transaction_id: str,
        outcome: str = "Paid",
        *,
        error_code: str | None = None,
        error_description: str | None = None,
    ) -> Transaction:
        """End a ``Pending`` payment or refund, as the bank would."""
        settlement = Settlement.of(outcome, error_code, error_description)
        transaction = self._any_transaction(transaction_id)
        if transaction.status is not TransactionStatus.PENDING:
            raise business(None, f"Transaction is {transaction.status.value}, not Pending")
        self._settle(transaction, settlement)
        return transaction

    def plan_refunds(
        self,
        outcome: str,
        *,
        error_code: str | None = None,
        error_description: str | None = None,
        count: int = 1,
    ) -> list[Settlement]:
        """How the next ``count`` refunds end (after them, refunds are ``Paid`` again)."""
        if not 1 <= count <= MAX_RESEND:
            raise invalid_field(f"count must be from 1 to {MAX_RESEND}", "count")
        settlement = Settlement.of(outcome, error_code, error_description)
        self._refund_plan.extend([settlement] * count)
        return list(self._refund_plan)

    def clear_refund_plan(self) -> None:
        self._refund_plan.clear()

    def resend_webhook(self, transaction_id: str, times: int = 1) -> int:
        """The cabinet's "send the webhook again": the current state, ``times`` times."""
        if not 1 <= times <= MAX_RESEND:
            raise invalid_field(f"times must be from 1 to {MAX_RESEND}", "times")
        transaction = self._any_transaction(transaction_id)
        if not transaction.status.final:
            raise business(None, "A transaction that is not final has no webhook to send")
        terminal = self.terminal(transaction.terminal_public_id)
        if terminal.webhook_url is None:
            raise invalid_field("The terminal has no webhook URL", "webhookUrl")
        for _ in range(times):
            self._notify(terminal, transaction)
        return times

    def link_state(self, link_id: str) -> JsonObject:
        """The link and its transactions, read without the API's rate limit."""
        self._expire_overdue()
        link = self._any_link(link_id)
        return {
            "link": link.to_json(),
            "transactions": [
                t.to_json()
                for t in self._transactions.values()
                if t.payment_link_id == link.id and t.kind is TransactionKind.PAYMENT
            ],
        }

    def transaction_state(self, transaction_id: str) -> JsonObject:
        transaction = self._any_transaction(transaction_id)
        return {
            "transaction": transaction.to_json(),
            "originalTransactionId": transaction.original_transaction_id,
            "refundable": self.refundable(transaction),
            "refunds": [refund.to_json() for refund in self._refunds_of(transaction)],
        }

    def reset(self, *, keep_terminals: bool = False) -> None:
        if not keep_terminals:
            self._terminals.clear()
        self._links.clear()
        self._transactions.clear()
        self._refund_plan.clear()
        self._last_reads.clear()
        self._clock_offset = timedelta()

    # -- internals --------------------------------------------------------------------------

    def _check_tokens(self, tokens: Sequence[AccessToken], public_id: str) -> None:
        for token in tokens:
            owner = self._token_owner(token.value)
            if owner is not None and owner.public_id != public_id:
                raise invalid_field(
                    f"The token already belongs to terminal {owner.public_id}", "tokens"
                )

    def _token_owner(self, token: str) -> Terminal | None:
        for terminal in self._terminals.values():
            for access in terminal.access_tokens:
                if hmac.compare_digest(access.value.encode(), token.encode()):
                    return terminal
        return None

    def _any_link(self, link_id: str) -> PaymentLink:
        link = self._links.get(canonical_guid(link_id) or link_id)
        if link is None:
            raise entity_not_found("PaymentLink", link_id)
        return link

    def _any_transaction(self, transaction_id: str) -> Transaction:
        transaction = self._transactions.get(canonical_guid(transaction_id) or transaction_id)
        if transaction is None:
            raise entity_not_found("Transaction", transaction_id)
        return transaction

    def _refunds_of(self, payment: Transaction) -> list[Transaction]:
        return [t for t in self._transactions.values() if t.original_transaction_id == payment.id]

    def _new_transaction(
        self,
        terminal: Terminal,
        transaction_type: TransactionType,
        kind: TransactionKind,
        amount: Decimal,
        currency: str,
        *,
        payment_link_id: str | None,
        order_id: str | None,
        order_description: str | None,
        email: str | None,
        original_transaction_id: str | None = None,
    ) -> Transaction:
        now = self.now()
        transaction = Transaction(
            id=sequential_guid(now),
            sequence=next(self._sequence),
            terminal_public_id=terminal.public_id,
            terminal_name=terminal.name,
            type=transaction_type,
            kind=kind,
            amount=amount,
            currency=currency,
            creation_time=now,
            payment_link_id=payment_link_id,
            order_id=order_id,
            order_description=order_description,
            email=email,
            original_transaction_id=original_transaction_id,
        )
        self._transactions[transaction.id] = transaction
        return transaction

    def _settle(self, transaction: Transaction, settlement: Settlement) -> None:
        if settlement.status is TransactionStatus.PENDING:
            return
        transaction.status = settlement.status
        transaction.payment_time = self.now()
        transaction.error_code = settlement.error_code
        transaction.error_description = settlement.error_description
        paid = settlement.status is TransactionStatus.PAID
        if paid and transaction.kind is TransactionKind.PAYMENT:
            transaction.commission = (transaction.amount * self.config.commission_rate).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
            link = self._links.get(transaction.payment_link_id or "")
            if link is not None and link.type is LinkType.ONE_TIME:
                link.status = LinkStatus.CLOSED
        terminal = self.terminal(transaction.terminal_public_id)
        if transaction.kind is TransactionKind.REFUND:
            wanted = terminal.send_refund_webhook
        else:
            wanted = terminal.send_pay_webhook and (paid or terminal.send_pay_webhook_on_decline)
        if wanted:
            self._notify(terminal, transaction)

    def _expire_overdue(self) -> None:
        now = self.now()
        for link in self._links.values():
            if link.status is LinkStatus.OPENED and link.expiration_time <= now:
                link.status = LinkStatus.CLOSED

    def _notify(self, terminal: Terminal, transaction: Transaction) -> None:
        if terminal.webhook_url is None or self.webhook_sink is None:
            return
        self.webhook_sink(
            Webhook(
                terminal_public_id=terminal.public_id,
                url=terminal.webhook_url,
                transaction_id=transaction.id,
                kind=transaction.kind.value,
                status=transaction.status.value,
                body=wire.dumps(transaction.webhook_payload()),
            )
        )


def _micros(moment: datetime) -> Decimal:
    return Decimal((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))
