import asyncio
import time
from datetime import UTC, datetime

import pytest

from chassis.i18n import TextError, catalog_problems
from notifier.deliveries import RateLimit
from notifier.templates import CATALOGS, UnknownTemplate, render, reply_markup, values_of

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


def test_every_moment_ending_in_at_is_a_datetime_without_it() -> None:
    values = values_of(
        {
            "expires_at": "2026-12-27T00:00:00+00:00",
            "charge_at": "2026-12-24T09:30:00+00:00",
            "retry_at": "2026-12-25T09:30:00+00:00",
            "retries_left": 2,
            "method_title": "Bank card *4477",
        }
    )
    assert values["expires"] == datetime(2026, 12, 27, tzinfo=UTC)
    assert values["charge"] == datetime(2026, 12, 24, 9, 30, tzinfo=UTC)
    assert values["retry"] == datetime(2026, 12, 25, 9, 30, tzinfo=UTC)
    assert values["charge_at"] == "2026-12-24T09:30:00+00:00"  # kept as given too
    assert "method_title" in values
    assert "retries_left" in values
    assert "" not in values_of({"_at": "2026-12-24T09:30:00+00:00"})


AUTOPAY: dict[str, str | int] = {
    "amount_minor": 19900,
    "currency": "RUB",
    "method_title": "Bank card *4477",
    "charge_at": datetime(2027, 1, 14, 9, 0, tzinfo=UTC).isoformat(),
    "expires_at": datetime(2027, 1, 15, 9, 0, tzinfo=UTC).isoformat(),
}


def test_autopay_on_tells_the_first_charge_the_period_and_how_to_turn_it_off() -> None:
    params: dict[str, str | int] = {**AUTOPAY, "period_days": 30}
    ru = render("autopay.enabled", "ru", params)
    en = render("autopay.enabled", "en", params)
    assert "199\u00a0₽" in ru
    assert "14 января 2027" in ru
    assert "раз в 30 дней" in ru
    assert "Отключить автопродление" in ru
    assert "<b>199\u00a0₽</b> from Bank card *4477 on <b>January 14, 2027</b>" in en
    assert "every 30 days" in en
    assert "/subscription → “Turn off autopay”" in en
    assert "every 1 day." in render("autopay.enabled", "en", {**params, "period_days": 1})
    monthly = {**params, "period_months": 1}
    assert "Дальше — раз в месяц." in render("autopay.enabled", "ru", monthly)
    assert "then every month." in render("autopay.enabled", "en", monthly)
    quarterly = {**params, "period_days": 90, "period_months": 3}
    assert "раз в 3 месяца." in render("autopay.enabled", "ru", quarterly)


def test_a_saved_method_without_a_name_is_still_named() -> None:
    unnamed = render("autopay.upcoming", "en", {**AUTOPAY, "method_title": ""})
    assert "from your saved payment method to renew" in unnamed
    assert "сохранённый способ оплаты" in render(
        "autopay.upcoming", "ru", {**AUTOPAY, "method_title": ""}
    )


def test_the_reminder_tells_when_what_and_until_when() -> None:
    ru = render("autopay.upcoming", "ru", AUTOPAY)
    en = render("autopay.upcoming", "en", AUTOPAY)
    assert "14 января 2027" in ru
    assert "15 января 2027" in ru
    assert "Bank card *4477" in ru
    assert "On <b>January 14, 2027</b> we will charge <b>199\u00a0₽</b>" in en
    assert "ends January 15, 2027" in en
    assert "Turn off autopay" in en


def failed(retries_left: int) -> dict[str, str | int]:
    return {
        "amount_minor": 19900,
        "currency": "RUB",
        "reason": "insufficient_funds",
        "retries_left": retries_left,
        "retry_at": datetime(2027, 1, 15, 6, 0, tzinfo=UTC).isoformat(),
        "expires_at": datetime(2027, 1, 15, 9, 0, tzinfo=UTC).isoformat(),
    }


def test_a_failed_renewal_says_why_what_comes_next_and_how_to_renew_by_hand() -> None:
    en = render("autopay.charge_failed", "en", failed(2))
    assert "insufficient funds" in en
    assert "try again on <b>January 15, 2027</b> (2 more tries)" in en
    assert "ends <b>January 15, 2027</b>" in en
    assert "/buy" in en
    assert "try once more" in render("autopay.charge_failed", "en", failed(1))
    last = render("autopay.charge_failed", "en", failed(0))
    assert "not try again" in last
    assert "/buy" in last
    ru = render("autopay.charge_failed", "ru", failed(3))
    assert "недостаточно средств" in ru
    assert "осталось попыток: 3" in ru
    assert "Больше пытаться не будем" in render("autopay.charge_failed", "ru", failed(0))
    revoked: dict[str, str | int] = {**failed(0), "reason": "permission_revoked"}
    assert "withdrew the permission" in render("autopay.charge_failed", "en", revoked)


