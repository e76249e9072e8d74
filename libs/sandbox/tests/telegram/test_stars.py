"""Telegram Stars through the emulator: invoices, checkouts, refunds, subscriptions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import CommandStart
from aiogram.types import LabeledPrice, Message, PreCheckoutQuery
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.server import SandboxServer, serving
from sandbox.telegram import SandboxControlError, SandboxUser, TelegramSandboxControl

from .conftest import BOT, BotApi

PRICE = [{"label": "30 days", "amount": 250}]
INVOICE = {
    "title": "VPN 1 month",
    "description": "One month of VPN",
    "payload": "order:1042",
    "currency": "XTR",
    "prices": PRICE,
}
PAY_KEYBOARD = {"inline_keyboard": [[{"text": "Pay 250", "pay": True}]]}
CHARGE_ID_REQUIRED = 'parameter "telegram_payment_charge_id" is required'
QUERY_TOO_OLD = (
    400,
    "Bad Request: query is too old and response timeout expired or query ID is invalid",
)


class Updates:
    """Reads the bot's updates with getUpdates, confirming each one it hands out."""

    def __init__(self, api: BotApi) -> None:
        self.api = api
        self.offset = 0

    async def next(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for update in await self.api.ok("getUpdates", offset=self.offset, timeout=5):
                self.offset = update["update_id"] + 1
                if kind in update:
                    found: dict[str, Any] = update
                    return found
        raise AssertionError(f"no {kind} update within {timeout} s")


@pytest.fixture
def updates(api: BotApi) -> Updates:
    return Updates(api)


async def send_invoice(api: BotApi, user: SandboxUser, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = await api.ok("sendInvoice", chat_id=user.id, **{**INVOICE, **extra})
    return message


async def pay_and_answer(
    control: TelegramSandboxControl,
    api: BotApi,
    updates: Updates,
    user: SandboxUser,
    *,
    message_id: int | None = None,
    invoice_link: str | None = None,
    **answer: Any,
) -> tuple[dict[str, Any], Any]:
    """The user pays while the bot answers the pre-checkout query with ``answer``."""
    paying = asyncio.create_task(
        control.pay_invoice(user.id, message_id, invoice_link=invoice_link)
    )
    query = (await updates.next("pre_checkout_query"))["pre_checkout_query"]
    await api.ok("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], **answer)
    return query, await paying


class TestSendInvoice:
    async def test_the_message_carries_the_invoice_in_server_key_order(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        message = await send_invoice(api, user, start_parameter="m1", photo_url="https://x.io/a")
        assert list(message) == ["message_id", "from", "chat", "date", "invoice"]
        assert message["invoice"] == {
            "title": "VPN 1 month",
            "description": "One month of VPN",
            "start_parameter": "m1",
            "currency": "XTR",
            "total_amount": 250,
        }
        sent = await control.wait_for_bot_message(user.id, lambda m: m.invoice is not None)
        assert (sent.message_id, sent.invoice) == (message["message_id"], message["invoice"])
        with_keyboard = await send_invoice(api, user, reply_markup=PAY_KEYBOARD)
        assert with_keyboard["reply_markup"] == PAY_KEYBOARD
        assert with_keyboard["invoice"]["start_parameter"] == ""

    @pytest.mark.parametrize(
        ("params", "description"),
        [
            ({"title": None}, 'parameter "title" is required'),
            ({"description": ""}, 'parameter "description" is required'),
            ({"payload": None}, 'parameter "payload" is required'),
            ({"currency": None}, 'parameter "currency" is required'),
            ({"prices": None}, 'parameter "prices" is required'),
            ({"prices": "[{"}, "can't parse prices JSON object"),
            ({"prices": {"label": "x", "amount": 1}}, "expected an Array of labeled prices"),
            ({"prices": []}, "there must be at least one price"),
            ({"prices": [1]}, "can't parse labeled price: LabeledPrice must be an Object"),
            (
                {"prices": [{"label": "", "amount": 1}]},
                "can't parse labeled price: LabeledPrice label must be non-empty",
            ),
            (
                {"prices": [{"label": "x"}]},
                "can't parse labeled price: Can't find field \"amount\"",
            ),
            (
                {"prices": [{"label": "x", "amount": 2.5}]},
                'can\'t parse labeled price: Field "amount" must be a valid Number',
            ),
            (
                {"prices": [{"label": "x", "amount": True}]},
                'can\'t parse labeled price: Field "amount" must be a Number',
            ),
            ({"prices": [{"label": "x", "amount": 0}]}, "total price must be positive"),
            ({"max_tip_amount": "many"}, 'can\'t parse "max_tip_amount" as Number'),
            ({"currency": "USD"}, "PAYMENT_PROVIDER_INVALID"),
            ({"provider_token": "284685063:TEST:x"}, "STARS_INVOICE_INVALID"),
            ({"prices": [*PRICE, {"label": "tax", "amount": 5}]}, "STARS_INVOICE_INVALID"),
            ({"max_tip_amount": 10, "suggested_tip_amounts": [5]}, "STARS_INVOICE_INVALID"),
            ({"prices": [{"label": "x", "amount": 150000}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
            ({"payload": "p" * 129}, "INVOICE_PAYLOAD_INVALID"),
            ({"title": "t" * 33}, "MEDIA_INVALID"),
            ({"description": "d" * 256}, "MEDIA_INVALID"),
            (
                {"reply_markup": {"inline_keyboard": [[{"text": "Buy", "callback_data": "b"}]]}},
                "REPLY_MARKUP_BUY_EMPTY",
            ),
            ({"chat_id": "42"}, "chat not found"),
        ],
    )
    async def test_refusals(
        self, api: BotApi, user: SandboxUser, params: dict[str, Any], description: str
    ) -> None:
        body = {"chat_id": user.id, **INVOICE, **params}
        assert await api.error("sendInvoice", **body) == (400, f"Bad Request: {description}")

    async def test_amounts_as_strings_and_the_biggest_one_off_price_are_accepted(
        self, api: BotApi, user: SandboxUser
    ) -> None:
        message = await send_invoice(api, user, prices=[{"label": 7, "amount": "100000"}])
        assert message["invoice"]["total_amount"] == 100000

    async def test_users_who_never_started_the_bot_get_no_invoice(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        stranger = await control.create_user("Stranger")
        assert await api.error("sendInvoice", chat_id=stranger.id, **INVOICE) == (
            403,
            "Forbidden: bot can't initiate conversation with a user",
        )

    async def test_a_pay_button_belongs_to_invoices_only(
        self, api: BotApi, user: SandboxUser
    ) -> None:
        refused = await api.error(
            "sendMessage", chat_id=user.id, text="Pay?", reply_markup=PAY_KEYBOARD
        )
        assert refused == (400, "Bad Request: BUTTON_TYPE_INVALID")

    async def test_outages_and_rate_limits_apply(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        await control.outage("flood", retry_after=3, methods=["sendInvoice"])
        flood = await api.call("sendInvoice", chat_id=user.id, **INVOICE)
        assert (flood.status_code, flood.headers["retry-after"]) == (429, "3")
        await control.restore()
        await control.set_rate_limits(True)
        for _ in range(3):
            await send_invoice(api, user)
        limited = await api.error("sendInvoice", chat_id=user.id, **INVOICE)
        assert limited == (429, "Too Many Requests: retry after 1")


class TestCreateInvoiceLink:
    async def test_links_and_their_refusals(self, api: BotApi) -> None:
        link = await api.ok("createInvoiceLink", **INVOICE)
        assert link.startswith("https://t.me/$")
        assert len(link.removeprefix("https://t.me/$")) == 27
        assert await api.ok("createInvoiceLink", **INVOICE) != link
        monthly = {**INVOICE, "subscription_period": 2592000}
        assert (await api.ok("createInvoiceLink", **monthly)).startswith("https://t.me/$")
        for params, description in (
            ({"subscription_period": 86400}, "SUBSCRIPTION_PERIOD_INVALID"),
            ({"prices": [{"label": "x", "amount": 10001}]}, "SUBSCRIPTION_AMOUNT_INVALID"),
        ):
            refused = await api.error("createInvoiceLink", **{**monthly, **params})
            assert refused == (400, f"Bad Request: {description}")


class TestCheckout:
    async def test_an_approved_checkout_pays_and_tells_the_bot(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        await control.set_star_balance(user.id, 1000)
        invoice = await send_invoice(api, user)
        query, payment = await pay_and_answer(
            control, api, updates, user, message_id=invoice["message_id"], ok=True
        )
        assert list(query) == ["id", "from", "currency", "total_amount", "invoice_payload"]
        assert (query["currency"], query["total_amount"]) == ("XTR", 250)
        assert (query["invoice_payload"], query["from"]["id"]) == ("order:1042", user.id)
        assert (payment.status, payment.pre_checkout_query_id) == ("paid", query["id"])
        charge_id = payment.telegram_payment_charge_id
        assert charge_id is not None
        assert charge_id.startswith("stx")
        assert len(charge_id) > 128

        message = (await updates.next("message"))["message"]
        assert message["from"]["id"] == user.id
        assert message["successful_payment"] == {
            "currency": "XTR",
            "total_amount": 250,
            "invoice_payload": "order:1042",
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        assert payment.update is not None
        assert payment.update["message"] == message
        assert await control.star_balance(user.id) == 750
        assert await api.ok("getMyStarBalance") == {"amount": 250}

    async def test_a_declined_checkout_shows_the_bots_message_and_charges_nothing(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        invoice = await send_invoice(api, user)
        paying = asyncio.create_task(control.pay_invoice(user.id, invoice["message_id"]))
        query = (await updates.next("pre_checkout_query"))["pre_checkout_query"]
        assert await api.error("answerPreCheckoutQuery", pre_checkout_query_id=query["id"]) == (
            400,
            'Bad Request: parameter "error_message" is required',
        )
        await api.ok(
            "answerPreCheckoutQuery",
            pre_checkout_query_id=query["id"],
            ok=False,
            error_message="Sold out",
        )
        payment = await paying
        assert (payment.status, payment.error_message) == ("declined", "Sold out")
        assert payment.telegram_payment_charge_id is None
        assert await control.payments(user.id) == [payment]
        assert await control.star_balance(user.id) == 100_000
        assert (await control.bot_stars()).transactions == []
        answered_twice = await api.error(
            "answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True
        )
        assert answered_twice == QUERY_TOO_OLD

    async def test_an_unanswered_checkout_fails_and_a_late_answer_is_refused(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        await control.set_pre_checkout_timeout(0.3)
        invoice = await send_invoice(api, user)
        started = time.monotonic()
        payment = await control.pay_invoice(user.id, invoice["message_id"])
        assert 0.3 <= time.monotonic() - started < 2
        assert payment.status == "timed_out"
        query = (await updates.next("pre_checkout_query"))["pre_checkout_query"]
        late = await api.error("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=1)
        assert late == QUERY_TOO_OLD
        unknown = await api.error("answerPreCheckoutQuery", pre_checkout_query_id="12", ok=1)
        assert unknown == QUERY_TOO_OLD
        assert await control.star_balance(user.id) == 100_000

    async def test_a_short_balance_never_reaches_the_bot(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        invoice = await send_invoice(api, user)
        payment = await control.pay_invoice(user.id, invoice["message_id"], balance=249)
        assert (payment.status, payment.pre_checkout_query_id) == ("insufficient_balance", None)
        kinds = [next(iter(set(u) - {"update_id"})) for u in await api.ok("getUpdates")]
        assert kinds == ["message"]  # only the user's /start

    async def test_allowed_updates_can_filter_out_pre_checkout_queries(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        await api.ok("getUpdates", allowed_updates=["message"])
        await control.set_pre_checkout_timeout(0.2)
        invoice = await send_invoice(api, user)
        payment = await control.pay_invoice(user.id, invoice["message_id"])
        assert payment.status == "timed_out"
        assert all("pre_checkout_query" not in u for u in await api.ok("getUpdates"))

    async def test_a_checkout_can_be_followed_without_waiting(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        invoice = await send_invoice(api, user)
        pending = await control.pay_invoice(user.id, invoice["message_id"], wait=False)
        assert pending.status == "pending"
        assert pending.pre_checkout_query_id is not None
        query = (await updates.next("pre_checkout_query"))["pre_checkout_query"]
        await api.ok("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True)
        paid = await control.wait_for_payment(user.id, pending.pre_checkout_query_id)
        assert paid.status == "paid"

    async def test_control_refusals(
        self, api: BotApi, control: TelegramSandboxControl, user: SandboxUser
    ) -> None:
        text = await api.ok("sendMessage", chat_id=user.id, text="not an invoice")
        for kwargs, status in (
            ({"message_id": text["message_id"]}, 404),
            ({"invoice_link": "https://t.me/$nothing"}, 404),
            ({}, 400),
        ):
            with pytest.raises(SandboxControlError) as caught:
                await control.pay_invoice(user.id, **kwargs)
            assert caught.value.status_code == status
        with pytest.raises(SandboxControlError):
            await control.set_star_balance(user.id, -1)


class TestRefunds:
    async def test_a_charge_is_refunded_once(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        invoice = await send_invoice(api, user)
        _, payment = await pay_and_answer(
            control, api, updates, user, message_id=invoice["message_id"], ok=True
        )
        charge_id = payment.telegram_payment_charge_id
        await updates.next("message")  # the successful_payment
        refund = {"user_id": user.id, "telegram_payment_charge_id": charge_id}
        assert await api.ok("refundStarPayment", **refund) is True
        message = (await updates.next("message"))["message"]
        assert message["refunded_payment"] == {
            "currency": "XTR",
            "total_amount": 250,
            "invoice_payload": "order:1042",
            "telegram_payment_charge_id": charge_id,
        }
        assert await control.star_balance(user.id) == 100_000
        assert await api.ok("getMyStarBalance") == {"amount": 0}
        for params, description in (
            (refund, "CHARGE_ALREADY_REFUNDED"),
            ({**refund, "telegram_payment_charge_id": "stxnope"}, "CHARGE_NOT_FOUND"),
            ({**refund, "telegram_payment_charge_id": None}, CHARGE_ID_REQUIRED),
            ({**refund, "user_id": "x"}, "invalid user_id specified"),
            ({**refund, "user_id": 42}, "USER_ID_INVALID"),
        ):
            refused = await api.error("refundStarPayment", **params)
            assert refused == (400, f"Bad Request: {description}")

    async def test_star_transactions_list_payments_and_refunds_oldest_first(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        invoice = await send_invoice(api, user)
        charges = []
        for _ in range(2):
            _, payment = await pay_and_answer(
                control, api, updates, user, message_id=invoice["message_id"], ok=True
            )
            charges.append(payment.telegram_payment_charge_id)
        await api.ok("refundStarPayment", user_id=user.id, telegram_payment_charge_id=charges[0])
        result = await api.ok("getStarTransactions")
        assert list(result) == ["transactions"]
        first, second, refund = result["transactions"]
        assert list(first) == ["id", "date", "source", "amount"]
        assert (first["id"], first["amount"]) == (charges[0], 250)
        assert first["source"] == {
            "transaction_type": "invoice_payment",
            "type": "user",
            "user": {
                "id": user.id,
                "is_bot": False,
                "first_name": "Fala",
                "username": "alifala99",
                "language_code": "en",
            },
            "invoice_payload": "order:1042",
        }
        assert second["id"] == charges[1]
        assert list(refund) == ["id", "date", "receiver", "amount"]
        assert (refund["id"], refund["amount"]) == (charges[0], 250)
        page = await api.ok("getStarTransactions", offset=1, limit=1)
        assert page["transactions"] == [second]
        assert (await control.bot_stars()).balance == 250


class TestSubscriptions:
    async def test_an_invoice_link_subscription_renews_until_the_bot_cancels_it(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        link = await api.ok("createInvoiceLink", **INVOICE, subscription_period=2592000)
        _, first = await pay_and_answer(control, api, updates, user, invoice_link=link, ok=True)
        assert (first.status, first.invoice_link) == ("paid", link)
        paid = (await updates.next("message"))["message"]["successful_payment"]
        assert list(paid)[-3:] == [
            "is_recurring",
            "is_first_recurring",
            "subscription_expiration_date",
        ]
        expires = paid["subscription_expiration_date"]
        assert abs(expires - (time.time() + 2592000)) < 5
        charge_id = first.telegram_payment_charge_id
        assert charge_id is not None

        renewal = await control.renew_subscription(user.id, charge_id)
        assert renewal.kind == "renewal"
        renewed = (await updates.next("message"))["message"]["successful_payment"]
        assert renewed["telegram_payment_charge_id"] == renewal.telegram_payment_charge_id
        assert renewed["telegram_payment_charge_id"] != charge_id
        assert renewed["is_recurring"] is True
        assert "is_first_recurring" not in renewed
        assert renewed["subscription_expiration_date"] == expires + 2592000

        cancel = {"user_id": user.id, "telegram_payment_charge_id": charge_id}
        assert await api.ok("editUserStarSubscription", **cancel, is_canceled=True) is True
        canceled = await control.renew_subscription(user.id, charge_id)
        assert (canceled.status, canceled.telegram_payment_charge_id) == ("canceled", None)
        await api.ok("editUserStarSubscription", **cancel, is_canceled=False)
        short = await control.renew_subscription(user.id, charge_id, balance=10)
        assert short.status == "insufficient_balance"

        source = (await api.ok("getStarTransactions"))["transactions"][0]["source"]
        assert source["subscription_period"] == 2592000
        refused = await api.error(
            "editUserStarSubscription", **{**cancel, "telegram_payment_charge_id": "stxnope"}
        )
        assert refused == (400, "Bad Request: CHARGE_ID_INVALID")

    async def test_send_invoice_takes_no_subscription_period(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        updates: Updates,
        user: SandboxUser,
    ) -> None:
        invoice = await send_invoice(api, user, subscription_period=2592000)
        _, payment = await pay_and_answer(
            control, api, updates, user, message_id=invoice["message_id"], ok=True
        )
        paid = (await updates.next("message"))["message"]["successful_payment"]
        assert "is_recurring" not in paid
        assert payment.subscription_expiration_date is None
        with pytest.raises(SandboxControlError) as caught:
            await control.renew_subscription(user.id, payment.telegram_payment_charge_id or "")
        assert caught.value.status_code == 404


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[list[dict[str, Any]], SandboxServer]]:
    """A bot's webhook that approves every pre-checkout query in its reply."""
    received: list[dict[str, Any]] = []

    async def endpoint(request: Request) -> Response:
        update = json.loads(await request.body())
        received.append(update)
        if "pre_checkout_query" in update:
            query_id = update["pre_checkout_query"]["id"]
            reply = {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": query_id}
            return JSONResponse({**reply, "ok": True})
        return Response()

    app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])
    async with serving(app, name="stars-webhook") as server:
        yield received, server


async def test_a_webhook_reply_answers_the_pre_checkout_query(
    api: BotApi,
    control: TelegramSandboxControl,
    user: SandboxUser,
    webhook: tuple[list[dict[str, Any]], SandboxServer],
) -> None:
    received, server = webhook
    await api.ok("setWebhook", url=f"{server.url}/hook")
    invoice = await send_invoice(api, user)
    payment = await control.pay_invoice(user.id, invoice["message_id"])
    assert payment.status == "paid"
    deadline = time.monotonic() + 5
    while not any("successful_payment" in u.get("message", {}) for u in received):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


def shop_bot(server: SandboxServer) -> Bot:
    return Bot(BOT.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))


async def test_aiogram_sells_for_stars_through_the_emulator(
    server: SandboxServer, control: TelegramSandboxControl
) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def start(message: Message) -> None:
        prices = [LabeledPrice(label="30 days", amount=250)]
        await message.answer_invoice("VPN", "One month", "plan:m1", "XTR", prices)

    @dispatcher.pre_checkout_query()
    async def checkout(query: PreCheckoutQuery) -> None:
        await query.answer(ok=query.invoice_payload == "plan:m1")

    @dispatcher.message(F.successful_payment)
    async def paid(message: Message) -> None:
        assert message.successful_payment is not None
        await message.answer(f"Paid {message.successful_payment.total_amount} Stars")

    bot = shop_bot(server)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=5)
    )
    try:
        user = await control.create_user("Anna")
        await control.send_text(user.id, "/start")
        invoice = await control.wait_for_bot_message(user.id, lambda m: m.invoice is not None)
        payment = await control.pay_invoice(user.id, invoice.message_id)
        assert payment.status == "paid"
        thanks = await control.wait_for_bot_message(user.id, contains="Paid")
        assert thanks.text == "Paid 250 Stars"

        charge_id = payment.telegram_payment_charge_id or ""
        history = await bot.get_star_transactions()
        assert [t.id for t in history.transactions] == [charge_id]
        assert (await bot.get_my_star_balance()).amount == 250
        assert await bot.refund_star_payment(user.id, charge_id) is True
        with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
            await bot.refund_star_payment(user.id, charge_id)
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()
