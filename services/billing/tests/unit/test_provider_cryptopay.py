"""The Crypto Pay provider against the Crypto Pay emulator, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
    RefundStatus,
    Refused,
    Verified,
)
from billing.providers.cryptopay import (
    CryptoPay,
    CryptoPayClient,
    CryptoPaySettings,
)
from contracts.money import Money
from sandbox.cryptopay import (
    App,
    CryptoPayConfig,
    CryptoPayEmulator,
    CryptoPaySandboxControl,
    DeliveryPolicy,
    SignatureMode,
    create_app,
    sign,
)
from sandbox.outage import OutageSwitch
from sandbox.server import serving

APP_ID = 12345
TOKEN = "12345:AAzQcZWQqQAbsfgPnOLr4FHC8Doa4L7KryC"
PAYOUT_APP_ID = 67890
PAYOUT_TOKEN = "67890:BBqWeRtYuIoPaSdFgHjKlZxCvBnM1234567"
BOT_URL = "https://t.me/MyVpnBot"
CUSTOMER_TELEGRAM_ID = 424242
FAST_DELIVERY = DeliveryPolicy(first_retry_delay=0.05, max_retry_delay=0.2, horizon=30.0)


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """Billing's webhook endpoint: keeps the exact bytes and headers of each POST."""

    url: str = ""
    received: list[Received] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Received(await request.body(), dict(request.headers)))
        return Response(status_code=200)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.received)} of {count} webhooks arrived")
            await asyncio.sleep(0.01)
        return self.received


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Real HTTP, with every request kept, to see the parameters as they were sent."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [
            json.loads(request.content)
            for request in self.requests
            if request.url.path.endswith(f"/{method}")
        ]


@dataclass
class Sandbox:
    url: str
    emulator: CryptoPayEmulator
    control: CryptoPaySandboxControl
    outage: OutageSwitch
    receiver: Receiver
    providers: list[CryptoPay] = field(default_factory=list)

    def provider(
        self,
        *,
        token: str = TOKEN,
        transport: httpx.AsyncBaseTransport | None = None,
        **settings: Any,
    ) -> CryptoPay:
        provider = CryptoPay(
            CryptoPaySettings(token=token, bot_url=BOT_URL, api_url=f"{self.url}/api", **settings),
            transport=transport or httpx.AsyncHTTPTransport(),
        )
        self.providers.append(provider)
        return provider

    async def paid_webhook(self, invoice_id: str) -> Received:
        """Pay the invoice as the customer; the update exactly as it reached billing."""
        before = len(self.receiver.received)
        await self.control.pay(int(invoice_id))
        return (await self.receiver.wait_for(before + 1))[before]


@dataclass
class _Servers:
    url: str
    emulator: CryptoPayEmulator
    control: CryptoPaySandboxControl
    outage: OutageSwitch
    receiver: Receiver
    reset: Callable[[], Any]


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[_Servers]:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/cryptopay", receiver.endpoint, methods=["POST"])])
    emulator = CryptoPayEmulator(CryptoPayConfig(delivery=FAST_DELIVERY))
    app = create_app(emulator)
    async with (
        serving(receiver_app, name="billing-webhooks") as receiver_server,
        serving(app, name="cryptopay") as server,
        CryptoPaySandboxControl(server.url, transport=httpx.AsyncHTTPTransport()) as control,
    ):
        receiver.url = f"{receiver_server.url}/cryptopay"
        yield _Servers(
            server.url, emulator, control, app.state.outage, receiver, app.state.dispatcher.reset
        )


@pytest.fixture
async def sandbox(servers: _Servers) -> AsyncIterator[Sandbox]:
    await servers.reset()
    servers.emulator.reset()
    servers.outage.end()
    servers.emulator.put_app(App(APP_ID, "VPN shop", TOKEN, webhook_url=servers.receiver.url))
    servers.emulator.put_app(
        App(
            PAYOUT_APP_ID,
            "VPN shop with transfers",
            PAYOUT_TOKEN,
            webhook_url=servers.receiver.url,
            transfer_enabled=True,
            balances={"USDT": Decimal("100"), "BTC": Decimal("1")},
        )
    )
    servers.receiver.received.clear()
    sandbox = Sandbox(
        servers.url, servers.emulator, servers.control, servers.outage, servers.receiver
    )
    yield sandbox
    servers.outage.end()
    for provider in sandbox.providers:
        await provider.aclose()