@pytest.mark.parametrize(
    ("why", "en", "ru"),
    [
        ("permission_revoked", "You withdrew the permission", "Вы отозвали разрешение"),
        ("charges_failed", "did not go through", "не прошли"),
        ("provider_rejected", "no longer accepts", "больше не принимает"),
        ("plan_unavailable", "no longer sold", "больше не продаётся"),
        ("price_raised", "price of your plan went up", "Цена тарифа выросла"),
        ("method_not_saved", "did not let us keep", "не дала сохранить"),
        ("subscription_refunded", "was refunded", "сделан возврат"),
        ("something_new", "Automatic renewal is switched off", "Автоматическое продление"),
    ],
)
def test_autopay_off_says_why_and_until_when_the_subscription_stays(
    why: str, en: str, ru: str
) -> None:
    params: dict[str, str | int] = {
        "why": why,
        "expires_at": datetime(2027, 1, 15, 9, 0, tzinfo=UTC).isoformat(),
    }
    english = render("autopay.stopped", "en", params)
    russian = render("autopay.stopped", "ru", params)
    assert en in english
    assert "valid until <b>January 15, 2027</b>" in english
    assert "/buy" in english
    assert ru in russian
    assert "15 января 2027" in russian


@pytest.mark.parametrize(("hours", "ru_hours"), [(72, "72 часа"), (24, "24 часа")])
def test_a_subscription_ending_soon_says_when_with_a_renew_button(
    hours: int, ru_hours: str
) -> None:
    params = {"expires_at": "2027-01-15T09:00:00+00:00", "renew_plan_id": "m1", "hours": hours}
    ru = render("subscription.expiring", "ru", params)
    assert ru_hours in ru
    assert "15 января 2027" in ru
    assert f"ends in {hours} hours" in render("subscription.expiring", "en", params)
    assert reply_markup("ru", params) == {
        "inline_keyboard": [[{"text": "🔁 Продлить", "callback_data": "plan:m1"}]]
    }


def test_an_ended_subscription_is_told_with_a_renew_button_and_others_get_none() -> None:
    params = {
        "expires_at": "2027-01-15T09:00:00+00:00",
        "access_until_at": "2027-01-17T09:00:00+00:00",
        "renew_plan_id": "m3",
    }
    ru = render("subscription.expired", "ru", params)
    assert "закончилась" in ru
    assert "17 января 2027" in ru  # still served through the grace
    assert "connected until <b>January 17, 2027" in render("subscription.expired", "en", params)
    assert reply_markup("en", params) == {
        "inline_keyboard": [[{"text": "🔁 Renew", "callback_data": "plan:m3"}]]
    }
    assert reply_markup("en", {"expires_at": "2027-01-15T09:00:00+00:00"}) is None


def test_a_suspension_says_the_same_link_comes_back_with_a_renew_button() -> None:
    params = {
        "expires_at": "2027-01-15T09:00:00+00:00",
        "access_until_at": "2027-01-17T09:00:00+00:00",
        "renew_plan_id": "m1",
    }
    assert "приостановлен" in render("subscription.suspended", "ru", params)
    assert "same link" in render("subscription.suspended", "en", params)
    assert reply_markup("ru", params) == {
        "inline_keyboard": [[{"text": "🔁 Продлить", "callback_data": "plan:m1"}]]
    }


def test_promo_messages_tell_the_code_its_benefit_and_why_not() -> None:
    accepted = {
        "code": "SPRING20",
        "kind": "percent",
        "percent_off": 20,
        "limited": "yes",
        "valid_until_at": datetime(2027, 3, 1, tzinfo=UTC).isoformat(),
        "catalog_button": 1,
    }
    assert "20% off your next purchase, until March 1, 2027." in render(
        "promo.accepted", "en", accepted
    )
    assert "Скидка 20% на следующую покупку, до 1 марта 2027" in render(
        "promo.accepted", "ru", accepted
    )
    markup = reply_markup("ru", accepted)
    assert markup == {"inline_keyboard": [[{"text": "🛒 Выбрать тариф", "callback_data": "m:buy"}]]}
    extra = {
        "code": "GIGS",
        "kind": "extra_traffic",
        "traffic_limit_bytes": 10 * 1024**3,
        "limited": "no",
    }
    assert "10 GB of extra traffic with your next purchase." in render(
        "promo.accepted", "en", extra
    )
    fixed = {
        "code": "MINUS50",
        "kind": "fixed",
        "amount_minor": 5000,
        "currency": "RUB",
        "limited": "no",
    }
    assert "Скидка 50\u00a0₽ на следующую покупку." in render("promo.accepted", "ru", fixed)
    days = {
        "code": "WEEK",
        "free_days": 7,
        "kind": "free_days",
        "limited": "no",
        "expires_at": datetime(2027, 1, 8, tzinfo=UTC).isoformat(),
    }
    assert "7 бесплатных дней добавлены" in render("promo.activated", "ru", days)
    assert "7 free days added" in render("promo.activated", "en", days)
    assert "1 бесплатный день добавлен" in render("promo.activated", "ru", {**days, "free_days": 1})
    for refusal, en, ru in (
        ("promo_unknown", "does not exist", "не найден"),
        ("promo_exhausted", "used up", "все активации использованы"),
        ("promo_used", "already been used", "уже использован"),
        ("promo_expired", "has expired", "больше не действует"),
        ("something_new", "cannot be used", "нельзя использовать"),
    ):
        params = {"code": "X1Y", "refusal": refusal}
        assert en in render("promo.refused", "en", params)
        assert ru in render("promo.refused", "ru", params)


