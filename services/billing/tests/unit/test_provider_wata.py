"""The WATA provider against the WATA sandbox, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
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
    CreatedPayment,
    Notification,
    PaymentNotFound,
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
from billing.providers.wata import Wata, WataSettings, is_webhook_source
from contracts.money import Money
from sandbox.outage import OutageSwitch
from sandbox.server import serving
from sandbox.wata import (
    DeliveryPolicy,
    SigningKey,
    Terminal,
    WataConfig,
    WataEmulator,
    WataSandboxControl,
    create_app,
)

TOKEN = "wata-billing-test-token"
TERMINAL_ID = "3a16a4dd-8c83-4f11-9e2a-5b7c1d2e3f40"
WATA_ADDRESS = "62.84.126.140"
PRICE = Money(amount_minor=29900, currency="RUB")


def rub(value: str) -> Money:
    return Money.from_decimal(value, "RUB")


# -- the sandbox, a webhook receiver and a provider that records its requests ----------------


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    peer: str

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)

    def names(self, transaction_id: str, status: str) -> bool:
        body = self.json()
        return isinstance(body, dict) and (
            body.get("transactionId") == transaction_id and body.get("transactionStatus") == status
        )

    def notification(self, remote_address: str | None = None) -> Notification:
        """As the gateway hands it over: the exact bytes, lowercase headers, the sender.

        On loopback the sender is the ``X-Forwarded-For`` a trusted proxy would set.
        """
        return Notification(
            provider="wata",
            body=self.body,
            headers=self.headers,
            remote_address=remote_address or self.headers.get("x-forwarded-for", self.peer),
            received_at=datetime.now(UTC),
        )


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        peer = request.client.host if request.client else ""
        self.received.append(Received(await request.body(), dict(request.headers), peer))
        return Response(status_code=200)

    async def webhook(self, transaction_id: str, status: str, timeout: float = 5.0) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            for received in self.received:
                if received.names(transaction_id, status):
                    return received
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {status} webhook of {transaction_id}")
            await asyncio.sleep(0.01)

    async def next(self, count_before: int, timeout: float = 5.0) -> Received:
        deadline = time.monotonic() + timeout
        while len(self.received) <= count_before:
            if time.monotonic() > deadline:
                raise TimeoutError("no webhook arrived")
            await asyncio.sleep(0.01)
        return self.received[count_before]


@dataclass
class Servers:
    url: str
    emulator: WataEmulator
    outage: OutageSwitch
    control: WataSandboxControl
    receiver: Receiver


# Starting uvicorn twice costs more than every test here: servers live for the session,
# and each test starts from a reset emulator.
@pytest.fixture(scope="session")
async def servers() -> AsyncIterator[Servers]:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/wata", receiver.endpoint, methods=["POST"])])
    emulator = WataEmulator(
        WataConfig(delivery=DeliveryPolicy(first_retry_delay=0.1, max_retry_delay=0.4)),
        signing_key=SigningKey(),
    )
    app = create_app(emulator)
    async with (
        serving(receiver_app, name="wata-receiver") as receiver_server,
        serving(app, name="wata") as server,
        WataSandboxControl(server.url) as control,
    ):
        receiver.url = f"{receiver_server.url}/wata"
        yield Servers(server.url, emulator, app.state.outage, control, receiver)


@pytest.fixture
async def sandbox(servers: Servers) -> Servers:
    await servers.control.reset()
    servers.emulator.put_terminal(
        Terminal("MyVpn", [TOKEN], public_id=TERMINAL_ID, webhook_url=servers.receiver.url)
    )
    servers.receiver.received.clear()
    return servers


class Recorder(httpx.AsyncBaseTransport):
    """Real HTTP, with every request kept to look at."""

    def __init__(self) -> None:
        # A kept-alive connection waits ~40 ms per request on loopback (delayed ACK).
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def to(self, method: str, path_end: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.endswith(path_end)]


@dataclass
class Subject:
    wata: Wata
    http: Recorder


MakeSubject = Callable[..., Subject]


@pytest.fixture
async def make(sandbox: Servers) -> AsyncIterator[MakeSubject]:
    made: list[Wata] = []

    def make(**overrides: Any) -> Subject:
        settings: dict[str, Any] = {
            "api_url": f"{sandbox.url}/api/h2h",
            "access_token": TOKEN,
            "check_source_address": False,
            "success_redirect_url": "https://t.me/MyVpnBot?start=paid",
            "fail_redirect_url": "https://t.me/MyVpnBot?start=failed",
            **overrides,
        }
        recorder = Recorder()
        wata = Wata(WataSettings(**settings), transport=recorder)
        made.append(wata)
        return Subject(wata, recorder)

    yield make
    for wata in made:
        await wata.aclose()


@pytest.fixture
def subject(make: MakeSubject) -> Subject:
    return make()


def payment_request(**overrides: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "order_id": uuid4(),
        "idempotence_key": str(uuid4()),
        "amount": PRICE,
        "description": "VPN, 1 месяц",
        "title": "1 месяц",
        "customer_id": uuid4(),
        "return_url": "",
        **overrides,
    }
    return PaymentRequest(**fields)


@dataclass
class Paid:
    created: CreatedPayment
    order_id: UUID
    state: PaymentState
    received: Received


async def paid_payment(subject: Subject, sandbox: Servers, amount: Money = PRICE) -> Paid:
    request = payment_request(amount=amount)
    created = await subject.wata.create_payment(request)
    transaction = await sandbox.control.pay(created.provider_payment_id)
    received = await sandbox.receiver.webhook(transaction["id"], "Paid")
    verdict = await subject.wata.verify(received.notification())
    assert isinstance(verdict, Verified)
    assert isinstance(verdict.fact, PaymentState)
    return Paid(created, request.order_id, verdict.fact, received)


def refund_request(paid: Paid, amount: Money, **overrides: Any) -> RefundRequest:
    fields: dict[str, Any] = {
        "idempotence_key": str(uuid4()),
        "provider_payment_id": paid.created.provider_payment_id,
        "amount": amount,
        "description": "refund",
        "charge_id": paid.state.charge_id,
        **overrides,
    }
    return RefundRequest(**fields)


# -- capabilities and settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [
        (Money(amount_minor=1000, currency="RUB"), True),
        (Money(amount_minor=999, currency="RUB"), False),
        (Money(amount_minor=100, currency="USD"), True),
        (Money(amount_minor=99, currency="EUR"), False),
        (Money(amount_minor=99999999, currency="RUB"), True),
        (Money(amount_minor=100000000, currency="RUB"), False),
        (Money(amount_minor=1000, currency="XTR"), False),
    ],
)
def test_capabilities_are_wata_limits(amount: Money, accepted: bool) -> None:
    assert Wata.capabilities.accepts(amount) is accepted
    assert Wata.capabilities.partial_refunds
    assert not Wata.capabilities.recurring
    assert not Wata.capabilities.receipts


def test_the_token_stays_out_of_the_settings_repr() -> None:
    settings = WataSettings(access_token="secret-token", check_source_address=True)
    assert "secret-token" not in repr(settings)


# -- creating a link -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        (Money(amount_minor=29900, currency="RUB"), b'"amount":299.00,'),
        (Money(amount_minor=1010, currency="RUB"), b'"amount":10.10,'),
        (Money(amount_minor=100, currency="USD"), b'"amount":1.00,'),
        (Money(amount_minor=99999999, currency="EUR"), b'"amount":999999.99,'),
    ],
)
async def test_a_link_is_created_with_the_amount_as_an_exact_number(
    subject: Subject, sandbox: Servers, amount: Money, wire: bytes
) -> None:
    request = payment_request(amount=amount)
    before = datetime.now(UTC)
    created = await subject.wata.create_payment(request)

    [post] = subject.http.to("POST", "/links")
    assert wire in post.content
    body = json.loads(post.content, parse_float=Decimal)
    assert body["amount"] == amount.to_decimal()
    assert body["currency"] == amount.currency
    assert body["orderId"] == str(request.order_id)
    assert body["description"] == "VPN, 1 месяц"
    assert body["successRedirectUrl"] == "https://t.me/MyVpnBot?start=paid"
    assert body["failRedirectUrl"] == "https://t.me/MyVpnBot?start=failed"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["content-type"] == "application/json"
    expiry = datetime.fromisoformat(body["expirationDateTime"])
    assert body["expirationDateTime"].endswith("Z")
    assert before + timedelta(hours=1) - timedelta(seconds=1) <= expiry
    assert expiry <= datetime.now(UTC) + timedelta(hours=1)

    link = (await sandbox.control.link(created.provider_payment_id))["link"]
    assert created == CreatedPayment(
        provider_payment_id=link["id"], confirmation_url=link["url"], expires_at=expiry
    )
    assert link["amount"] == amount.to_decimal()
    assert link["status"] == "Opened"


async def test_the_request_return_url_and_expiry_win_over_the_defaults(
    subject: Subject, sandbox: Servers
) -> None:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    request = payment_request(return_url="https://t.me/Other?start=back", expires_at=expires_at)
    created = await subject.wata.create_payment(request)

    body = json.loads(subject.http.to("POST", "/links")[0].content)
    assert body["successRedirectUrl"] == body["failRedirectUrl"] == "https://t.me/Other?start=back"
    assert datetime.fromisoformat(body["expirationDateTime"]) == expires_at
    assert created.expires_at == expires_at


async def test_a_retried_creation_returns_the_link_the_first_try_made(subject: Subject) -> None:
    first = payment_request()
    created = await subject.wata.create_payment(first)
    again = await subject.wata.create_payment(
        payment_request(order_id=first.order_id, idempotence_key=first.idempotence_key, attempt=2)
    )

    assert again == created
    assert len(subject.http.to("POST", "/links")) == 1
    [search] = subject.http.to("GET", "/links")
    assert search.url.params["OrderId"] == str(first.order_id)


async def test_a_retry_that_finds_no_link_creates_one(subject: Subject, sandbox: Servers) -> None:
    created = await subject.wata.create_payment(payment_request(attempt=2))
    assert (await sandbox.control.link(created.provider_payment_id))["link"]["status"] == "Opened"
    assert len(subject.http.to("GET", "/links")) == len(subject.http.to("POST", "/links")) == 1


async def test_a_retry_skips_a_link_that_is_no_longer_open(
    subject: Subject, sandbox: Servers
) -> None:
    paid = await paid_payment(subject, sandbox)
    created = await subject.wata.create_payment(payment_request(order_id=paid.order_id, attempt=2))
    assert created.provider_payment_id != paid.created.provider_payment_id


async def test_a_third_try_inside_the_rate_limit_window_is_told_to_wait(
    subject: Subject, sandbox: Servers
) -> None:
    first = payment_request()
    await subject.wata.create_payment(first)
    await subject.wata.create_payment(payment_request(order_id=first.order_id, attempt=2))
    with pytest.raises(ProviderUnavailable) as raised:
        await subject.wata.create_payment(payment_request(order_id=first.order_id, attempt=3))
    assert raised.value.retry_after_s == 30

    await sandbox.control.advance_clock(31)
    await subject.wata.create_payment(payment_request(order_id=first.order_id, attempt=3))
    assert len(subject.http.to("POST", "/links")) == 1


async def test_a_saved_method_cannot_be_charged(subject: Subject) -> None:
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.create_payment(payment_request(saved_method_id="card-1"))
    assert raised.value.code == "not_supported"
    assert subject.http.requests == []


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Money(amount_minor=500, currency="RUB"), "Payment:PL_1001"),
        (Money(amount_minor=100000000, currency="RUB"), "Payment:PL_1001"),
        (Money(amount_minor=29900, currency="GBP"), "Payment:PL_1002"),
    ],
)
async def test_wata_business_errors_keep_their_code(
    subject: Subject, amount: Money, code: str
) -> None:
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.create_payment(payment_request(amount=amount))
    assert raised.value.code == code


async def test_a_validation_error_is_a_rejection_with_wata_message(subject: Subject) -> None:
    too_soon = datetime.now(UTC) + timedelta(minutes=1)
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.create_payment(payment_request(expires_at=too_soon))
    assert raised.value.code == "invalid_request"
    assert "Expiration Date Time" in str(raised.value)


async def test_a_refused_token_is_a_configuration_problem(make: MakeSubject) -> None:
    subject = make(access_token="not-a-token")
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.create_payment(payment_request())
    assert raised.value.code == "unauthorized"
    assert "configuration" in str(raised.value)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_is_unavailable(subject: Subject, sandbox: Servers, status: int) -> None:
    await sandbox.control.outage("error", status=status)
    with pytest.raises(ProviderUnavailable):
        await subject.wata.create_payment(payment_request())


async def test_a_timeout_is_unavailable(make: MakeSubject, sandbox: Servers) -> None:
    subject = make(timeout_s=0.3)
    await sandbox.control.outage("timeout")
    with pytest.raises(ProviderUnavailable):
        await subject.wata.create_payment(payment_request())


async def test_a_network_error_is_unavailable(make: MakeSubject) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subject = make(api_url=f"http://127.0.0.1:{port}/api/h2h")
    with pytest.raises(ProviderUnavailable):
        await subject.wata.create_payment(payment_request())


async def test_a_second_fetch_inside_30_s_is_rate_limited(
    subject: Subject, sandbox: Servers
) -> None:
    created = await subject.wata.create_payment(payment_request())
    await subject.wata.fetch_payment(created.provider_payment_id)
    with pytest.raises(ProviderUnavailable) as raised:
        await subject.wata.fetch_payment(created.provider_payment_id)
    assert raised.value.retry_after_s == 30

    await sandbox.control.advance_clock(31)
    await subject.wata.fetch_payment(created.provider_payment_id)


@pytest.mark.parametrize("link_id", ["3a16a4f0-27b0-09d1-16da-ba8d5c63eae3", "../public-key"])
async def test_an_unknown_link_is_not_found(subject: Subject, link_id: str) -> None:
    with pytest.raises(PaymentNotFound):
        await subject.wata.fetch_payment(link_id)
    if "/" in link_id:
        assert subject.http.requests == []


# -- webhooks --------------------------------------------------------------------------------


async def test_a_paid_webhook_is_verified_into_succeeded(
    subject: Subject, sandbox: Servers
) -> None:
    request = payment_request()
    created = await subject.wata.create_payment(request)
    transaction = await sandbox.control.pay(created.provider_payment_id)
    received = await sandbox.receiver.webhook(transaction["id"], "Paid")
    assert b'"amount":299.00' in received.body

    verdict = await subject.wata.verify(received.notification())

    assert verdict == Verified(
        PaymentState(
            provider_payment_id=created.provider_payment_id,
            status=PaymentStatus.SUCCEEDED,
            amount=PRICE,
            order_ref=str(request.order_id),
            occurred_at=datetime.fromisoformat(transaction["paymentTime"]),
            charge_id=transaction["id"],
        )
    )


async def test_a_declined_webhook_leaves_the_payment_open(
    subject: Subject, sandbox: Servers
) -> None:
    created = await subject.wata.create_payment(payment_request())
    declined = await sandbox.control.decline(created.provider_payment_id, "Payment:TRA_2002")
    received = await sandbox.receiver.webhook(declined["id"], "Declined")

    verdict = await subject.wata.verify(received.notification())

    assert isinstance(verdict, Verified)
    state = verdict.fact
    assert isinstance(state, PaymentState)
    assert state.status is PaymentStatus.CANCELED
    assert state.final is False
    assert state.cancellation_party == "payment_network"
    assert state.cancellation_reason == "Payment:TRA_2002"
    assert state.provider_payment_id == created.provider_payment_id

    # The customer tries again on the same link, and this time it is paid.
    paid = await sandbox.control.pay(created.provider_payment_id)
    again = await subject.wata.verify(
        (await sandbox.receiver.webhook(paid["id"], "Paid")).notification()
    )
    assert isinstance(again, Verified)
    assert isinstance(again.fact, PaymentState)
    assert again.fact.status is PaymentStatus.SUCCEEDED
    assert again.fact.charge_id == paid["id"] != declined["id"]


@pytest.mark.parametrize("mode", ["missing", "garbage", "other-body", "foreign-key"])
async def test_a_forged_webhook_is_refused(subject: Subject, sandbox: Servers, mode: Any) -> None:
    genuine = await paid_payment(subject, sandbox)
    count = len(sandbox.receiver.received)
    await sandbox.control.send_forged_webhook(genuine.received.body, signature=mode)
    forged = await sandbox.receiver.next(count)
    assert forged.body == genuine.received.body

    verdict = await subject.wata.verify(forged.notification())

    assert isinstance(verdict, Refused)
    assert verdict.outcome == "rejected_signature"


@pytest.mark.parametrize("header", ["", "   ", "not base64!", "c2lnbmF0dXJl"])
async def test_a_signature_header_that_is_no_signature_is_refused(
    subject: Subject, sandbox: Servers, header: str
) -> None:
    genuine = await paid_payment(subject, sandbox)
    headers = {**genuine.received.headers, "x-signature": header}
    notification = Notification(
        "wata", genuine.received.body, headers, WATA_ADDRESS, datetime.now(UTC)
    )
    verdict = await subject.wata.verify(notification)
    assert isinstance(verdict, Refused)
    assert verdict.outcome == "rejected_signature"


async def test_the_same_json_in_other_bytes_is_refused(subject: Subject, sandbox: Servers) -> None:
    genuine = await paid_payment(subject, sandbox)
    reserialized = json.dumps(json.loads(genuine.received.body), indent=1).encode()
    notification = Notification(
        "wata", reserialized, genuine.received.headers, WATA_ADDRESS, datetime.now(UTC)
    )
    verdict = await subject.wata.verify(notification)
    assert isinstance(verdict, Refused)
    assert verdict.outcome == "rejected_signature"


def signed(sandbox: Servers, body: bytes) -> Notification:
    """A body signed with the sandbox's own key, as if WATA had sent it."""
    headers = {"x-signature": sandbox.emulator.sign(body), "content-type": "application/json"}
    return Notification("wata", body, headers, WATA_ADDRESS, datetime.now(UTC))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1,2,3]",
        b'{"kind":"Payment","transactionId":"3a16a4f0-27b0-09d1-16da-ba8d5c63eae3"}',
        b'{"kind":"Payment","transactionId":"t","transactionStatus":"Paid","amount":"299.00",'
        b'"currency":"RUB","paymentLinkId":"l"}',
        b'{"kind":"Payment","transactionId":"t","transactionStatus":"Paid","amount":1.001,'
        b'"currency":"RUB","paymentLinkId":"l"}',
        b'{"kind":"Refund","transactionId":"t","transactionStatus":"Paid","amount":1.00,'
        b'"currency":"RUB"}',
        b'{"transactionId":"t","transactionStatus":"Paid"}',
    ],
)
async def test_a_signed_body_that_is_no_wata_webhook_is_malformed(
    subject: Subject, sandbox: Servers, body: bytes
) -> None:
    verdict = await subject.wata.verify(signed(sandbox, body))
    assert isinstance(verdict, Refused)
    assert verdict.outcome == "rejected_malformed"


