import asyncio
import time
from datetime import UTC, datetime

import pytest

from chassis.i18n import TextError, catalog_problems
from notifier.deliveries import RateLimit
from notifier.templates import CATALOGS, UnknownTemplate, render

ACCESS = {
    "subscription_url": "https://vpn.example/sub/abc",
    "expires_at": datetime(2026, 12, 27, tzinfo=UTC).isoformat(),
    "traffic_limit_bytes": 100 * 1024**3,
}


def test_every_shipped_locale_has_every_template_with_the_same_placeholders() -> None:
    assert set(CATALOGS.locales) >= {"ru", "en"}
    assert catalog_problems(CATALOGS) == []


def test_the_access_message_has_the_link_expiry_traffic_and_setup_steps() -> None:
    ru = render("access.granted", "ru", ACCESS)
    en = render("access.granted", "en", ACCESS)
    assert "https://vpn.example/sub/abc" in ru
    assert "https://vpn.example/sub/abc" in en
    assert "27 декабря 2026" in ru
    assert "December 27, 2026" in en
    assert "100 ГБ" in ru
    assert "100 GB" in en
    assert "Hiddify" in ru
    assert "How to connect" in en


def test_parameters_cannot_break_the_markup() -> None:
    text = render("access.granted", "en", {**ACCESS, "subscription_url": "<b>x</b>&"})
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in text


def test_a_cancellation_reason_is_told_in_words() -> None:
    params = {"amount_minor": 19900, "currency": "RUB", "reason": "insufficient_funds"}
    assert "insufficient funds" in render("payment.canceled", "en", params)
    assert "199\u00a0₽" in render("payment.canceled", "en", params)
    assert "недостаточно средств" in render("payment.canceled", "ru", params)
    unknown = render("payment.canceled", "en", {**params, "reason": "something_new"})
    assert "the payment was canceled" in unknown


def test_a_language_not_shipped_meets_the_nearest_one() -> None:
    assert render("access.delayed", "de", {}) == render("access.delayed", "en", {})
    assert render("access.delayed", "uk", {}) == render("access.delayed", "ru", {})


def test_unknown_templates_and_missing_parameters_are_errors() -> None:
    with pytest.raises(UnknownTemplate):
        render("nope", "ru", {})
    with pytest.raises(TextError):
        render("access.granted", "ru", {"subscription_url": "x"})


async def test_the_rate_limit_spaces_sends() -> None:
    limit = RateLimit(per_second=50)
    started = time.monotonic()
    await asyncio.gather(*(limit.wait() for _ in range(11)))
    assert time.monotonic() - started >= 0.19


async def test_no_rate_limit_means_no_waiting() -> None:
    limit = RateLimit(per_second=0)
    started = time.monotonic()
    await asyncio.gather(*(limit.wait() for _ in range(1000)))
    assert time.monotonic() - started < 1


REFUND = {"amount_minor": 9900, "currency": "RUB", "refunded_to": "provider"}


def test_a_refund_tells_the_amount_and_the_new_end_of_access() -> None:
    params = {
        **REFUND,
        "access": "until",
        "expires_at": datetime(2026, 12, 27, tzinfo=UTC).isoformat(),
    }
    ru = render("payment.refunded", "ru", params)
    en = render("payment.refunded", "en", params)
    assert "99\u00a0₽" in ru
    assert "99\u00a0₽" in en
    assert "27 декабря 2026" in ru
    assert "December 27, 2026" in en
    assert "тем же способом" in ru


def test_a_refund_that_ended_access_says_so() -> None:
    params = {
        **REFUND,
        "access": "ended",
        "expires_at": datetime(2026, 12, 2, tzinfo=UTC).isoformat(),
    }
    assert "Доступ к VPN закрыт" in render("payment.refunded", "ru", params)
    assert "access has ended" in render("payment.refunded", "en", params)
    wallet = render("payment.refunded", "en", {**params, "refunded_to": "wallet"})
    assert "back on your balance" in wallet
