from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from aiogram.types import Update

from bot.customers import referral_code
from bot.handlers import subscription_view
from bot.keyboards import (
    Autopay,
    AutopayTerms,
    ChooseLanguage,
    ChoosePlan,
    Menu,
    Pay,
    TurnOffAutopay,
)
from bot.models import CustomerSubscription, TrafficUsage
from bot.texts import CATALOGS, LANGUAGES, gib, language_of, say, usage_bar
from chassis.i18n import catalog_problems, shipped_texts
from contracts.bot import choose_plan_callback
from contracts.money import Money

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("ru", "ru"),
        ("uk", "ru"),
        ("kk", "ru"),
        ("en", "en"),
        ("en-US", "en"),
        ("de", "en"),
        (None, "ru"),
        ("", "ru"),
    ],
)
def test_the_language_follows_the_telegram_interface(code: str | None, language: str) -> None:
    assert language_of(code) == language


def test_every_shipped_locale_has_every_text_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) >= {"ru", "en"}
    assert catalog_problems(CATALOGS) == []


def test_the_language_menu_names_each_language_in_itself() -> None:
    assert say("language-name", "ru") == "🇷🇺 Русский"
    assert say("language-name", "en") == "🇬🇧 English"
    assert len({say("language-name", code) for code in LANGUAGES}) == len(LANGUAGES)


def test_values_are_escaped_so_names_cannot_inject_markup() -> None:
    assert "&lt;b&gt;" in say("welcome", "en", name="<b>")


def test_every_text_renders_in_every_locale() -> None:
    values: dict[str, object] = {
        "name": "A",
        "title": "M1",
        "price": Money(amount_minor=19900, currency="RUB"),
        "days": 30,
        "months": 0,
        "monthly": "no",
        "traffic_gib": 100,
        "used_gib": 12,
        "left_gib": 88,
        "bar": "▰▱",
        "percent": 12,
        "traffic": "100 GB",
        "status": "x",
        "expires": NOW,
        "link": "L",
        "url": "https://vpn.example/s",
        "provider": "somepay",
        "method": "💳",
        "balance": Money(amount_minor=100, currency="RUB"),
        "credit": Money(amount_minor=50000, currency="RUB"),
        "history": "-",
        "lines": "-",
        "sign": "+",
        "amount": Money(amount_minor=50000, currency="RUB"),
        "kind": "topup",
        "at": NOW,
        "text": "not an address",
        "email": "ivan@example.ru",
        "charge": NOW,
        "reminders": "on",
        "until": NOW,
        "code": "SPRING20",
        "list": Money(amount_minor=19900, currency="RUB"),
        "refusal": "promo_exhausted",
        "joined": 2,
        "paid": 1,
        "earned": "19,90 ₽",
        "current": "1 month",
        "gib": 10,
    }
    for locale, key in shipped_texts(CATALOGS):
        if "." in key:
            continue
        assert say(key, locale, **values)  # type: ignore[arg-type]


def start(text: str) -> Update:
    return Update.model_validate(
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "A"},
                "text": text,
            },
        }
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("/start ref_42", "ref_42"),
        ("/start", None),
        ("/start bad code!", None),
        ("/start " + "x" * 65, None),
        ("/startle ref", None),
        ("hello", None),
    ],
)
def test_the_referral_code_comes_from_a_well_formed_deep_link(text: str, code: str | None) -> None:
    assert referral_code(start(text)) == code


