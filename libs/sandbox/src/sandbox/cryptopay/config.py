"""Knobs of the Crypto Pay emulator: Crypto Pay's defaults, except where tests need speed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Final

MAINNET_BOT: Final = "CryptoBot"
TESTNET_BOT: Final = "CryptoTestnetBot"
WEB_APP_BASE: Final = "https://app.send.tg/invoices"

# Assets named in the official docstrings of aiocryptopay 0.4.8 and aiosend, plus SOL.
ASSETS: Final = ("USDT", "TON", "BTC", "ETH", "LTC", "BNB", "TRX", "USDC", "SOL")
# aiocryptopay 0.4.8 ``const.Fiat`` plus GBP and CNY from the Invoice docstring.
FIATS: Final = (
    "USD", "EUR", "RUB", "BYN", "UAH", "GBP", "CNY", "KZT", "UZS", "GEL", "TRY", "AMD",
    "THB", "INR", "BRL", "IDR", "AZN", "AED", "PLN", "ILS", "KGS", "TJS",
)  # fmt: skip

# Fixed prices, so that fiat invoices are paid with predictable amounts. USDT/RUB 97.40
# and USDT/USD 1.00 are the rates of the reference's sample webhook.
DEFAULT_RATES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "USDT": {"USD": "1.00", "EUR": "0.95", "RUB": "97.40"},
        "USDC": {"USD": "1.00", "EUR": "0.95", "RUB": "97.40"},
        "TON": {"USD": "5.20", "EUR": "4.94", "RUB": "506.48"},
        "BTC": {"USD": "97000.00", "EUR": "92150.00", "RUB": "9447800.00"},
        "ETH": {"USD": "3300.00", "EUR": "3135.00", "RUB": "321420.00"},
        "LTC": {"USD": "100.00", "EUR": "95.00", "RUB": "9740.00"},
        "BNB": {"USD": "650.00", "EUR": "617.50", "RUB": "63310.00"},
        "TRX": {"USD": "0.25", "EUR": "0.2375", "RUB": "24.35"},
        "SOL": {"USD": "200.00", "EUR": "190.00", "RUB": "19480.00"},
    }
)

# How many decimals a paid amount or a fee is rounded to, per asset (an emulator choice:
# the API does not document it; the reference's sample pays 3.07 USDT with a 0.09 fee).
ASSET_DECIMALS: Final[Mapping[str, int]] = MappingProxyType(
    {"USDT": 2, "USDC": 2, "TON": 4, "TRX": 4, "LTC": 6, "BNB": 6, "SOL": 6, "ETH": 8, "BTC": 8}
)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How webhook updates are delivered and retried.

    Crypto Pay does not document its retry policy. The emulator retries any answer but
    200 (the doc asks for 200) with increasing, compressed delays: ``first_retry_delay``
    seconds, doubling up to ``max_retry_delay``, for ``horizon`` seconds from the event.
    """

    first_retry_delay: float = 0.5
    max_retry_delay: float = 30.0
    horizon: float = 3600.0
    attempt_timeout: float = 10.0


@dataclass(frozen=True)
class CryptoPayConfig:
    bot_username: str = MAINNET_BOT
    web_app_base: str = WEB_APP_BASE
    assets: tuple[str, ...] = ASSETS
    fiats: tuple[str, ...] = FIATS
    exchange_rates: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_RATES)
    asset_decimals: Mapping[str, int] = field(default_factory=lambda: ASSET_DECIMALS)
    default_decimals: int = 8
    fee_rate: Decimal = Decimal("0.03")
    # Invoice amounts outside this USD range are refused (AMOUNT_TOO_SMALL/_BIG); the
    # bounds are assumed, None turns the check off.
    invoice_usd_limits: tuple[Decimal, Decimal] | None = (Decimal("0.01"), Decimal("25000"))
    # "roughly correspond to 1-25000 USD" (aiosend's transfer docstring).
    transfer_usd_limits: tuple[Decimal, Decimal] | None = (Decimal("1"), Decimal("25000"))
    first_invoice_id: int = 1
    first_update_id: int = 1
    # Every update carries this id instead of a fresh one: receivers must dedupe by invoice.
    fixed_update_id: int | None = None
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
