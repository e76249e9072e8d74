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

``python -m billing experiment start NAME --plans m1,m3 --variant control --variant low
[--variant NAME:WEIGHT ...] --price low:m1=149.00:RUB [...] [--note TEXT]`` starts a price
experiment and publishes the catalog with its quotes; ``experiment stop NAME`` ends it
(its quotes are withdrawn, everyone is offered the list prices again); ``experiment list``;
``experiment report NAME`` prints each variant's customers, checkouts, payers, conversion
and revenue. Exit 1: refused (the reason on stderr); 2: the arguments are wrong.

``python -m billing plan set ID --title ru=… --title en=… (--days N | --months N)
--price 349.00:RUB [--price 300:XTR] [--traffic-gb N] [--monthly-reset | --no-carry-over]
[--tier N] [--inactive] [--position N]`` creates a plan or replaces its definition and
publishes the catalog; ``plan list`` prints every plan. Exit 1: refused; 2: wrong
arguments.

``python -m billing plan region-price ID --region nl --price 249.00:RUB [--price …]``
sets the plan's prices for customers who choose that region (currencies without one
there pay the base price); ``--clear`` instead of the prices sells it there at the base
price again. The region must be in provisioning's catalog, and the plan in no running
price experiment. Publishes the catalog. Exit 1: refused; 2: wrong arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from billing import experiments, plans, promo_codes, refunds
from billing import regions as known
from billing.app import build_providers, payment_methods
from billing.catalog import publish_if_changed
from billing.domain.prices import (
    Experiment,
    ExperimentRefusal,
    RegionalPriceRefusal,
    Variant,
    check_experiment,
    check_regional_price,
)
from billing.domain.promos import Code
from billing.models import messaging
from billing.quotes import list_prices
from billing.settings import BillingSettings
from chassis.cli import command_settings
from chassis.db import create_engine, session_factory, transaction
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


def _settings() -> BillingSettings:
    return command_settings(BillingSettings)


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
    settings = _settings()
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
    settings = _settings()
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


def _experiment_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m billing experiment", description="Price experiments."
    )
    actions = parser.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start one and publish its prices")
    start.add_argument("name", help="1-32 of a-z, 0-9 and -, starting with a letter")
    start.add_argument("--plans", required=True, help="its plans, comma-separated")
    start.add_argument(
        "--variant",
        action="append",
        required=True,
        metavar="NAME[:WEIGHT]",
        help="a variant and its share (default weight 1); at least two",
    )
    start.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="VARIANT:PLAN=AMOUNT:CURRENCY",
        help="a variant's price for a plan, e.g. low:m1=149.00:RUB (others: the list price)",
    )
    start.add_argument("--note", help="for operators; never shown to customers")
    stop = actions.add_parser("stop", help="end one: its quotes are withdrawn")
    stop.add_argument("name")
    actions.add_parser("list", help="every experiment")
    report = actions.add_parser("report", help="conversion and revenue per variant")
    report.add_argument("name")
    return parser


_EXPERIMENT_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
_VARIANT_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")


def _variants(specs: Sequence[str], prices: Sequence[str]) -> tuple[Variant, ...]:
    weights: dict[str, int] = {}
    for spec in specs:
        name, _, weight = spec.partition(":")
        if not _VARIANT_NAME.fullmatch(name):
            raise ValueError(f"not a variant name: {name!r} (1-16 of a-z, 0-9 and -)")
        if name in weights:
            raise ValueError(f"variant {name} given twice")
        try:
            weights[name] = int(weight) if weight else 1
        except ValueError:
            raise ValueError(f"not a weight: {weight!r}") from None
    overrides: dict[str, dict[str, dict[str, int]]] = {name: {} for name in weights}
    for spec in prices:
        found = re.fullmatch(r"([^:]+):([^=]+)=([0-9]+(?:\.[0-9]+)?):([A-Za-z]{3})", spec)
        if found is None:
            raise ValueError(f"not VARIANT:PLAN=AMOUNT:CURRENCY: {spec!r}")
        variant, plan_id, amount, currency = found.groups()
        if variant not in overrides:
            raise ValueError(f"--price names no --variant: {variant}")
        price = Money.from_decimal(Decimal(amount), currency.upper())
        overrides[variant].setdefault(plan_id, {})[price.currency] = price.amount_minor
    return tuple(Variant(name, weight, overrides[name]) for name, weight in weights.items())


def experiment(argv: Sequence[str]) -> int:
    parser = _experiment_parser()
    args = parser.parse_args(argv)
    settings = _settings()
    now = settings.clock().now()
    try:
        if args.action == "start":
            if not _EXPERIMENT_NAME.fullmatch(args.name):
                parser.error(f"not an experiment name: {args.name!r}")
            try:
                started = Experiment(
                    experiment_id=args.name,
                    plan_ids=tuple(p.strip() for p in args.plans.split(",") if p.strip()),
                    variants=_variants(args.variant, args.price),
                    started_at=now,
                )
            except ValueError as exc:
                parser.error(str(exc))
            asyncio.run(_publishing(settings, _start(started, args.note)))
            print(args.name)
        elif args.action == "stop":
            asyncio.run(_publishing(settings, _stop(args.name, now)))
            print(args.name)
        elif args.action == "list":
            for line in asyncio.run(_experiment_lines(settings)):
                print(line)
        else:
            for line in asyncio.run(_report_lines(settings, args.name)):
                print(line)
    except ExperimentRefusal as refused:
        sys.stderr.write(f"billing experiment: refused: {refused}\n")
        return 1
    return 0


