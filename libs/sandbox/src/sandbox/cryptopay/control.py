"""Client of the emulator's ``/sandbox`` control API, for tests, the demo and benchmarks."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from sandbox.control import ControlClient, SandboxControlError
from sandbox.cryptopay.notifications import DeliveryAttempt
from sandbox.cryptopay.signature import SignatureMode

JsonObject = dict[str, Any]
ForgedBody = bytes | str | Mapping[str, Any]


class CryptoPaySandboxControl(ControlClient):
    """``async with CryptoPaySandboxControl(server.url) as control: await control.pay(id)``"""

    # -- apps -------------------------------------------------------------------------------

    async def add_app(
        self,
        app_id: int,
        name: str,
        token: str,
        *,
        webhook_url: str | None = None,
        transfer_enabled: bool = False,
        balances: Mapping[str, str | Decimal] | None = None,
    ) -> JsonObject:
        """Add the app, or replace it with these settings; returns them (without the token)."""
        settings = {
            "name": name,
            "token": token,
            "webhook_url": webhook_url,
            "transfer_enabled": transfer_enabled,
            "balances": {asset: str(amount) for asset, amount in (balances or {}).items()},
        }
        return await self._object("PUT", f"apps/{app_id}", settings)

    async def configure_app(
        self,
        app_id: int,
        *,
        webhook_url: str | None = None,
        remove_webhook: bool = False,
        transfer_enabled: bool | None = None,
        balances: Mapping[str, str | Decimal] | None = None,
    ) -> JsonObject:
        """Change some settings of an app; ``None`` leaves a setting as it is."""
        changes: JsonObject = {}
        if webhook_url is not None or remove_webhook:
            changes["webhook_url"] = webhook_url
        if transfer_enabled is not None:
            changes["transfer_enabled"] = transfer_enabled
        if balances is not None:
            changes["balances"] = {asset: str(amount) for asset, amount in balances.items()}
        return await self._object("PATCH", f"apps/{app_id}", changes)

    async def apps(self) -> list[JsonObject]:
        return await self._list("GET", "apps")

    # -- invoices ---------------------------------------------------------------------------

    async def invoice(self, invoice_id: int) -> JsonObject:
        """Raw state: ``{"app_id", "invoice", "deleted", "update": {"update_id", "body"}}``."""
        return await self._object("GET", f"invoices/{invoice_id}")

    async def invoice_by_hash(self, invoice_hash: str) -> JsonObject:
        """Like ``invoice``, for the hash in the invoice's link."""
        return await self._object("GET", f"invoices/by-hash/{invoice_hash}")

    async def pay(
        self,
        invoice_id: int,
        *,
        asset: str | None = None,
        comment: str | None = None,
        anonymous: bool = False,
    ) -> JsonObject:
        """The user pays (a fiat invoice in ``asset``, default the first accepted one)."""
        body = {"asset": asset, "comment": comment, "anonymous": anonymous}
        return await self._object("POST", f"invoices/{invoice_id}/pay", body)

    async def expire(self, invoice_id: int) -> JsonObject:
        """The invoice runs out of time now; returns the expired invoice."""
        return await self._object("POST", f"invoices/{invoice_id}/expire", {})

    async def resend_webhook(self, invoice_id: int, times: int = 1) -> int:
        """Deliver the invoice's update again, byte for byte; returns its ``update_id``."""
        answer = await self._object("POST", f"invoices/{invoice_id}/resend", {"times": times})
        return int(answer["update_id"])

    # -- webhooks ---------------------------------------------------------------------------

    async def send_forged_webhook(
        self,
        app_id: int,
        body: ForgedBody,
        *,
        signature: SignatureMode | str = SignatureMode.VALID,
        url: str | None = None,
        signed_body: str | None = None,
        wrong_token: str | None = None,
    ) -> DeliveryAttempt:
        """POST ``body`` once to the app's webhook URL (or ``url``), as a forger would.

        A mapping is sent as compact JSON. ``signature``: ``valid``, ``none``, ``garbage``,
        ``other_bytes`` (over ``signed_body``, default the same JSON reformatted) or
        ``wrong_token`` (with ``wrong_token``, default a random one).
        """
        if isinstance(body, Mapping):
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            content = body.encode() if isinstance(body, str) else body
        request: JsonObject = {
            "body_base64": base64.b64encode(content).decode(),
            "signature": str(signature),
            "url": url,
            "signed_body": signed_body,
            "wrong_token": wrong_token,
        }
        answer = await self._object("POST", f"apps/{app_id}/webhooks", request)
        return DeliveryAttempt.from_json(answer)

    async def deliveries(
        self, invoice_id: int | None = None, *, app_id: int | None = None
    ) -> list[DeliveryAttempt]:
        params = {
            name: str(value)
            for name, value in (("invoice_id", invoice_id), ("app_id", app_id))
            if value is not None
        }
        answer = await self._list("GET", "deliveries", params=params)
        return [DeliveryAttempt.from_json(item) for item in answer]

    async def wait_delivered(
        self,
        invoice_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancel scope
        *,
        count: int = 1,
        poll_interval: float = 0.02,
    ) -> list[DeliveryAttempt]:
        """Wait until ``count`` deliveries of the invoice's update were answered 200."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = [a for a in await self.deliveries(invoice_id) if a.delivered]
            if len(delivered) >= count:
                return delivered
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{len(delivered)} of {count} updates of invoice {invoice_id} "
                    f"delivered within {timeout} s"
                )
            await asyncio.sleep(poll_interval)

    async def set_update_ids(self, fixed: int | None) -> None:
        """Make every later update carry ``fixed`` as its ``update_id`` (None: fresh ids)."""
        await self._call("PUT", "update-ids", {"fixed": fixed})

    # -- rates, time, outage, reset ---------------------------------------------------------

    async def exchange_rates(self) -> list[JsonObject]:
        return await self._list("GET", "exchange-rates")

    async def set_exchange_rates(
        self, rates: Mapping[str, Mapping[str, str | Decimal]], *, replace: bool = False
    ) -> list[JsonObject]:
        """Set ``{source: {target: rate}}``, e.g. ``{"USDT": {"RUB": "95.00"}}``."""
        body = {
            "rates": {
                source: {target: str(rate) for target, rate in targets.items()}
                for source, targets in rates.items()
            },
            "replace": replace,
        }
        answer = await self._call("PUT", "exchange-rates", body)
        if not isinstance(answer, list):
            raise SandboxControlError(200, answer)
        return answer

    async def advance_clock(self, seconds: float) -> str:
        """Move the emulator's clock forward (invoices expire); returns the new time."""
        answer = await self._object("POST", "clock/advance", {"seconds": seconds})
        return str(answer["now"])

    async def outage(
        self,
        mode: Literal["error", "timeout"] = "error",
        *,
        status: int = 502,
        delay_s: float | None = None,
    ) -> JsonObject:
        """Make ``/api`` fail: ``error`` answers ``status``; ``timeout`` hangs requests
        for ``delay_s`` seconds (None: until :meth:`restore`)."""
        body = {"mode": mode, "status": status, "delay_s": delay_s}
        return await self._object("PUT", "outage", body)

    async def restore(self) -> None:
        await self._call("DELETE", "outage", None)

    async def outage_state(self) -> JsonObject:
        return await self._object("GET", "outage")

    async def reset(self, *, keep_apps: bool = False) -> None:
        """Forget invoices, transfers, updates and deliveries (and apps, unless kept)."""
        await self._call("POST", "reset", {"keep_apps": keep_apps})