def payment(
    amount: Money | None = None, *, order_id: UUID | None = None, attempt: int = 1
) -> PaymentRequest:
    order_id = order_id or uuid4()
    return PaymentRequest(
        order_id=order_id,
        idempotence_key=str(uuid4()),
        amount=amount or Money(amount_minor=29900, currency="RUB"),
        description="VPN, 1 месяц",
        title="VPN, 1 месяц",
        customer_id=uuid4(),
        return_url="https://t.me/MyVpnBot?start=paid",
        telegram_user_id=CUSTOMER_TELEGRAM_ID,
        attempt=attempt,
    )


def notification(
    received: Received,
    *,
    received_at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> Notification:
    return Notification(
        provider="cryptopay",
        body=received.body,
        headers=received.headers if headers is None else headers,
        remote_address="127.0.0.1",
        received_at=received_at or datetime.now(UTC),
    )


def request_date(received: Received) -> datetime:
    sent = json.loads(received.body)["request_date"]
    return datetime.fromisoformat(sent.replace("Z", "+00:00"))


def refund(
    provider_payment_id: str,
    amount: Money | None = None,
    *,
    key: str | None = None,
    telegram_user_id: int | None = CUSTOMER_TELEGRAM_ID,
) -> RefundRequest:
    return RefundRequest(
        idempotence_key=key or str(uuid4()),
        provider_payment_id=provider_payment_id,
        amount=amount or Money(amount_minor=29900, currency="RUB"),
        description="Возврат за VPN",
        telegram_user_id=telegram_user_id,
    )


def test_it_is_a_payment_provider() -> None:
    provider: PaymentProvider = CryptoPay(CryptoPaySettings(token=TOKEN, bot_url=BOT_URL))
    assert provider.name == "cryptopay"
    assert "AAzQ" not in repr(CryptoPaySettings(token=TOKEN, bot_url=BOT_URL))


@pytest.mark.parametrize(
    "wrong",
    [{"expires_in_s": 0}, {"expires_in_s": 2_678_401}, {"accepted_assets": ()}, {"timeout_s": 0}],
)
def test_settings_outside_what_crypto_pay_takes_are_refused(wrong: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        CryptoPaySettings(token=TOKEN, bot_url=BOT_URL, **wrong)


def test_capabilities_follow_the_transfer_setting() -> None:
    off = CryptoPay(CryptoPaySettings(token=TOKEN, bot_url=BOT_URL)).capabilities
    on = CryptoPay(
        CryptoPaySettings(token=TOKEN, bot_url=BOT_URL, transfer_refunds=True)
    ).capabilities
    assert off.currencies == on.currencies == frozenset({"RUB", "USD", "EUR"})
    assert (off.refunds, off.partial_refunds) == (False, False)
    assert (on.refunds, on.partial_refunds) == (True, True)
    assert not off.recurring
    assert not off.receipts
    assert not off.accepts(Money(amount_minor=100, currency="XTR"))


class TestCreatePayment:
    async def test_it_creates_a_fiat_invoice_for_the_order(self, sandbox: Sandbox) -> None:
        recorder = Recorder()
        provider = sandbox.provider(transport=recorder)
        request = payment()

        created = await provider.create_payment(request)

        [sent] = recorder.sent("createInvoice")
        assert sent == {
            "currency_type": "fiat",
            "fiat": "RUB",
            "amount": "299.00",
            "accepted_assets": "USDT,TON,BTC",
            "description": "VPN, 1 месяц",
            "payload": str(request.order_id),
            "expires_in": 3600,
            "paid_btn_name": "openBot",
            "paid_btn_url": BOT_URL,
            "allow_comments": False,
        }
        assert recorder.requests[0].headers["crypto-pay-api-token"] == TOKEN
        invoice = (await sandbox.control.invoice(int(created.provider_payment_id)))["invoice"]
        assert invoice["status"] == "active"
        assert invoice["accepted_assets"] == ["USDT", "TON", "BTC"]
        assert invoice["allow_comments"] is False
        assert created.confirmation_url == invoice["bot_invoice_url"]
        assert created.confirmation_url is not None
        assert created.confirmation_url.startswith("https://t.me/CryptoBot?start=")
        assert created.expires_at is not None
        created_at = datetime.fromisoformat(invoice["created_at"].replace("Z", "+00:00"))
        assert created.expires_at - created_at == timedelta(seconds=3600)
        assert created.settled is None

    @pytest.mark.parametrize(
        ("amount", "sent"),
        [
            (Money(amount_minor=29950, currency="RUB"), "299.50"),
            (Money(amount_minor=500, currency="USD"), "5.00"),
            (Money(amount_minor=1, currency="EUR"), "0.01"),
        ],
    )
    async def test_the_amount_is_a_string_with_the_currency_s_decimals(
        self, sandbox: Sandbox, amount: Money, sent: str
    ) -> None:
        recorder = Recorder()
        provider = sandbox.provider(transport=recorder)
        created = await provider.create_payment(payment(amount))
        assert recorder.sent("createInvoice")[0]["amount"] == sent
        assert (await provider.fetch_payment(created.provider_payment_id)).amount == amount

    async def test_settings_choose_the_assets_and_the_lifetime(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(accepted_assets=("TON",), expires_in_s=600)
        created = await provider.create_payment(payment())
        invoice = (await sandbox.control.invoice(int(created.provider_payment_id)))["invoice"]
        assert invoice["accepted_assets"] == ["TON"]
        created_at = datetime.fromisoformat(invoice["created_at"].replace("Z", "+00:00"))
        assert created.expires_at is not None
        assert created.expires_at - created_at == timedelta(seconds=600)

    async def test_an_earlier_deadline_shortens_the_lifetime(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        deadline = datetime.now(UTC) + timedelta(seconds=120)
        created = await provider.create_payment(
            PaymentRequest(**{**_fields(payment()), "expires_at": deadline})
        )
        assert created.expires_at is not None
        assert abs(created.expires_at - deadline) < timedelta(seconds=2)

    async def test_a_retry_returns_the_invoice_the_first_try_created(
        self, sandbox: Sandbox
    ) -> None:
        provider = sandbox.provider()
        order_id = uuid4()
        await provider.create_payment(payment(order_id=uuid4()))  # another order's
        first = await provider.create_payment(payment(order_id=order_id))

        again = await provider.create_payment(payment(order_id=order_id, attempt=2))

        assert again == first
        listed = await provider.client.get_invoices()
        assert len(listed) == 2

    async def test_a_first_try_always_creates_as_crypto_pay_has_no_idempotence_key(
        self, sandbox: Sandbox
    ) -> None:
        provider = sandbox.provider()
        order_id = uuid4()
        first = await provider.create_payment(payment(order_id=order_id))
        second = await provider.create_payment(payment(order_id=order_id))
        assert first.provider_payment_id != second.provider_payment_id

    async def test_a_retry_creates_when_the_earlier_invoice_is_no_longer_payable(
        self, sandbox: Sandbox
    ) -> None:
        provider = sandbox.provider()
        order_id = uuid4()
        first = await provider.create_payment(payment(order_id=order_id))
        await sandbox.control.expire(int(first.provider_payment_id))
        other_amount = await provider.create_payment(
            payment(Money(amount_minor=100, currency="RUB"), order_id=uuid4())
        )

        again = await provider.create_payment(payment(order_id=order_id, attempt=3))

        assert again.provider_payment_id not in (
            first.provider_payment_id,
            other_amount.provider_payment_id,
        )

    async def test_a_currency_not_sold_through_crypto_pay_is_refused_before_any_call(
        self, sandbox: Sandbox
    ) -> None:
        recorder = Recorder()
        provider = sandbox.provider(transport=recorder)
        with pytest.raises(ProviderRejected) as caught:
            await provider.create_payment(payment(Money(amount_minor=100, currency="XTR")))
        assert caught.value.code == "unsupported_currency"
        assert recorder.requests == []


class TestErrors:
    async def test_a_wrong_token_is_a_definite_unauthorized(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(token="12345:NotTheTokenOfAnyApp")
        with pytest.raises(ProviderRejected) as caught:
            await provider.create_payment(payment())
        assert caught.value.code == "unauthorized"
        assert not isinstance(caught.value, ProviderUnavailable)

    async def test_a_refused_parameter_is_named_in_the_code(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(accepted_assets=("DOGE",))
        with pytest.raises(ProviderRejected) as caught:
            await provider.create_payment(payment())
        assert caught.value.code == "unsupported_asset"

    async def test_a_too_small_amount_is_refused(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        with pytest.raises(ProviderRejected) as caught:
            await provider.create_payment(payment(Money(amount_minor=1, currency="RUB")))
        assert caught.value.code == "amount_too_small"

    @pytest.mark.parametrize("status", [500, 502, 503])
    async def test_an_outage_is_no_definite_answer(self, sandbox: Sandbox, status: int) -> None:
        provider = sandbox.provider()
        await sandbox.control.outage("error", status=status)
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(payment())
        with pytest.raises(ProviderUnavailable):
            await provider.fetch_payment("1")

    async def test_a_timeout_is_no_definite_answer(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(timeout_s=0.2)
        await sandbox.control.outage("timeout", delay_s=2.0)
        with pytest.raises(ProviderUnavailable):
            await provider.create_payment(payment())

    async def test_a_closed_port_is_no_definite_answer(self) -> None:
        provider = CryptoPay(
            CryptoPaySettings(token=TOKEN, bot_url=BOT_URL, api_url="http://127.0.0.1:9/api"),
            transport=httpx.AsyncHTTPTransport(),
        )
        try:
            with pytest.raises(ProviderUnavailable):
                await provider.fetch_payment("1")
        finally:
            await provider.aclose()

    @pytest.mark.parametrize(
        ("status", "body", "headers", "error", "code"),
        [
            (
                429,
                {"ok": False, "error": {"code": 429, "name": "TOO_MANY_REQUESTS"}},
                {"Retry-After": "7"},
                ProviderUnavailable,
                None,
            ),
            (200, "<html>", {}, ProviderUnavailable, None),
            (200, {"ok": True}, {}, ProviderUnavailable, None),
            (
                200,
                {"ok": False, "error": {"code": 400, "name": "PAYLOAD_TOO_LONG"}},
                {},
                ProviderRejected,
                "payload_too_long",
            ),
            (
                400,
                {"ok": False, "error": {"code": 400, "name": "INVOICE_NOT_FOUND"}},
                {},
                PaymentNotFound,
                "not_found",
            ),
            (404, "<html>Not Found</html>", {}, ProviderRejected, "http_404"),
        ],
    )
    async def test_answers_the_emulator_does_not_give(
        self,
        status: int,
        body: object,
        headers: dict[str, str],
        error: type[Exception],
        code: str | None,
    ) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            if isinstance(body, str):
                return httpx.Response(status, text=body, headers=headers)
            return httpx.Response(status, json=body, headers=headers)

        client = CryptoPayClient(
            api_url="https://pay.crypt.bot/api", token=TOKEN, transport=httpx.MockTransport(answer)
        )
        try:
            with pytest.raises(error) as caught:
                await client.call("getInvoices", {})
        finally:
            await client.aclose()
        if code is not None:
            assert isinstance(caught.value, ProviderRejected)
            assert caught.value.code == code
        if status == 429:
            assert isinstance(caught.value, ProviderUnavailable)
            assert caught.value.retry_after_s == 7.0


class TestVerify:
    async def test_a_paid_invoice_is_verified_from_the_exact_bytes(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        request = payment()
        created = await provider.create_payment(request)

        received = await sandbox.paid_webhook(created.provider_payment_id)
        verdict = await provider.verify(notification(received))

        invoice = (await sandbox.control.invoice(int(created.provider_payment_id)))["invoice"]
        paid_at = datetime.fromisoformat(invoice["paid_at"].replace("Z", "+00:00"))
        assert verdict == Verified(
            PaymentState(
                provider_payment_id=created.provider_payment_id,
                status=PaymentStatus.SUCCEEDED,
                amount=Money(amount_minor=29900, currency="RUB"),
                order_ref=str(request.order_id),
                occurred_at=paid_at,
                charge_id=created.provider_payment_id,
            )
        )

    async def test_the_signature_helper_and_the_sent_header_agree(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        created = await provider.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)
        signature = received.headers["crypto-pay-api-signature"]
        assert signature == sign(received.body, TOKEN)
        shouted = notification(
            received, headers={"crypto-pay-api-signature": f" {signature.upper()} "}
        )
        assert isinstance(await provider.verify(shouted), Verified)

    @pytest.mark.parametrize(
        "mode",
        [
            SignatureMode.NONE,
            SignatureMode.GARBAGE,
            SignatureMode.OTHER_BYTES,
            SignatureMode.WRONG_TOKEN,
        ],
    )
    async def test_a_forged_update_is_refused(self, sandbox: Sandbox, mode: SignatureMode) -> None:
        provider = sandbox.provider()
        created = await provider.create_payment(payment())
        genuine = await sandbox.paid_webhook(created.provider_payment_id)

        await sandbox.control.send_forged_webhook(APP_ID, genuine.body, signature=mode)
        [_, forged] = await sandbox.receiver.wait_for(2)

        assert forged.body == genuine.body
        verdict = await provider.verify(notification(forged))
        assert isinstance(verdict, Refused)
        assert verdict.outcome == "rejected_signature"

    async def test_an_update_for_another_app_s_token_is_refused(self, sandbox: Sandbox) -> None:
        shop = sandbox.provider()
        other_app = sandbox.provider(token=PAYOUT_TOKEN)
        created = await shop.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)

        verdict = await other_app.verify(notification(received))

        assert isinstance(verdict, Refused)
        assert verdict.outcome == "rejected_signature"

    async def test_a_signature_over_a_changed_body_is_refused(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        created = await provider.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)
        tampered = Received(received.body.replace(b'"299"', b'"2.99"'), received.headers)
        assert tampered.body != received.body

        verdict = await provider.verify(notification(tampered))

        assert isinstance(verdict, Refused)
        assert verdict.outcome == "rejected_signature"

    @pytest.mark.parametrize(
        ("body", "outcome"),
        [
            (b"not json", "rejected_malformed"),
            (b"[1, 2]", "rejected_malformed"),
            ({"update_id": 1, "payload": {}}, "rejected_malformed"),
            ({"update_id": 1, "update_type": "invoice_paid", "payload": "x"}, "rejected_malformed"),
            ({"update_id": 1, "update_type": "check_activated", "payload": {}}, "ignored"),
        ],
    )
    async def test_a_signed_body_that_is_no_paid_invoice_is_refused(
        self, sandbox: Sandbox, body: bytes | dict[str, Any], outcome: str
    ) -> None:
        provider = sandbox.provider()
        await sandbox.control.send_forged_webhook(APP_ID, body, signature=SignatureMode.VALID)
        [received] = await sandbox.receiver.wait_for(1)

        verdict = await provider.verify(notification(received))

        assert isinstance(verdict, Refused)
        assert verdict.outcome == outcome

    async def test_a_signed_invoice_paid_of_an_active_invoice_is_refused(
        self, sandbox: Sandbox
    ) -> None:
        provider = sandbox.provider()
        created = await provider.create_payment(payment())
        invoice = (await sandbox.control.invoice(int(created.provider_payment_id)))["invoice"]
        update = {
            "update_id": 1,
            "update_type": "invoice_paid",
            "request_date": invoice["created_at"],
            "payload": invoice,
        }
        await sandbox.control.send_forged_webhook(APP_ID, update)
        [received] = await sandbox.receiver.wait_for(1)

        verdict = await provider.verify(notification(received))

        assert isinstance(verdict, Refused)
        assert verdict.outcome == "rejected_malformed"

    async def test_a_repeated_update_id_changes_nothing(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        await sandbox.control.set_update_ids(7)
        first = await provider.create_payment(payment())
        second = await provider.create_payment(payment())

        one = await sandbox.paid_webhook(first.provider_payment_id)
        two = await sandbox.paid_webhook(second.provider_payment_id)
        await sandbox.control.resend_webhook(int(first.provider_payment_id))
        [*_, again] = await sandbox.receiver.wait_for(3)

        assert json.loads(one.body)["update_id"] == json.loads(two.body)["update_id"] == 7
        assert again.body == one.body
        verdicts = [await provider.verify(notification(r)) for r in (one, two, again)]
        facts = [v.fact for v in verdicts if isinstance(v, Verified)]
        assert [fact.provider_payment_id for fact in facts] == [
            first.provider_payment_id,
            second.provider_payment_id,
            first.provider_payment_id,
        ]
        assert facts[0] == facts[2]

    async def test_a_stale_update_is_refused_when_a_max_age_is_set(self, sandbox: Sandbox) -> None:
        strict = sandbox.provider(max_webhook_age_s=60)
        lenient = sandbox.provider()
        created = await strict.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)
        sent = request_date(received)

        fresh = notification(received, received_at=sent + timedelta(seconds=30))
        late = notification(received, received_at=sent + timedelta(seconds=61))
        a_day_late = notification(received, received_at=sent + timedelta(days=1))

        assert isinstance(await strict.verify(fresh), Verified)
        stale = await strict.verify(late)
        assert isinstance(stale, Refused)
        assert stale.outcome == "rejected_stale"
        assert isinstance(await lenient.verify(a_day_late), Verified)

    async def test_with_a_max_age_an_update_needs_a_request_date(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(max_webhook_age_s=60)
        created = await provider.create_payment(payment())
        genuine = await sandbox.paid_webhook(created.provider_payment_id)
        update = json.loads(genuine.body)
        del update["request_date"]
        await sandbox.control.send_forged_webhook(APP_ID, update)
        [_, undated] = await sandbox.receiver.wait_for(2)

        verdict = await provider.verify(notification(undated))

        assert isinstance(verdict, Refused)
        assert verdict.outcome == "rejected_malformed"


class TestFetchPayment:
    async def test_an_active_invoice_is_pending(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        request = payment()
        created = await provider.create_payment(request)

        state = await provider.fetch_payment(created.provider_payment_id)

        assert state == PaymentState(
            provider_payment_id=created.provider_payment_id,
            status=PaymentStatus.PENDING,
            amount=request.amount,
            order_ref=str(request.order_id),
        )

    async def test_a_paid_invoice_succeeded(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        created = await provider.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)

        state = await provider.fetch_payment(created.provider_payment_id)

        verdict = await provider.verify(notification(received))
        assert isinstance(verdict, Verified)
        assert state == verdict.fact

    async def test_an_expired_invoice_is_canceled_by_crypto_pay(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(expires_in_s=60)
        created = await provider.create_payment(payment())
        await sandbox.control.advance_clock(61)

        state = await provider.fetch_payment(created.provider_payment_id)

        assert state.status is PaymentStatus.CANCELED
        assert (state.cancellation_party, state.cancellation_reason) == ("cryptopay", "expired")
        assert state.final
        assert state.occurred_at == created.expires_at

    async def test_an_invoice_expired_at_once_is_canceled(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider()
        created = await provider.create_payment(payment())
        await sandbox.control.expire(int(created.provider_payment_id))
        state = await provider.fetch_payment(created.provider_payment_id)
        assert state.status is PaymentStatus.CANCELED

    @pytest.mark.parametrize("invoice_id", ["999999", "abc", "", "-1", "1,2", "١"])
    async def test_an_unknown_invoice_is_not_found(self, sandbox: Sandbox, invoice_id: str) -> None:
        provider = sandbox.provider()
        with pytest.raises(PaymentNotFound):
            await provider.fetch_payment(invoice_id)

    async def test_another_app_s_invoice_is_not_found(self, sandbox: Sandbox) -> None:
        other_app = sandbox.provider(token=PAYOUT_TOKEN)
        created = await other_app.create_payment(payment())
        with pytest.raises(PaymentNotFound):
            await sandbox.provider().fetch_payment(created.provider_payment_id)


class TestRefund:
    async def test_with_transfer_refunds_off_it_says_to_refund_by_hand(
        self, sandbox: Sandbox
    ) -> None:
        recorder = Recorder()
        provider = sandbox.provider(transport=recorder)
        created = await provider.create_payment(payment())
        await sandbox.paid_webhook(created.provider_payment_id)

        with pytest.raises(ProviderRejected) as caught:
            await provider.refund(refund(created.provider_payment_id))

        assert caught.value.code == "refunds_unsupported"
        assert "by hand in @CryptoBot" in str(caught.value)
        assert recorder.sent("transfer") == []

    async def test_a_full_refund_transfers_what_was_paid(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True)
        created = await provider.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)
        paid = json.loads(received.body)["payload"]

        state = await provider.refund(refund(created.provider_payment_id))

        [transfer] = (await provider.client.call("getTransfers", {}))["items"]
        assert (transfer["asset"], transfer["amount"]) == (paid["paid_asset"], paid["paid_amount"])
        assert transfer["user_id"] == CUSTOMER_TELEGRAM_ID
        assert state.provider_refund_id == str(transfer["transfer_id"])
        assert state.provider_payment_id == created.provider_payment_id
        assert state.status is RefundStatus.SUCCEEDED
        assert state.amount == Money(amount_minor=29900, currency="RUB")
        assert state.occurred_at is not None

    async def test_a_partial_refund_sends_the_same_share_rounded_down(
        self, sandbox: Sandbox
    ) -> None:
        recorder = Recorder()
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True, transport=recorder)
        created = await provider.create_payment(payment())
        received = await sandbox.paid_webhook(created.provider_payment_id)
        paid = json.loads(received.body)["payload"]
        assert (paid["paid_asset"], paid["paid_amount"]) == ("USDT", "3.07")

        state = await provider.refund(
            refund(created.provider_payment_id, Money(amount_minor=10000, currency="RUB"))
        )

        # 3.07 * 100 / 299 = 1.0267...
        [sent] = recorder.sent("transfer")
        assert (sent["asset"], sent["amount"]) == ("USDT", "1.02")
        assert state.amount == Money(amount_minor=10000, currency="RUB")
        assert state.status is RefundStatus.SUCCEEDED

    async def test_a_refund_is_sent_in_the_asset_paid(self, sandbox: Sandbox) -> None:
        recorder = Recorder()
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True, transport=recorder)
        created = await provider.create_payment(payment())
        await sandbox.control.pay(int(created.provider_payment_id), asset="BTC")
        invoice = (await sandbox.control.invoice(int(created.provider_payment_id)))["invoice"]

        await provider.refund(refund(created.provider_payment_id))

        [sent] = recorder.sent("transfer")
        assert (sent["asset"], sent["amount"]) == ("BTC", invoice["paid_amount"])

    async def test_the_same_key_never_refunds_twice(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True)
        created = await provider.create_payment(payment())
        await sandbox.paid_webhook(created.provider_payment_id)
        request = refund(created.provider_payment_id, key=str(uuid4()))

        first = await provider.refund(request)
        balance = await provider.client.call("getBalance", {})
        again = await provider.refund(request)

        assert again == first
        assert len((await provider.client.call("getTransfers", {}))["items"]) == 1
        assert await provider.client.call("getBalance", {}) == balance

    async def test_a_spent_id_not_listed_is_still_a_refund_made(self) -> None:
        paid = {
            "invoice_id": 5,
            "status": "paid",
            "currency_type": "fiat",
            "fiat": "RUB",
            "amount": "299",
            "paid_asset": "USDT",
            "paid_amount": "3.07",
            "fee_amount": "0.09",
        }
        other = {
            "transfer_id": 1,
            "spend_id": "someone-else",
            "user_id": 1,
            "asset": "USDT",
            "amount": "1",
            "status": "completed",
            "completed_at": "2025-01-15T10:00:00.000Z",
        }
        answers = {
            "getInvoices": (200, {"ok": True, "result": {"items": [paid]}}),
            "transfer": (
                400,
                {"ok": False, "error": {"code": 400, "name": "SPEND_ID_ALREADY_USED"}},
            ),
            "getTransfers": (200, {"ok": True, "result": {"items": [other]}}),
        }

        def answer(request: httpx.Request) -> httpx.Response:
            status, body = answers[request.url.path.rsplit("/", 1)[-1]]
            return httpx.Response(status, json=body)

        provider = CryptoPay(
            CryptoPaySettings(token=TOKEN, bot_url=BOT_URL, transfer_refunds=True),
            transport=httpx.MockTransport(answer),
        )
        try:
            state = await provider.refund(refund("5", key="refund-1"))
        finally:
            await provider.aclose()

        assert state.provider_refund_id == "refund-1"
        assert state.status is RefundStatus.SUCCEEDED
        assert state.occurred_at is None

    async def test_a_key_longer_than_a_spend_id_is_hashed_to_fit(self, sandbox: Sandbox) -> None:
        recorder = Recorder()
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True, transport=recorder)
        created = await provider.create_payment(payment())
        await sandbox.paid_webhook(created.provider_payment_id)
        request = refund(created.provider_payment_id, key="refund:" + "x" * 80)

        first = await provider.refund(request)
        again = await provider.refund(request)

        spend_ids = {sent["spend_id"] for sent in recorder.sent("transfer")}
        assert len(spend_ids) == 1
        assert len(spend_ids.pop()) == 64
        assert again == first

    async def test_transfers_disabled_in_the_app_are_a_definite_no(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(transfer_refunds=True)  # the app without transfers
        created = await provider.create_payment(payment())
        await sandbox.paid_webhook(created.provider_payment_id)
        with pytest.raises(ProviderRejected) as caught:
            await provider.refund(refund(created.provider_payment_id))
        assert caught.value.code == "method_disabled"

    @pytest.mark.parametrize(
        ("request_change", "code"),
        [
            ({"telegram_user_id": None}, "no_recipient"),
            ({"amount": Money(amount_minor=29901, currency="RUB")}, "amount_invalid"),
            ({"amount": Money(amount_minor=0, currency="RUB")}, "amount_invalid"),
            ({"amount": Money(amount_minor=299, currency="USD")}, "currency_mismatch"),
            ({"amount": Money(amount_minor=1, currency="RUB")}, "amount_too_small"),
        ],
    )
    async def test_a_refund_that_cannot_be_made_is_refused(
        self, sandbox: Sandbox, request_change: dict[str, Any], code: str
    ) -> None:
        recorder = Recorder()
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True, transport=recorder)
        created = await provider.create_payment(payment())
        await sandbox.paid_webhook(created.provider_payment_id)
        request = RefundRequest(
            **{**_fields(refund(created.provider_payment_id)), **request_change}
        )

        with pytest.raises(ProviderRejected) as caught:
            await provider.refund(request)

        assert caught.value.code == code
        assert recorder.sent("transfer") == []

    async def test_an_unpaid_invoice_is_not_refunded(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True)
        created = await provider.create_payment(payment())
        with pytest.raises(ProviderRejected) as caught:
            await provider.refund(refund(created.provider_payment_id))
        assert caught.value.code == "not_paid"
        with pytest.raises(PaymentNotFound):
            await provider.refund(refund("999999"))

    async def test_the_crypto_pay_limits_on_transfers_are_passed_on(self, sandbox: Sandbox) -> None:
        provider = sandbox.provider(token=PAYOUT_TOKEN, transfer_refunds=True)
        created = await provider.create_payment(payment())
        await sandbox.paid_webhook(created.provider_payment_id)
        # 0.30 USDT is under the ~1 USD a transfer must carry.
        with pytest.raises(ProviderRejected) as caught:
            await provider.refund(
                refund(created.provider_payment_id, Money(amount_minor=3000, currency="RUB"))
            )
        assert caught.value.code == "amount_too_small"


def _fields(instance: Any) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in instance.__dataclass_fields__}
