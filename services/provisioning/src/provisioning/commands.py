"""Provisioning's own commands besides ``serve|migrate|check-config``, for operators.

``python -m provisioning region set CODE --name ru=Нидерланды --name en=Netherlands
[--flag 🇳🇱] [--fallback de --fallback fi] [--move-back stay|drain] [--position N]
[--disabled]`` creates a region or replaces its definition; ``region list`` prints them.

``python -m provisioning panel set ID --region CODE --url URL --username NAME
--password-ref env:VAR|file:/path [--subscription-url URL] [--protocol vless ...]
[--capacity N] [--weight N] [--disabled] [--sandbox] [--kind marzban]`` creates a panel or
replaces its definition (what its probes found is kept); ``panel list`` prints them with
their load and health; ``panel check ID`` probes one now and prints what it found;
``panel remove ID`` forgets a panel that serves nobody (refused while it has users).

``python -m provisioning link show CUSTOMER_ID`` prints a customer's stable link;
``link rotate CUSTOMER_ID`` revokes it and issues the next one (a leaked link): the
gateway answers 404 to the old one as soon as it reads the event, and the customer is
sent the new one.

``python -m provisioning placement failed [--panel ID]`` prints the placements the
worker could not apply yet (given up: the panel refused them; or still retrying), with
the panel's answer; ``placement retry (SUBSCRIPTION_ID ... | --panel ID | --all)`` hands
those it gave up on back to the worker once the cause is fixed (a panel's settings, a
rotated password).

Each change publishes the regions catalog when what customers see changed; the running
services take it up within ``PROVISIONING_DIRECTORY_REFRESH_S``. Exit 1: refused (the
reason on stderr); 2: wrong arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from chassis.cli import command_settings
from chassis.db import create_engine, session_factory, transaction
from chassis.messaging.outbox import Outbox
from contracts.topics import SERVICE_SOURCES
from provisioning import links, placements, regions
from provisioning.links import CustomerLinkToken
from provisioning.models import messaging
from provisioning.panels.client import PanelError
from provisioning.panels.directory import PanelDirectory
from provisioning.regions import PanelConfig, Refused, RegionConfig
from provisioning.settings import ProvisioningSettings

T = TypeVar("T")

_OUTBOX = Outbox(messaging, source=SERVICE_SOURCES["provisioning"])


def _settings() -> ProvisioningSettings:
    return command_settings(ProvisioningSettings)


async def _in_transaction(
    settings: ProvisioningSettings,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    publish: bool = True,
) -> T:
    """Run ``work``; after a change, publish the regions if what customers see changed."""
    engine = create_engine(settings, instrument=False)
    try:
        async with transaction(session_factory(engine)) as session:
            result = await work(session)
            if publish:
                await regions.publish_if_changed(session, _OUTBOX, settings.region)
        return result
    finally:
        await engine.dispose()


def _pair(value: str) -> tuple[str, str]:
    language, sep, name = value.partition("=")
    if not sep or not language or not name:
        raise argparse.ArgumentTypeError(
            f"give it as language=name, e.g. en=Netherlands: {value!r}"
        )
    return language, name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m provisioning", description="Regions and panels."
    )
    kinds = parser.add_subparsers(dest="kind", required=True)

    region = kinds.add_parser("region", help="regions customers choose").add_subparsers(
        dest="action", required=True
    )
    region_set = region.add_parser("set", help="create a region or replace its definition")
    region_set.add_argument("code", help="a slug, e.g. nl or de-fra")
    region_set.add_argument("--name", type=_pair, action="append", required=True)
    region_set.add_argument("--flag", default="🌐")
    region_set.add_argument(
        "--fallback", action="append", default=[], help="nearest first; repeat for more"
    )
    region_set.add_argument("--move-back", choices=("stay", "drain"), default="stay")
    region_set.add_argument("--position", type=int, default=0)
    region_set.add_argument("--disabled", action="store_true")
    region.add_parser("list", help="print every region")

    panel = kinds.add_parser("panel", help="the panels users are placed on").add_subparsers(
        dest="action", required=True
    )
    panel_set = panel.add_parser("set", help="create a panel or replace its definition")
    panel_set.add_argument("panel_id")
    panel_set.add_argument("--region", required=True)
    panel_set.add_argument("--url", required=True, help="the panel's API base URL")
    panel_set.add_argument("--username", required=True)
    panel_set.add_argument(
        "--password-ref", required=True, help="env:VARIABLE or file:/path, never the password"
    )
    panel_set.add_argument("--subscription-url", default="")
    panel_set.add_argument("--protocol", action="append", default=[])
    panel_set.add_argument("--capacity", type=int, default=0, help="users it may hold; 0: any")
    panel_set.add_argument("--weight", type=int, default=1, help="its share of new users")
    panel_set.add_argument("--disabled", action="store_true")
    panel_set.add_argument(
        "--sandbox", action="store_true", help="an emulator: production refuses it"
    )
    panel_set.add_argument("--kind", dest="kind_", default="marzban", choices=("marzban",))
    panel.add_parser("list", help="print every panel with its load and health")
    check = panel.add_parser("check", help="probe a panel now")
    check.add_argument("panel_id")
    remove = panel.add_parser("remove", help="forget a panel that serves nobody")
    remove.add_argument("panel_id")

    link = kinds.add_parser("link", help="customers' stable links").add_subparsers(
        dest="action", required=True
    )
    for action, help_text in (
        ("show", "print a customer's stable link"),
        ("rotate", "revoke a customer's stable link and issue the next one"),
    ):
        link.add_parser(action, help=help_text).add_argument("customer_id", type=UUID)

    placement = kinds.add_parser(
        "placement", help="placements the worker could not apply"
    ).add_subparsers(dest="action", required=True)
    failed = placement.add_parser("failed", help="print what could not be applied yet")
    failed.add_argument("--panel")
    retry = placement.add_parser("retry", help="hand placements given up on back to the worker")
    retry.add_argument("subscription_id", nargs="*", type=UUID)
    retry.add_argument("--panel")
    retry.add_argument("--all", action="store_true", help="every placement given up on")
    return parser


async def _placement(settings: ProvisioningSettings, args: Any) -> list[str]:
    if args.action == "failed":
        found = await _in_transaction(
            settings,
            lambda session: placements.failed_placements(session, panel=args.panel),
            publish=False,
        )
        return [
            "\t".join(
                (
                    str(row.subscription_id),
                    row.panel_id or "-",
                    "gave-up" if row.gave_up else f"retrying({row.attempts})",
                    row.updated_at.isoformat(),
                    (row.last_error or "").replace("\n", " ")[:300],
                )
            )
            for row in found
        ]
    if not (args.subscription_id or args.panel or args.all):
        raise Refused("name the placements: subscription ids, --panel ID or --all")
    handed = await _in_transaction(
        settings,
        lambda session: placements.retry_given_up(
            session, subscription_ids=args.subscription_id or None, panel=args.panel
        ),
        publish=False,
    )
    return [f"retrying\t{subscription_id}" for subscription_id in handed] or ["retrying\t0"]


async def _link(settings: ProvisioningSettings, action: str, customer_id: UUID) -> list[str]:
    async def work(session: AsyncSession) -> CustomerLinkToken:
        if action == "show":
            link = await links.current(session, customer_id)
            if link is None:
                raise Refused(f"customer {customer_id} has no stable link yet (no access)")
            return link
        link = await links.rotate(session, customer_id)
        await _OUTBOX.add(session, link.issued(settings.link_base_url))
        return link

    link = await _in_transaction(settings, work, publish=False)
    return [
        f"version\t{link.version}",
        f"issued\t{link.issued_at.isoformat()}",
        f"link\t{link.url(settings.link_base_url) or link.token}",
    ]


def _region_lines(all_regions: Sequence[RegionConfig]) -> list[str]:
    return [
        "\t".join(
            (
                region.code,
                region.flag,
                ",".join(f"{tag}={name}" for tag, name in sorted(region.names.items())),
                "fallbacks=" + (",".join(region.fallbacks) or "-"),
                f"move-back={region.move_back}",
                "enabled" if region.enabled else "disabled",
            )
        )
        for region in all_regions
    ]


def _panel_lines(all_panels: Sequence[PanelConfig], placed: dict[str, int]) -> list[str]:
    return [
        "\t".join(
            (
                panel.panel_id,
                panel.region,
                panel.kind,
                panel.base_url,
                f"users={placed.get(panel.panel_id, 0)}/{panel.capacity or '∞'}",
                f"weight={panel.weight}",
                f"health={panel.health.value}"
                + (f" ({panel.health_reason})" if panel.health_reason else ""),
                "enabled" if panel.enabled else "disabled",
            )
            + (("sandbox",) if panel.sandbox else ())
        )
        for panel in all_panels
    ]


async def _check(settings: ProvisioningSettings, panel_id: str) -> list[str]:
    engine = create_engine(settings, instrument=False)
    directory = PanelDirectory(
        sessions=session_factory(engine),
        environment=settings.secrets(os.environ),
        timeout_s=settings.marzban_timeout_s,
        production=settings.is_production,
    )
    try:
        await directory.refresh()
        config = directory.config(panel_id)
        if config is None:
            raise Refused(f"there is no panel {panel_id!r}")
        probe = await directory.client(panel_id).probe()
    finally:
        await directory.aclose()
        await engine.dispose()
    missing = sorted(set(config.protocols) - probe.protocols)
    lines = [
        f"version\t{probe.version}",
        f"users\t{probe.users}",
        "protocols\t" + ",".join(sorted(probe.protocols)),
    ]
    lines += [
        f"node\t{node.name}\t{node.address}\t{node.status}"
        + (f"\t{node.message}" if node.message else "")
        for node in probe.nodes
    ]
    if missing:
        raise Refused("\n".join(lines) + "\nmisconfigured: no inbound for " + ",".join(missing))
    return lines


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    settings = _settings()
    try:
        lines = asyncio.run(_run(settings, args))
    except Refused as refused:
        sys.stderr.write(f"provisioning {args.kind} {args.action}: refused: {refused}\n")
        return 1
    except PanelError as error:
        sys.stderr.write(f"provisioning panel check: the panel failed: {error}\n")
        return 1
    for line in lines:
        print(line)
    return 0


async def _run(settings: ProvisioningSettings, args: Any) -> list[str]:
    if args.kind == "link":
        return await _link(settings, args.action, args.customer_id)
    if args.kind == "placement":
        return await _placement(settings, args)
    if args.kind == "region" and args.action == "set":
        region = RegionConfig(
            code=args.code,
            names=dict(args.name),
            flag=args.flag,
            fallbacks=tuple(args.fallback),
            move_back=args.move_back,
            position=args.position,
            enabled=not args.disabled,
        )
        await _in_transaction(settings, lambda session: regions.put_region(session, region))
        return [region.code]
    if args.kind == "region":
        return _region_lines(await _in_transaction(settings, regions.regions, publish=False))
    if args.action == "set":
        panel = PanelConfig(
            panel_id=args.panel_id,
            region=args.region,
            kind=args.kind_,
            base_url=args.url,
            username=args.username,
            password_ref=args.password_ref,
            subscription_base_url=args.subscription_url,
            protocols=tuple(args.protocol or ["vless"]),
            capacity=args.capacity,
            weight=args.weight,
            enabled=not args.disabled,
            sandbox=args.sandbox,
        )
        await _in_transaction(settings, lambda session: regions.put_panel(session, panel))
        return [panel.panel_id]
    if args.action == "list":

        async def listing(session: AsyncSession) -> list[str]:
            return _panel_lines(await regions.panels(session), await regions.loads(session))

        return await _in_transaction(settings, listing, publish=False)
    if args.action == "remove":
        await _in_transaction(
            settings, lambda session: regions.remove_panel(session, args.panel_id)
        )
        return [args.panel_id]
    return await _check(settings, args.panel_id)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "region": lambda argv: main(["region", *argv]),
    "panel": lambda argv: main(["panel", *argv]),
    "link": lambda argv: main(["link", *argv]),
    "placement": lambda argv: main(["placement", *argv]),
}
"""Commands ``python -m provisioning`` runs itself; anything else goes to the shared CLI."""
