"""Update delivery on the wire: getUpdates (offsets, long polling, conflicts) and webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.server import SandboxServer, serving
from sandbox.telegram import TelegramEmulator, TelegramSandboxControl, create_app

from .conftest import BOT, BotApi

WEBHOOK_ACTIVE = (
    409,
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first",
)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def update_ids(api: BotApi, **params: object) -> list[int]:
    return [update["update_id"] for update in await api.ok("getUpdates", **params)]


class TestGetUpdates:
    async def test_serialization_and_first_id(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        user = await control.create_user("Fala", username="alifala99")
        sent = await control.send_text(user.id, "/start ref_42")
        assert sent.update is not None
        update_id = sent.update["update_id"]
        assert 2_000_001 <= update_id <= 1_000_000_000
        response = await api.call("getUpdates")
        assert response.text.startswith(
            f'{{"ok":true,"result":[{{"update_id":{update_id},\n"message":'
        )
        message = response.json()["result"][0]["message"]
        assert list(message) == ["message_id", "from", "chat", "date", "text", "entities"]
        assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
        assert message["from"] == {
            "id": user.id,
            "is_bot": False,
            "first_name": "Fala",
            "username": "alifala99",
            "language_code": "en",
        }

    async def test_offsets_confirm_and_negative_or_far_offsets(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        user = await control.create_user()
        ids = []
        for text in ("one", "two", "three", "four"):
            sent = await control.send_text(user.id, text)
            assert sent.update is not None
            ids.append(sent.update["update_id"])
        assert await update_ids(api, offset=ids[0] + 1) == ids[1:]
        assert await update_ids(api, offset=ids[3] + 100) == ids[1:]  # ignored, nothing confirmed
        assert await update_ids(api, offset=-2) == ids[2:]
        assert await update_ids(api, offset=ids[3]) == ids[3:]
        assert await update_ids(api, offset=ids[3] + 1) == []

    async def test_limit_is_clamped_and_repeats_within_half_a_second_get_one(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        user = await control.create_user()
        for text in ("one", "two", "three"):
            await control.send_text(user.id, text)
        assert len(await update_ids(api, limit=0, offset=1)) == 1
        assert len(await update_ids(api, limit=500)) == 3
        assert len(await update_ids(api, limit=500)) == 1

    async def test_long_poll_wakes_at_once(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        user = await control.create_user()
        poll = asyncio.create_task(api.call("getUpdates", timeout=10))
        await asyncio.sleep(0.2)
        assert not poll.done()
        await control.send_text(user.id, "hi")
        accepted_at = (await control.transcript(user.id)).messages[0].accepted_at
        response = await poll
        assert time.time() - accepted_at < 0.1
        assert response.json()["result"][0]["message"]["text"] == "hi"

    async def test_long_poll_ends_empty_at_timeout(self, api: BotApi) -> None:
        started = time.monotonic()
        assert await api.ok("getUpdates", timeout=1) == []
        assert 1.0 <= time.monotonic() - started < 1.5

    async def test_a_poll_whose_client_left_is_dropped(
        self, api: BotApi, emulator: TelegramEmulator
    ) -> None:
        bot = emulator.bot_for_token(BOT.token)
        poll = asyncio.create_task(api.call("getUpdates", timeout=30))
        await asyncio.sleep(0.1)
        assert bot.poll is not None
        poll.cancel()

        async def dropped() -> bool:
            return bot.poll is None

        await eventually(dropped, timeout=2)

    async def test_a_newer_poll_ends_the_waiting_one(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        user = await control.create_user()
        first = asyncio.create_task(api.call("getUpdates", timeout=10))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(api.call("getUpdates", timeout=10, offset=1))
        response = await first
        assert (response.status_code, response.json()) == (
            409,
            {
                "ok": False,
                "error_code": 409,
                "description": "Conflict: terminated by other getUpdates request; make sure "
                "that only one bot instance is running",
            },
        )
        await control.send_text(user.id, "hi")
        assert len((await second).json()["result"]) == 1

    async def test_set_webhook_ends_the_waiting_poll(self, api: BotApi) -> None:
        poll = asyncio.create_task(api.call("getUpdates", timeout=10))
        await asyncio.sleep(0.1)
        await api.ok("setWebhook", url="http://127.0.0.1:9/hook")
        response = await poll
        assert response.status_code == 409
        assert response.json()["description"] == "Conflict: terminated by setWebhook request"

    async def test_no_polling_while_a_webhook_is_set(self, api: BotApi) -> None:
        await api.ok("setWebhook", url="http://127.0.0.1:9/hook")
        assert await api.error("getUpdates") == WEBHOOK_ACTIVE

    async def test_allowed_updates(self, api: BotApi, control: TelegramSandboxControl) -> None:
        user = await control.create_user()
        await api.ok("getUpdates", allowed_updates=["CALLBACK_QUERY", "unknown"])
        assert (await control.send_text(user.id, "filtered")).update is None
        info = await api.ok("getWebhookInfo")
        assert info["allowed_updates"] == ["callback_query"]
        await api.ok("getUpdates", offset=1)  # absent: the setting stays
        assert (await control.send_text(user.id, "still filtered")).update is None
        await api.ok("getUpdates", allowed_updates=[])
        assert (await control.send_text(user.id, "back")).update is not None
        assert "allowed_updates" not in await api.ok("getWebhookInfo")

    async def test_blocking_emits_my_chat_member(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        user = await control.create_user()
        await control.send_text(user.id, "/start")
        await control.block(user.id)
        updates = await api.ok("getUpdates")
        member = updates[-1]["my_chat_member"]
        assert member["old_chat_member"]["status"] == "member"
        assert member["new_chat_member"] == {
            "user": {"id": 123456, "is_bot": True, "first_name": "Shop", "username": "shop_bot"},
            "status": "kicked",
            "until_date": 0,
        }


class TestWebhookSettings:
    async def test_descriptions_and_info(self, api: BotApi, http: httpx.AsyncClient) -> None:
        response = await http.post(f"/bot{BOT.token}/getWebhookInfo")
        assert response.text == (
            '{"ok":true,"result":{"url":"","has_custom_certificate":false,'
            '"pending_update_count":0}}'
        )
        url = "http://127.0.0.1:9/hook"
        response = await api.call("setWebhook", url=url, allowed_updates=["message"])
        assert response.text == '{"ok":true,"result":true,"description":"Webhook was set"}'
        response = await api.call("setWebhook", url=url, allowed_updates=["message"])
        assert response.json()["description"] == "Webhook is already set"
        info = await api.ok("getWebhookInfo")
        assert info == {
            "url": url,
            "has_custom_certificate": False,
            "pending_update_count": 0,
            "max_connections": 40,
            "ip_address": "127.0.0.1",
            "allowed_updates": ["message"],
        }
        assert list(info) == [
            "url",
            "has_custom_certificate",
            "pending_update_count",
            "max_connections",
            "ip_address",
            "allowed_updates",
        ]
        assert (await api.call("deleteWebhook")).json()["description"] == "Webhook was deleted"
        response = await api.call("deleteWebhook")
        assert response.json()["description"] == "Webhook is already deleted"

    @pytest.mark.parametrize(
        ("params", "description"),
        [
            ({"secret_token": "x" * 257}, "secret token is too long"),
            ({"secret_token": "bad secret!"}, "secret token contains unallowed characters"),
            ({"url": "https://"}, "invalid webhook URL specified"),
        ],
    )
    async def test_refusals(self, api: BotApi, params: dict[str, str], description: str) -> None:
        params = {"url": "http://127.0.0.1:9/hook", **params}
        assert await api.error("setWebhook", **params) == (400, f"Bad Request: {description}")

    async def test_public_server_rules_outside_local_mode(self) -> None:
        emulator = TelegramEmulator([BOT], local_mode=False)
        async with (
            serving(create_app(emulator), name="telegram-public") as server,
            httpx.AsyncClient(base_url=server.url, trust_env=False) as http,
        ):
            api = BotApi(http)
            for url, reason in (
                ("http://shop.example/hook", "An HTTPS URL must be provided for webhook"),
                (
                    "https://shop.example:8080/hook",
                    "Webhook can be set up only on ports 80, 88, 443 or 8443",
                ),
                ("https://127.0.0.1/hook", "IP address 127.0.0.1 is reserved"),
            ):
                assert await api.error("setWebhook", url=url) == (
                    400,
                    f"Bad Request: bad webhook: {reason}",
                )
            assert await api.ok("setWebhook", url="https://shop.example:8443/hook") is True

    async def test_setting_twice_a_second_is_limited_when_limits_are_on(
        self, api: BotApi, control: TelegramSandboxControl
    ) -> None:
        await control.set_rate_limits(True)
        await api.ok("setWebhook", url="http://127.0.0.1:9/a")
        response = await api.call("setWebhook", url="http://127.0.0.1:9/b")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"


@dataclass
class Receiver:
    """A bot's webhook endpoint: records requests, answers with the scripted statuses."""

    statuses: list[int] = field(default_factory=list)
    reply: dict[str, object] | None = None
    delay: float = 0.0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200 and self.reply is not None:
            return JSONResponse(self.reply)
        return Response(status_code=status)

    def updates(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, SandboxServer]]:
    hook = Receiver()
    app = Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])
    async with serving(app, name="webhook-receiver") as server:
        yield hook, server


