"""Payment providers, one module each behind ``base.PaymentProvider``; the registry here.

Adding a provider is a module here, its sandbox, and its settings: checkout, verification,
refunds and the catalog find it through :class:`Providers` by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from billing.providers.base import PaymentProvider

WALLET = "wallet"
"""Paying from the customer's balance: a payment method, but no provider to call."""


class Providers:
    """The providers this deployment takes payments with, in the order customers see them."""

    def __init__(self, providers: Iterable[PaymentProvider]) -> None:
        self._by_name = {provider.name: provider for provider in providers}

    def get(self, name: str) -> PaymentProvider | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[PaymentProvider]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    async def aclose(self) -> None:
        for provider in self._by_name.values():
            await provider.aclose()