Change = Callable[[AsyncSession], Awaitable[None]]


def _start(started: Experiment, note: str | None) -> Change:
    async def change(session: AsyncSession) -> None:
        busy = [plan for running in await experiments.running(session) for plan in running.plan_ids]
        regional = await plans.regional_prices(session)
        check_experiment(started, await list_prices(session), busy, regional)
        await experiments.start(session, started, note)

    return change


def _stop(name: str, now: datetime) -> Change:
    async def change(session: AsyncSession) -> None:
        await experiments.stop(session, name, now)

    return change


async def _publishing(settings: BillingSettings, change: Change) -> None:
    """Make the change and publish the catalog it makes, in one transaction: customers
    are offered the new prices exactly when they are billing's."""
    engine = create_engine(settings, instrument=False)
    providers = build_providers(settings)
    outbox = Outbox(messaging, source=SERVICE_SOURCES["billing"])
    try:
        async with transaction(session_factory(engine)) as session:
            await change(session)
            await publish_if_changed(session, outbox, payment_methods(settings, providers))
    finally:
        await providers.aclose()
        await engine.dispose()


async def _experiment_lines(settings: BillingSettings) -> list[str]:
    engine = create_engine(settings, instrument=False)
    try:
        async with session_factory(engine)() as session:
            listing = await experiments.listing(session)
    finally:
        await engine.dispose()
    lines = []
    for row, found in listing:
        state = f"stopped {row.stopped_at.isoformat()}" if row.stopped_at else "running"
        variants = ", ".join(
            f"{variant.name}:{variant.weight}"
            + "".join(
                f" {plan}={Money(amount_minor=amount, currency=currency)}"
                for plan, prices in variant.overrides.items()
                for currency, amount in prices.items()
            )
            for variant in found.variants
        )
        lines.append(
            "\t".join(
                [
                    row.experiment_id,
                    ",".join(row.plan_ids),
                    f"from {row.started_at.isoformat()}",
                    state,
                    variants,
                    row.note or "",
                ]
            )
        )
    return lines


async def _report_lines(settings: BillingSettings, name: str) -> list[str]:
    engine = create_engine(settings, instrument=False)
    try:
        async with session_factory(engine)() as session:
            row, results = await experiments.report(session, name)
    finally:
        await engine.dispose()
    lines = [
        f"experiment {row.experiment_id} on {','.join(row.plan_ids)}, from "
        f"{row.started_at.isoformat()}"
        + (f" to {row.stopped_at.isoformat()}" if row.stopped_at else " (running)"),
        "variant\tweight\tcustomers\tcheckouts\tpaid\tpayers\tconversion\trevenue",
    ]
    for result in results:
        revenue = ", ".join(
            str(Money(amount_minor=amount, currency=currency))
            for currency, amount in sorted(result.revenue.items())
        )
        lines.append(
            "\t".join(
                [
                    result.name,
                    str(result.weight),
                    str(result.customers),
                    str(result.checkouts),
                    str(result.paid_orders),
                    str(result.paying_customers),
                    f"{result.conversion:.2%}",
                    revenue or "-",
                ]
            )
        )
    return lines


def _plan_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m billing plan", description="Plans.")
    actions = parser.add_subparsers(dest="action", required=True)
    define = actions.add_parser("set", help="create a plan or replace its definition")
    define.add_argument("plan_id", help="1-32 of a-z, 0-9, _ and -")
    define.add_argument(
        "--title", action="append", required=True, metavar="LANG=NAME", help="e.g. ru=1 месяц"
    )
    length = define.add_mutually_exclusive_group(required=True)
    length.add_argument("--days", type=int, help="a period of N days")
    length.add_argument("--months", type=int, help="a period of N calendar months")
    define.add_argument(
        "--price", action="append", required=True, metavar="AMOUNT:CURRENCY", help="349.00:RUB"
    )
    define.add_argument("--traffic-gb", type=int, default=0, help="per period; 0: unlimited")
    rules = define.add_mutually_exclusive_group()
    rules.add_argument(
        "--monthly-reset", action="store_true", help="the allowance starts again every month"
    )
    rules.add_argument(
        "--no-carry-over", action="store_true", help="a renewal does not keep what is left"
    )
    define.add_argument(
        "--tier", type=int, default=0, help="level of service: higher is an upgrade (default 0)"
    )
    define.add_argument(
        "--devices",
        type=int,
        default=0,
        help="devices at once; refused while no panel type can enforce it (Marzban cannot)",
    )
    define.add_argument("--inactive", action="store_true", help="not for sale (kept for buyers)")
    define.add_argument("--position", type=int, help="order in the catalog")
    actions.add_parser("list", help="every plan")
    regional = actions.add_parser("region-price", help="a plan's prices in one region")
    regional.add_argument("plan_id")
    regional.add_argument("--region", required=True, help="a region of provisioning's catalog")
    prices = regional.add_mutually_exclusive_group(required=True)
    prices.add_argument("--price", action="append", metavar="AMOUNT:CURRENCY", help="249.00:RUB")
    prices.add_argument("--clear", action="store_true", help="the base price there again")
    return parser