async def test_a_signed_webhook_of_another_kind_is_ignored(
    subject: Subject, sandbox: Servers
) -> None:
    verdict = await subject.wata.verify(signed(sandbox, b'{"kind":"Payout","transactionId":"t"}'))
    assert isinstance(verdict, Refused)
    assert verdict.outcome == "ignored"


async def test_a_webhook_before_payment_is_pending(subject: Subject, sandbox: Servers) -> None:
    body = (
        b'{"transactionType":"CardCrypto","kind":"Payment","transactionId":"t-1",'
        b'"transactionStatus":"Pending","amount":299.00,"currency":"RUB","orderId":"o-1",'
        b'"paymentTime":null,"paymentLinkId":"l-1"}'
    )
    verdict = await subject.wata.verify(signed(sandbox, body))
    assert verdict == Verified(
        PaymentState("l-1", PaymentStatus.PENDING, PRICE, "o-1", charge_id="t-1")
    )


async def test_the_key_is_fetched_once_and_without_the_token(
    subject: Subject, sandbox: Servers
) -> None:
    await paid_payment(subject, sandbox)
    await paid_payment(subject, sandbox)
    [fetch] = subject.http.to("GET", "/public-key")
    assert "authorization" not in fetch.headers


async def test_a_rotated_key_is_fetched_again_once(subject: Subject, sandbox: Servers) -> None:
    await paid_payment(subject, sandbox)
    await sandbox.control.rotate_key()

    await paid_payment(subject, sandbox)
    assert len(subject.http.to("GET", "/public-key")) == 2
    await paid_payment(subject, sandbox)
    assert len(subject.http.to("GET", "/public-key")) == 2


