"""A price experiment end to end: the operator starts one with billing's CLI, each
customer is shown their variant's price in the bot and charged exactly it by YooKassa, a
price that changed under a customer's eyes is shown again before anything is charged, and
the report gives each variant's customers, payers and revenue."""

from __future__ import annotations

import pytest

from devstack.customer import SimulatedCustomer, subscription_link

from .conftest import Command, Shop, billing_command

pytestmark = pytest.mark.e2e

EXPERIMENT = "e2e-m3"
LIST, LOW = "549", "449"


async def experiment(shop: Shop, *args: str) -> Command:
    return await billing_command(shop, "experiment", *args)


async def price_shown(customer: SimulatedCustomer) -> str:
    """The 3-month plan's price on its screen: the list price or the low variant's."""
    await customer.start()
    await customer.open_catalog()
    details = await customer.press("plan:m3", expect="Цена")
    text = details.text or ""
    assert (LIST in text) != (LOW in text), text
    return LOW if LOW in text else LIST


async def test_each_customer_pays_their_variants_price_and_the_report_tells(shop: Shop) -> None:
    bad = await experiment(shop, "start", EXPERIMENT, "--plans", "m3", "--variant", "only")
    assert bad.status == 1
    assert "at least two variants" in bad.stderr
    started = await experiment(
        shop,
        "start",
        EXPERIMENT,
        "--plans",
        "m3",
        "--variant",
        "control",
        "--variant",
        "low",
        "--price",
        "low:m3=449.00:RUB",
        "--note",
        "e2e",
    )
    assert (started.status, started.stdout) == (0, EXPERIMENT), started.stderr
    try:
        # Customers until one of each variant is seen (the bot mirrors the catalog with
        # the experiment meanwhile: the list price counts once the low one has been seen).
        by_price: dict[str, SimulatedCustomer] = {}
        for _ in range(16):
            customer = await shop.customer()
            price = await price_shown(customer)
            if price == LOW or LOW in by_price:
                by_price.setdefault(price, customer)
            if len(by_price) == 2:
                break
        assert set(by_price) == {LIST, LOW}
        for price, customer in by_price.items():
            link = await customer.pay_on_screen("m3", "yookassa")
            payment = await shop.yookassa.payment(link.payment_id)
            assert payment["payment"]["amount"] == {"value": f"{price}.00", "currency": "RUB"}
            await customer.pay(link)
            subscription_link(await customer.wait_for("Доступ к VPN готов"))

        listed = await experiment(shop, "list")
        assert f"{EXPERIMENT}\tm3\t" in listed.stdout
        assert "running" in listed.stdout

        # Stopped while a low-variant customer looks at 449: paying shows 549 first.
        looking = by_price[LOW]
        assert await price_shown(looking) == LOW
    finally:
        stopped = await experiment(shop, "stop", EXPERIMENT)
    assert stopped.status == 0, stopped.stderr
    # Told by the bot, or by billing's refusal of the quote if the bot had not yet heard.
    changed = await looking.press("pq:m3:yookassa:RUB:44900", expect="изменилась")
    assert "549" in (changed.text or "")

    report = await experiment(shop, "report", EXPERIMENT)
    assert report.status == 0, report.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in report.stdout.splitlines()[2:]}
    # variant, weight, customers, checkouts, paid, payers, conversion, revenue
    assert rows["control"][4:6] == ["1", "1"]
    assert rows["low"][4:6] == ["1", "1"]
    assert rows["low"][7] == "449.00 RUB"
    assert rows["control"][7] == "549.00 RUB"
    again = await experiment(shop, "stop", EXPERIMENT)
    assert again.status == 1
    assert "stopped already" in again.stderr
