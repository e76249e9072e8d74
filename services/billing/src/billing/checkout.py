"""Checkout: an order for a plan or a wallet top-up, and the payment the customer can pay.

The consumer decides (the item is on sale, the method takes its currency and amount) and
records the order; a worker creates the payment with the provider, outside any
transaction, so that a slow or failing provider delays only its own checkouts. Paying
from the wallet needs no provider: it is settled in the consumer's transaction at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import autopay, ledger, orders, payments, promo_codes, quotes, wallets
from billing.catalog import sold_terms
from billing.domain import ledger as entries
from billing.domain import orders as rules
from billing.domain.lifecycle import Stage
from billing.domain.orders import OrderKind, OrderStatus
from billing.domain.prices import IssuedQuote, judge
from billing.domain.promos import Code
from billing.domain.promos import Refusal as PromoRefusal
from billing.models import (
    Customer,
    Order,
    PlanPrice,
    PlanRow,
    Subscription,
    TopUpPrice,
    TopUpRow,
    TrafficPackPrice,
    TrafficPackRow,
)
from billing.providers import WALLET, Providers
from billing.providers.base import (
    CreatedPayment,
    PaymentProvider,
    PaymentRequest,
    ProviderRejected,
    ProviderUnavailable,
)
from billing.receipts import receipt_for
from billing.texts import localized, say
from chassis import metrics
from chassis.clock import Clock, SystemClock
from chassis.db import transaction
from chassis.messaging.consumer import MessageContext
from chassis.messaging.outbox import Outbox
from chassis.worker import RetryPolicy, Wakeup, continuing_trace, trace_carrier
from contracts.billing import CheckoutFailed, CheckoutPaid, CheckoutReady, TelegramInvoice
from contracts.bot import AutopayConsent, RequestCheckout, RequestTopUp, RequestTrafficPack
from contracts.envelope import Event
from contracts.money import Money

log = logging.getLogger(__name__)


class Refusal(Exception):
    """Why a checkout cannot go ahead, as a reason code of ``CheckoutFailed``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Item:
    """What is being bought, as it is sold right now."""

    kind: OrderKind
    item_id: str
    titles: dict[str, str]
    prices: dict[str, int]
    duration_days: int = 0
    duration_months: int = 0
    traffic_limit_bytes: int = 0
    traffic_carry_over: bool = True
    traffic_reset: str = "none"
    tier: int = 0
    credit: Money | None = None


def choose_price(
    item: Item,
    method: str,
    provider: PaymentProvider | None,
    wallet_currency: str | None,
    currency: str | None,
) -> Money:
    """The price the customer pays with ``method``; raises :class:`Refusal`.

    With a currency chosen (the one the bot showed), exactly that price; without, the
    first of the item's prices the method takes. No exchange rate is ever applied.
    """
    if method == WALLET:
        if wallet_currency is None:
            raise Refusal("provider_unsupported", "the wallet is switched off")
        if item.kind is OrderKind.TOPUP:
            raise Refusal("provider_unsupported", "a top-up cannot be paid from the wallet")
        taken = {wallet_currency}
    elif provider is None:
        raise Refusal("provider_unsupported", f"provider {method} is not configured")
    else:
        taken = set(provider.capabilities.currencies)
    candidates = [currency] if currency else list(item.prices)
    for code in candidates:
        if code in item.prices and code in taken:
            price = Money(amount_minor=item.prices[code], currency=code)
            if provider is not None and not provider.capabilities.accepts(price):
                raise Refusal("amount_not_accepted", f"{method} does not take {price}")
            return price
    wanted = currency or "/".join(item.prices)
    raise Refusal("currency_not_offered", f"{item.item_id} has no price in {wanted} for {method}")


