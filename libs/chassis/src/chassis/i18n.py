"""Message catalogs: every text a customer reads, in Fluent files, one per locale.

A service ships ``locales/<language tag>/<service>.ftl`` inside its package and reads it
with :class:`Catalogs`. Plurals, numbers and dates come from Fluent and CLDR (Babel), so a
third language is only a new file: no code, table or contract knows which languages exist.

Values given to a text are prepared here: ``Money`` is written the same way everywhere
(``199 ₽``, ``250 ⭐``), text values are escaped for Telegram HTML unless wrapped in
:class:`Html`, and numbers and datetimes reach Fluent as such, for ``NUMBER()`` and
``DATETIME()`` and plural selection. :func:`catalog_problems` is what the tests of each
service run: a key or a placeholder missing in any shipped locale is a failure.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib.resources.abc import Traversable
from typing import Final

from babel.numbers import format_decimal
from fluent.runtime import FluentBundle, FluentResource
from fluent.syntax import FluentParser, ast
from fluent.syntax.visitor import Visitor

from contracts.money import Money, minor_unit_exponent

Value = str | int | Decimal | datetime | date | Money

CURRENCY_SYMBOLS: Final[Mapping[str, str]] = {"RUB": "₽", "XTR": "⭐", "USD": "$", "EUR": "€"}
"""How amounts are marked; another currency is written with its code (``12 KZT``)."""

RUSSIAN_READERS: Final[frozenset[str]] = frozenset(
    {"ru", "uk", "be", "kk", "uz", "ky", "tg", "hy", "az", "ka"}
)
"""Interface languages whose speakers are best served in Russian when it is shipped and
their own language is not: the CIS audience of the businesses this platform is for."""


class MissingText(KeyError):
    """No message with this key in the locale (nor in the default locale)."""


class TextError(ValueError):
    """A message could not be formatted: a value it refers to was not given."""


class Html(str):
    """Text that is already Telegram HTML (made from other texts): inserted unescaped."""

    __slots__ = ()


def format_money(money: Money, locale: str) -> str:
    """``199 ₽``, ``1 990,50 ₽`` (ru), ``1,990.50 ₽`` (en), ``250 ⭐``: fractions only if any."""
    value = money.to_decimal()
    exponent = minor_unit_exponent(money.currency)
    pattern = "#,##0" if exponent == 0 or value == value.to_integral_value() else "#,##0.00"
    number = format_decimal(value, format=pattern, locale=_babel_locale(locale))
    return f"{number}\u00a0{CURRENCY_SYMBOLS.get(money.currency, money.currency)}"


@dataclass(frozen=True)
class Catalogs:
    """The catalogs of one service, one Fluent bundle per shipped locale.

    ``default_locale`` is spoken when a customer's language is unknown; ``foreign_locale``
    to a customer whose language is known but not shipped (English, for the world), and
    ``kinship`` sends the speakers of some languages to another shipped one first.
    """

    bundles: Mapping[str, FluentBundle]
    sources: Mapping[str, str]
    default_locale: str
    foreign_locale: str
    kinship: Mapping[str, str] = field(default_factory=dict)
    escape: bool = True

    @classmethod
    def load(
        cls,
        directory: Traversable,
        *,
        default_locale: str,
        foreign_locale: str | None = None,
        kinship: frozenset[str] = RUSSIAN_READERS,
        kin_locale: str = "ru",
        escape: bool = True,
    ) -> Catalogs:
        """Read ``<directory>/<tag>/*.ftl``; every subdirectory is a shipped locale."""
        sources: dict[str, str] = {}
        for entry in sorted(directory.iterdir(), key=lambda e: e.name):
            if not entry.is_dir():
                continue
            files = sorted(
                (f for f in entry.iterdir() if f.name.endswith(".ftl")), key=lambda f: f.name
            )
            if files:
                sources[entry.name] = "\n".join(f.read_text(encoding="utf-8") for f in files)
        if default_locale not in sources:
            raise ValueError(f"the default locale {default_locale!r} has no catalog in {directory}")
        bundles = {}
        for locale, source in sources.items():
            bundle = FluentBundle([locale, default_locale], use_isolating=False)
            bundle.add_resource(FluentResource(source))
            bundles[locale] = bundle
        foreign = foreign_locale if foreign_locale in sources else default_locale
        kin = dict.fromkeys(kinship, kin_locale) if kin_locale in sources else {}
        return cls(bundles, sources, default_locale, foreign, kin, escape)

    @property
    def locales(self) -> tuple[str, ...]:
        """Shipped locales, the default first."""
        return (self.default_locale, *sorted(set(self.bundles) - {self.default_locale}))

    def negotiate(self, language: str | None) -> str:
        """The shipped locale for a language tag (Telegram's ``language_code``, a stored tag)."""
        if not language:
            return self.default_locale
        tag = language.replace("_", "-").lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in self.bundles:
                return candidate
        return self.kinship.get(tag.split("-")[0], self.foreign_locale)

    def pick(self, names: Mapping[str, str], language: str | None) -> str:
        """One name from a by-language mapping (a plan's titles), chosen as ``negotiate``
        chooses a locale: the language, its base, its kin, the foreign locale; for no
        language the default; then whatever the mapping has."""
        by_tag = {tag.lower(): name for tag, name in names.items()}
        tag = (language or "").replace("_", "-").lower()
        base = tag.split("-")[0]
        preferred = (
            (tag, base, self.kinship.get(base), self.foreign_locale, self.default_locale)
            if tag
            else (self.default_locale, self.foreign_locale)
        )
        for candidate in preferred:
            if candidate and candidate in by_tag:
                return by_tag[candidate]
        return next(iter(names.values()), "")

    def text(self, key: str, language: str | None, /, **values: Value) -> str:
        """The message ``key`` in the customer's language, falling back to the default."""
        locale = self.negotiate(language)
        bundle = self.bundles[locale]
        if not bundle.has_message(key):
            locale, bundle = self.default_locale, self.bundles[self.default_locale]
            if not bundle.has_message(key):
                raise MissingText(key)
        message = bundle.get_message(key)
        if message.value is None:
            raise MissingText(f"{key} has no value, only attributes")
        text, errors = bundle.format_pattern(message.value, self._prepare(values, locale))
        if errors:
            raise TextError(f"{key} ({locale}): {'; '.join(str(error) for error in errors)}")
        return str(text)

    def _prepare(self, values: Mapping[str, Value], locale: str) -> dict[str, object]:
        prepared: dict[str, object] = {}
        for name, value in values.items():
            if isinstance(value, Money):
                prepared[name] = format_money(value, locale)
            elif isinstance(value, Html) or not isinstance(value, str):
                prepared[name] = str(value) if isinstance(value, Html) else value
            else:
                prepared[name] = html.escape(value) if self.escape else value
        return prepared


def catalog_problems(catalogs: Catalogs) -> list[str]:
    """What is wrong with the shipped catalogs, compared with the default locale.

    Reported: syntax errors; a message (or attribute) missing in a locale or only in a
    locale; a message whose placeholders differ from the default's (a value the code gives
    that one locale ignores, or one a locale expects that the code never gives).
    """
    parsed = {locale: _messages(source) for locale, source in catalogs.sources.items()}
    problems = [
        f"{locale}: syntax error near {junk!r}"
        for locale, (_, junks) in parsed.items()
        for junk in junks
    ]
    reference, _ = parsed[catalogs.default_locale]
    for locale, (messages, _) in parsed.items():
        if locale == catalogs.default_locale:
            continue
        for key in sorted(reference.keys() - messages.keys()):
            problems.append(f"{locale}: missing {key}")
        for key in sorted(messages.keys() - reference.keys()):
            problems.append(f"{locale}: {key} is not in {catalogs.default_locale}")
        for key in sorted(reference.keys() & messages.keys()):
            if reference[key] != messages[key]:
                problems.append(
                    f"{locale}: {key} takes {sorted(messages[key])}, "
                    f"{catalogs.default_locale} takes {sorted(reference[key])}"
                )
    return problems


def _messages(source: str) -> tuple[dict[str, frozenset[str]], list[str]]:
    """Message and attribute ids mapped to the variables each refers to, and the junk."""
    resource = FluentParser(with_spans=False).parse(source)
    messages: dict[str, frozenset[str]] = {}
    junk: list[str] = []
    for entry in resource.body:
        if isinstance(entry, ast.Junk):
            junk.append((entry.content or "").strip()[:60])
        elif isinstance(entry, ast.Message):
            if entry.value is not None:
                messages[entry.id.name] = _variables(entry.value)
            for attribute in entry.attributes:
                messages[f"{entry.id.name}.{attribute.id.name}"] = _variables(attribute.value)
    return messages, junk


def _variables(node: ast.BaseNode) -> frozenset[str]:
    collector = _VariableCollector()
    collector.visit(node)
    return frozenset(collector.names)


class _VariableCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_VariableReference(self, node: ast.VariableReference) -> None:
        self.names.add(node.id.name)

    def visit_TermReference(self, node: ast.TermReference) -> None:
        # A term's own variables are given by the call site, not by the code.
        if node.arguments is not None:
            self.generic_visit(node.arguments)


def _babel_locale(locale: str) -> str:
    return locale.replace("-", "_")


def shipped_texts(catalogs: Catalogs) -> Iterator[tuple[str, str]]:
    """Every (locale, message key) pair, for tests that render each text once."""
    for locale in catalogs.locales:
        for key in _messages(catalogs.sources[locale])[0]:
            yield locale, key
