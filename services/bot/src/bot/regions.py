"""The bot's copy of provisioning's regions catalog: what the region step of a purchase
(and a move) offers, and which region is the default."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import RegionsMirror
from bot.texts import CATALOGS
from chassis.db import mirror_newer
from chassis.messaging.consumer import MessageContext
from contracts.provisioning import RegionOffer, RegionsPublished

log = logging.getLogger(__name__)

_OFFERS = TypeAdapter(list[RegionOffer])
_ROW = 1


@dataclass(frozen=True, slots=True)
class Regions:
    offers: tuple[RegionOffer, ...]
    default_region: str | None

    def get(self, code: str | None) -> RegionOffer | None:
        return next((offer for offer in self.offers if offer.region == code), None)

    @property
    def in_order(self) -> tuple[RegionOffer, ...]:
        """As the customer is offered them: the default first, then in display order."""
        return tuple(sorted(self.offers, key=lambda offer: offer.region != self.default_region))

    @property
    def available(self) -> tuple[RegionOffer, ...]:
        return tuple(offer for offer in self.in_order if offer.available)

    @property
    def choice_needed(self) -> bool:
        """More than one region can take the customer: they choose."""
        return len(self.available) > 1

    @property
    def without_choice(self) -> str | None:
        """The region a customer who is not asked gets: the one available, else the
        default (None: provisioning's own default)."""
        available = self.available
        return available[0].region if len(available) == 1 else self.default_region

    def alternatives(self, offer: RegionOffer) -> tuple[RegionOffer, ...]:
        """What to offer instead of an unavailable region: its alternatives that are
        available now, nearest first."""
        found = (self.get(code) for code in offer.alternatives)
        return tuple(other for other in found if other is not None and other.available)


EMPTY = Regions((), None)


def region_name(offer: RegionOffer, language: str) -> str:
    """The flag and the region's name in the customer's language."""
    return f"{offer.flag} {CATALOGS.pick(offer.names, language)}"


async def mirror_regions(event: RegionsPublished, ctx: MessageContext) -> None:
    values = {
        "catalog_version": event.catalog_version,
        "regions": [offer.model_dump(mode="json") for offer in event.regions],
        "default_region": event.default_region,
        "received_at": datetime.now(UTC),
    }
    await mirror_newer(ctx.session, RegionsMirror, values)
    log.info("regions mirrored", extra={"catalog_version": event.catalog_version})


async def current_regions(session: AsyncSession) -> Regions:
    mirror = await session.scalar(select(RegionsMirror).where(RegionsMirror.id == _ROW))
    if mirror is None:
        return EMPTY
    return Regions(tuple(_OFFERS.validate_python(mirror.regions)), mirror.default_region)