async def test_a_forgery_costs_one_refetch_and_is_still_refused(
    subject: Subject, sandbox: Servers
) -> None:
    genuine = await paid_payment(subject, sandbox)
    count = len(sandbox.receiver.received)
    await sandbox.control.send_forged_webhook(genuine.received.body, signature="foreign-key")
    verdict = await subject.wata.verify((await sandbox.receiver.next(count)).notification())
    assert isinstance(verdict, Refused)
    assert len(subject.http.to("GET", "/public-key")) == 2


async def test_the_key_is_fetched_again_after_its_ttl(make: MakeSubject, sandbox: Servers) -> None:
    subject = make(public_key_ttl=timedelta(0))
    await paid_payment(subject, sandbox)
    await paid_payment(subject, sandbox)
    assert len(subject.http.to("GET", "/public-key")) == 2


async def test_no_key_means_no_verdict_yet(subject: Subject, sandbox: Servers) -> None:
    created = await subject.wata.create_payment(payment_request())
    transaction = await sandbox.control.pay(created.provider_payment_id)
    received = await sandbox.receiver.webhook(transaction["id"], "Paid")
    await sandbox.control.outage("error", status=502)
    with pytest.raises(ProviderUnavailable):
        await subject.wata.verify(received.notification())


async def test_only_wata_addresses_are_heard_when_checked(
    make: MakeSubject, sandbox: Servers
) -> None:
    subject = make(check_source_address=True)
    created = await subject.wata.create_payment(payment_request())
    transaction = await sandbox.control.pay(created.provider_payment_id)
    received = await sandbox.receiver.webhook(transaction["id"], "Paid")

    verdict = await subject.wata.verify(received.notification("127.0.0.1"))
    assert isinstance(verdict, Refused)
    assert verdict.outcome == "rejected_source"
    assert subject.http.to("GET", "/public-key") == []  # refused before the signature

    assert isinstance(await subject.wata.verify(received.notification()), Verified)


