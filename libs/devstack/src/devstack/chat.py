"""Chat with the bot of a running ``make up`` from the terminal, as a sandbox Telegram user.

Type text to send it; ``/press N`` presses the N-th button of the bot's last message
(``/buttons`` lists them); ``/pay`` pays what the bot last asked for, by whichever method
was chosen (a YooKassa, WATA or Crypto Pay link in its sandbox, or a Telegram Stars
invoice), ``/cancel`` lets it fail; ``/quit`` leaves. Everything the bot sends or edits is
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from devstack.customer import SimulatedCustomer, UnexpectedScreen, buttons
from devstack.paths import default_data_dir
from devstack.runtime import SANDBOXES_FILE
from devstack.sandboxes import BOT
from sandbox.cryptopay import CryptoPaySandboxControl
from sandbox.telegram import BotMessage, TelegramSandboxControl
from sandbox.wata import WataSandboxControl
from sandbox.yookassa import YooKassaSandboxControl

HELP = "text: send · /buttons · /press N · /pay · /cancel · /quit"


def _print_message(message: BotMessage) -> None:
    label = "bot" if message.kind == "sent" else "bot (edited)"
    sys.stdout.write(f"\n{label} #{message.message_id}:\n{message.text or message.caption}\n")
    for number, button in enumerate(buttons(message), start=1):
        target = button.get("url") or button.get("callback_data", "")
        sys.stdout.write(f"  [{number}] {button['text']}  ({target})\n")
    sys.stdout.flush()


async def _follow(telegram: TelegramSandboxControl, user_id: int, last: list[BotMessage]) -> None:
    seq = 0
    while True:
        for message in await telegram.bot_messages_since(seq, timeout=25):
            seq = message.seq
            if message.chat_id == user_id:
                last[:] = [message]
                _print_message(message)


async def chat(language: str, name: str) -> int:
    urls_file = default_data_dir() / SANDBOXES_FILE
    if not urls_file.exists():
        sys.stderr.write("no running `make up` found (start it first in another terminal)\n")
        return 1
    urls = json.loads(urls_file.read_text())
    async with (
        TelegramSandboxControl(urls["telegram"], BOT.token) as telegram,
        YooKassaSandboxControl(urls["yookassa"]) as yookassa,
        WataSandboxControl(urls["wata"]) as wata,
        CryptoPaySandboxControl(urls["cryptopay"]) as cryptopay,
    ):
        customer = await SimulatedCustomer.join(
            telegram,
            yookassa,
            wata=wata,
            cryptopay=cryptopay,
            first_name=name,
            language_code=language,
        )
        sys.stdout.write(f"you are Telegram user {customer.user_id}; {HELP}\n")
        last: list[BotMessage] = []
        follower = asyncio.create_task(_follow(telegram, customer.user_id, last))
        await telegram.send_text(customer.user_id, "/start")
        try:
            while True:
                line = (await asyncio.to_thread(sys.stdin.readline)).strip()
                if not line or line == "/quit":
                    return 0
                await _act(line, customer, last)
        finally:
            follower.cancel()


async def _act(line: str, customer: SimulatedCustomer, last: list[BotMessage]) -> None:
    telegram, user_id = customer.telegram, customer.user_id
    shown = buttons(last[0]) if last else []
    if line == "/buttons":
        for number, button in enumerate(shown, start=1):
            sys.stdout.write(f"  [{number}] {button['text']}\n")
    elif line.startswith("/press"):
        number = int(line.split()[1]) if len(line.split()) == 2 and line.split()[1].isdigit() else 0
        if not 1 <= number <= len(shown) or "callback_data" not in shown[number - 1]:
            sys.stdout.write("no such callback button\n")
            return
        await telegram.press_button(
            user_id, last[0].message_id, callback_data=shown[number - 1]["callback_data"]
        )
    elif line in ("/pay", "/cancel"):
        try:
            link = await customer.payment_link(last[0]) if last else None
            if link is None:
                raise UnexpectedScreen("nothing to pay yet")
            if line == "/pay":
                outcome = await customer.pay(link)
                told = f" ({outcome.status})" if outcome is not None else ""
                sys.stdout.write(f"paid {link.payment_id} with {link.provider}{told}\n")
            else:
                await customer.cancel(link)
                sys.stdout.write(f"payment {link.payment_id} with {link.provider} failed\n")
        except UnexpectedScreen as exc:
            sys.stdout.write(f"{exc}\n")
    else:
        await telegram.send_text(user_id, line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="ru", help="Telegram interface language (ru, en)")
    parser.add_argument("--name", default="Ivan")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(chat(args.language, args.name)))


if __name__ == "__main__":
    main()
