"""Promotions end to end: the operator makes promo codes with billing's CLI, customers type
them in the bot; a discount shows in the plan's price and is what YooKassa charges, free
days are added at once, and a code that cannot be used is told in the customer's words.
A friend who comes by a customer's referral link and pays rewards them once, on their
balance, and a refund of that payment takes the reward back.
"""

from __future__ import annotations

import re

import pytest

from devstack.customer import subscription_link

from .conftest import Command, Shop, billing_command, wait_until

pytestmark = pytest.mark.e2e

ACCESS_READY = "Доступ к VPN готов"


async def promo_command(shop: Shop, *args: str) -> Command:
    return await billing_command(shop, "promo", *args)


async def test_a_discount_code_is_shown_charged_and_used_once(shop: Shop) -> None:
    made = await promo_command(shop, "create", "spring20", "--percent", "20", "--max-uses", "10")
    assert (made.status, made.stdout) == (0, "SPRING20"), made.stderr
    again = await promo_command(shop, "create", "SPRING20", "--days", "3")
    assert again.status == 1
    assert "exists already" in again.stderr
    listed = await promo_command(shop, "list")
    assert listed.status == 0
    assert "SPRING20\t-20%\t0/10\tonce" in listed.stdout

    customer = await shop.customer()
    await customer.start()
    await customer.press("m:promo", expect="Отправьте код")
    accepted = await customer.say("Spring20", expect="принят")
    assert "Скидка 20% на следующую покупку" in (accepted.text or "")

    customer.screen = accepted  # its "Choose a plan" button opens the catalog
    await customer.open_catalog()
    details = await customer.press("plan:m1", expect="с промокодом SPRING20")
    assert "159,20" in (details.text or "")
    link = await customer.pay_on_screen("m1", "yookassa")
    payment = await shop.yookassa.payment(link.payment_id)
    assert payment["payment"]["amount"] == {"value": "159.20", "currency": "RUB"}
    await customer.pay(link)
    subscription_link(await customer.wait_for(ACCESS_READY))

    listed = await promo_command(shop, "list")
    assert "SPRING20\t-20%\t1/10" in listed.stdout
    # Once per customer: typed again, it is refused in their words, and nothing changes.
    await customer.start()
    await customer.press("m:promo")
    await customer.say("SPRING20", expect="Проверяю")
    refused = await customer.wait_for("уже использован")
    assert "Промокод SPRING20 уже использован на вашем аккаунте" in (refused.text or "")


async def test_free_days_are_added_at_once(shop: Shop) -> None:
    made = await promo_command(shop, "create", "WEEK7", "--days", "7", "--plans", "m1")
    assert made.status == 0, made.stderr
    customer = await shop.customer(language_code="en")
    await customer.start()
    await customer.press("m:promo", expect="Send the code")
    await customer.say("week7", expect="Checking")
    added = await customer.wait_for("7 free days added")
    assert "valid until" in (added.text or "")
    # A newcomer's free days start the code's plan: access arrives like after a payment.
    subscription_link(await customer.wait_for("VPN access is ready"))


async def test_what_cannot_be_a_code_or_be_used_is_told_and_changes_nothing(shop: Shop) -> None:
    customer = await shop.customer()
    await customer.start()
    await customer.press("m:promo")
    nonsense = await customer.say("дай скидку!", expect="не похоже на промокод")
    assert "«дай скидку!»" in (nonsense.text or "")
    await customer.say("NOSUCH1", expect="Проверяю")
    unknown = await customer.wait_for("не найден")
    assert "Промокод NOSUCH1 не найден" in (unknown.text or "")
    expired = await promo_command(
        shop, "create", "OLD10", "--percent", "10", "--until", "2020-01-01T00:00:00+00:00"
    )
    assert expired.status == 0, expired.stderr
    await customer.start()
    await customer.press("m:promo")
    await customer.say("OLD10", expect="Проверяю")
    assert "больше не действует" in ((await customer.wait_for("OLD10 больше")).text or "")
    bad = await promo_command(shop, "create", "X", "--percent", "10")
    assert bad.status == 2
    assert "not a code" in bad.stderr


async def test_a_referral_is_rewarded_once_and_a_refund_takes_it_back(shop: Shop) -> None:
    referrer = await shop.customer()
    await referrer.start()
    screen = await referrer.press("m:referrals", expect="Ваша ссылка")
    link = re.search(r"https://t\.me/\S*\?start=(\w+)", screen.text or "")
    assert link is not None
    code = link.group(1)

    friend = await shop.customer()
    await friend.start(code)
    payment = await friend.buy("m1")
    await friend.pay(payment)
    subscription_link(await friend.wait_for(ACCESS_READY))
    told = await referrer.wait_for("Ваш друг оплатил тариф")
    assert "На ваш баланс начислено 19,90\u00a0₽" in (told.text or "")
    await referrer.start()
    balance = await referrer.press("m:wallet", expect="Баланс")
    assert "19,90" in (balance.text or "")
    await referrer.start()
    standing = await referrer.press("m:referrals")
    assert "Пришли по ссылке: 1" in (standing.text or "")
    assert "Оплатили: 1" in (standing.text or "")

    # The friend's second payment rewards nothing more.
    await friend.start()
    again = await friend.buy("m1")
    await friend.pay(again)
    await friend.wait_for("Оплачено")

    # The operator refunds the first payment in full: the reward is taken back.
    order_id = (await shop.yookassa.payment(payment.payment_id))["payment"]["metadata"]["order_id"]
    refunded = await billing_command(shop, "refund", order_id)
    assert refunded.status == 0, refunded.stderr

    async def taken_back() -> bool:
        await referrer.start()
        wallet = await referrer.press("m:wallet", expect="Баланс")
        return "Баланс: 0" in (wallet.text or "")

    await wait_until(taken_back, timeout_s=30)
    assert "бонус отменён" in (referrer.screen.text if referrer.screen else "")
    await referrer.start()
    standing = await referrer.press("m:referrals")
    assert "Оплатили: 0" in (standing.text or "")