@pytest.mark.parametrize(
    ("address", "heard"),
    [
        ("62.84.126.140", True),
        ("51.250.106.150", True),
        ("::ffff:62.84.126.140", True),
        ("62.84.126.141", False),
        ("127.0.0.1", False),
        ("unknown", False),
    ],
)
def test_wata_source_addresses(address: str, heard: bool) -> None:
    assert is_webhook_source(address) is heard


# -- fetching --------------------------------------------------------------------------------


async def test_a_paid_link_fetches_as_succeeded(subject: Subject, sandbox: Servers) -> None:
    request = payment_request()
    created = await subject.wata.create_payment(request)
    transaction = await sandbox.control.pay(created.provider_payment_id)

    state = await subject.wata.fetch_payment(created.provider_payment_id)

    assert state == PaymentState(
        provider_payment_id=created.provider_payment_id,
        status=PaymentStatus.SUCCEEDED,
        amount=PRICE,
        order_ref=str(request.order_id),
        occurred_at=datetime.fromisoformat(transaction["paymentTime"]),
        charge_id=transaction["id"],
    )


async def test_an_expired_link_fetches_as_canceled(subject: Subject, sandbox: Servers) -> None:
    request = payment_request()
    created = await subject.wata.create_payment(request)
    await sandbox.control.decline(created.provider_payment_id)
    await sandbox.control.advance_clock(timedelta(hours=1, minutes=1).total_seconds())

    state = await subject.wata.fetch_payment(created.provider_payment_id)

    assert state.status is PaymentStatus.CANCELED
    assert state.final is True
    assert (state.cancellation_party, state.cancellation_reason) == ("wata", "expired")
    assert state.order_ref == str(request.order_id)
    assert state.occurred_at == created.expires_at


