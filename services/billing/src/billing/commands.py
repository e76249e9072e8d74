"""Billing's own commands besides ``serve|migrate|check-config``, for operators.

``python -m billing refund <order id> [--amount 99.00] [--reason TEXT]`` records a refund
(``billing.refunds.request``) in billing's database and prints its id; the running
service's refund worker then asks the provider. It exits 1 with the reason when the
refund cannot be made, 2 when the configuration is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

from billing import refunds
from billing.app import build_providers
from billing.models import messaging
from billing.settings import BillingSettings
from chassis.cli import load_settings
from chassis.db import create_engine, session_factory, transaction
from chassis.logs import configure_logging
from chassis.messaging.outbox import Outbox
from contracts.topics import SERVICE_SOURCES


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {value!r}") from None


def refund(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m billing refund",
        description=(
            "Refund a paid order, in full or in part: recorded now, then asked of the "
            "provider by the running billing service. Prints the refund's id."
        ),
    )
    parser.add_argument("order_id", type=uuid.UUID, help="the order to refund")
    parser.add_argument(
        "--amount",
        type=_amount,
        help="in the order's currency, e.g. 99.00 (default: all that is left to refund)",
    )
    parser.add_argument("--reason", help="why, for the audit (not shown to the customer)")
    args = parser.parse_args(argv)
    settings = load_settings(BillingSettings)
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    # stdout is the refund id alone, for scripts; the log goes to stderr.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)
    try:
        requested = asyncio.run(_request(settings, args.order_id, args.amount, args.reason))
    except refunds.RefundRefused as refused:
        sys.stderr.write(f"billing refund: refused ({refused.code}): {refused.reason}\n")
        return 1
    print(requested.refund_id)
    return 0


async def _request(
    settings: BillingSettings, order_id: uuid.UUID, amount: Decimal | None, reason: str | None
) -> refunds.Requested:
    engine = create_engine(settings, instrument=False)
    providers = build_providers(settings)
    outbox = Outbox(messaging, source=SERVICE_SOURCES["billing"])
    try:
        async with transaction(session_factory(engine)) as session:
            requested = await refunds.request(
                session, providers, order_id, amount=amount, reason=reason
            )
            await outbox.add_many(session, list(requested.events))
        return requested
    finally:
        await providers.aclose()
        await engine.dispose()


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"refund": refund}
"""Commands ``python -m billing`` runs itself; anything else goes to the shared CLI."""
