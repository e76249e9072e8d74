"""Billing's own commands besides ``serve|migrate|check-config``, for operators.

``python -m billing refund <order id> [--amount 99.00] [--reason TEXT]`` records a refund
(``billing.refunds.request``) in billing's database and prints its id; the running
service's refund worker then asks the provider. It exits 1 with the reason when the
refund cannot be made, 2 when the configuration is wrong.

``python -m billing promo create CODE (--percent N | --amount 100.00 --currency RUB |
--days N | --traffic-gb N) [--max-uses N] [--reusable] [--first-purchase-only]
[--plans m1,q3] [--from ISO] [--until ISO] [--note TEXT]`` adds a promo code;
``python -m billing promo list`` prints every code with its uses. Exit 1: the code exists
already; 2: the arguments are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from billing import promo_codes, refunds
from billing.app import build_providers
from billing.domain.promos import Code
from billing.models import messaging
from billing.settings import BillingSettings
from chassis.cli import load_settings
from chassis.db import create_engine, session_factory, transaction
from chassis.logs import configure_logging
from chassis.messaging.outbox import Outbox
from contracts.billing import PromoKind
from contracts.fields import promo_code_from
from contracts.money import Money
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


GIB: Final = 1024**3


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the zone too, e.g. {value}+00:00")
    return moment.astimezone(UTC)


def _promo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m billing promo", description="Promo codes.")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="add a code")
    create.add_argument("code", help="3-32 letters, digits, _ or - (capitalized)")
    benefit = create.add_mutually_exclusive_group(required=True)
    benefit.add_argument("--percent", type=int, help="percent off a purchase (1-99)")
    benefit.add_argument("--amount", type=_amount, help="a fixed amount off, e.g. 100.00")
    benefit.add_argument("--days", type=int, help="free days, added when entered")
    benefit.add_argument("--traffic-gb", type=int, help="extra GB with a purchase")
    create.add_argument("--currency", help="the fixed amount's currency, e.g. RUB")
    create.add_argument("--max-uses", type=int, help="uses in all (default: no limit)")
    create.add_argument(
        "--reusable", action="store_true", help="a customer may use it more than once"
    )
    create.add_argument("--first-purchase-only", action="store_true")
    create.add_argument("--plans", help="the plans it is for, comma-separated (default: all)")
    create.add_argument("--from", dest="valid_from", type=_moment, help="valid from (ISO 8601)")
    create.add_argument("--until", dest="valid_until", type=_moment, help="valid until")
    create.add_argument("--note", help="for operators; never shown to customers")
    actions.add_parser("list", help="every code with its uses")
    return parser


def promo(argv: Sequence[str]) -> int:
    parser = _promo_parser()
    args = parser.parse_args(argv)
    settings = load_settings(BillingSettings)
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    if args.action == "list":
        for code, note in asyncio.run(_listing(settings)):
            print(_line(code, note))
        return 0
    try:
        code = _code(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_create(settings, code, args.note))
    except promo_codes.CodeTaken:
        sys.stderr.write(f"billing promo: {code.code} exists already\n")
        return 1
    except ValueError as exc:
        parser.error(str(exc))
    print(code.code)
    return 0


def _code(args: argparse.Namespace) -> Code:
    kind: PromoKind
    fields: dict[str, Any] = {}
    if args.percent is not None:
        kind, fields["percent_off"] = "percent", args.percent
    elif args.amount is not None:
        if not args.currency:
            raise ValueError("--amount needs --currency")
        kind = "fixed"
        fields["amount_off"] = Money.from_decimal(args.amount, args.currency.upper())
    elif args.days is not None:
        kind, fields["free_days"] = "free_days", args.days
    else:
        kind, fields["extra_traffic_bytes"] = "extra_traffic", args.traffic_gb * GIB
    name = promo_code_from(args.code)
    if name is None:
        raise ValueError(f"not a code: {args.code!r} (3-32 letters, digits, _ or -)")
    plans = tuple(plan.strip() for plan in (args.plans or "").split(",") if plan.strip())
    return Code(
        code=name,
        kind=kind,
        plan_ids=plans,
        max_uses=args.max_uses,
        once_per_customer=not args.reusable,
        first_purchase_only=args.first_purchase_only,
        valid_from=args.valid_from,
        valid_until=args.valid_until,
        **fields,
    )


def _line(code: Code, note: str | None) -> str:
    offer = code.offer
    benefit = {
        "percent": f"-{offer.percent_off}%",
        "fixed": f"-{offer.amount_off}",
        "free_days": f"+{offer.free_days} days",
        "extra_traffic": f"+{(offer.extra_traffic_bytes or 0) // GIB} GB",
    }[code.kind]
    uses = f"{code.uses}/{code.max_uses}" if code.max_uses is not None else f"{code.uses}/-"
    limits = [
        "once" if code.once_per_customer else "reusable",
        *(["first purchase"] if code.first_purchase_only else []),
        *([f"plans {','.join(code.plan_ids)}"] if code.plan_ids else []),
        *([f"from {code.valid_from.isoformat()}"] if code.valid_from else []),
        *([f"until {code.valid_until.isoformat()}"] if code.valid_until else []),
    ]
    return "\t".join([code.code, benefit, uses, ", ".join(limits), note or ""])


async def _create(settings: BillingSettings, code: Code, note: str | None) -> None:
    engine = create_engine(settings, instrument=False)
    try:
        async with transaction(session_factory(engine)) as session:
            await promo_codes.create(session, code, note=note)
    finally:
        await engine.dispose()


async def _listing(settings: BillingSettings) -> list[tuple[Code, str | None]]:
    engine = create_engine(settings, instrument=False)
    try:
        async with session_factory(engine)() as session:
            return await promo_codes.listing(session)
    finally:
        await engine.dispose()


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"refund": refund, "promo": promo}
"""Commands ``python -m billing`` runs itself; anything else goes to the shared CLI."""