@pytest.mark.parametrize("declined_first", [False, True])
async def test_an_open_link_fetches_as_pending(
    subject: Subject, sandbox: Servers, declined_first: bool
) -> None:
    created = await subject.wata.create_payment(payment_request())
    if declined_first:
        await sandbox.control.decline(created.provider_payment_id)
    state = await subject.wata.fetch_payment(created.provider_payment_id)
    assert state.status is PaymentStatus.PENDING
    assert state.amount == PRICE


# -- refunds ---------------------------------------------------------------------------------


async def test_a_full_refund_and_its_webhook(subject: Subject, sandbox: Servers) -> None:
    paid = await paid_payment(subject, sandbox)

    pending = await subject.wata.refund(refund_request(paid, PRICE))

    [post] = subject.http.to("POST", "/transactions/refunds")
    assert json.loads(post.content, parse_float=Decimal) == {
        "originalTransactionId": paid.state.charge_id,
        "amount": Decimal("299.00"),
    }
    assert b'"amount":299.00' in post.content
    assert pending.status is RefundStatus.PENDING
    assert pending.amount == PRICE
    assert pending.provider_payment_id == paid.created.provider_payment_id

    received = await sandbox.receiver.webhook(pending.provider_refund_id, "Paid")
    assert received.json()["kind"] == "Refund"
    verdict = await subject.wata.verify(received.notification())
    assert isinstance(verdict, Verified)
    assert verdict.fact == RefundState(
        provider_refund_id=pending.provider_refund_id,
        provider_payment_id=paid.created.provider_payment_id,
        status=RefundStatus.SUCCEEDED,
        amount=PRICE,
        occurred_at=datetime.fromisoformat(received.json()["paymentTime"]),
    )
    assert (await sandbox.control.transaction(str(paid.state.charge_id)))["refundable"] == 0


