"""Client of the emulator's ``/sandbox`` control API, for tests, the demo and benchmarks."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sandbox.control import ControlClient
from sandbox.wata import wire
from sandbox.wata.notifications import DeliveryAttempt

JsonObject = dict[str, Any]
Outcome = Literal["Paid", "Declined", "Pending"]
SignatureMode = Literal["valid", "missing", "garbage", "other-body", "foreign-key", "custom"]
_UNSET: Any = object()


class WataSandboxControl(ControlClient):
    """``async with WataSandboxControl(server.url) as control: await control.pay(link_id)``

    Amounts in answers are ``Decimal``; objects are the API's own (camelCase) shapes.
    """

    # -- terminals --------------------------------------------------------------------------

    async def add_terminal(
        self,
        name: str,
        *,
        public_id: str | None = None,
        tokens: Sequence[str | tuple[str, datetime | None]] | None = None,
        webhook_url: str | None = None,
        send_pay_webhook: bool = True,
        send_pay_webhook_on_decline: bool = True,
        send_refund_webhook: bool = True,
        refunds_enabled: bool = True,
        payment_methods: Sequence[str] | None = None,
    ) -> JsonObject:
        """Add the terminal, or replace the one with ``public_id``; returns its settings.

        Without ``tokens`` the emulator issues one (read it from ``settings["tokens"]``);
        a token given as ``(value, expires_at)`` answers 401 from ``expires_at`` on.
        """
        settings: JsonObject = {
            "name": name,
            "webhookUrl": webhook_url,
            "sendPayWebhook": send_pay_webhook,
            "sendPayWebhookOnDecline": send_pay_webhook_on_decline,
            "sendRefundWebhook": send_refund_webhook,
            "refundsEnabled": refunds_enabled,
        }
        if public_id is not None:
            settings["publicId"] = public_id
        if tokens is not None:
            settings["tokens"] = [_token(token) for token in tokens]
        if payment_methods is not None:
            settings["paymentMethods"] = list(payment_methods)
        return await self._object("POST", "terminals", settings)

    async def configure_terminal(
        self,
        public_id: str,
        *,
        name: str | None = None,
        tokens: Sequence[str | tuple[str, datetime | None]] | None = None,
        webhook_url: str | None = _UNSET,
        send_pay_webhook: bool | None = None,
        send_pay_webhook_on_decline: bool | None = None,
        send_refund_webhook: bool | None = None,
        refunds_enabled: bool | None = None,
        payment_methods: Sequence[str] | None = None,
    ) -> JsonObject:
        """Change some settings; ``None`` leaves one as it is, but ``webhook_url=None`` clears."""
        changes: JsonObject = {
            member: value
            for member, value in (
                ("name", name),
                ("sendPayWebhook", send_pay_webhook),
                ("sendPayWebhookOnDecline", send_pay_webhook_on_decline),
                ("sendRefundWebhook", send_refund_webhook),
                ("refundsEnabled", refunds_enabled),
            )
            if value is not None
        }
        if webhook_url is not _UNSET:
            changes["webhookUrl"] = webhook_url
        if tokens is not None:
            changes["tokens"] = [_token(token) for token in tokens]
        if payment_methods is not None:
            changes["paymentMethods"] = list(payment_methods)
        return await self._object("PATCH", f"terminals/{public_id}", changes)

    async def terminals(self) -> list[JsonObject]:
        return await self._list("GET", "terminals")

    # -- the payer and the bank -------------------------------------------------------------

    async def pay(
        self,
        link_id: str,
        *,
        method: str = "CardCrypto",
        outcome: Outcome = "Paid",
        error_code: str | None = None,
        error_description: str | None = None,
        amount: Decimal | None = None,
        email: str | None = None,
    ) -> JsonObject:
        """The payer pays on the link's form; returns the transaction (``GET`` shape).

        ``Declined`` needs an ``error_code`` such as ``Payment:TRA_2002`` (the description
        defaults to WATA's text for it); ``Pending`` waits for :meth:`settle`.
        """
        body: JsonObject = {"method": method, "outcome": outcome}
        for member, value in (
            ("errorCode", error_code),
            ("errorDescription", error_description),
            ("amount", amount),
            ("email", email),
        ):
            if value is not None:
                body[member] = value
        return await self._object("POST", f"links/{link_id}/pay", body)

    async def decline(
        self,
        link_id: str,
        error_code: str = "Payment:TRA_2002",
        *,
        error_description: str | None = None,
        method: str = "CardCrypto",
    ) -> JsonObject:
        """A declined attempt to pay the link (insufficient funds unless told otherwise)."""
        return await self.pay(
            link_id,
            method=method,
            outcome="Declined",
            error_code=error_code,
            error_description=error_description,
        )

    async def settle(
        self,
        transaction_id: str,
        outcome: Literal["Paid", "Declined"] = "Paid",
        *,
        error_code: str | None = None,
        error_description: str | None = None,
    ) -> JsonObject:
        """End a ``Pending`` payment or refund; returns the transaction."""
        body: JsonObject = {"outcome": outcome}
        if error_code is not None:
            body["errorCode"] = error_code
        if error_description is not None:
            body["errorDescription"] = error_description
        return await self._object("POST", f"transactions/{transaction_id}/settle", body)

    async def plan_refunds(
        self,
        outcome: Outcome = "Declined",
        *,
        error_code: str | None = None,
        error_description: str | None = None,
        count: int = 1,
    ) -> list[JsonObject]:
        """How the next ``count`` refunds end; later ones are ``Paid`` again."""
        body: JsonObject = {"outcome": outcome, "count": count}
        if error_code is not None:
            body["errorCode"] = error_code
        if error_description is not None:
            body["errorDescription"] = error_description
        answer = await self._object("POST", "refund-plan", body)
        return list(answer["plan"])

    async def clear_refund_plan(self) -> None:
        await self._call("DELETE", "refund-plan", None)

    # -- state, read past the API's rate limit ----------------------------------------------

    async def link(self, link_id: str) -> JsonObject:
        """``{"link": <link>, "transactions": [<payment>, ...]}``"""
        return await self._object("GET", f"links/{link_id}")

    async def transaction(self, transaction_id: str) -> JsonObject:
        """``{"transaction", "originalTransactionId", "refundable", "refunds": [...]}``"""
        return await self._object("GET", f"transactions/{transaction_id}")

    # -- webhooks ---------------------------------------------------------------------------

    async def resend_webhook(self, transaction_id: str, times: int = 1) -> int:
        """Send the transaction's webhook again, as the cabinet's button does."""
        answer = await self._object(
            "POST", f"transactions/{transaction_id}/resend-webhook", {"times": times}
        )
        return int(answer["sent"])

    async def send_forged_webhook(
        self,
        body: bytes | str | Mapping[str, Any],
        *,
        signature: SignatureMode = "valid",
        signed_body: bytes | None = None,
        signature_value: str | None = None,
        terminal_public_id: str | None = None,
        url: str | None = None,
        forwarded_for: str | None = _UNSET,
    ) -> DeliveryAttempt:
        """POST ``body`` once to the terminal's webhook URL (or ``url``), as a forger would.

        A mapping is encoded as WATA encodes JSON; bytes go out as they are. ``signature``:
        ``valid`` signs the bytes sent with the emulator's key, ``missing`` sends no
        ``X-Signature``, ``garbage`` random base64, ``other-body`` a valid signature over
        ``signed_body`` (default: the body plus a space), ``foreign-key`` a signature by
        another key, ``custom`` the header ``signature_value``. ``forwarded_for=None``
        omits ``X-Forwarded-For``.
        """
        if isinstance(body, bytes):
            content = body
        elif isinstance(body, str):
            content = body.encode()
        else:
            content = wire.dumps(dict(body))
        request: JsonObject = {
            "body": base64.b64encode(content).decode(),
            "signature": signature,
        }
        if signed_body is not None:
            request["signedBody"] = base64.b64encode(signed_body).decode()
        if signature_value is not None:
            request["signatureValue"] = signature_value
        if terminal_public_id is not None:
            request["terminalPublicId"] = terminal_public_id
        if url is not None:
            request["url"] = url
        if forwarded_for is not _UNSET:
            request["forwardedFor"] = forwarded_for
        return DeliveryAttempt.from_json(await self._object("POST", "webhooks/forged", request))

    async def deliveries(
        self, transaction_id: str | None = None, *, kind: str | None = None
    ) -> list[DeliveryAttempt]:
        params = {
            name: value
            for name, value in (("transactionId", transaction_id), ("kind", kind))
            if value is not None
        }
        answer = await self._list("GET", "deliveries", params=params)
        return [DeliveryAttempt.from_json(item) for item in answer]

    async def wait_delivered(
        self,
        transaction_id: str,
        status: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancel scope
        *,
        count: int = 1,
        poll_interval: float = 0.02,
    ) -> list[DeliveryAttempt]:
        """Wait until ``count`` webhooks of the transaction (in ``status``) were answered 200."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = [
                attempt
                for attempt in await self.deliveries(transaction_id)
                if attempt.delivered and status in (None, attempt.transaction_status)
            ]
            if len(delivered) >= count:
                return delivered
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{len(delivered)} of {count} {status or ''} webhooks of {transaction_id} "
                    f"delivered within {timeout} s"
                )
            await asyncio.sleep(poll_interval)

    # -- the signing key, the clock, outages, reset -----------------------------------------

    async def public_key(self) -> str:
        """The PEM ``/api/h2h/public-key`` serves right now."""
        return str((await self._object("GET", "keys"))["value"])

    async def rotate_key(self) -> str:
        """Replace the signing key pair; returns the new public PEM."""
        return str((await self._object("POST", "keys/rotate", {}))["value"])

    async def advance_clock(self, seconds: float) -> str:
        """Move the emulator's clock forward (links expire, rate-limit windows pass)."""
        return str((await self._object("POST", "clock/advance", {"seconds": seconds}))["now"])

    async def outage(
        self,
        mode: Literal["error", "timeout"] = "error",
        *,
        status: int = 502,
        delay_s: float | None = None,
    ) -> JsonObject:
        """Make ``/api/h2h`` fail: ``error`` answers ``status``; ``timeout`` hangs requests
        for ``delay_s`` seconds (None: until :meth:`restore`)."""
        return await self._object(
            "PUT", "outage", {"mode": mode, "status": status, "delay_s": delay_s}
        )

    async def restore(self) -> None:
        await self._call("DELETE", "outage", None)

    async def outage_state(self) -> JsonObject:
        return await self._object("GET", "outage")

    async def reset(self, *, keep_terminals: bool = False) -> None:
        """Forget links, transactions, plans, deliveries and the clock offset (and terminals,
        unless kept); ends an outage."""
        await self._call("POST", "reset", {"keepTerminals": keep_terminals})

    def _encode(self, body: object) -> bytes:
        return wire.dumps(body)

    def _decode(self, content: bytes) -> object:
        return json.loads(content, parse_float=Decimal)


def _token(token: str | tuple[str, datetime | None]) -> object:
    if isinstance(token, str):
        return token
    value, expires_at = token
    return {"value": value, "expiresAt": None if expires_at is None else expires_at.isoformat()}