def _money(specs: Sequence[str]) -> list[Money]:
    prices = []
    for spec in specs:
        found = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?):([A-Za-z]{3})", spec)
        if found is None:
            raise ValueError(f"not AMOUNT:CURRENCY: {spec!r}")
        prices.append(Money.from_decimal(Decimal(found[1]), found[2].upper()))
    return prices


_PLAN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _plan_definition(args: argparse.Namespace) -> plans.PlanDefinition:
    if not _PLAN_ID.fullmatch(args.plan_id):
        raise ValueError(f"not a plan id: {args.plan_id!r}")
    titles: dict[str, str] = {}
    for spec in args.title:
        language, _, name = spec.partition("=")
        if not re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", language) or not name.strip():
            raise ValueError(f"not LANG=NAME: {spec!r}")
        titles[language] = name.strip()[:128]
    prices = _money(args.price)
    months = args.months or 0
    return plans.PlanDefinition(
        plan_id=args.plan_id,
        titles=titles,
        duration_days=args.days if args.days is not None else 30 * months,
        duration_months=months,
        prices=tuple(prices),
        traffic_limit_bytes=args.traffic_gb * GIB,
        traffic_carry_over=not (args.no_carry_over or args.monthly_reset),
        traffic_reset="month" if args.monthly_reset else "none",
        tier=args.tier,
        active=not args.inactive,
        position=args.position,
        device_limit=args.devices,
    )


def plan(argv: Sequence[str]) -> int:
    parser = _plan_parser()
    args = parser.parse_args(argv)
    settings = _settings()
    if args.action == "list":
        for line in asyncio.run(_plan_lines(settings)):
            print(line)
        return 0
    if args.action == "region-price":
        return _region_price(parser, settings, args)
    try:
        definition = _plan_definition(args)
    except ValueError as exc:
        parser.error(str(exc))

    async def change(session: AsyncSession) -> None:
        await plans.define(session, definition)

    try:
        asyncio.run(_publishing(settings, change))
    except plans.PlanRefusal as refused:
        sys.stderr.write(f"billing plan: refused: {refused}\n")
        return 1
    print(definition.plan_id)
    return 0


def _region_price(
    parser: argparse.ArgumentParser, settings: BillingSettings, args: argparse.Namespace
) -> int:
    try:
        own = {price.currency: price.amount_minor for price in _money(args.price or [])}
    except ValueError as exc:
        parser.error(str(exc))
    if len(own) != len(args.price or []):
        parser.error("one price per currency")

    async def change(session: AsyncSession) -> None:
        if args.clear:
            await plans.clear_region_prices(session, args.plan_id, args.region)
            return
        busy = [plan for running in await experiments.running(session) for plan in running.plan_ids]
        check_regional_price(
            args.plan_id,
            args.region,
            own,
            await list_prices(session),
            await known.known_regions(session),
            busy,
        )
        await plans.set_region_prices(session, args.plan_id, args.region, own)

    try:
        asyncio.run(_publishing(settings, change))
    except RegionalPriceRefusal as refused:
        sys.stderr.write(f"billing plan: refused: {refused}\n")
        return 1
    print(f"{args.plan_id} {args.region}")
    return 0


async def _plan_lines(settings: BillingSettings) -> list[str]:
    engine = create_engine(settings, instrument=False)
    try:
        async with session_factory(engine)() as session:
            listing = await plans.listing(session)
    finally:
        await engine.dispose()
    lines = []
    for row, prices in listing:
        period = (
            f"{row.duration_months} months" if row.duration_months else f"{row.duration_days} days"
        )
        traffic = f"{row.traffic_limit_bytes // GIB} GB" if row.traffic_limit_bytes else "unlimited"
        if row.traffic_reset == "month":
            traffic += " a month"
        elif not row.traffic_carry_over:
            traffic += ", not carried over"
        lines.append(
            "\t".join(
                [
                    row.plan_id,
                    f"tier {row.tier}",
                    period,
                    ", ".join(str(price) for price in prices) or "-",
                    traffic,
                    "on sale" if row.active else "inactive",
                    " / ".join(row.titles.values()),
                ]
            )
        )
    return lines


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "refund": refund,
    "promo": promo,
    "experiment": experiment,
    "plan": plan,
}
"""Commands ``python -m billing`` runs itself; anything else goes to the shared CLI."""