def test_a_trials_end_is_an_offer_and_a_refusal_says_why() -> None:
    params = {
        "hours": 24,
        "expires_at": datetime(2027, 1, 3, 9, 0, tzinfo=UTC).isoformat(),
        "catalog_button": 1,
    }
    assert "Пробный период закончится через 24 ч." in render("trial.expiring", "ru", params)
    assert "choose a plan below" in render("trial.expiring", "en", params)
    assert reply_markup("en", params) == {
        "inline_keyboard": [[{"text": "🛒 Choose a plan", "callback_data": "m:buy"}]]
    }
    assert "same link" in render("trial.ended", "en", params)
    for refusal, ru in (
        ("trial_used", "уже был"),
        ("trial_busy", "Попробуйте через час"),
        ("trial_not_for_payers", "для новых клиентов"),
    ):
        assert ru in render("trial.refused", "ru", {"refusal": refusal})
    assert "not available" in render("trial.refused", "en", {"refusal": "new_reason"})


def test_a_referrer_hears_what_their_friends_payment_earned() -> None:
    share = {"kind": "share", "amount_minor": 1990, "currency": "RUB"}
    assert "На ваш баланс начислено 19,90\u00a0₽" in render("referral.rewarded", "ru", share)
    assert "19.90\u00a0₽ is on your balance" in render("referral.rewarded", "en", share)
    days = {"kind": "days", "days": 7}
    assert "добавлено 7 дней" in render("referral.rewarded", "ru", days)
    assert "7 days are added" in render("referral.rewarded", "en", days)
    assert "добавлен 1 день" in render("referral.rewarded", "ru", {"kind": "days", "days": 1})


def test_a_plan_change_is_told_with_its_credit_and_its_dates() -> None:
    upgraded = {
        "plan": "1 месяц Pro",
        "expires_at": "2027-02-24T09:00:00+00:00",
        "credit_hours": 228,
        "traffic_limit_bytes": 300 * 1024**3,
    }
    ru = render("subscription.upgraded", "ru", upgraded)
    assert "Ваш тариф теперь — 1 месяц Pro" in ru
    assert "трафик 300 ГБ." in ru
    assert "добавила к нему 9,5 дня" in ru
    en = render("subscription.upgraded", "en", upgraded)
    assert "added 9.5 days to it" in en
    assert "added" not in render("subscription.upgraded", "en", {**upgraded, "credit_hours": 0})
    scheduled = {
        "plan": "1 month",
        "from_at": "2027-02-24T09:00:00+00:00",
        "expires_at": "2027-03-24T09:00:00+00:00",
    }
    assert "goes on until February 24, 2027; then 1 month starts" in render(
        "subscription.downgrade_scheduled", "en", scheduled
    )
    assert "действует до 24 февраля 2027\u202fг., затем до <b>24 марта" in render(
        "subscription.downgrade_scheduled", "ru", scheduled
    )
    changed = {
        "plan": "1 month",
        "expires_at": "2027-03-24T09:00:00+00:00",
        "traffic_limit_bytes": 0,
    }
    assert "unlimited traffic" in render("subscription.plan_changed", "en", changed)
    assert "трафик без ограничений" in render("subscription.plan_changed", "ru", changed)


def test_traffic_added_is_told_with_the_new_limit() -> None:
    params = {
        "traffic_limit_bytes": 10 * 1024**3,
        "total_bytes": 110 * 1024**3,
        "expires_at": "2027-02-24T09:00:00+00:00",
    }
    assert "Добавлено 10 ГБ трафика" in render("traffic.added", "ru", params)
    assert "now 110 GB, until February 24, 2027" in render("traffic.added", "en", params)


def test_a_traffic_threshold_tells_what_was_used_and_what_to_do() -> None:
    warning: dict[str, str | int] = {
        "threshold": 80,
        "used_bytes": 80 * 1024**3,
        "traffic_limit_bytes": 100 * 1024**3,
        "left_bytes": 20 * 1024**3,
        "monthly": "no",
    }
    en = render("traffic.threshold", "en", warning)
    assert "80% of your traffic is used" in en
    assert "80 GB of 100 GB; 20 GB are left. More traffic is in /subscription." in en
    assert "Использовано 80% трафика" in render("traffic.threshold", "ru", warning)
    used_up = {**warning, "threshold": 100, "used_bytes": 100 * 1024**3, "left_bytes": 0}
    assert "traffic for this period is used up" in render("traffic.threshold", "en", used_up)
    assert "paused until you add traffic in /subscription, or renew with /buy." in render(
        "traffic.threshold", "en", used_up
    )
    monthly = render("traffic.threshold", "ru", {**used_up, "monthly": "yes"})
    assert "Трафик на этот месяц закончился" in monthly
    assert "VPN на паузе до ежемесячного сброса трафика." in monthly