class Checkouts:
    """The consumer side: a checkout request becomes an order, due for its payment."""

    def __init__(
        self,
        providers: Providers,
        outbox: Outbox,
        wakeup: Wakeup,
        *,
        wallet_currency: str | None,
        receipts: bool = False,
        autopay: bool = False,
        grace_hours: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self._providers = providers
        self._outbox = outbox
        self._wakeup = wakeup
        self._wallet_currency = wallet_currency
        # 54-FZ receipts with every payment of a provider that fiscalizes (YooKassa).
        self._receipts = receipts
        # Payments may save their method for automatic renewals (the shop allows it).
        self._autopay = autopay
        # The grace after the end each order is sold with (BILLING_GRACE_HOURS).
        self._grace_hours = grace_hours
        # A code's validity and a wallet payment's time are the platform's clock's.
        self._clock = clock or SystemClock()

    async def plan(self, request: RequestCheckout, ctx: MessageContext) -> None:
        await self._checkout(ctx, request, OrderKind.PLAN, request.plan_id, request.return_url)

    async def topup(self, request: RequestTopUp, ctx: MessageContext) -> None:
        await self._checkout(ctx, request, OrderKind.TOPUP, request.topup_id, request.return_url)

    async def traffic(self, request: RequestTrafficPack, ctx: MessageContext) -> None:
        await self._checkout(ctx, request, OrderKind.TRAFFIC, request.pack_id, request.return_url)

    async def _checkout(
        self,
        ctx: MessageContext,
        request: RequestCheckout | RequestTopUp | RequestTrafficPack,
        kind: OrderKind,
        item_id: str,
        return_url: str | None,
    ) -> None:
        session = ctx.session
        existing = await orders.by_checkout(session, request.checkout_id)
        if existing is not None:
            # Asked again with the same id: answer what was decided the first time, or let
            # the worker answer when it has.
            if existing.checkout_due_at is None:
                await ctx.publish(await _replayed_answer(session, existing))
            return
        try:
            item = await _item(session, kind, item_id)
            if kind is OrderKind.TRAFFIC:
                await _check_traffic(session, request.customer_id, self._clock.now())
            quote = None
            if isinstance(request, RequestCheckout):
                quote = await _quote(session, request)
                if quote is not None:
                    item = dataclasses.replace(item, prices=quote.prices)
            provider = self._providers.get(request.provider)
            price = choose_price(
                item, request.provider, provider, self._wallet_currency, request.currency
            )
            if isinstance(request, RequestCheckout) and request.autopay_consent is not None:
                self._check_consent(request.autopay_consent, item, provider, price)
            promo = None
            if isinstance(request, RequestCheckout) and request.promo_code is not None:
                promo = await _promo(session, request, item, provider, price, self._clock.now())
        except Refusal as refusal:
            log.info(
                "checkout refused",
                extra={"checkout_id": str(request.checkout_id), "reason": refusal.reason},
            )
            await ctx.publish(_failed(request.checkout_id, request.customer_id, refusal))
            return
        customer = (
            await session.execute(
                select(Customer.language, Customer.email).where(
                    Customer.customer_id == request.customer_id
                )
            )
        ).first()
        language, known_email = (customer.language, customer.email) if customer else (None, None)
        receipt_email = None
        if self._receipts and provider is not None and provider.capabilities.receipts:
            receipt_email = request.receipt_email or known_email
            if receipt_email is None:
                no_email = Refusal("email_required", "a receipt is required and has no e-mail")
                log.info(
                    "checkout refused",
                    extra={"checkout_id": str(request.checkout_id), "reason": no_email.reason},
                )
                await ctx.publish(_failed(request.checkout_id, request.customer_id, no_email))
                return
        order = Order(
            order_id=orders.order_id_for(request.checkout_id),
            checkout_id=request.checkout_id,
            customer_id=request.customer_id,
            kind=kind.value,
            plan_id=item_id if kind is OrderKind.PLAN else None,
            topup_id=item_id if kind is OrderKind.TOPUP else None,
            pack_id=item_id if kind is OrderKind.TRAFFIC else None,
            credit_minor=item.credit.amount_minor if item.credit else None,
            credit_currency=item.credit.currency if item.credit else None,
            language=language or "ru",
            title=localized(item.titles, language)[:128],
            amount_minor=promo.offer.price(price).amount_minor if promo else price.amount_minor,
            list_amount_minor=price.amount_minor if promo else None,
            promo_code=promo.code if promo else None,
            quote_id=quote.quote_id if quote else None,
            experiment_id=quote.terms.experiment_id if quote else None,
            variant=quote.terms.variant if quote else None,
            region=request.region if isinstance(request, RequestCheckout) else None,
            protocol=request.protocol if isinstance(request, RequestCheckout) else None,
            currency=price.currency,
            duration_days=item.duration_days,
            duration_months=item.duration_months,
            traffic_limit_bytes=_traffic(item, promo),
            traffic_carry_over=item.traffic_carry_over,
            traffic_reset=item.traffic_reset,
            tier=item.tier,
            grace_hours=self._grace_hours if kind is OrderKind.PLAN else 0,
            provider=request.provider,
            receipt_email=receipt_email,
            autopay_charge=False,
            status=OrderStatus.PENDING.value,
            return_url=return_url,
            checkout_attempts=0,
            checkout_correlation_id=ctx.envelope.correlationid or ctx.envelope.id,
            trace_context=trace_carrier(),
        )
        session.add(order)
        if promo is not None:
            await promo_codes.take(
                session, promo, request.customer_id, order_id=order.order_id, status="reserved"
            )
        if isinstance(request, RequestCheckout) and request.autopay_consent is not None:
            await autopay.record_consent(session, order, request.autopay_consent)
        if request.provider == WALLET:
            await ctx.publish_many(await _pay_from_wallet(session, order, self._clock.now()))
            return
        order.checkout_due_at = datetime.now(UTC)
        ctx.after_commit(self._wakeup.set)

    def _check_consent(
        self,
        consent: AutopayConsent,
        item: Item,
        provider: PaymentProvider | None,
        price: Money,
    ) -> None:
        """Saving the method needs autopay allowed, a provider that keeps methods, and
        consent to exactly what renewals will charge."""
        if not self._autopay or provider is None or not provider.capabilities.recurring:
            raise Refusal("autopay_unavailable", "automatic renewal is not offered with it")
        agreed = (consent.amount, consent.period_days, consent.period_months)
        if agreed != (price, item.duration_days, item.duration_months):
            raise Refusal(
                "price_changed",
                f"consent to {consent.amount} every {consent.period_days} days "
                f"({consent.period_months} months); the plan is {price} every "
                f"{item.duration_days} days ({item.duration_months} months)",
            )


async def _quote(session: AsyncSession, request: RequestCheckout) -> IssuedQuote | None:
    """The quote the checkout is charged at: the one it names if that is what billing
    offers the customer now, else refused; without one named, the one offered now (none
    before billing first issued quotes: then the plan's list prices)."""
    offered, _ = await quotes.offered(session, request.customer_id, request.plan_id, request.region)
    if request.quote_id is None or (offered is not None and offered.quote_id == request.quote_id):
        return offered
    named = await quotes.named(session, request.quote_id)
    refusal = judge(named, offered, request.plan_id, request.region)
    assert refusal is not None
    raise Refusal(refusal.value, f"quote {request.quote_id} for {request.plan_id}: {refusal}")


async def _promo(
    session: AsyncSession,
    request: RequestCheckout,
    item: Item,
    provider: PaymentProvider | None,
    price: Money,
    now: datetime,
) -> Code:
    """The code the checkout names, locked for taking its use; raises :class:`Refusal`."""
    assert request.promo_code is not None
    found = await promo_codes.check(
        session,
        request.promo_code,
        request.customer_id,
        now,
        plan_id=item.item_id,
        price=price,
        lock=True,
    )
    if isinstance(found, PromoRefusal):
        raise Refusal(found.value, f"promo code {request.promo_code}: {found.value}")
    if not found.at_purchase:
        raise Refusal(PromoRefusal.NOT_FOR_PLAN.value, "free days are activated, not bought")
    discounted = found.offer.price(price)
    if provider is not None and not provider.capabilities.accepts(discounted):
        raise Refusal("amount_not_accepted", f"{request.provider} does not take {discounted}")
    return found


def _traffic(item: Item, promo: Code | None) -> int:
    """The plan's traffic, with a code's extra; unlimited stays unlimited."""
    extra = promo.extra_traffic_bytes if promo is not None else None
    if not extra or not item.traffic_limit_bytes:
        return item.traffic_limit_bytes
    return item.traffic_limit_bytes + extra


async def _check_traffic(session: AsyncSession, customer_id: uuid.UUID, now: datetime) -> None:
    """Extra traffic is for a subscription with paid time ahead, a limit, and one allowance
    for the period (under a monthly reset the panel would grant it again every month)."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.customer_id == customer_id)
    )
    if (
        subscription is None
        or subscription.stage != Stage.ACTIVE
        or subscription.period_end <= now
        or not subscription.traffic_limit_bytes
    ):
        raise Refusal("traffic_needs_subscription", "no subscription with a traffic limit ahead")
    if subscription.traffic_reset == "month":
        raise Refusal("traffic_not_for_plan", "the plan's allowance resets every month")


async def _item(session: AsyncSession, kind: OrderKind, item_id: str) -> Item:
    if kind is OrderKind.PLAN:
        plan = await session.get(PlanRow, item_id)
        if plan is None:
            raise Refusal("plan_not_found", f"plan {item_id} is not in the catalog")
        if not plan.active:
            raise Refusal("plan_inactive", f"plan {item_id} is not for sale")
        prices = await session.execute(
            select(PlanPrice.currency, PlanPrice.amount_minor).where(PlanPrice.plan_id == item_id)
        )
        return Item(
            kind=kind,
            item_id=item_id,
            titles=plan.titles,
            prices=dict(prices.tuples().all()),
            **sold_terms(plan),
        )
    if kind is OrderKind.TRAFFIC:
        pack = await session.get(TrafficPackRow, item_id)
        if pack is None or not pack.active:
            raise Refusal("plan_not_found", f"traffic pack {item_id} is not for sale")
        prices = await session.execute(
            select(TrafficPackPrice.currency, TrafficPackPrice.amount_minor).where(
                TrafficPackPrice.pack_id == item_id
            )
        )
        exact = Decimal(pack.traffic_bytes) / 1024**3
        gib = int(exact) if exact == exact.to_integral_value() else exact.quantize(Decimal("0.1"))
        return Item(
            kind=kind,
            item_id=item_id,
            titles={tag: say("traffic-pack-title", tag, gib=gib) for tag in ("ru", "en")},
            prices=dict(prices.tuples().all()),
            traffic_limit_bytes=pack.traffic_bytes,
        )
    topup = await session.get(TopUpRow, item_id)
    if topup is None or not topup.active:
        raise Refusal("plan_not_found", f"top-up {item_id} is not for sale")
    prices = await session.execute(
        select(TopUpPrice.currency, TopUpPrice.amount_minor).where(TopUpPrice.topup_id == item_id)
    )
    credit = Money(amount_minor=topup.credit_minor, currency=topup.credit_currency)
    return Item(
        kind=kind,
        item_id=item_id,
        titles={tag: say("topup-invoice-title", tag, credit=credit) for tag in ("ru", "en")},
        prices=dict(prices.tuples().all()),
        credit=credit,
    )


async def _pay_from_wallet(session: AsyncSession, order: Order, paid_at: datetime) -> list[Event]:
    """Take the price from the wallet and settle the order, all in this transaction."""
    price = rules.amount_of(order)
    wallet = entries.wallet(order.customer_id, price.currency)
    entry = entries.plan_paid_from_wallet(
        order_id=order.order_id, customer_id=order.customer_id, amount=price
    )
    await session.flush()  # the order row exists before the ledger names it
    try:
        balance = await ledger.debit_wallet(session, wallet, entry)
    except ledger.InsufficientFunds as exc:
        rules.fail(order, "insufficient_funds", str(exc))
        await promo_codes.release(session, order)
        return [answer(order)]
    settlement = rules.pay(order, provider_payment_id=f"wallet:{order.order_id}", paid_at=paid_at)
    delivered = await payments.deliver(session, order, paid_at)
    paid = CheckoutPaid(
        checkout_id=order.checkout_id,
        customer_id=order.customer_id,
        order_id=order.order_id,
        amount=price,
        balance=balance,
        promo_code=order.promo_code,
    )
    move = ledger.WalletMove(wallet, -price.amount_minor, balance.amount_minor)
    return [paid, *settlement.events, *delivered, wallets.changed(entry, move, paid_at)]


@dataclass(frozen=True, slots=True)
class DuePayment:
    order_id: uuid.UUID
    checkout_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    plan_id: str | None
    topup_id: str | None
    credit_minor: int | None
    credit_currency: str | None
    language: str
    title: str
    amount_minor: int
    currency: str
    provider: str
    return_url: str | None
    checkout_attempts: int
    checkout_correlation_id: str | None
    trace_context: dict[str, str] | None
    receipt_email: str | None
    autopay_consent_id: uuid.UUID | None

    @property
    def amount(self) -> Money:
        return Money(amount_minor=self.amount_minor, currency=self.currency)

    def description(self) -> str:
        order = self.order_id.hex[:8]
        if self.kind == OrderKind.TOPUP:
            assert self.credit_minor is not None
            assert self.credit_currency is not None
            credit = Money(amount_minor=self.credit_minor, currency=self.credit_currency)
            return say("topup-description", self.language, credit=credit, order=order)
        return say("payment-description", self.language, title=self.title, order=order)


class CheckoutPayments:
    """The worker that creates each due order's payment with its provider and answers.

    The checkout id is the idempotence key: a retry after a lost answer, or after this
    process died mid-call, names the payment the first attempt created. A provider that
    does not answer is tried again with backoff, ``attempts`` times in all, then the
    checkout fails with ``provider_unavailable``; a refusal fails it at once.
    """

    def __init__(
        self,
        providers: Providers,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        attempts: int,
        retry: RetryPolicy,
        receipt_vat_code: int = 1,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 16,
    ) -> None:
        self._providers = providers
        self._sessions = sessions
        self._outbox = outbox
        self._receipt_vat_code = receipt_vat_code
        self._attempts = attempts
        self._retry = retry
        self._lease = lease
        self.batch_size = batch_size

    async def step(self) -> int:
        rows = await orders.claim_due_payments(
            self._sessions, lease=self._lease, limit=self.batch_size
        )
        due = [DuePayment(**row) for row in rows]
        await asyncio.gather(*(self._create(payment) for payment in due))
        return len(due)

    async def _create(self, due: DuePayment) -> None:
        with continuing_trace(
            "billing create payment", due.trace_context, checkout_id=str(due.checkout_id)
        ):
            provider = self._providers.get(due.provider)
            if provider is None:
                failure = ("provider_unsupported", f"provider {due.provider} is not configured")
                await self._decide(due, failure=failure)
                return
            try:
                created = await provider.create_payment(self._request(due))
            except ProviderRejected as exc:
                await self._decide(due, failure=("provider_rejected", f"{due.provider}: {exc}"))
            except ProviderUnavailable as exc:
                if due.checkout_attempts >= self._attempts:
                    failure = ("provider_unavailable", f"{due.provider} did not answer: {exc}")
                    await self._decide(due, failure=failure)
                else:
                    await self._again(due, exc)
            else:
                await self._decide(due, created=created)

    def _request(self, due: DuePayment) -> PaymentRequest:
        title = due.title
        if due.kind == OrderKind.PLAN:
            title = say("invoice-title", due.language, title=due.title)
        receipt = None
        if due.receipt_email is not None:
            receipt = receipt_for(
                due.receipt_email, due.title, due.amount, vat_code=self._receipt_vat_code
            )
        return PaymentRequest(
            order_id=due.order_id,
            idempotence_key=str(due.checkout_id),
            amount=due.amount,
            description=due.description(),
            title=title[:32],
            customer_id=due.customer_id,
            return_url=due.return_url or "",
            attempt=due.checkout_attempts,
            language=due.language,
            receipt=receipt,
            save_method=due.autopay_consent_id is not None,
        )

    async def _decide(
        self,
        due: DuePayment,
        *,
        created: CreatedPayment | None = None,
        failure: tuple[str, str] | None = None,
    ) -> None:
        invoice = None
        async with transaction(self._sessions) as session:
            order = await orders.lock(session, due.order_id)
            assert order is not None
            if created is not None:
                order.provider_payment_id = created.provider_payment_id
                order.confirmation_url = created.confirmation_url
                order.payment_expires_at = created.expires_at
                invoice = created.chat_invoice
            if failure is not None and rules.fail(order, *failure):
                log.warning(
                    "checkout failed",
                    extra={"order_id": str(order.order_id), "reason": failure[1]},
                )
                await promo_codes.release(session, order)
            orders.payment_settled(order)
            await session.flush()
            await self._outbox.add(
                session, answer(order, invoice), correlation_id=due.checkout_correlation_id
            )
        outcome = "failed" if failure is not None else "done"
        metrics.WORK_OUTCOMES.labels("billing", "checkout_payment", outcome).inc()

    async def _again(self, due: DuePayment, error: ProviderUnavailable) -> None:
        delay = self._retry.delay(due.checkout_attempts)
        if error.retry_after_s:
            delay = max(delay, timedelta(seconds=error.retry_after_s))
        log.warning(
            "provider unavailable; the payment will be created again with the same key",
            extra={
                "provider": due.provider,
                "checkout_id": str(due.checkout_id),
                "attempt": due.checkout_attempts,
                "delay_s": delay.total_seconds(),
                "error": repr(error),
            },
        )
        metrics.WORK_OUTCOMES.labels("billing", "checkout_payment", "retry").inc()
        async with transaction(self._sessions) as session:
            await orders.payment_due_again(session, due.order_id, delay)


def _failed(checkout_id: uuid.UUID, customer_id: uuid.UUID, refusal: Refusal) -> CheckoutFailed:
    return CheckoutFailed(
        checkout_id=checkout_id,
        customer_id=customer_id,
        reason_code=refusal.code,
        reason=refusal.reason,
    )


async def _replayed_answer(session: AsyncSession, order: Order) -> Event:
    if order.provider == WALLET and order.status != OrderStatus.FAILED:
        price = rules.amount_of(order)
        return CheckoutPaid(
            checkout_id=order.checkout_id,
            customer_id=order.customer_id,
            order_id=order.order_id,
            amount=price,
            balance=await ledger.wallet_balance(
                session, entries.wallet(order.customer_id, price.currency)
            ),
            promo_code=order.promo_code,
        )
    return answer(order)


def answer(order: Order, invoice: TelegramInvoice | None = None) -> Event:
    """What the checkout ended in, for the requester."""
    if (
        order.status == OrderStatus.FAILED
        or order.provider_payment_id is None
        or order.confirmation_url is None
    ):
        return CheckoutFailed(
            checkout_id=order.checkout_id,
            customer_id=order.customer_id,
            reason_code=order.failure_code or "checkout_conflict",
            reason=order.failure_reason or f"order {order.order_id} has no payment link",
        )
    return CheckoutReady(
        checkout_id=order.checkout_id,
        customer_id=order.customer_id,
        order_id=order.order_id,
        provider=order.provider,
        provider_payment_id=order.provider_payment_id,
        confirmation_url=order.confirmation_url,
        amount=rules.amount_of(order),
        list_price=None
        if order.list_amount_minor is None
        else Money(amount_minor=order.list_amount_minor, currency=order.currency),
        promo_code=order.promo_code,
        expires_at=order.payment_expires_at,
        telegram_invoice=invoice,
    )
