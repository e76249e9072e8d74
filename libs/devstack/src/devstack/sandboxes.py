"""The third parties, emulated: Telegram (with Stars), YooKassa, WATA, Crypto Pay and a
Marzban panel, wired to the platform.

:class:`Sandboxes` serves the emulators on loopback ports inside the caller's event loop,
configured with one bot, one shop, one WATA terminal, one Crypto Pay app and one panel
admin, and tells each service how to reach them (:meth:`Sandboxes.service_env`).
``make up``, the demo, the benchmark and the end-to-end tests all use it; nothing here is
imported by the services.

Given a ``clock_file`` (``chassis.clock``), the platform and the third parties whose
clocks matter to it (YooKassa's payment times, the panel's expiry) live in one moved
time: a test that moves the file walks them all through a month in seconds. Telegram
keeps the real time (its windows are about its own updates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from chassis.clock import OffsetClock
from sandbox.cryptopay import App, CryptoPayEmulator, CryptoPaySandboxControl
from sandbox.cryptopay import create_app as cryptopay_app
from sandbox.marzban import AdminAccount, MarzbanEmulator, MarzbanSandboxControl
from sandbox.marzban import create_app as marzban_app
from sandbox.server import SandboxServer
from sandbox.telegram import DEFAULT_BOT, TelegramEmulator, TelegramSandboxControl
from sandbox.telegram import create_app as telegram_app
from sandbox.wata import Terminal, WataEmulator, WataSandboxControl
from sandbox.wata import create_app as wata_app
from sandbox.yookassa import Shop, YooKassaEmulator, YooKassaSandboxControl
from sandbox.yookassa import create_app as yookassa_app

BOT = DEFAULT_BOT
WEBHOOK_SECRET: Final = "sandbox-webhook-secret"  # noqa: S105 - the sandbox's, never real
SHOP_ID: Final = "100500"
SHOP_SECRET_KEY: Final = "test_sandbox_shop_secret_key"  # noqa: S105 - sandbox only
WATA_TOKEN: Final = "sandbox-wata-terminal-token"  # noqa: S105 - sandbox only
CRYPTOPAY_TOKEN: Final = "100500:AAsandboxCryptoPayAppToken"  # noqa: S105 - sandbox only
PAYMENT_METHODS: Final = "yookassa,wata,telegram_stars,cryptopay,wallet"
PANEL_ADMIN: Final = "platform"
PANEL_PASSWORD: Final = "sandbox-panel-password"  # noqa: S105 - sandbox only


def _panel(clock: OffsetClock | None = None) -> MarzbanEmulator:
    """The panel, with the platform's admin; on ``clock`` when given."""
    admins = [AdminAccount(username=PANEL_ADMIN, password=PANEL_PASSWORD, is_sudo=True)]
    if clock is None:
        return MarzbanEmulator(admins=admins)
    return MarzbanEmulator(admins=admins, clock=lambda: clock.now().timestamp())


