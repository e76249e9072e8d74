"""Client of the emulator's ``/sandbox`` control API, for tests, the demo and benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal

from sandbox.control import ControlClient
from sandbox.yookassa.notifications import DeliveryAttempt

JsonObject = dict[str, Any]


class YooKassaSandboxControl(ControlClient):
    """``async with YooKassaSandboxControl(server.url) as control: await control.succeed(id)``"""

    # -- shops ------------------------------------------------------------------------------

    async def add_shop(
        self,
        shop_id: str,
        secret_key: str,
        *,
        notification_url: str | None = None,
        fiscalization_enabled: bool = False,
        test: bool = True,
        gateway_id: str | None = None,
        payment_methods: Sequence[str] | None = None,
        autopayments_enabled: bool = True,
    ) -> JsonObject:
        """Add the shop, or replace it with these settings; returns them (without the key)."""
        settings: JsonObject = {
            "secret_key": secret_key,
            "notification_url": notification_url,
            "fiscalization_enabled": fiscalization_enabled,
            "test": test,
            "autopayments_enabled": autopayments_enabled,
        }
        if gateway_id is not None:
            settings["gateway_id"] = gateway_id
        if payment_methods is not None:
            settings["payment_methods"] = list(payment_methods)
        return await self._object("PUT", f"shops/{shop_id}", settings)

    async def configure_shop(
        self,
        shop_id: str,
        *,
        notification_url: str | None = None,
        fiscalization_enabled: bool | None = None,
        autopayments_enabled: bool | None = None,
        payment_methods: Sequence[str] | None = None,
    ) -> JsonObject:
        """Change some settings of a shop; ``None`` leaves a setting as it is."""
        changes: JsonObject = {
            name: value
            for name, value in (
                ("notification_url", notification_url),
                ("fiscalization_enabled", fiscalization_enabled),
                ("autopayments_enabled", autopayments_enabled),
            )
            if value is not None
        }
        if payment_methods is not None:
            changes["payment_methods"] = list(payment_methods)
        return await self._object("PATCH", f"shops/{shop_id}", changes)

    async def shops(self) -> list[JsonObject]:
        return await self._list("GET", "shops")

    # -- payments ---------------------------------------------------------------------------

    async def payment(self, payment_id: str) -> JsonObject:
        """Raw state: ``{"shop_id", "payment", "capture", "receipt", "refunds", "events", ...}``.

        ``receipt`` is the receipt as registered; ``payment_method_id`` the saved method an
        autopayment charged; ``saved_payment_method`` the method this payment saved.
        """
        return await self._object("GET", f"payments/{payment_id}")

    async def succeed(
        self, payment_id: str, *, payment_method_type: str | None = None
    ) -> JsonObject:
        """The user pays, or the bank answers a held autopayment; returns the payment object
        (``succeeded`` or ``waiting_for_capture``)."""
        body = {} if payment_method_type is None else {"payment_method_type": payment_method_type}
        return await self._object("POST", f"payments/{payment_id}/succeed", body)

    async def cancel(
        self,
        payment_id: str,
        *,
        reason: str = "expired_on_confirmation",
        party: str = "yoo_money",
    ) -> JsonObject:
        """YooKassa or the bank cancels the payment; returns the payment object."""
        return await self._object(
            "POST", f"payments/{payment_id}/cancel", {"reason": reason, "party": party}
        )

    async def renotify(self, payment_id: str, times: int = 3) -> str:
        """Deliver the current status's notification ``times`` more times; returns the event."""
        answer = await self._object("POST", f"payments/{payment_id}/renotify", {"times": times})
        return str(answer["event"])

    # -- saved payment methods (autopayments) -----------------------------------------------

    async def payment_method(self, method_id: str) -> JsonObject:
        """A saved method: ``{"id", "shop_id", "type", "revoked", "planned_charges",
        "charges"}``; its id is the id of the payment that saved it."""
        return await self._object("GET", f"payment-methods/{method_id}")

    async def revoke_payment_method(self, method_id: str) -> None:
        """The user withdraws consent: every later autopayment from the method is created
        ``canceled`` with ``{"party": "yoo_money", "reason": "permission_revoked"}``."""
        await self._call("POST", f"payment-methods/{method_id}/revoke", {})

    async def plan_charges(
        self,
        method_id: str,
        status: Literal["canceled", "pending"] = "canceled",
        *,
        reason: str = "insufficient_funds",
        party: str | None = None,
        count: int = 1,
    ) -> JsonObject:
        """Decide the next ``count`` autopayments from the method; later ones are paid at once.

        ``canceled``: the charge is created canceled with ``reason``; ``party`` defaults to
        ``payment_network`` (the card's bank), or ``yoo_money`` for ``permission_revoked``.
        ``pending``: the charge stays pending until :meth:`succeed` or :meth:`cancel`, as
        when the bank or the cash register is slow. ``method_id`` may be a pending payment's
        that asks to save its method (the id the method will have): the plan waits for it.
        Returns the method (see :meth:`payment_method`).
        """
        body: JsonObject = {"status": status, "reason": reason, "count": count}
        if party is not None:
            body["party"] = party
        return await self._object("POST", f"payment-methods/{method_id}/planned-charges", body)

    # -- refunds ----------------------------------------------------------------------------

    async def refund(self, refund_id: str) -> JsonObject:
        """Raw state: ``{"shop_id", "refund", "receipt"}`` (the receipt sent with the refund)."""
        return await self._object("GET", f"refunds/{refund_id}")

    async def plan_refunds(
        self,
        payment_id: str,
        status: Literal["pending", "canceled"] = "pending",
        *,
        reason: str = "general_decline",
        party: str = "payment_network",
        count: int = 1,
    ) -> list[JsonObject]:
        """Decide the next ``count`` refunds of the payment; later ones succeed at once.

        ``pending``: the refund is created pending, holding its amount, until
        :meth:`succeed_refund` or :meth:`cancel_refund`. ``canceled``: it is created
        canceled with a refund cancellation ``reason``. A canceled refund sends no
        notification (YooKassa has no ``refund.canceled``). Returns the plan.
        """
        body = {"status": status, "reason": reason, "party": party, "count": count}
        answer = await self._object("POST", f"payments/{payment_id}/planned-refunds", body)
        return list(answer["planned_refunds"])

    async def succeed_refund(self, refund_id: str) -> JsonObject:
        """A pending refund goes through (``refund.succeeded`` is sent); returns the refund."""
        return await self._object("POST", f"refunds/{refund_id}/succeed", {})

    async def cancel_refund(
        self, refund_id: str, *, reason: str = "general_decline", party: str = "payment_network"
    ) -> JsonObject:
        """A pending refund is declined; its amount can be refunded again. Returns the refund."""
        return await self._object(
            "POST", f"refunds/{refund_id}/cancel", {"reason": reason, "party": party}
        )

    # -- failures ---------------------------------------------------------------------------

    async def fail_next(
        self,
        operation: Literal[
            "create_payment", "capture_payment", "cancel_payment", "create_refund"
        ] = "create_payment",
        *,
        status: Literal[500, 429] = 500,
        count: int = 1,
        executed: bool = False,
    ) -> list[JsonObject]:
        """The next ``count`` calls of ``operation`` answer YooKassa's JSON error ``status``:
        500 ``internal_server_error`` (the result is unknown) or 429 ``too_many_requests``.

        ``executed`` (500 only): the operation is carried out and only the answer is lost,
        so a repeat with the same Idempotence-Key returns the object; otherwise nothing is
        done and a repeat is carried out afresh. Returns every planned failure.
        """
        body = {"operation": operation, "status": status, "count": count, "executed": executed}
        answer = await self._object("POST", "faults", body)
        return list(answer["faults"])

    async def faults(self) -> list[JsonObject]:
        """Planned failures not yet used up: ``{"operation", "status", "remaining", ...}``."""
        return list((await self._object("GET", "faults"))["faults"])

    async def clear_faults(self) -> None:
        await self._call("DELETE", "faults", None)

    async def outage(
        self,
        mode: Literal["error", "timeout"] = "error",
        *,
        status: int = 502,
        delay_s: float | None = None,
    ) -> JsonObject:
        """Make the whole API fail (the control API stays up): ``error`` answers ``status``
        as the proxy in front would; ``timeout`` hangs requests for ``delay_s`` seconds
        (None: until :meth:`restore`). Returns ``{"active", "mode", "status", ...}``."""
        body = {"mode": mode, "status": status, "delay_s": delay_s}
        return await self._object("PUT", "outage", body)

    async def restore(self) -> None:
        """End the outage; requests held by a ``timeout`` outage go on."""
        await self._call("DELETE", "outage", None)

    async def outage_state(self) -> JsonObject:
        return await self._object("GET", "outage")

    # -- notifications ----------------------------------------------------------------------

    async def send_raw_notification(
        self,
        shop_id: str,
        body: object,
        *,
        url: str | None = None,
        forwarded_for: str | None = None,
    ) -> DeliveryAttempt:
        """POST ``body`` once to the shop's notification URL (or ``url``), as a forger would.

        ``forwarded_for`` replaces the emulator's usual ``X-Forwarded-For``.
        """
        request: JsonObject = {"body": body}
        if url is not None:
            request["url"] = url
        if forwarded_for is not None:
            request["forwarded_for"] = forwarded_for
        answer = await self._object("POST", f"shops/{shop_id}/notifications", request)
        return DeliveryAttempt.from_json(answer)

    async def deliveries(
        self, payment_id: str | None = None, *, event: str | None = None
    ) -> list[DeliveryAttempt]:
        params = {
            name: value
            for name, value in (("payment_id", payment_id), ("event", event))
            if value is not None
        }
        answer = await self._list("GET", "deliveries", params=params)
        return [DeliveryAttempt.from_json(item) for item in answer]

    async def wait_delivered(
        self,
        payment_id: str,
        event: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancel scope
        *,
        count: int = 1,
        poll_interval: float = 0.02,
    ) -> list[DeliveryAttempt]:
        """Wait until ``count`` deliveries of ``event`` for the payment were answered 200."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = [
                attempt
                for attempt in await self.deliveries(payment_id, event=event)
                if attempt.delivered
            ]
            if len(delivered) >= count:
                return delivered
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{len(delivered)} of {count} {event} notifications for {payment_id} "
                    f"delivered within {timeout} s"
                )
            await asyncio.sleep(poll_interval)

    # -- the sandbox as a whole -------------------------------------------------------------

    async def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (idempotence keys and held payments expire)."""
        await self._call("POST", "clock/advance", {"seconds": seconds})

    async def reset(self, *, keep_shops: bool = False) -> None:
        """Forget payments, refunds, keys, deliveries and plans, end any outage (and forget
        shops, unless kept)."""
        await self._call("POST", "reset", {"keep_shops": keep_shops})