async def test_partial_refunds_add_up_to_the_payment(subject: Subject, sandbox: Servers) -> None:
    paid = await paid_payment(subject, sandbox)

    first = await subject.wata.refund(refund_request(paid, rub("100.00")))
    await sandbox.control.advance_clock(31)
    second = await subject.wata.refund(refund_request(paid, rub("49.50")))

    assert first.provider_refund_id != second.provider_refund_id
    state = await sandbox.control.transaction(str(paid.state.charge_id))
    assert state["refundable"] == Decimal("149.50")
    assert sorted(refund["amount"] for refund in state["refunds"]) == [
        Decimal("49.50"),
        Decimal("100.00"),
    ]


async def test_a_refund_over_what_is_left_is_refused(subject: Subject, sandbox: Servers) -> None:
    paid = await paid_payment(subject, sandbox)
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.refund(refund_request(paid, rub("299.01")))
    assert raised.value.code == "Payment:TRA_1005"

    await sandbox.control.advance_clock(31)
    await subject.wata.refund(refund_request(paid, rub("200.00")))
    await sandbox.control.advance_clock(31)
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.refund(refund_request(paid, rub("100.00")))
    assert raised.value.code == "Payment:TRA_1005"


async def test_a_retried_refund_finds_the_first_instead_of_refunding_twice(
    subject: Subject, sandbox: Servers
) -> None:
    paid = await paid_payment(subject, sandbox)
    request = refund_request(paid, rub("100.00"))

    first = await subject.wata.refund(request)
    await sandbox.control.advance_clock(31)
    again = await subject.wata.refund(request)

    assert again.provider_refund_id == first.provider_refund_id
    assert again.status is RefundStatus.SUCCEEDED  # settled meanwhile
    assert len(subject.http.to("POST", "/transactions/refunds")) == 1
    state = await sandbox.control.transaction(str(paid.state.charge_id))
    assert len(state["refunds"]) == 1


