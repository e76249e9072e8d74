"""The referral screen: the customer's own link, who came by it, who paid, what it earned
(a reversal no longer counted)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from bot.referrals import record_reward
from contracts.billing import ReferralRewarded
from contracts.bot import referral_code_for
from contracts.money import Money

from .conftest import BotWorld
from .test_promo_codes import say, started
from .test_settings import press

pytestmark = pytest.mark.integration


async def rewarded(
    world: BotWorld, referrer: uuid.UUID, newcomer: uuid.UUID, *, reversed_: bool = False
) -> None:
    event = ReferralRewarded(
        referrer_id=referrer,
        newcomer_id=newcomer,
        order_id=uuid.uuid4(),
        kind="share",
        amount=Money(amount_minor=1990, currency="RUB"),
        reversed=reversed_,
        rewarded_at=datetime.now(UTC),
    )
    await world.handle(lambda ctx: record_reward(event, ctx), event)


async def test_the_screen_shows_the_link_who_joined_paid_and_what_it_earned(
    world: BotWorld,
) -> None:
    user, referrer = await started(world, "ru")
    screen = await press(world, user, "m:referrals")
    code = referral_code_for(referrer)
    assert f"?start={code}" in (screen.text or "")
    assert "Пришли по ссылке: 0" in (screen.text or "")
    assert "Заработано: пока ничего" in (screen.text or "")

    # Two friends come by the link; one pays, another pays and is refunded.
    friends = []
    for name in ("Anna", "Boris"):
        friend = await world.telegram.create_user(name, language_code="ru")
        await say(world, friend, f"/start {code}")
        friends.append(friend)
    await rewarded(world, referrer, uuid.uuid4())
    refunded = uuid.uuid4()
    await rewarded(world, referrer, refunded)
    await rewarded(world, referrer, refunded, reversed_=True)

    await say(world, user, "/start")
    screen = await press(world, user, "m:referrals")
    text = screen.text or ""
    assert "Пришли по ссылке: 2" in text
    assert "Оплатили: 1" in text
    assert "Заработано: 19,90\u00a0₽" in text


async def test_ones_own_link_and_a_late_invitation_are_told(world: BotWorld) -> None:
    user, customer = await started(world, "ru")
    own = await say(world, user, f"/start {referral_code_for(customer)}")
    assert "Это ваша собственная ссылка-приглашение" in own
    other = await say(world, user, f"/start {referral_code_for(uuid.uuid4())}")
    assert "приглашение не засчитывается" in other
    plain = await say(world, user, "/start campaign42")  # not a referral link
    assert "приглашение" not in plain
