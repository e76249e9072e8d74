"""A simulated customer: talks to the bot in the Telegram sandbox and pays in a provider's.

It drives the platform only from outside, the way a person would: sends messages,
presses the buttons the bot showed, opens the payment link (or the Stars invoice) and
pays: by card at YooKassa or WATA, in crypto at Crypto Pay, in Stars inside Telegram, or
from the wallet. The end-to-end tests, ``make demo`` and the purchase benchmark are all
written with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import parse_qs, urlsplit

from sandbox.cryptopay import CryptoPaySandboxControl
from sandbox.telegram import BotMessage, StarsPayment, TelegramSandboxControl
from sandbox.wata import WataSandboxControl
from sandbox.yookassa import YooKassaSandboxControl

SUBSCRIPTION_LINK: Final = re.compile(r"https?://\S+/sub/[A-Za-z0-9_=-]+")
ControlT = TypeVar("ControlT")
# Where each provider's payment page is (as its sandbox, too, writes the links).
_PAYMENT_HOSTS: Final = {
    "yookassa": ("yoomoney.ru",),
    "wata": ("payment.wata.pro",),
    "cryptopay": ("t.me",),
}


class UnexpectedScreen(AssertionError):
    """The bot showed something the customer did not expect."""


@dataclass(frozen=True)
class PaymentLink:
    """What the customer got to pay with: a link, a Stars invoice, or nothing (the wallet)."""

    url: str
    payment_id: str
    """What the provider's sandbox knows the payment by: YooKassa's payment id, the WATA
    link id, the Crypto Pay invoice id, the Stars invoice's message id."""
    message: BotMessage
    provider: str = "yookassa"


