import asyncio
import time
from datetime import UTC, datetime

import pytest

from notifier.deliveries import RateLimit
from notifier.templates import TEMPLATES, UnknownTemplate, format_date, render

ACCESS = {
    "subscription_url": "https://vpn.example/sub/abc",
    "expires_at": datetime(2026, 12, 27, tzinfo=UTC).isoformat(),
    "traffic_limit_bytes": 100 * 1024**3,
}


def test_every_template_speaks_both_languages() -> None:
    for name, texts in TEMPLATES.items():
        assert set(texts) == {"ru", "en"}, name


def test_the_access_message_has_the_link_expiry_traffic_and_setup_steps() -> None:
    ru = render("access.granted", "ru", ACCESS)
    en = render("access.granted", "en", ACCESS)
    assert "https://vpn.example/sub/abc" in ru
    assert "https://vpn.example/sub/abc" in en
    assert "27.12.2026" in ru
    assert "27 Dec 2026" in en
    assert "100 ГБ" in ru
    assert "100 GB" in en
    assert "Hiddify" in ru
    assert "How to connect" in en


def test_parameters_cannot_break_the_markup() -> None:
    text = render("access.granted", "en", {**ACCESS, "subscription_url": "<b>x</b>&"})
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in text


def test_a_cancellation_reason_is_told_in_words() -> None:
    text = render(
        "payment.canceled", "en", {"amount": "199.00 RUB", "reason": "insufficient_funds"}
    )
    assert "insufficient funds" in text
    assert "199.00 RUB" in text


def test_an_unknown_language_falls_back_to_russian() -> None:
    assert render("access.delayed", "de", {}) == render("access.delayed", "ru", {})


def test_unknown_templates_and_missing_parameters_are_errors() -> None:
    with pytest.raises(UnknownTemplate):
        render("nope", "ru", {})
    with pytest.raises(KeyError):
        render("access.granted", "ru", {"subscription_url": "x"})


def test_dates() -> None:
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    assert format_date(moment, "ru") == "05.01.2026"
    assert format_date(moment, "en") == "5 Jan 2026"


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
