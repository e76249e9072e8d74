"""Crypto Pay API (@CryptoBot) emulator: apps, invoices, transfers and signed webhooks.

``create_app(CryptoPayEmulator(...))`` serves the API at ``/api/<method>`` and test
controls under ``/sandbox``; ``CryptoPaySandboxControl`` drives those controls. See
``shared/reference/payments.md`` §4 and §6 for the behaviour emulated.

Where the reference is silent, the behaviour was looked up (``search`` over public code
and pages) rather than invented:

- Envelope and error shape, ``error.code``/``error.name``: aiocryptopay ``base.py``. The
  HTTP status equals the code: LulzLoL231's CryptoPayAPI branches on 401, 403, 405.
- Error names seen from the real API: ``UNAUTHORIZED`` 401 (ragnarok22/cryptobot_python
  docs), ``METHOD_NOT_FOUND`` 405 (an integrator's log; CryptoPayAPI maps 405 to it),
  ``METHOD_DISABLED`` 403 for a disabled ``transfer`` and ``EXPIRES_IN_INVALID`` 400
  (CryptoPayAPI), ``PAID_BTN_URL_REQUIRED`` and ``UNSUPPORTED_ASSET`` 400 (the C#
  CryptoPay client's tests against testnet; slavafomin/crypto-pay-sdk notes),
  ``AMOUNT_TOO_SMALL``, ``INSUFFICIENT_FUNDS``, ``SPEND_ID_ALREADY_USED`` 400
  (cryptobot_python docs; PHP and Python integrations), ``AMOUNT_TOO_BIG`` 400 (C#
  tests). Extrapolated, not seen: ``<PARAM>_REQUIRED``, ``<PARAM>_INVALID``,
  ``<PARAM>_TOO_LONG``, ``UNSUPPORTED_FIAT``, ``INVOICE_NOT_FOUND`` (deleteInvoice of an
  unknown invoice) and ``BAD_REQUEST`` (an undecodable body).
- ``getMe`` ``{app_id, name, payment_processing_bot_username}``: aiocryptopay
  ``models/profile.py``; crypto-pay-api (Rust) test mocks. ``getBalance``
  ``[{currency_code, available, onhold}]`` and ``getExchangeRates``
  ``[{is_valid, is_crypto, is_fiat, source, target, rate}]`` with string numbers: the
  same mocks and aiocryptopay models.
- ``transfer``: "disabled by default for new apps" (Crypto Pay changelog 1.1.2); ``spend_id``
  up to 64 symbols, "The same spend_id can be accepted only once from your app" (aiosend
  docstring): a repeat is refused with ``SPEND_ID_ALREADY_USED``, as integrations handle
  it, rather than replayed. Transfer object and ``getTransfers``: crypto-pay-api mocks.
  Amount limits "roughly correspond to 1-25000 USD" (aiosend).
- The Invoice fields, ``swap_to`` and the webhook ``Update``: aiosend ``types/invoice.py``
  and ``types/update.py``. The body is compact JSON with non-ASCII unescaped: aiosend
  verifies the signature by re-serializing exactly so.

Not emulated: checks (``createCheck``, ``getChecks``, ``deleteCheck``), ``getCurrencies``
and ``getStats`` answer ``METHOD_NOT_FOUND``; ``swap_to`` is echoed but no swap happens
(no ``is_swapped``/``swapped_*`` fields); the deprecated ``pay_url``, ``fee`` and
``usd_rate`` fields are left out; ``transfer`` does not check that the user has used
@CryptoBot; the IP allowlist; rate limiting (``TOO_MANY_REQUESTS``). The retry policy of
webhooks is not documented: the emulator's (``DeliveryPolicy``) is its own. The invoice
USD limits, the ordering of ``getInvoices`` (newest first) and the rounding of paid
amounts (``ASSET_DECIMALS``) are assumptions.
"""

from sandbox.control import SandboxControlError
from sandbox.cryptopay.app import create_app
from sandbox.cryptopay.config import (
    ASSET_DECIMALS,
    ASSETS,
    DEFAULT_RATES,
    FIATS,
    MAINNET_BOT,
    TESTNET_BOT,
    CryptoPayConfig,
    DeliveryPolicy,
)
from sandbox.cryptopay.control import CryptoPaySandboxControl
from sandbox.cryptopay.emulator import CryptoPayEmulator, Webhook
from sandbox.cryptopay.errors import ApiError, ControlError
from sandbox.cryptopay.model import App, CurrencyType, InvoiceStatus
from sandbox.cryptopay.notifications import DeliveryAttempt, WebhookDispatcher
from sandbox.cryptopay.signature import SIGNATURE_HEADER, SignatureMode, sign

__all__ = [
    "ASSETS",
    "ASSET_DECIMALS",
    "DEFAULT_RATES",
    "FIATS",
    "MAINNET_BOT",
    "SIGNATURE_HEADER",
    "TESTNET_BOT",
    "ApiError",
    "App",
    "ControlError",
    "CryptoPayConfig",
    "CryptoPayEmulator",
    "CryptoPaySandboxControl",
    "CurrencyType",
    "DeliveryAttempt",
    "DeliveryPolicy",
    "InvoiceStatus",
    "SandboxControlError",
    "SignatureMode",
    "Webhook",
    "WebhookDispatcher",
    "create_app",
    "sign",
]