def buttons(message: BotMessage) -> list[dict[str, str]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def has_button(message: BotMessage, prefix: str) -> bool:
    return any(b.get("callback_data", "").startswith(prefix) for b in buttons(message))


def _exactly(prefix: str, value: str | None) -> str:
    """A button's data ``prefix:value`` (callback data has no trailing separator), or the
    first button of ``prefix`` when no value is asked for."""
    return f"{prefix}:{value}" if value is not None else f"{prefix}:"


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
        wata: WataSandboxControl | None = None,
        cryptopay: CryptoPaySandboxControl | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        self.user_id = user_id
        self.telegram = telegram
        self.yookassa = yookassa
        self.wata = wata
        self.cryptopay = cryptopay
        self.timeout_s = timeout_s
        self.screen: BotMessage | None = None

    @classmethod
    async def join(
        cls,
        telegram: TelegramSandboxControl,
        yookassa: YooKassaSandboxControl,
        *,
        wata: WataSandboxControl | None = None,
        cryptopay: CryptoPaySandboxControl | None = None,
        first_name: str = "Ivan",
        language_code: str | None = "ru",
        timeout_s: float = 20.0,
    ) -> SimulatedCustomer:
        user = await telegram.create_user(first_name, language_code=language_code)
        return cls(user.id, telegram, yookassa, wata=wata, cryptopay=cryptopay, timeout_s=timeout_s)

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
        """Send /start and wait for the main menu (not some other message edited meanwhile)."""
        await self.telegram.send_text(
            self.user_id, "/start" if payload is None else f"/start {payload}"
        )
        self.screen = await self.telegram.wait_for_bot_message(
            self.user_id,
            lambda m: any(b.get("callback_data") == "m:buy" for b in buttons(m)),
            timeout=self.timeout_s,
        )
        return self.screen

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

    async def top_up(self, topup_id: str, provider: str = "yookassa") -> PaymentLink:
        """From the menu (or the wallet): a top-up, a way to pay it; waits for what to pay with."""
        if not any(b.get("callback_data") == f"top:{topup_id}" for b in buttons(self._current())):
            await self.press("m:wallet")
        await self.press(f"top:{topup_id}")
        return await self._pay_with(f"paytop:{topup_id}:{provider}:", provider)

    async def checkout(
        self,
        plan_id: str,
        provider: str = "yookassa",
        *,
        region: str | None = None,
        protocol: str | None = None,
    ) -> PaymentLink:
        """From the catalog: choose the plan (and the region and protocol, where the bot
        asks), press pay with ``provider``, and wait for what to pay with (the link, the
        Stars invoice, or the wallet's "paid")."""
        await self.press(f"plan:{plan_id}")
        await self.choose_where(plan_id, region=region, protocol=protocol)
        return await self.pay_on_screen(plan_id, provider)

    async def choose_where(
        self, plan_id: str, *, region: str | None = None, protocol: str | None = None
    ) -> None:
        """Answer the bot's region and protocol steps, when it asks them (it does only
        when there is a choice): ``region`` or the first offered (the default), then
        ``protocol`` or the first offered."""
        if has_button(self._current(), f"rg:{plan_id}:"):
            await self.press(_exactly(f"rg:{plan_id}", region))
        if has_button(self._current(), f"proto:{plan_id}:"):
            await self.press(_exactly(f"proto:{plan_id}", protocol))

    async def checkout_renewing(self, plan_id: str, provider: str = "yookassa") -> PaymentLink:
        """From the catalog: choose the plan, ask to renew it automatically with
        ``provider``, read the terms, agree, and wait for the payment link."""
        await self.press(f"plan:{plan_id}")
        await self.choose_where(plan_id)
        await self.press(f"apt:{plan_id}:{provider}:")
        return await self._pay_with(f"ap:{plan_id}:{provider}:", provider)

    async def press_pay(self, plan_id: str, provider: str) -> None:
        """On the plan's screen already: press pay with ``provider``, not waiting for the
        answer (a load driver measures it elsewhere)."""
        screen = self._current()
        data = callback_starting(screen, f"pq:{plan_id}:{provider}:")
        await self.telegram.press_button(self.user_id, screen.message_id, callback_data=data)

    async def pay_on_screen_with(self, callback_prefix: str) -> PaymentLink:
        """On a screen of ways to pay already: press the one whose data starts with
        ``callback_prefix`` (``paytrf:gb10:yookassa:``) and wait for what to pay with."""
        return await self._pay_with(callback_prefix, callback_prefix.split(":")[2])

    async def pay_on_screen(self, plan_id: str, provider: str) -> PaymentLink:
        """On the plan's screen already: press pay with ``provider`` and wait for the answer."""
        return await self._pay_with(f"pq:{plan_id}:{provider}:", provider)

    async def _pay_with(self, callback_prefix: str, provider: str) -> PaymentLink:
        screen = self._current()
        data = callback_starting(screen, callback_prefix)
        await self.telegram.press_button(self.user_id, screen.message_id, callback_data=data)
        if provider == "telegram_stars":
            invoice = await self.telegram.wait_for_bot_message(
                self.user_id, lambda m: m.invoice is not None, timeout=self.timeout_s
            )
            return PaymentLink("", str(invoice.message_id), invoice, provider)
        self.screen = await self.telegram.wait_for_bot_message(
            self.user_id,
            lambda m: (
                m.message_id == screen.message_id
                and not (m.text or "").startswith("⏳")
                and (provider == "wallet" or any("url" in b for b in buttons(m)) or not buttons(m))
            ),
            timeout=self.timeout_s,
        )
        if provider == "wallet":
            return PaymentLink("", "", self.screen, provider)
        url = next((b["url"] for b in buttons(self.screen) if "url" in b), "")
        if not url:
            raise UnexpectedScreen(f"no payment link: {self.screen.text!r}")
        return PaymentLink(url, await self._payment_id(provider, url), self.screen, provider)

    async def payment_link(self, message: BotMessage) -> PaymentLink:
        """What ``message`` asks the customer to pay: a Stars invoice, or a provider's link
        (told apart by where it points)."""
        if message.invoice is not None:
            return PaymentLink("", str(message.message_id), message, "telegram_stars")
        url = next((b["url"] for b in buttons(message) if "url" in b), "")
        host = urlsplit(url).netloc
        provider = next(
            (name for name, hosts in _PAYMENT_HOSTS.items() if host in hosts),
            None,
        )
        if provider is None:
            raise UnexpectedScreen(f"no payment link in {message.text!r}")
        return PaymentLink(url, await self._payment_id(provider, url), message, provider)

    async def cancel(self, link: PaymentLink) -> None:
        """The payment does not go through: declined, canceled or left to expire."""
        if link.provider == "yookassa":
            await self.yookassa.cancel(link.payment_id, reason="insufficient_funds")
        elif link.provider == "wata":
            await self._control(self.wata).decline(link.payment_id)
        elif link.provider == "cryptopay":
            await self._control(self.cryptopay).expire(int(link.payment_id))
        else:
            raise UnexpectedScreen(f"a {link.provider} payment cannot be canceled from outside")

    async def _payment_id(self, provider: str, url: str) -> str:
        parts = urlsplit(url)
        if provider == "yookassa":
            payment_id = parse_qs(parts.query).get("orderId", [""])[0]
        elif provider == "wata":
            payment_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
        elif provider == "cryptopay":
            invoice_hash = parse_qs(parts.query).get("start", [""])[0]
            state = await self._control(self.cryptopay).invoice_by_hash(invoice_hash)
            payment_id = str(state["invoice"]["invoice_id"])
        else:
            raise UnexpectedScreen(f"the customer cannot pay with {provider}")
        if not payment_id:
            raise UnexpectedScreen(f"payment link without a payment id: {url}")
        return payment_id

    @staticmethod
    def _control(control: ControlT | None) -> ControlT:
        if control is None:
            raise UnexpectedScreen("this customer was not given that provider's sandbox")
        return control

    async def buy(
        self,
        plan_id: str,
        provider: str = "yookassa",
        *,
        region: str | None = None,
        protocol: str | None = None,
    ) -> PaymentLink:
        """Start (if needed), open the catalog and check out ``plan_id`` with ``provider``
        (served from ``region`` with ``protocol`` where the bot asks; else its defaults)."""
        if self.screen is None:
            await self.start()
        await self.open_catalog()
        return await self.checkout(plan_id, provider, region=region, protocol=protocol)

    async def pay(self, link: PaymentLink) -> StarsPayment | None:
        """Pay as the provider's customer would; a Stars payment returns how it went."""
        if link.provider == "yookassa":
            await self.yookassa.succeed(link.payment_id)
        elif link.provider == "wata":
            await self._control(self.wata).pay(link.payment_id)
        elif link.provider == "cryptopay":
            await self._control(self.cryptopay).pay(int(link.payment_id), asset="USDT")
        elif link.provider == "telegram_stars":
            return await self.telegram.pay_invoice(self.user_id, int(link.payment_id))
        elif link.provider != "wallet":
            raise UnexpectedScreen(f"the customer cannot pay with {link.provider}")
        return None

    async def wait_for(self, text: str, *, timeout_s: float | None = None) -> BotMessage:
        """The next bot message in this chat that contains ``text``."""
        return await self.telegram.wait_for_bot_message(
            self.user_id, contains=text, timeout=timeout_s or self.timeout_s
        )

    def _current(self) -> BotMessage:
        if self.screen is None:
            raise UnexpectedScreen("nothing on the screen yet: start the bot first")
        return self.screen