@pytest.mark.parametrize(
    ("language", "days", "months", "traffic_bytes", "monthly", "period", "traffic"),
    [
        ("ru", 1, 0, 0, "no", "1 день", "без ограничений"),
        ("ru", 3, 0, 100 * 1024**3, "no", "3 дня", "100 ГБ\n"),
        ("ru", 30, 0, 1536 * 1024**2, "no", "30 дней", "1,5 ГБ"),
        ("ru", 30, 1, 100 * 1024**3, "no", "Срок: 1 месяц", "100 ГБ\n"),
        ("ru", 90, 3, 100 * 1024**3, "yes", "Срок: 3 месяца", "100 ГБ в месяц"),
        ("ru", 365, 12, 0, "no", "Срок: 12 месяцев", "без ограничений"),
        ("en", 1, 0, 0, "no", "1 day", "unlimited"),
        ("en", 30, 0, 1536 * 1024**2, "no", "30 days", "1.5 GB"),
        ("en", 30, 1, 100 * 1024**3, "no", "Period: 1 month\n", "100 GB\n"),
        ("en", 90, 3, 100 * 1024**3, "yes", "Period: 3 months", "100 GB a month"),
    ],
)
def test_periods_and_traffic_read_naturally(
    language: str,
    days: int,
    months: int,
    traffic_bytes: int,
    monthly: str,
    period: str,
    traffic: str,
) -> None:
    text = say(
        "plan-details",
        language,
        title="M1",
        days=days,
        months=months,
        monthly=monthly,
        traffic_gib=gib(traffic_bytes),
        price=Money(amount_minor=19950, currency="RUB"),
    )
    assert period in text
    assert traffic in text
    assert ("199,50\u00a0₽" if language == "ru" else "199.50\u00a0₽") in text


def subscription(*, url: str | None, ends_in: timedelta) -> CustomerSubscription:
    return CustomerSubscription(
        subscription_id=uuid4(),
        customer_id=uuid4(),
        plan_id="m1",
        period_end=NOW + ends_in,
        traffic_limit_bytes=100 * 1024**3,
        subscription_url=url,
    )


def test_my_subscription_shows_status_expiry_link_and_traffic() -> None:
    view = subscription_view(
        subscription(url="https://vpn.example/sub/abc", ends_in=timedelta(days=30)), "en", NOW
    )
    assert "active" in view
    assert "December 27, 2026" in view
    assert "https://vpn.example/sub/abc" in view
    assert "100 GB" in view


def test_a_paid_subscription_without_access_yet_says_so() -> None:
    view = subscription_view(subscription(url=None, ends_in=timedelta(days=30)), "ru", NOW)
    assert "настраивается" in view


def test_an_ended_subscription_is_expired() -> None:
    view = subscription_view(
        subscription(url="https://x.example/s", ends_in=-timedelta(days=1)), "en", NOW
    )
    assert "expired" in view


@pytest.mark.parametrize(
    ("panel", "shown"),
    [
        ("limited", "traffic used up"),
        ("disabled", "access suspended"),
        ("expired", "expired"),
        ("active", "active"),
    ],
)
def test_my_subscription_shows_what_the_panel_has(panel: str, shown: str) -> None:
    """Paid until next month, but the panel cut the user off: the screen says so."""
    mine = subscription(url="https://x.example/s", ends_in=timedelta(days=30))
    mine.access_status = panel
    assert shown in subscription_view(mine, "en", NOW)


def test_past_the_end_in_the_grace_it_says_until_when_it_still_connects() -> None:
    mine = subscription(url="https://x.example/s", ends_in=-timedelta(hours=1))
    mine.access_until = NOW + timedelta(hours=47)
    view = subscription_view(mine, "en", NOW)
    assert "still connected until <b>November 29, 2026" in view
    assert "https://x.example/s" in view
    assert "ещё" not in view
    assert "доступ сохранится до" in subscription_view(mine, "ru", NOW)


@pytest.mark.parametrize(
    ("stage", "en", "ru"),
    [
        ("suspended", "same link", "той же ссылке"),
        ("removed", "new link", "новая ссылка"),
    ],
)
def test_a_suspended_or_removed_subscription_says_what_a_payment_brings(
    stage: str, en: str, ru: str
) -> None:
    mine = subscription(url="https://x.example/s", ends_in=-timedelta(days=3))
    mine.stage = stage
    assert en in subscription_view(mine, "en", NOW)
    assert ru in subscription_view(mine, "ru", NOW)


def test_past_the_grace_before_billing_said_so_it_is_suspended() -> None:
    mine = subscription(url="https://x.example/s", ends_in=-timedelta(days=3))
    mine.access_until = NOW - timedelta(days=1)
    assert "suspended" in subscription_view(mine, "en", NOW)


def test_no_subscription() -> None:
    assert subscription_view(None, "en", NOW) == say("subscription-none", "en")


