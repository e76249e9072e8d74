"""The Telegram Stars provider against the Telegram sandbox, over real loopback HTTP.

A stand-in for the bot reads the updates with getUpdates and approves every pre-checkout
query, as services/bot does; the customer pays through the sandbox's control API.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import httpx
import pytest

from billing.providers.base import (
    Notification,
    PaymentNotFound,
    PaymentProvider,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    ProviderRejected,
    ProviderUnavailable,
    RefundRequest,
    RefundState,
    RefundStatus,
    Refused,
    Verified,
)
from billing.providers.telegram_stars import (
    TelegramStars,
    TelegramStarsSettings,
    telegram_invoice,
)
from contracts.bot import StarsPaymentReceived
from contracts.money import Money
from sandbox.server import SandboxServer, serving
from sandbox.telegram import (
    BotProfile,
    SandboxUser,
    StarsPayment,
    TelegramEmulator,
    TelegramSandboxControl,
    create_app,
)

BOT = BotProfile(token="700100200:stars-billing-test", username="stars_shop_bot", first_name="Shop")
RECEIVED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SHORT_CHARGE_ID = "stxK3fPq9Z0xYh1mVbN2cW"  # payments.md §3.2's sample


class Recorder(httpx.AsyncBaseTransport):
    """Real HTTP, with every Bot API call kept as (method, JSON body)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.calls.append((method, json.loads(request.content or b"{}")))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


