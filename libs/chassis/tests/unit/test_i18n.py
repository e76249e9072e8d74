from pathlib import Path

import pytest

from chassis.i18n import Catalogs, Html, MissingText, TextError, catalog_problems, format_money
from contracts.money import Money


def catalogs(tmp_path: Path, files: dict[str, str]) -> Catalogs:
    for locale, source in files.items():
        (tmp_path / locale).mkdir()
        (tmp_path / locale / "app.ftl").write_text(source, encoding="utf-8")
    return Catalogs.load(tmp_path, default_locale="ru", foreign_locale="en")


RU = "hello = Привет, { $name }!\nbye = Пока\n"
EN = "hello = Hi, { $name }!\nbye = Bye\n"


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("ru", "ru"),
        ("en-GB", "en"),
        ("EN_us", "en"),
        ("uk", "ru"),
        ("kk", "ru"),
        ("de", "en"),
        ("pt-br", "en"),
        (None, "ru"),
        ("", "ru"),
    ],
)
def test_a_language_tag_meets_the_nearest_shipped_locale(
    tmp_path: Path, tag: str | None, locale: str
) -> None:
    assert catalogs(tmp_path, {"ru": RU, "en": EN}).negotiate(tag) == locale


def test_a_third_locale_is_only_a_new_file(tmp_path: Path) -> None:
    texts = catalogs(
        tmp_path, {"ru": RU, "en": EN, "de": "hello = Hallo, { $name }!\nbye = Tschüss\n"}
    )
    assert texts.locales == ("ru", "de", "en")
    assert texts.text("hello", "de-AT", name="Anna") == "Hallo, Anna!"


def test_values_are_escaped_unless_already_html(tmp_path: Path) -> None:
    texts = catalogs(tmp_path, {"ru": RU, "en": EN})
    assert texts.text("hello", "en", name="<b>x</b>") == "Hi, &lt;b&gt;x&lt;/b&gt;!"
    assert texts.text("hello", "en", name=Html("<b>x</b>")) == "Hi, <b>x</b>!"


def test_a_missing_value_or_key_is_an_error_not_a_silent_gap(tmp_path: Path) -> None:
    texts = catalogs(tmp_path, {"ru": RU, "en": EN})
    with pytest.raises(TextError):
        texts.text("hello", "en")
    with pytest.raises(MissingText):
        texts.text("nothing", "en")


def test_a_key_missing_in_one_locale_falls_back_but_is_reported(tmp_path: Path) -> None:
    texts = catalogs(tmp_path, {"ru": RU, "en": "hello = Hi, { $name }!\n"})
    assert texts.text("bye", "en") == "Пока"
    assert catalog_problems(texts) == ["en: missing bye"]


def test_a_placeholder_that_differs_is_reported(tmp_path: Path) -> None:
    texts = catalogs(tmp_path, {"ru": RU, "en": "hello = Hi, { $user }!\nbye = Bye\nextra = x\n"})
    assert catalog_problems(texts) == [
        "en: extra is not in ru",
        "en: hello takes ['user'], ru takes ['name']",
    ]


def test_syntax_errors_are_reported(tmp_path: Path) -> None:
    texts = catalogs(tmp_path, {"ru": RU, "en": EN + "broken = { $x\n"})
    assert [p.split(" near ")[0] for p in catalog_problems(texts)] == ["en: syntax error"]


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (19900, "RUB", "ru", "199\u00a0₽"),
        (19950, "RUB", "ru", "199,50\u00a0₽"),
        (199000, "RUB", "ru", "1\u00a0990\u00a0₽"),
        (199050, "RUB", "en", "1,990.50\u00a0₽"),
        (250, "XTR", "en", "250\u00a0⭐"),
        (500, "USD", "en", "5\u00a0$"),
        (1200, "KZT", "ru", "12\u00a0KZT"),
    ],
)
def test_money_is_written_one_way_everywhere(
    amount: int, currency: str, locale: str, text: str
) -> None:
    assert format_money(Money(amount_minor=amount, currency=currency), locale) == text


@pytest.mark.parametrize(
    ("language", "name"),
    [
        ("ru", "Месяц"),
        ("pt-BR", "Mês"),
        ("pt-PT", "Mês"),
        ("uk", "Месяц"),
        ("de", "Month"),
        (None, "Месяц"),
    ],
)
def test_a_name_by_language_meets_the_customer(
    tmp_path: Path, language: str | None, name: str
) -> None:
    texts = catalogs(tmp_path, {"ru": RU, "en": EN})
    assert texts.pick({"en": "Month", "ru": "Месяц", "pt": "Mês"}, language) == name
    assert texts.pick({"de": "Monat"}, "fr") == "Monat"
