"""A simulated customer: talks to the bot in the Telegram sandbox and pays in YooKassa's.

It drives the platform only from outside, the way a person would: sends messages,
presses the buttons the bot showed, opens the payment link and pays. The end-to-end
tests, ``make demo`` and the purchase benchmark are all written with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

from sandbox.telegram import BotMessage, TelegramSandboxControl
from sandbox.yookassa import YooKassaSandboxControl

SUBSCRIPTION_LINK: Final = re.compile(r"https?://\S+/sub/[A-Za-z0-9_=-]+")


class UnexpectedScreen(AssertionError):
    """The bot showed something the customer did not expect."""


@dataclass(frozen=True)
class PaymentLink:
    url: str
    payment_id: str
    message: BotMessage


def buttons(message: BotMessage) -> list[dict[str, str]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def callback_starting(message: BotMessage, prefix: str) -> str:
    for button in buttons(message):
        data = button.get("callback_data", "")
        if data.startswith(prefix):
            return data
    raise UnexpectedScreen(f"no button {prefix!r} in {message.text!r}: {buttons(message)}")


def subscription_link(message: BotMessage) -> str:
    found = SUBSCRIPTION_LINK.search(message.text or "")
    if found is None:
        raise UnexpectedScreen(f"no subscription link in {message.text!r}")
    return found.group(0)


class SimulatedCustomer:
    def __init__(
        self,
        user_id: int,
        telegram: TelegramSandboxControl,
        yookassa: YooKassaSandboxControl,
        *,
        timeout_s: float = 20.0,
    ) -> None:
        self.user_id = user_id
        self.telegram = telegram
        self.yookassa = yookassa
        self.timeout_s = timeout_s
        self.screen: BotMessage | None = None

    @classmethod
    async def join(
        cls,
        telegram: TelegramSandboxControl,
        yookassa: YooKassaSandboxControl,
        *,
        first_name: str = "Ivan",
        language_code: str | None = "ru",
        timeout_s: float = 20.0,
    ) -> SimulatedCustomer:
        user = await telegram.create_user(first_name, language_code=language_code)
        return cls(user.id, telegram, yookassa, timeout_s=timeout_s)

    async def say(self, text: str, *, expect: str | None = None) -> BotMessage:
        """Send text and wait for the bot's reply (one containing ``expect`` if given)."""
        await self.telegram.send_text(self.user_id, text)
        self.screen = await self.telegram.wait_for_bot_message(
            self.user_id, contains=expect, timeout=self.timeout_s
        )
        return self.screen

    async def press(self, callback_prefix: str, *, expect: str | None = None) -> BotMessage:
        """Press the button of the current screen whose data starts with ``callback_prefix``."""
        screen = self._current()
        data = callback_starting(screen, callback_prefix)
        await self.telegram.press_button(self.user_id, screen.message_id, callback_data=data)
        self.screen = await self.telegram.wait_for_bot_message(
            self.user_id,
            lambda m: (
                m.message_id == screen.message_id and (expect is None or expect in (m.text or ""))
            ),
            timeout=self.timeout_s,
        )
        return self.screen

    async def start(self, payload: str | None = None) -> BotMessage:
        return await self.say("/start" if payload is None else f"/start {payload}")

    async def open_catalog(self) -> BotMessage:
        """Menu → "buy"; waits (pressing again) while the bot has no catalog yet."""
        for _ in range(int(self.timeout_s)):
            screen = await self.press("m:buy")
            if any(b.get("callback_data", "").startswith("plan:") for b in buttons(screen)):
                return screen
            await self.telegram.send_text(self.user_id, "/start")
            self.screen = await self.telegram.wait_for_bot_message(
                self.user_id, timeout=self.timeout_s
            )
        raise UnexpectedScreen("the bot never showed the plan catalog")

    async def checkout(self, plan_id: str) -> PaymentLink:
        """From the catalog: choose the plan, press pay, wait for the payment link."""
        await self.press(f"plan:{plan_id}")
        screen = self._current()
        data = callback_starting(screen, "pay:")
        await self.telegram.press_button(self.user_id, screen.message_id, callback_data=data)
        self.screen = await self.telegram.wait_for_bot_message(
            self.user_id,
            lambda m: m.message_id == screen.message_id and any("url" in b for b in buttons(m)),
            timeout=self.timeout_s,
        )
        url = next(b["url"] for b in buttons(self.screen) if "url" in b)
        payment_id = parse_qs(urlsplit(url).query).get("orderId", [""])[0]
        if not payment_id:
            raise UnexpectedScreen(f"payment link without a payment id: {url}")
        return PaymentLink(url=url, payment_id=payment_id, message=self.screen)

    async def buy(self, plan_id: str) -> PaymentLink:
        """Start (if needed), open the catalog and check out ``plan_id``."""
        if self.screen is None:
            await self.start()
        await self.open_catalog()
        return await self.checkout(plan_id)

    async def pay(self, link: PaymentLink) -> None:
        await self.yookassa.succeed(link.payment_id)

    async def wait_for(self, text: str, *, timeout_s: float | None = None) -> BotMessage:
        """The next bot message in this chat that contains ``text``."""
        return await self.telegram.wait_for_bot_message(
            self.user_id, contains=text, timeout=timeout_s or self.timeout_s
        )

    def _current(self) -> BotMessage:
        if self.screen is None:
            raise UnexpectedScreen("nothing on the screen yet: start the bot first")
        return self.screen