class StandInBot:
    """The bot's part of a Stars checkout: approves pre-checkout queries, keeps messages."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.offset = 0
        self.pre_checkouts: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()

    async def call(self, method: str, **params: Any) -> Any:
        response = await self.http.post(f"/bot{BOT.token}/{method}", json=params)
        body = response.json()
        assert body["ok"] is True, body
        return body["result"]

    async def run(self) -> None:
        while True:
            updates = await self.call(
                "getUpdates",
                offset=self.offset,
                timeout=5,
                allowed_updates=["message", "pre_checkout_query"],
            )
            for update in updates:
                self.offset = update["update_id"] + 1
                if "pre_checkout_query" in update:
                    query = update["pre_checkout_query"]
                    self.pre_checkouts.append(query)
                    await self.call(
                        "answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True
                    )
                elif "message" in update:
                    async with self._arrived:
                        self.messages.append(update)
                        self._arrived.notify_all()

    async def service_message(self, field: str, charge_id: str) -> dict[str, Any]:
        """The update with the ``successful_payment`` or ``refunded_payment`` of a charge."""

        def found() -> dict[str, Any] | None:
            for update in self.messages:
                paid = update["message"].get(field)
                if paid is not None and paid["telegram_payment_charge_id"] == charge_id:
                    return update
            return None

        async with asyncio.timeout(5), self._arrived:
            await self._arrived.wait_for(lambda: found() is not None)
        update = found()
        assert update is not None
        return update


def stars_event(update: dict[str, Any], kind: Literal["payment", "refund"]) -> StarsPaymentReceived:
    """What the bot forwards for a service message (``contracts.bot``)."""
    message = update["message"]
    paid = message["successful_payment" if kind == "payment" else "refunded_payment"]
    return StarsPaymentReceived(
        kind=kind,
        telegram_payment_charge_id=paid["telegram_payment_charge_id"],
        invoice_payload=paid["invoice_payload"],
        currency=paid["currency"],
        total_amount=paid["total_amount"],
        telegram_user_id=message["from"]["id"],
        update_id=update["update_id"],
        received_at=RECEIVED_AT,
    )


def notification(body: bytes) -> Notification:
    return Notification(
        provider="telegram_stars",
        body=body,
        headers={},
        remote_address="",
        received_at=RECEIVED_AT,
    )


def event(**changes: Any) -> StarsPaymentReceived:
    fields: dict[str, Any] = {
        "kind": "payment",
        "telegram_payment_charge_id": SHORT_CHARGE_ID,
        "invoice_payload": f"order:{ORDER_ID}",
        "currency": "XTR",
        "total_amount": 250,
        "telegram_user_id": 123456789,
        "update_id": 900000002,
        "received_at": RECEIVED_AT,
    }
    return StarsPaymentReceived(**{**fields, **changes})


ORDER_ID = UUID("5f0c2a64-3a1e-4f57-9d1b-3f4a2b6c7d8e")


def payment_request(order_id: UUID | None = None, **changes: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "order_id": order_id or uuid4(),
        "idempotence_key": "checkout-1",
        "amount": Money(amount_minor=250, currency="XTR"),
        "description": "VPN for 30 days",
        "title": "VPN 1 month",
        "customer_id": uuid4(),
        "return_url": "https://t.me/stars_shop_bot",
    }
    return PaymentRequest(**{**fields, **changes})


@pytest.fixture(scope="session")
def shared_emulator() -> TelegramEmulator:
    return TelegramEmulator([BOT])


@pytest.fixture(scope="session")
async def server(shared_emulator: TelegramEmulator) -> AsyncIterator[SandboxServer]:
    async with serving(create_app(shared_emulator), name="telegram") as running:
        yield running


@pytest.fixture
def emulator(shared_emulator: TelegramEmulator) -> TelegramEmulator:
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture
async def http(
    server: SandboxServer, emulator: TelegramEmulator
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture
def control(server: SandboxServer, http: httpx.AsyncClient) -> TelegramSandboxControl:
    return TelegramSandboxControl(server.url, BOT.token, client=http)


@pytest.fixture
async def bot(http: httpx.AsyncClient) -> AsyncIterator[StandInBot]:
    stand_in = StandInBot(http)
    task = asyncio.create_task(stand_in.run())
    yield stand_in
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
async def user(control: TelegramSandboxControl, bot: StandInBot) -> SandboxUser:
    """A customer who started the bot."""
    created = await control.create_user("Anna")
    await control.send_text(created.id, "/start")
    return created


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def stars(server: SandboxServer, recorder: Recorder) -> AsyncIterator[TelegramStars]:
    settings = TelegramStarsSettings(bot_token=BOT.token, api_url=server.url, timeout_s=5)
    provider = TelegramStars(settings, transport=recorder)
    yield provider
    await provider.aclose()


async def pay(
    stars: TelegramStars,
    control: TelegramSandboxControl,
    user: SandboxUser,
    request: PaymentRequest,
) -> StarsPayment:
    created = await stars.create_payment(request)
    assert created.confirmation_url is not None
    payment = await control.pay_invoice(user.id, invoice_link=created.confirmation_url)
    assert payment.status == "paid"
    assert payment.telegram_payment_charge_id is not None
    return payment


def behind_the_seam(provider: TelegramStars) -> PaymentProvider:
    return provider  # mypy checks that the class implements the protocol


def test_capabilities() -> None:
    capabilities = TelegramStars.capabilities
    assert capabilities.accepts(Money(amount_minor=1, currency="XTR"))
    assert capabilities.accepts(Money(amount_minor=10_000, currency="XTR"))
    assert not capabilities.accepts(Money(amount_minor=10_001, currency="XTR"))
    assert not capabilities.accepts(Money(amount_minor=0, currency="XTR"))
    assert not capabilities.accepts(Money(amount_minor=29900, currency="RUB"))
    assert (capabilities.refunds, capabilities.partial_refunds) == (True, False)
    assert (capabilities.recurring, capabilities.receipts) == (False, False)
    assert TelegramStars.name == "telegram_stars"


def test_the_settings_do_not_show_the_token() -> None:
    assert BOT.token not in repr(TelegramStarsSettings(bot_token=BOT.token))


class TestCreatePayment:
    async def test_an_invoice_link_names_the_order_and_is_paid_as_invoiced(
        self,
        stars: TelegramStars,
        recorder: Recorder,
        control: TelegramSandboxControl,
        bot: StandInBot,
        user: SandboxUser,
    ) -> None:
        request = payment_request()
        created = await stars.create_payment(request)
        payload = f"order:{request.order_id}"
        assert created.provider_payment_id == payload
        assert created.confirmation_url is not None
        assert created.confirmation_url.startswith("https://t.me/$")
        assert (created.expires_at, created.settled) == (None, None)
        assert recorder.calls == [
            (
                "createInvoiceLink",
                {
                    "title": "VPN 1 month",
                    "description": "VPN for 30 days",
                    "payload": payload,
                    "currency": "XTR",
                    "prices": [{"label": "VPN 1 month", "amount": 250}],
                },
            )
        ]

        payment = await control.pay_invoice(user.id, invoice_link=created.confirmation_url)
        assert payment.status == "paid"
        [query] = bot.pre_checkouts
        assert (query["currency"], query["total_amount"]) == ("XTR", 250)
        assert (query["invoice_payload"], query["from"]["id"]) == (payload, user.id)

    async def test_texts_are_cut_to_telegrams_limits(
        self, stars: TelegramStars, recorder: Recorder
    ) -> None:
        request = payment_request(title="Т" * 40, description="д" * 300)
        created = await stars.create_payment(request)
        assert created.confirmation_url is not None
        sent = recorder.calls[0][1]
        assert (len(sent["title"]), len(sent["description"])) == (32, 255)
        invoice = telegram_invoice(request)
        assert (invoice.title, invoice.description) == (sent["title"], sent["description"])
        assert (invoice.payload, invoice.amount) == (created.provider_payment_id, request.amount)

    async def test_a_retry_makes_another_link_for_the_same_order(
        self, stars: TelegramStars
    ) -> None:
        request = payment_request()
        first = await stars.create_payment(request)
        again = await stars.create_payment(payment_request(request.order_id, attempt=2))
        assert again.provider_payment_id == first.provider_payment_id
        assert again.confirmation_url != first.confirmation_url

    @pytest.mark.parametrize(
        ("changes", "code"),
        [
            ({"amount": Money(amount_minor=29900, currency="RUB")}, "unsupported_currency"),
            ({"amount": Money(amount_minor=0, currency="XTR")}, "amount_out_of_range"),
            ({"amount": Money(amount_minor=10_001, currency="XTR")}, "amount_out_of_range"),
            ({"saved_method_id": "pm-1"}, "recurring"),
            ({"title": ""}, "invalid_invoice"),
        ],
    )
    async def test_refused_before_asking_telegram(
        self, stars: TelegramStars, recorder: Recorder, changes: dict[str, Any], code: str
    ) -> None:
        with pytest.raises(ProviderRejected) as caught:
            await stars.create_payment(payment_request(**changes))
        assert caught.value.code == code
        assert recorder.calls == []

    async def test_the_biggest_amount_is_accepted(self, stars: TelegramStars) -> None:
        request = payment_request(amount=Money(amount_minor=10_000, currency="XTR"))
        assert (await stars.create_payment(request)).confirmation_url is not None


class TestVerify:
    async def test_a_paid_link_and_its_refund_as_the_bot_forwards_them(
        self,
        stars: TelegramStars,
        control: TelegramSandboxControl,
        bot: StandInBot,
        user: SandboxUser,
    ) -> None:
        request = payment_request()
        payment = await pay(stars, control, user, request)
        charge_id = payment.telegram_payment_charge_id or ""
        paid = await bot.service_message("successful_payment", charge_id)
        verdict = await stars.verify(
            notification(stars_event(paid, "payment").model_dump_json().encode())
        )
        assert verdict == Verified(
            PaymentState(
                provider_payment_id=f"order:{request.order_id}",
                status=PaymentStatus.SUCCEEDED,
                amount=Money(amount_minor=250, currency="XTR"),
                order_ref=str(request.order_id),
                occurred_at=RECEIVED_AT,
                charge_id=charge_id,
            )
        )
        await stars.refund(
            RefundRequest(
                idempotence_key="refund-1",
                provider_payment_id=f"order:{request.order_id}",
                amount=Money(amount_minor=250, currency="XTR"),
                description="refund",
                charge_id=charge_id,
                telegram_user_id=user.id,
            )
        )
        refunded = await bot.service_message("refunded_payment", charge_id)
        verdict = await stars.verify(
            notification(stars_event(refunded, "refund").model_dump_json().encode())
        )
        assert isinstance(verdict, Verified)
        assert isinstance(verdict.fact, RefundState)

    async def test_a_payment_is_a_succeeded_payment_of_the_order(
        self, stars: TelegramStars, recorder: Recorder
    ) -> None:
        verdict = await stars.verify(notification(event().model_dump_json().encode()))
        assert verdict == Verified(
            PaymentState(
                provider_payment_id=f"order:{ORDER_ID}",
                status=PaymentStatus.SUCCEEDED,
                amount=Money(amount_minor=250, currency="XTR"),
                order_ref=str(ORDER_ID),
                occurred_at=RECEIVED_AT,
                charge_id=SHORT_CHARGE_ID,
            )
        )
        assert recorder.calls == []  # believed as forwarded: nothing to ask Telegram

    async def test_a_refund_is_a_succeeded_refund_named_by_its_charge(
        self, stars: TelegramStars
    ) -> None:
        verdict = await stars.verify(notification(event(kind="refund").model_dump_json().encode()))
        assert verdict == Verified(
            RefundState(
                provider_refund_id=f"stars-refund:{SHORT_CHARGE_ID}",
                provider_payment_id=f"order:{ORDER_ID}",
                status=RefundStatus.SUCCEEDED,
                amount=Money(amount_minor=250, currency="XTR"),
                occurred_at=RECEIVED_AT,
            )
        )

    @pytest.mark.parametrize(
        ("body", "outcome"),
        [
            (b"not json", "rejected_malformed"),
            (b"{}", "rejected_malformed"),
            (b"\xff\xfe", "rejected_malformed"),
            (
                event().model_dump_json().replace('"payment"', '"gift"').encode(),
                "rejected_malformed",
            ),
            (event(currency="USD").model_dump_json().encode(), "rejected_currency"),
            (event(invoice_payload="plan:m1").model_dump_json().encode(), "rejected_unknown_order"),
            (
                event(invoice_payload="order:1042").model_dump_json().encode(),
                "rejected_unknown_order",
            ),
            (
                event(invoice_payload=f"order:{str(ORDER_ID).upper()}").model_dump_json().encode(),
                "rejected_unknown_order",
            ),
        ],
    )
    async def test_refusals(self, stars: TelegramStars, body: bytes, outcome: str) -> None:
        verdict = await stars.verify(notification(body))
        assert isinstance(verdict, Refused)
        assert verdict.outcome == outcome


class TestFetchPayment:
    async def test_an_unpaid_link_is_pending(self, stars: TelegramStars) -> None:
        created = await stars.create_payment(payment_request(ORDER_ID))
        state = await stars.fetch_payment(created.provider_payment_id)
        assert state == PaymentState(
            provider_payment_id=f"order:{ORDER_ID}",
            status=PaymentStatus.PENDING,
            amount=Money(amount_minor=0, currency="XTR"),
            order_ref=str(ORDER_ID),
        )

    async def test_a_paid_link_is_found_in_the_star_transactions_and_stays_paid_when_refunded(
        self,
        stars: TelegramStars,
        control: TelegramSandboxControl,
        user: SandboxUser,
    ) -> None:
        await pay(stars, control, user, payment_request())  # another order
        request = payment_request(ORDER_ID)
        payment = await pay(stars, control, user, request)
        state = await stars.fetch_payment(f"order:{ORDER_ID}")
        assert state.status is PaymentStatus.SUCCEEDED
        assert state.charge_id == payment.telegram_payment_charge_id
        assert (state.amount, state.order_ref) == (request.amount, str(ORDER_ID))
        assert state.occurred_at is not None
        assert abs((state.occurred_at - datetime.now(UTC)).total_seconds()) < 10

        await control.set_star_balance(user.id, 5000)
        await stars.refund(
            RefundRequest(
                idempotence_key="refund-1",
                provider_payment_id=f"order:{ORDER_ID}",
                amount=request.amount,
                description="refund",
                charge_id=state.charge_id,
                telegram_user_id=user.id,
            )
        )
        assert await control.star_balance(user.id) == 5250
        assert await stars.fetch_payment(f"order:{ORDER_ID}") == state

    async def test_the_history_is_read_page_by_page(
        self,
        stars: TelegramStars,
        recorder: Recorder,
        control: TelegramSandboxControl,
        user: SandboxUser,
    ) -> None:
        for _ in range(100):
            await pay(
                stars, control, user, payment_request(amount=Money(amount_minor=1, currency="XTR"))
            )
        payment = await pay(stars, control, user, payment_request(ORDER_ID))
        recorder.calls.clear()
        state = await stars.fetch_payment(f"order:{ORDER_ID}")
        assert state.charge_id == payment.telegram_payment_charge_id
        assert recorder.calls == [
            ("getStarTransactions", {"offset": 0, "limit": 100}),
            ("getStarTransactions", {"offset": 100, "limit": 100}),
        ]
        recorder.calls.clear()
        assert (await stars.fetch_payment(f"order:{uuid4()}")).status is PaymentStatus.PENDING
        assert len(recorder.calls) == 2

    @pytest.mark.parametrize("payment_id", ["plan:m1", "order:nope", ""])
    async def test_an_id_that_is_no_orders_is_not_found(
        self, stars: TelegramStars, recorder: Recorder, payment_id: str
    ) -> None:
        with pytest.raises(PaymentNotFound):
            await stars.fetch_payment(payment_id)
        assert recorder.calls == []


class TestRefund:
    @pytest.fixture
    async def paid(
        self, stars: TelegramStars, control: TelegramSandboxControl, user: SandboxUser
    ) -> RefundRequest:
        payment = await pay(stars, control, user, payment_request(ORDER_ID))
        return RefundRequest(
            idempotence_key="refund-1",
            provider_payment_id=f"order:{ORDER_ID}",
            amount=Money(amount_minor=250, currency="XTR"),
            description="Refund",
            charge_id=payment.telegram_payment_charge_id,
            telegram_user_id=user.id,
        )

    async def test_a_charge_is_refunded_once_and_a_repeat_reads_as_done(
        self,
        stars: TelegramStars,
        recorder: Recorder,
        control: TelegramSandboxControl,
        bot: StandInBot,
        user: SandboxUser,
        paid: RefundRequest,
    ) -> None:
        before = await control.star_balance(user.id)
        expected = RefundState(
            provider_refund_id=f"stars-refund:{paid.charge_id}",
            provider_payment_id=f"order:{ORDER_ID}",
            status=RefundStatus.SUCCEEDED,
            amount=paid.amount,
        )
        assert await stars.refund(paid) == expected
        assert await control.star_balance(user.id) == before + 250
        refunded = await bot.service_message("refunded_payment", paid.charge_id or "")
        assert refunded["message"]["refunded_payment"]["total_amount"] == 250

        recorder.calls.clear()
        assert await stars.refund(paid) == expected
        assert recorder.methods() == ["getStarTransactions", "refundStarPayment"]
        assert await control.star_balance(user.id) == before + 250
        outgoing = [t for t in (await control.bot_stars()).transactions if "receiver" in t]
        assert len(outgoing) == 1

    @pytest.mark.parametrize(
        ("changes", "code"),
        [
            ({"amount": Money(amount_minor=100, currency="XTR")}, "partial_refund"),
            (
                {"provider_payment_id": "order:6a1d0b75-4b2f-4a68-8e2c-4a5b3c7d8e9f"},
                "charge_mismatch",
            ),
            ({"charge_id": None}, "missing_charge"),
            ({"telegram_user_id": None}, "missing_charge"),
            ({"amount": Money(amount_minor=25000, currency="RUB")}, "unsupported_currency"),
        ],
    )
    async def test_refused_before_anything_is_refunded(
        self,
        stars: TelegramStars,
        recorder: Recorder,
        control: TelegramSandboxControl,
        user: SandboxUser,
        paid: RefundRequest,
        changes: dict[str, Any],
        code: str,
    ) -> None:
        before = await control.star_balance(user.id)
        recorder.calls.clear()
        request = dataclasses.replace(paid, **changes)
        with pytest.raises(ProviderRejected) as caught:
            await stars.refund(request)
        assert caught.value.code == code
        assert "refundStarPayment" not in recorder.methods()
        assert await control.star_balance(user.id) == before

    async def test_an_unknown_charge_is_refused_by_telegram(
        self, stars: TelegramStars, paid: RefundRequest
    ) -> None:
        with pytest.raises(ProviderRejected) as caught:
            await stars.refund(dataclasses.replace(paid, charge_id="stxnope"))
        assert caught.value.code == "charge_not_found"


class TestErrors:
    async def test_an_outage_is_no_definite_answer(
        self, stars: TelegramStars, control: TelegramSandboxControl
    ) -> None:
        await control.outage("error", status=502)
        with pytest.raises(ProviderUnavailable) as caught:
            await stars.create_payment(payment_request())
        assert caught.value.retry_after_s is None
        with pytest.raises(ProviderUnavailable):
            await stars.fetch_payment(f"order:{ORDER_ID}")

    async def test_flood_control_says_when_to_come_back(
        self, stars: TelegramStars, control: TelegramSandboxControl
    ) -> None:
        await control.outage("flood", retry_after=7, methods=["createInvoiceLink"])
        with pytest.raises(ProviderUnavailable) as caught:
            await stars.create_payment(payment_request())
        assert caught.value.retry_after_s == 7.0
        assert not isinstance(caught.value, ProviderRejected)

    async def test_a_refund_during_an_outage_can_be_repeated(
        self,
        stars: TelegramStars,
        control: TelegramSandboxControl,
        user: SandboxUser,
    ) -> None:
        payment = await pay(stars, control, user, payment_request(ORDER_ID))
        request = RefundRequest(
            idempotence_key="refund-1",
            provider_payment_id=f"order:{ORDER_ID}",
            amount=Money(amount_minor=250, currency="XTR"),
            description="Refund",
            charge_id=payment.telegram_payment_charge_id,
            telegram_user_id=user.id,
        )
        await control.outage("error", status=503, methods=["refundStarPayment"])
        with pytest.raises(ProviderUnavailable):
            await stars.refund(request)
        await control.restore()
        assert (await stars.refund(request)).status is RefundStatus.SUCCEEDED

    @pytest.mark.parametrize(
        "token",
        [
            "700100200:not-this-bots-token",  # well-formed, wrong: 401
            "not-a-token",  # malformed: 404
        ],
    )
    async def test_a_bad_token_is_refused_as_unauthorized(
        self, server: SandboxServer, emulator: TelegramEmulator, token: str
    ) -> None:
        provider = TelegramStars(
            TelegramStarsSettings(bot_token=token, api_url=server.url),
            transport=httpx.AsyncHTTPTransport(),
        )
        try:
            with pytest.raises(ProviderRejected) as caught:
                await provider.create_payment(payment_request())
        finally:
            await provider.aclose()
        assert caught.value.code == "unauthorized"
        assert token not in str(caught.value)

    async def test_telegrams_refusal_is_named_by_its_description(
        self, stars: TelegramStars, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        with pytest.raises(ProviderRejected) as caught:
            await stars.client.call("refundStarPayment", {"user_id": user.id})
        assert caught.value.code == "parameter_telegram_payment_charge_id_is_required"

    async def test_nobody_listening_is_no_definite_answer(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        provider = TelegramStars(
            TelegramStarsSettings(bot_token=BOT.token, api_url=f"http://127.0.0.1:{port}"),
            transport=httpx.AsyncHTTPTransport(),
        )
        try:
            with pytest.raises(ProviderUnavailable) as caught:
                await provider.create_payment(payment_request())
        finally:
            await provider.aclose()
        assert BOT.token not in str(caught.value)

    async def test_a_server_that_never_answers_times_out(self) -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            await asyncio.sleep(5)
            writer.close()

        listener = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        provider = TelegramStars(
            TelegramStarsSettings(
                bot_token=BOT.token, api_url=f"http://127.0.0.1:{port}", timeout_s=0.2
            ),
            transport=httpx.AsyncHTTPTransport(),
        )
        try:
            with pytest.raises(ProviderUnavailable):
                await provider.fetch_payment(f"order:{ORDER_ID}")
        finally:
            await provider.aclose()
            listener.close()

    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            (
                200,
                b'{"ok":false,"error_code":400,"description":"Bad Request: x"}',
                ProviderUnavailable,
            ),
            (200, b"<html>maintenance</html>", ProviderUnavailable),
            (200, b'{"ok":true,"result":42}', ProviderUnavailable),
            (302, b"", ProviderUnavailable),
            (403, b'{"ok":false,"error_code":403,"description":"Forbidden: x"}', ProviderRejected),
            (400, b"not json", ProviderRejected),
        ],
    )
    async def test_odd_answers(self, status: int, body: bytes, expected: type[Exception]) -> None:
        transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body))
        provider = TelegramStars(TelegramStarsSettings(bot_token=BOT.token), transport=transport)
        try:
            with pytest.raises(expected):
                await provider.create_payment(payment_request())
        finally:
            await provider.aclose()