async def test_a_declined_refund_is_canceled_and_may_be_tried_again(
    subject: Subject, sandbox: Servers
) -> None:
    paid = await paid_payment(subject, sandbox)
    await sandbox.control.plan_refunds("Declined")
    request = refund_request(paid, rub("100.00"))

    declined = await subject.wata.refund(request)
    received = await sandbox.receiver.webhook(declined.provider_refund_id, "Declined")
    verdict = await subject.wata.verify(received.notification())
    assert isinstance(verdict, Verified)
    assert isinstance(verdict.fact, RefundState)
    assert verdict.fact.status is RefundStatus.CANCELED

    await sandbox.control.advance_clock(31)
    again = await subject.wata.refund(request)
    assert again.provider_refund_id != declined.provider_refund_id
    assert len(subject.http.to("POST", "/transactions/refunds")) == 2


async def test_a_refund_needs_the_charge_id(subject: Subject, sandbox: Servers) -> None:
    paid = await paid_payment(subject, sandbox)
    before = len(subject.http.requests)
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.refund(refund_request(paid, PRICE, charge_id=None))
    assert raised.value.code == "no_charge_id"
    assert len(subject.http.requests) == before


async def test_a_refund_in_another_currency_is_refused(subject: Subject, sandbox: Servers) -> None:
    paid = await paid_payment(subject, sandbox)
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.refund(refund_request(paid, Money(amount_minor=100, currency="USD")))
    assert raised.value.code == "currency_mismatch"
    assert subject.http.to("POST", "/transactions/refunds") == []


async def test_a_charge_of_another_payment_is_refused(subject: Subject, sandbox: Servers) -> None:
    paid = await paid_payment(subject, sandbox)
    other = await subject.wata.create_payment(payment_request())
    with pytest.raises(ProviderRejected) as raised:
        await subject.wata.refund(
            refund_request(paid, PRICE, provider_payment_id=other.provider_payment_id)
        )
    assert raised.value.code == "charge_mismatch"