class TestWebhookDelivery:
    async def test_secret_header_body_and_retry_after_a_500(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        receiver: tuple[Receiver, SandboxServer],
    ) -> None:
        hook, server = receiver
        hook.statuses = [500]
        await api.ok("setWebhook", url=f"{server.url}/hook", secret_token="s3cret-Token_1")
        user = await control.create_user()
        sent = await control.send_text(user.id, "hello")
        assert sent.update is not None

        async def delivered() -> bool:
            return (
                len(hook.requests) == 2
                and (await api.ok("getWebhookInfo"))["pending_update_count"] == 0
            )

        await eventually(delivered)
        for headers, body in hook.requests:
            assert headers["x-telegram-bot-api-secret-token"] == "s3cret-Token_1"
            assert headers["content-type"] == "application/json"
            assert body.startswith(
                f'{{"update_id":{sent.update["update_id"]},\n"message":'.encode()
            )
        info = await api.ok("getWebhookInfo")
        assert (
            info["last_error_message"]
            == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert abs(info["last_error_date"] - time.time()) < 5
        assert list(info)[:5] == [
            "url",
            "has_custom_certificate",
            "pending_update_count",
            "last_error_date",
            "last_error_message",
        ]

    async def test_order_is_kept_per_chat(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        receiver: tuple[Receiver, SandboxServer],
    ) -> None:
        hook, server = receiver
        hook.delay = 0.02
        await api.ok("setWebhook", url=f"{server.url}/hook")
        users = [await control.create_user(f"U{n}") for n in range(3)]
        for n in range(4):
            for user in users:
                await control.send_text(user.id, f"m{n}")

        async def all_delivered() -> bool:
            return len(hook.requests) == 12

        await eventually(all_delivered)
        for user in users:
            texts = [
                update["message"]["text"]  # type: ignore[index]
                for update in hook.updates()
                if update["message"]["chat"]["id"] == user.id  # type: ignore[index]
            ]
            assert texts == ["m0", "m1", "m2", "m3"]

    async def test_a_method_in_the_reply_is_executed(
        self,
        api: BotApi,
        control: TelegramSandboxControl,
        receiver: tuple[Receiver, SandboxServer],
    ) -> None:
        hook, server = receiver
        user = await control.create_user()
        hook.reply = {"method": "sendMessage", "chat_id": user.id, "text": "pong"}
        await api.ok("setWebhook", url=f"{server.url}/hook")
        await control.send_text(user.id, "ping")
        reply = await control.wait_for_bot_message(user.id, contains="pong", timeout=5)
        assert reply.kind == "sent"

    async def test_drop_pending_updates(self, api: BotApi, control: TelegramSandboxControl) -> None:
        user = await control.create_user()
        await control.send_text(user.id, "old")
        assert (await api.ok("getWebhookInfo"))["pending_update_count"] == 1
        await api.ok("deleteWebhook", drop_pending_updates=True)
        assert (await api.ok("getWebhookInfo"))["pending_update_count"] == 0
