import pytest

from bot.receipts import PendingCheckout, valid_email


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("ivan@example.ru", "ivan@example.ru"),
        ("  Ivan.Petrov+vpn@Mail.EXAMPLE.com ", "Ivan.Petrov+vpn@mail.example.com"),
        ("a@b.co", "a@b.co"),
    ],
)
def test_an_address_is_kept_with_its_domain_lowercased(text: str, email: str) -> None:
    assert valid_email(text) == email


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ivan",
        "ivan@",
        "@example.ru",
        "ivan@example",
        "ivan@@example.ru",
        "iv an@example.ru",
        "ivan..petrov@example.ru",
        ".ivan@example.ru",
        "ivan@-example.ru",
        "ivan@example.r",
        "ivan@example.123",
        "x" * 65 + "@example.ru",
        "ivan@" + "a" * 250 + ".ru",
        "<script>@example.ru",
    ],
)
def test_anything_else_is_not_an_address(text: str) -> None:
    assert valid_email(text) is None


def test_the_pending_checkout_survives_the_round_trip_through_the_row() -> None:
    pending = PendingCheckout("y1-promo", "yookassa", "RUB")
    assert PendingCheckout.decode(pending.encode()) == pending
    assert len(pending.encode()) <= 128
    topup = PendingCheckout("t300", "yookassa", "RUB", kind="topup")
    assert PendingCheckout.decode(topup.encode()) == topup
    # Written before top-ups asked for an e-mail: a plan's.
    assert PendingCheckout.decode("email:m1:yookassa:RUB") == PendingCheckout(
        "m1", "yookassa", "RUB"
    )
    assert PendingCheckout.decode("email:m1:yookassa:RUB:gift") is None
    assert PendingCheckout.decode(None) is None
    assert PendingCheckout.decode("something:else") is None