@pytest.mark.parametrize(
    "data",
    [
        Menu(action="subscription"),
        ChoosePlan(plan_id="y1-promo-long-plan-name-32chars"),
        Pay(
            plan_id="y1-promo-long-plan-name-32chars",
            provider="telegram_stars",
            currency="XTR",
            amount_minor=99_999_999_99,
        ),
        Autopay(
            plan_id="y1-promo-long-plan-name-32chars",
            provider="telegram_stars",
            currency="RUB",
            amount_minor=99_999_999_99,
        ),
        AutopayTerms(
            plan_id="y1-promo-long-plan-name-32chars", provider="telegram_stars", currency="RUB"
        ),
        TurnOffAutopay(),
        ChooseLanguage(language="ru"),
    ],
)
def test_callback_data_fits_telegrams_64_bytes(
    data: Menu | ChoosePlan | Pay | Autopay | AutopayTerms | TurnOffAutopay | ChooseLanguage,
) -> None:
    assert len(data.pack().encode()) <= 64


def test_the_renew_button_other_services_send_is_the_bots_choose_plan() -> None:
    """The notifier's reminders carry it: the press must land on the plan's screen."""
    assert ChoosePlan(plan_id="m1").pack() == choose_plan_callback("m1")


@pytest.mark.parametrize(
    ("language", "days", "months", "every"),
    [
        ("ru", 30, 0, "раз в 30 дней"),
        ("ru", 30, 1, "раз в месяц"),
        ("ru", 90, 3, "раз в 3 месяца"),
        ("ru", 365, 12, "раз в 12 месяцев"),
        ("en", 7, 0, "every 7 days"),
        ("en", 30, 1, "every month"),
        ("en", 90, 3, "every 3 months"),
    ],
)
def test_the_consent_says_how_often_in_days_or_months(
    language: str, days: int, months: int, every: str
) -> None:
    text = say(
        "autopay-consent",
        language,
        title="M1",
        method="💳",
        price=Money(amount_minor=19900, currency="RUB"),
        days=days,
        months=months,
    )
    assert every in text


def test_my_subscription_shows_the_traffic_used_and_left_with_a_bar() -> None:
    mine = subscription(url="https://vpn.example/sub/abc", ends_in=timedelta(days=30))
    gib_ = 1024**3
    usage = TrafficUsage(
        subscription_id=mine.subscription_id,
        used_bytes=85 * gib_,
        limit_bytes=110 * gib_,  # a traffic pack on top of the plan's 100
        observed_at=NOW,
    )
    en = subscription_view(mine, "en", NOW, usage=usage)
    assert "85 of 110 GB used, <b>25 GB left</b>" in en
    assert "<code>▰▰▰▰▰▰▰▱▱▱</code> 77%" in en
    ru = subscription_view(mine, "ru", NOW, usage=usage)
    assert "использовано 85 из 110 ГБ, <b>осталось 25 ГБ</b>" in ru
    over = TrafficUsage(
        subscription_id=mine.subscription_id,
        used_bytes=111 * gib_,
        limit_bytes=110 * gib_,
        observed_at=NOW,
    )
    assert "<b>0 GB left</b>" in subscription_view(mine, "en", NOW, usage=over)
    assert "▰▰▰▰▰▰▰▰▰▰</code> 100%" in subscription_view(mine, "en", NOW, usage=over)


def test_unlimited_traffic_shows_what_was_used() -> None:
    mine = subscription(url="https://vpn.example/sub/abc", ends_in=timedelta(days=30))
    usage = TrafficUsage(
        subscription_id=mine.subscription_id,
        used_bytes=3 * 1024**3,
        limit_bytes=0,
        observed_at=NOW,
    )
    assert "unlimited, 3 GB used" in subscription_view(mine, "en", NOW, usage=usage)


def test_the_bar_is_the_share_used_in_tenths() -> None:
    assert usage_bar(0, 100) == ("▱" * 10, 0)
    assert usage_bar(79, 100) == ("▰" * 7 + "▱" * 3, 79)
    assert usage_bar(100, 100) == ("▰" * 10, 100)
    assert usage_bar(5, 0) == ("▱" * 10, 0)
