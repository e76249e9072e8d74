"""The state of Crypto Pay apps, held in memory, and every operation on them.

No I/O here: webhook updates are handed to ``webhook_sink`` as they happen, and the HTTP
layer (``app.py``) delivers them. Time comes from an injectable clock that tests can move
forward, which is how invoices reach ``expires_in``.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import json
import secrets
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Final, TypeVar

from sandbox.cryptopay.config import CryptoPayConfig
from sandbox.cryptopay.errors import (
    ControlError,
    bad_request,
    method_disabled,
    method_not_found,
    unauthorized,
)
from sandbox.cryptopay.model import (
    App,
    CurrencyType,
    ExchangeRate,
    Invoice,
    InvoiceStatus,
    JsonObject,
    Payment,
    Transfer,
    format_amount,
    format_timestamp,
)
from sandbox.cryptopay.params import Params
from sandbox.cryptopay.settings import parse_app_settings
from sandbox.cryptopay.signature import sign
from sandbox.cryptopay.validation import (
    Catalog,
    Page,
    parse_create_invoice,
    parse_invoice_id,
    parse_invoice_query,
    parse_transfer,
    parse_transfer_query,
)

MAX_RESEND: Final = 100
_HASH_ALPHABET: Final = string.ascii_letters + string.digits
_Listed = TypeVar("_Listed", Invoice, Transfer)


@dataclass(frozen=True)
class Webhook:
    """One update to deliver: the exact bytes Crypto Pay POSTs, and their signature."""

    app_id: int
    url: str
    update_id: int
    invoice_id: int
    content: bytes
    signature: str


WebhookSink = Callable[[Webhook], None]
Method = Callable[[App, Params], object]


@dataclass(frozen=True)
class _Update:
    update_id: int
    content: bytes


class CryptoPayEmulator:
    """Crypto Pay as seen by its apps: ``call`` answers ``/api/<method>``.

    API operations raise ``ApiError`` exactly as the API answers; the test hooks (``pay``,
    ``expire``, ``resend``, ...) act for the user or for Crypto Pay and raise
    ``ControlError``.
    """

    def __init__(
        self,
        config: CryptoPayConfig | None = None,
        *,
        apps: Iterable[App] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config or CryptoPayConfig()
        self.webhook_sink: WebhookSink | None = None
        self._catalog = Catalog(self.config.assets, self.config.fiats)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._clock_offset = timedelta()
        self._apps: dict[int, App] = {}
        self._methods: dict[str, Method] = {
            "getMe": lambda app, _: app.me(self.config.bot_username),
            "createInvoice": lambda app, params: self.create_invoice(app, params).to_json(),
            "getInvoices": self.get_invoices,
            "deleteInvoice": self.delete_invoice,
            "getBalance": lambda app, _: self.balance(app),
            "getExchangeRates": lambda _app, _params: [r.to_json() for r in self.rates()],
            "transfer": lambda app, params: self.transfer(app, params).to_json(),
            "getTransfers": self.get_transfers,
        }
        self._invoices: dict[int, Invoice] = {}
        self._hashes: set[str] = set()
        # (expiration_date, invoice_id) of invoices that may still run out of time.
        self._expiring: list[tuple[datetime, int]] = []
        self._updates: dict[int, _Update] = {}
        self._transfers: dict[int, Transfer] = {}
        self._spent: dict[tuple[int, str], int] = {}
        self._rates: dict[tuple[str, str], Decimal] = {}
        self._fixed_update_id = self.config.fixed_update_id
        self._reset_counters()
        self.set_rates(self.config.exchange_rates, replace=True)
        for app in apps:
            self.put_app(app)

    # -- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The emulator's time, to the millisecond as Crypto Pay writes it."""
        moment = self._clock() + self._clock_offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def advance_clock(self, delta: timedelta) -> None:
        if delta < timedelta():
            raise ControlError(400, "the clock only moves forward")
        self._clock_offset += delta
        self._expire_overdue()

    # -- apps -------------------------------------------------------------------------------

    def put_app(self, app: App) -> App:
        """Add the app, or replace the one with its id."""
        self._check_token_free(app.app_id, app.token)
        self._apps[app.app_id] = app
        return app

    def add_app(self, app_id: int, settings: object) -> App:
        """Add or replace an app from control-API settings (see ``parse_app_settings``)."""
        return self.put_app(App(app_id=app_id, **parse_app_settings(settings, partial=False)))

    def configure_app(self, app_id: int, changes: object) -> App:
        app = self.app(app_id)
        parsed = parse_app_settings(changes, partial=True)
        token = parsed.get("token")
        if isinstance(token, str):
            self._check_token_free(app_id, token)
        for name, value in parsed.items():
            setattr(app, name, value)
        return app

    def app(self, app_id: int) -> App:
        app = self._apps.get(app_id)
        if app is None:
            raise ControlError(404, f"no app {app_id} in the sandbox")
        return app

    def apps(self) -> list[App]:
        return list(self._apps.values())

    def authenticate(self, token: str | None) -> App:
        """The app whose ``Crypto-Pay-API-Token`` this is, or 401 UNAUTHORIZED."""
        presented = (token or "").strip().encode()
        for app in self._apps.values():
            if presented and hmac.compare_digest(presented, app.token.encode()):
                return app
        raise unauthorized()

    # -- the API ----------------------------------------------------------------------------

    def call(self, method: str, token: str | None, params: Params) -> object:
        """``/api/<method>``: the ``result`` of the envelope, or ``ApiError``."""
        handler = self._methods.get(method)
        if handler is None:
            raise method_not_found()
        app = self.authenticate(token)
        self._expire_overdue()
        return handler(app, params)

    def create_invoice(self, app: App, params: Params) -> Invoice:
        request = parse_create_invoice(params, self._catalog)
        currency = request.asset or request.fiat or ""
        self._check_usd_limits(currency, request.amount, self.config.invoice_usd_limits)
        now = self.now()
        invoice_id = next(self._invoice_ids)
        invoice_hash = self._new_hash()
        bot = self.config.bot_username
        invoice = Invoice(
            invoice_id=invoice_id,
            app_id=app.app_id,
            hash=invoice_hash,
            currency_type=request.currency_type,
            asset=request.asset,
            fiat=request.fiat,
            amount=request.amount,
            accepted_assets=request.accepted_assets,
            allow_comments=request.allow_comments,
            allow_anonymous=request.allow_anonymous,
            created_at=now,
            bot_invoice_url=f"https://t.me/{bot}?start={invoice_hash}",
            mini_app_invoice_url=f"https://t.me/{bot}/app?startapp=invoice-{invoice_hash}",
            web_app_invoice_url=f"{self.config.web_app_base}/{invoice_hash}",
            description=request.description,
            hidden_message=request.hidden_message,
            payload=request.payload,
            paid_btn_name=request.paid_btn_name,
            paid_btn_url=request.paid_btn_url,
            swap_to=request.swap_to,
            expiration_date=None
            if request.expires_in is None
            else now + timedelta(seconds=request.expires_in),
        )
        self._invoices[invoice_id] = invoice
        if invoice.expiration_date is not None:
            heapq.heappush(self._expiring, (invoice.expiration_date, invoice_id))
        return invoice

    def get_invoices(self, app: App, params: Params) -> JsonObject:
        query = parse_invoice_query(params)
        candidates: Iterable[Invoice] = reversed(self._invoices.values())
        if query.invoice_ids is not None:
            wanted = sorted(query.invoice_ids & self._invoices.keys(), reverse=True)
            candidates = [self._invoices[invoice_id] for invoice_id in wanted]
        matching = (
            invoice
            for invoice in candidates
            if invoice.app_id == app.app_id
            and not invoice.deleted
            and (query.assets is None or invoice.asset in query.assets)
            and (query.fiats is None or invoice.fiat in query.fiats)
            and (query.status is None or invoice.status is query.status)
        )
        return {"items": [invoice.to_json() for invoice in _page_of(matching, query.page)]}

    def delete_invoice(self, app: App, params: Params) -> bool:
        invoice = self._invoices.get(parse_invoice_id(params))
        if invoice is None or invoice.app_id != app.app_id or invoice.deleted:
            raise bad_request("INVOICE_NOT_FOUND")
        invoice.deleted = True
        return True

    def balance(self, app: App) -> list[JsonObject]:
        return [
            {
                "currency_code": asset,
                "available": format_amount(app.balances.get(asset, Decimal(0))),
                "onhold": "0",
            }
            for asset in self.config.assets
        ]

    def rates(self) -> list[ExchangeRate]:
        return [
            ExchangeRate(
                source=source,
                target=target,
                rate=rate,
                is_crypto=source in self.config.assets,
                is_fiat=source in self.config.fiats,
            )
            for (source, target), rate in self._rates.items()
        ]

    def transfer(self, app: App, params: Params) -> Transfer:
        if not app.transfer_enabled:
            raise method_disabled()
        request = parse_transfer(params, self._catalog)
        # "The same spend_id can be accepted only once from your app": a repeat is refused
        # with SPEND_ID_ALREADY_USED (seen handled so by real integrations), not replayed.
        if (app.app_id, request.spend_id) in self._spent:
            raise bad_request("SPEND_ID_ALREADY_USED")
        self._check_usd_limits(request.asset, request.amount, self.config.transfer_usd_limits)
        available = app.balances.get(request.asset, Decimal(0))
        if request.amount > available:
            raise bad_request("INSUFFICIENT_FUNDS")
        app.balances[request.asset] = available - request.amount
        transfer = Transfer(
            transfer_id=next(self._transfer_ids),
            app_id=app.app_id,
            spend_id=request.spend_id,
            user_id=request.user_id,
            asset=request.asset,
            amount=request.amount,
            completed_at=self.now(),
            comment=request.comment,
        )
        self._transfers[transfer.transfer_id] = transfer
        self._spent[(app.app_id, request.spend_id)] = transfer.transfer_id
        return transfer

    def get_transfers(self, app: App, params: Params) -> JsonObject:
        query = parse_transfer_query(params)
        matching = (
            transfer
            for transfer in reversed(self._transfers.values())
            if transfer.app_id == app.app_id
            and (query.assets is None or transfer.asset in query.assets)
            and (query.transfer_ids is None or transfer.transfer_id in query.transfer_ids)
            and (query.spend_id is None or transfer.spend_id == query.spend_id)
        )
        return {"items": [transfer.to_json() for transfer in _page_of(matching, query.page)]}

    # -- the user's side and other test hooks -----------------------------------------------

    def pay(
        self,
        invoice_id: int,
        *,
        asset: str | None = None,
        comment: str | None = None,
        anonymous: bool = False,
    ) -> Invoice:
        """The user pays the invoice in ``asset``; the app's webhook gets ``invoice_paid``."""
        self._expire_overdue()
        invoice = self._payable(invoice_id)
        if comment is not None and not invoice.allow_comments:
            raise ControlError(400, "the invoice does not allow comments")
        if anonymous and not invoice.allow_anonymous:
            raise ControlError(400, "the invoice does not allow paying anonymously")
        if invoice.currency_type is CurrencyType.CRYPTO:
            paid_asset = asset or invoice.asset or ""
            if paid_asset != invoice.asset:
                raise ControlError(400, f"a {invoice.asset} invoice is paid in {invoice.asset}")
            paid_amount, fiat_rate = invoice.amount, None
        else:
            accepted = invoice.accepted_assets or self.config.assets
            paid_asset = asset or accepted[0]
            if paid_asset not in accepted:
                raise ControlError(400, f"{paid_asset} is not among the accepted assets")
            fiat_rate = self._rates.get((paid_asset, invoice.fiat or ""))
            if fiat_rate is None:
                raise ControlError(400, f"no exchange rate {paid_asset}/{invoice.fiat} is set")
            paid_amount = self._round(invoice.amount / fiat_rate, paid_asset, ROUND_UP)
        fee = self._round(paid_amount * self.config.fee_rate, paid_asset, ROUND_HALF_UP)
        invoice.payment = Payment(
            paid_at=self.now(),
            asset=paid_asset,
            amount=paid_amount,
            fiat_rate=fiat_rate,
            usd_rate=self._rates.get((paid_asset, "USD")),
            fee_amount=fee,
            anonymous=anonymous,
            comment=comment,
        )
        invoice.status = InvoiceStatus.PAID
        app = self.app(invoice.app_id)
        app.balances[paid_asset] = app.balances.get(paid_asset, Decimal(0)) + paid_amount - fee
        self._announce_paid(invoice)
        return invoice

    def expire(self, invoice_id: int) -> Invoice:
        """The invoice runs out of time now, whatever its ``expires_in``."""
        self._expire_overdue()
        invoice = self._payable(invoice_id)
        self._mark_expired(invoice)
        return invoice

    def resend(self, invoice_id: int, times: int = 1) -> int:
        """Deliver the invoice's update again, byte for byte; returns its ``update_id``."""
        if not 1 <= times <= MAX_RESEND:
            raise ControlError(400, f"times must be from 1 to {MAX_RESEND}")
        invoice = self._any_invoice(invoice_id)
        update = self._updates.get(invoice_id)
        if update is None:
            raise ControlError(409, f"invoice {invoice_id} is {invoice.status}: no update to send")
        app = self.app(invoice.app_id)
        if app.webhook_url is None:
            raise ControlError(409, f"app {app.app_id} has no webhook_url")
        for _ in range(times):
            self._emit(app, invoice_id, update)
        return update.update_id

    def set_fixed_update_id(self, update_id: int | None) -> None:
        """From now on every update carries ``update_id`` (None: fresh ids again)."""
        self._fixed_update_id = update_id

    @property
    def fixed_update_id(self) -> int | None:
        return self._fixed_update_id

    def set_rates(self, rates: Mapping[str, Mapping[str, object]], *, replace: bool) -> None:
        """Set ``{source: {target: rate}}``; ``replace`` drops the rates not given."""
        known = set(self.config.assets) | set(self.config.fiats)
        parsed: dict[tuple[str, str], Decimal] = {}
        for source, targets in rates.items():
            for target, value in targets.items():
                if source not in known or target not in known:
                    raise ControlError(400, f"unknown currency in the rate {source}/{target}")
                parsed[(source, target)] = _positive_rate(value, f"{source}/{target}")
        if replace:
            self._rates.clear()
        self._rates.update(parsed)

    def invoice_state(self, invoice_id: int) -> JsonObject:
        """Everything the emulator knows about an invoice, beyond what the API shows."""
        self._expire_overdue()
        invoice = self._any_invoice(invoice_id)
        update = self._updates.get(invoice_id)
        return {
            "app_id": invoice.app_id,
            "invoice": invoice.to_json(),
            "deleted": invoice.deleted,
            "update": None
            if update is None
            else {"update_id": update.update_id, "body": update.content.decode()},
        }

    def invoice_id_for_hash(self, invoice_hash: str) -> int:
        """The invoice behind a link's hash (``t.me/CryptoBot?start=<hash>``): what the user
        who opened the link is paying."""
        for invoice_id, invoice in self._invoices.items():
            if invoice.hash == invoice_hash:
                return invoice_id
        raise ControlError(404, f"no invoice with hash {invoice_hash}")

    def reset(self, *, keep_apps: bool = False) -> None:
        """Forget invoices, transfers and updates; rates and update ids as configured."""
        if not keep_apps:
            self._apps.clear()
        self._invoices.clear()
        self._hashes.clear()
        self._expiring.clear()
        self._updates.clear()
        self._transfers.clear()
        self._spent.clear()
        self._clock_offset = timedelta()
        self._fixed_update_id = self.config.fixed_update_id
        self._reset_counters()
        self.set_rates(self.config.exchange_rates, replace=True)

    # -- internals --------------------------------------------------------------------------

    def _check_token_free(self, app_id: int, token: str) -> None:
        for other in self._apps.values():
            if other.app_id != app_id and hmac.compare_digest(other.token, token):
                raise ControlError(409, f"app {other.app_id} already has this token")

    def _reset_counters(self) -> None:
        self._invoice_ids = itertools.count(self.config.first_invoice_id)
        self._update_ids = itertools.count(self.config.first_update_id)
        self._transfer_ids = itertools.count(1)

    def _new_hash(self) -> str:
        while True:
            candidate = "IV" + "".join(secrets.choice(_HASH_ALPHABET) for _ in range(8))
            if candidate not in self._hashes:
                self._hashes.add(candidate)
                return candidate

    def _any_invoice(self, invoice_id: int) -> Invoice:
        invoice = self._invoices.get(invoice_id)
        if invoice is None:
            raise ControlError(404, f"no invoice {invoice_id} in the sandbox")
        return invoice

    def _payable(self, invoice_id: int) -> Invoice:
        invoice = self._any_invoice(invoice_id)
        if invoice.deleted:
            raise ControlError(409, f"invoice {invoice_id} was deleted")
        if invoice.status is not InvoiceStatus.ACTIVE:
            raise ControlError(409, f"invoice {invoice_id} is {invoice.status}, not active")
        return invoice

    def _round(self, value: Decimal, asset: str, rounding: str) -> Decimal:
        decimals = self.config.asset_decimals.get(asset, self.config.default_decimals)
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)

    def _usd_value(self, currency: str, amount: Decimal) -> Decimal | None:
        if currency == "USD":
            return amount
        direct = self._rates.get((currency, "USD"))
        if direct is not None:
            return amount * direct
        # A fiat amount goes through any asset priced in both that fiat and USD.
        for (source, target), rate in self._rates.items():
            usd = self._rates.get((source, "USD"))
            if target == currency and usd is not None:
                return amount / rate * usd
        return None

    def _check_usd_limits(
        self, currency: str, amount: Decimal, limits: tuple[Decimal, Decimal] | None
    ) -> None:
        usd = None if limits is None else self._usd_value(currency, amount)
        if limits is None or usd is None:
            return
        if usd < limits[0]:
            raise bad_request("AMOUNT_TOO_SMALL")
        if usd > limits[1]:
            raise bad_request("AMOUNT_TOO_BIG")

    def _expire_overdue(self) -> None:
        if not self._expiring:
            return
        now = self.now()
        while self._expiring and self._expiring[0][0] <= now:
            _, invoice_id = heapq.heappop(self._expiring)
            invoice = self._invoices.get(invoice_id)
            if (
                invoice is not None
                and invoice.status is InvoiceStatus.ACTIVE
                and not invoice.deleted
            ):
                self._mark_expired(invoice)

    def _mark_expired(self, invoice: Invoice) -> None:
        # Crypto Pay has one update type, invoice_paid: expiring sends nothing.
        invoice.status = InvoiceStatus.EXPIRED

    def _announce_paid(self, invoice: Invoice) -> None:
        update_id = self._fixed_update_id
        if update_id is None:
            update_id = next(self._update_ids)
        body = {
            "update_id": update_id,
            "update_type": "invoice_paid",
            "request_date": format_timestamp(self.now()),
            "payload": invoice.to_json(),
        }
        # Compact and unescaped, as the bytes Crypto Pay signs: aiosend verifies by
        # re-serializing with exactly these settings.
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        update = _Update(update_id, content)
        self._updates[invoice.invoice_id] = update
        app = self.app(invoice.app_id)
        if app.webhook_url is not None:
            self._emit(app, invoice.invoice_id, update)

    def _emit(self, app: App, invoice_id: int, update: _Update) -> None:
        if self.webhook_sink is None or app.webhook_url is None:
            return
        self.webhook_sink(
            Webhook(
                app_id=app.app_id,
                url=app.webhook_url,
                update_id=update.update_id,
                invoice_id=invoice_id,
                content=update.content,
                signature=sign(update.content, app.token),
            )
        )


def _page_of(items: Iterator[_Listed], page: Page) -> list[_Listed]:
    return list(itertools.islice(items, page.offset, page.offset + page.count))


def _positive_rate(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ControlError(400, f"the rate {name} must be a decimal string")
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ControlError(400, f"the rate {name} must be a decimal string") from None
    if not rate.is_finite() or rate <= 0:
        raise ControlError(400, f"the rate {name} must be positive")
    return rate
