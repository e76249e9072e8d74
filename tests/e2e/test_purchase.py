"""Buying a VPN subscription in Telegram, end to end, as a customer would.

Every service runs as its own process on real PostgreSQL and Kafka; Telegram, YooKassa
and the Marzban panel are the sandboxes. The tests only talk to the sandboxes' control
APIs: messages and button presses in Telegram, payments in YooKassa, and (to check the
result) the panel's users.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from devstack.customer import subscription_link

from .conftest import Shop

pytestmark = pytest.mark.e2e

GIB = 1024**3


def panel_username(link: str) -> str:
    """Marzban's subscription token is base64url("<username>,<ts>") plus a signature."""
    token = link.rsplit("/", 1)[-1]
    encoded = token[:-10]
    decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return decoded.split(",")[0]


async def test_a_customer_buys_pays_and_receives_working_access(shop: Shop) -> None:
    customer = await shop.customer(language_code="ru")
    welcome = await customer.start("ref_42")
    assert "Привет" in (welcome.text or "")

    link = await customer.buy("m1")
    assert "199 ₽" in (link.message.text or "")
    await customer.pay(link)

    access = await customer.wait_for("Доступ к VPN готов")
    url = subscription_link(access)
    paid_at = datetime.now(UTC)

    user = await shop.marzban.user(panel_username(url))
    assert user is not None
    assert user["status"] == "active"
    assert user["data_limit"] == 100 * GIB
    expire = datetime.fromtimestamp(user["expire"], UTC)
    assert abs(expire - (paid_at + timedelta(days=30))) < timedelta(minutes=2)
    assert expire.strftime("%d.%m.%Y") in (access.text or "")

    await customer.start()
    mine = await customer.press("m:subscription", expect="Ваша подписка")
    assert url in (mine.text or "")
    assert expire.strftime("%d.%m.%Y") in (mine.text or "")
    assert "100 ГБ" in (mine.text or "")