@dataclass
class Sandboxes:
    """The emulators for one platform whose gateway answers at ``gateway_url``."""

    gateway_url: str
    ports: dict[str, int] = field(default_factory=dict)
    telegram: TelegramEmulator = field(default_factory=TelegramEmulator)
    yookassa: YooKassaEmulator = field(default_factory=YooKassaEmulator)
    wata: WataEmulator = field(default_factory=WataEmulator)
    cryptopay: CryptoPayEmulator = field(default_factory=CryptoPayEmulator)
    marzban: MarzbanEmulator = field(default_factory=lambda: _panel())
    clock_file: Path | None = None
    _servers: dict[str, SandboxServer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.clock_file is None:
            return
        clock = OffsetClock(self.clock_file)
        self.yookassa = YooKassaEmulator(clock=clock.now)
        self.marzban = _panel(clock)

    async def start(self) -> None:
        self.yookassa.put_shop(
            Shop(
                shop_id=SHOP_ID,
                secret_key=SHOP_SECRET_KEY,
                notification_url=f"{self.gateway_url}/webhooks/yookassa",
            )
        )
        self.wata.put_terminal(
            Terminal(
                name="platform",
                tokens=[WATA_TOKEN],
                webhook_url=f"{self.gateway_url}/webhooks/wata",
            )
        )
        self.cryptopay.put_app(
            App(
                app_id=100500,
                name="platform",
                token=CRYPTOPAY_TOKEN,
                webhook_url=f"{self.gateway_url}/webhooks/cryptopay",
            )
        )
        apps = {
            "telegram": telegram_app(self.telegram),
            "yookassa": yookassa_app(self.yookassa),
            "wata": wata_app(self.wata),
            "cryptopay": cryptopay_app(self.cryptopay),
            "marzban": marzban_app(self.marzban),
        }
        try:
            for name, app in apps.items():
                server = SandboxServer(app, name=name, port=self.ports.get(name, 0))
                await server.start()
                self._servers[name] = server
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in reversed(list(self._servers.values())):
            await server.stop()
        self._servers.clear()

    def url(self, name: str) -> str:
        return self._servers[name].url

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self._servers.items()}

    def service_env(self) -> dict[str, str]:
        """Environment for the five services, pointing each at its emulated third party."""
        telegram, yookassa, wata, cryptopay, marzban = (
            self.url(n) for n in ("telegram", "yookassa", "wata", "cryptopay", "marzban")
        )
        moved = (
            {
                f"{service.upper()}_CLOCK_FILE": str(self.clock_file)
                for service in ("bot", "billing", "provisioning", "notifier", "gateway")
            }
            if self.clock_file is not None
            else {}
        )
        return moved | {
            "BOT_TELEGRAM_API_URL": telegram,
            "BOT_TELEGRAM_BOT_TOKEN": BOT.token,
            "BOT_UPDATE_MODE": "webhook",
            "BOT_WEBHOOK_URL": f"{self.gateway_url}/webhooks/telegram",
            "BOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GATEWAY_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            # The YooKassa emulator posts as if through a proxy on loopback that names
            # YooKassa's address, so billing's source check runs as in production.
            "GATEWAY_TRUSTED_PROXIES": json.dumps(["127.0.0.1/32"]),
            "BILLING_YOOKASSA_API_URL": f"{yookassa}/v3",
            "BILLING_YOOKASSA_SHOP_ID": SHOP_ID,
            "BILLING_YOOKASSA_SECRET_KEY": SHOP_SECRET_KEY,
            "BILLING_YOOKASSA_RETURN_URL": f"https://t.me/{BOT.username}",
            "BILLING_BOT_URL": f"https://t.me/{BOT.username}",
            "BILLING_PAYMENT_METHODS": PAYMENT_METHODS,
            "BILLING_AUTOPAY_ENABLED": "true",  # as YooKassa's test shops allow
            "BILLING_WATA_API_URL": f"{wata}/api/h2h",
            "BILLING_WATA_ACCESS_TOKEN": WATA_TOKEN,
            "BILLING_CRYPTOPAY_API_URL": f"{cryptopay}/api",
            "BILLING_CRYPTOPAY_TOKEN": CRYPTOPAY_TOKEN,
            "BILLING_TELEGRAM_API_URL": telegram,
            "BILLING_TELEGRAM_BOT_TOKEN": BOT.token,
            "GATEWAY_PROVIDER_SOURCE_CHECK": "true",
            "PROVISIONING_MARZBAN_URL": marzban,
            "PROVISIONING_MARZBAN_USERNAME": PANEL_ADMIN,
            "PROVISIONING_MARZBAN_PASSWORD": PANEL_PASSWORD,
            # Said, not guessed from the loopback address: a real panel may be local too.
            "PROVISIONING_MARZBAN_SANDBOX": "true",
            # Customers are given the gateway's stable link, not the panel's own.
            "PROVISIONING_LINK_BASE_URL": f"{self.gateway_url}/sub",
            "NOTIFIER_TELEGRAM_API_URL": telegram,
            "NOTIFIER_TELEGRAM_BOT_TOKEN": BOT.token,
        }

    def telegram_control(self) -> TelegramSandboxControl:
        return TelegramSandboxControl(self.url("telegram"), BOT.token)

    def yookassa_control(self) -> YooKassaSandboxControl:
        return YooKassaSandboxControl(self.url("yookassa"))

    def wata_control(self) -> WataSandboxControl:
        return WataSandboxControl(self.url("wata"))

    def cryptopay_control(self) -> CryptoPaySandboxControl:
        return CryptoPaySandboxControl(self.url("cryptopay"))

    def marzban_control(self) -> MarzbanSandboxControl:
        return MarzbanSandboxControl(self.url("marzban"))
