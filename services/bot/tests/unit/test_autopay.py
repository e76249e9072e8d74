import hashlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from fluent.syntax import FluentParser, FluentSerializer, ast

from bot.autopay import TERMS_DIGESTS, TERMS_MESSAGE, TERMS_VERSION, autopay_line
from bot.handlers import subscription_view
from bot.keyboards import Autopay, AutopayTerms, TurnOffAutopay, subscription
from bot.models import CustomerAutopay, CustomerSubscription
from bot.receipts import PendingCheckout
from bot.texts import CATALOGS, LANGUAGES
from contracts.bot import AutopayConsent
from contracts.money import Money

NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
PRICE = Money(amount_minor=19900, currency="RUB")


def terms_digest(locale: str) -> str:
    """The consent message as the locale's catalog words it, whatever surrounds it."""
    resource = FluentParser(with_spans=False).parse(CATALOGS.sources[locale])
    message = next(
        entry
        for entry in resource.body
        if isinstance(entry, ast.Message) and entry.id.name == TERMS_MESSAGE
    )
    return hashlib.sha256(FluentSerializer().serialize_entry(message).encode()).hexdigest()


def test_the_consent_text_changes_only_with_a_new_terms_version() -> None:
    shipped = {locale: terms_digest(locale) for locale in LANGUAGES}
    assert shipped == dict(TERMS_DIGESTS), (
        f"The {TERMS_MESSAGE!r} text changed (or a locale was added) since {TERMS_VERSION!r}: "
        "customers consent to that text, so bump bot.autopay.TERMS_VERSION and record "
        f"TERMS_DIGESTS = {shipped!r}"
    )


def consent() -> AutopayConsent:
    return AutopayConsent(
        terms_version=TERMS_VERSION,
        language="en",
        amount=PRICE,
        period_days=30,
        consented_at=datetime(2026, 12, 15, 12, 0, 7, 123456, tzinfo=UTC),
    )


def test_the_pending_checkout_keeps_the_consent_as_given() -> None:
    pending = PendingCheckout("y1-promo-long-plan-name-32chars", "yookassa", "RUB")
    with_consent = PendingCheckout(
        "y1-promo-long-plan-name-32chars", "yookassa", "RUB", autopay=consent()
    )
    assert PendingCheckout.decode(with_consent.encode()) == with_consent
    monthly = consent().model_copy(update={"period_months": 1})
    for_months = PendingCheckout("m1", "yookassa", "RUB", autopay=monthly)
    assert PendingCheckout.decode(for_months.encode()) == for_months
    assert PendingCheckout.decode(pending.encode()) == pending
    assert len(with_consent.encode()) <= 256
    quoted = PendingCheckout(
        "y1-promo-long-plan-name-32chars",
        "yookassa",
        "RUB",
        autopay=consent().model_copy(update={"language": "pt-BR-x-private1"}),
        quote_id=uuid4(),
    )
    assert PendingCheckout.decode(quoted.encode()) == quoted
    assert len(quoted.encode()) <= 256
    # Written before quotes (ten parts with a consent, five without), before autopay
    # (five) and before top-ups (four).
    before_quotes = with_consent.encode().replace(":plan::", ":plan:")
    assert PendingCheckout.decode(before_quotes) == with_consent
    assert PendingCheckout.decode(with_consent.encode().replace(":plan::", ":plan:zz:")) is None
    assert PendingCheckout.decode("email:m1:yookassa:RUB:plan") == PendingCheckout(
        "m1", "yookassa", "RUB"
    )
    assert PendingCheckout.decode("email:m1:yookassa:RUB") == PendingCheckout(
        "m1", "yookassa", "RUB"
    )
    garbled = with_consent.encode().replace(":30:", ":0:")  # a period of no days
    assert PendingCheckout.decode(garbled) is None
    assert PendingCheckout.decode(with_consent.encode().replace(":en:", ":??:")) is None


def mirror(*, enabled: bool, method_title: str | None = "Bank card *4477") -> CustomerAutopay:
    return CustomerAutopay(
        customer_id=uuid4(),
        enabled=enabled,
        revision=1,
        provider="yookassa",
        method_title=method_title,
        amount_minor=PRICE.amount_minor if enabled else None,
        currency=PRICE.currency if enabled else None,
        next_charge_at=datetime(2027, 1, 14, 9, 0, tzinfo=UTC) if enabled else None,
        reason=None if enabled else "charges_failed",
        changed_at=NOW,
    )


def test_my_subscription_tells_the_next_automatic_charge() -> None:
    active = CustomerSubscription(
        subscription_id=uuid4(),
        customer_id=uuid4(),
        plan_id="m1",
        period_end=NOW + timedelta(days=30),
        traffic_limit_bytes=0,
        subscription_url="https://vpn.example/sub/abc",
    )
    view = subscription_view(active, "en", NOW, mirror(enabled=True))
    assert "Autopay: on — 199\u00a0₽ from Bank card *4477 on January 14, 2027" in view
    ru = subscription_view(active, "ru", NOW, mirror(enabled=True))
    assert "14 января 2027" in ru
    assert "Bank card *4477" in ru
    assert "Autopay: off" in subscription_view(active, "en", NOW, mirror(enabled=False))
    assert "Autopay" not in subscription_view(active, "en", NOW, None)


def test_without_the_providers_title_the_method_is_named_as_the_bot_names_it() -> None:
    assert "from 💳 Card or SBP on" in autopay_line(mirror(enabled=True, method_title=None), "en")


def test_the_turn_off_button_is_there_only_while_autopay_is_on() -> None:
    def presses(autopay_on: bool) -> list[str]:
        markup = subscription("en", autopay_on=autopay_on)
        return [button.callback_data or "" for row in markup.inline_keyboard for button in row]

    assert TurnOffAutopay().pack() in presses(True)
    assert TurnOffAutopay().pack() not in presses(False)


def test_the_consent_button_carries_the_price_agreed_to() -> None:
    agree = Autopay(plan_id="m1", provider="yookassa", currency="RUB", amount_minor=19900)
    assert agree.pack() == "ap:m1:yookassa:RUB:19900"
    assert Autopay.unpack(agree.pack()) == agree
    terms = AutopayTerms(plan_id="m1", provider="yookassa", currency="RUB")
    assert AutopayTerms.unpack(terms.pack()) == terms
