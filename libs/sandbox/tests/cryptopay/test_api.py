"""/api/<method> on the wire: where parameters go, the token, the envelope, validation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from .conftest import APP_ID, PAYOUT_TOKEN, TOKEN, Sandbox

HASH = re.compile(r"IV[A-Za-z0-9]{8}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SAMPLE_REQUEST: dict[str, Any] = {
    "currency_type": "fiat",
    "fiat": "RUB",
    "amount": "299",
    "accepted_assets": "USDT,TON,BTC",
    "description": "VPN, 1 месяц",
    "payload": "ord:1042",
    "expires_in": 3600,
    "paid_btn_name": "openBot",
    "paid_btn_url": "https://t.me/MyVpnBot",
}


def assert_error(response: httpx.Response, code: int, name: str) -> None:
    assert response.status_code == code, response.text
    assert response.json() == {"ok": False, "error": {"code": code, "name": name}}


def token() -> dict[str, str]:
    return {"Crypto-Pay-API-Token": TOKEN}


async def test_get_me_describes_the_app(sandbox: Sandbox) -> None:
    response = await sandbox.api.get("getMe", headers=token())

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "ok": True,
        "result": {
            "app_id": APP_ID,
            "name": "Stated Seaslug App",
            "payment_processing_bot_username": "CryptoBot",
        },
    }


async def test_the_reference_sample_request_gets_the_reference_invoice(sandbox: Sandbox) -> None:
    invoice = await sandbox.result("createInvoice", **SAMPLE_REQUEST)

    invoice_hash = invoice.pop("hash")
    assert HASH.fullmatch(invoice_hash)
    assert isinstance(invoice.pop("invoice_id"), int)
    created_at = invoice.pop("created_at")
    expiration_date = invoice.pop("expiration_date")
    assert TIMESTAMP.fullmatch(created_at)
    assert TIMESTAMP.fullmatch(expiration_date)
    lifetime = datetime.fromisoformat(expiration_date) - datetime.fromisoformat(created_at)
    assert lifetime == timedelta(hours=1)
    assert invoice == {
        "currency_type": "fiat",
        "fiat": "RUB",
        "amount": "299",
        "accepted_assets": ["USDT", "TON", "BTC"],
        "status": "active",
        "description": "VPN, 1 месяц",
        "payload": "ord:1042",
        "bot_invoice_url": f"https://t.me/CryptoBot?start={invoice_hash}",
        "mini_app_invoice_url": f"https://t.me/CryptoBot/app?startapp=invoice-{invoice_hash}",
        "web_app_invoice_url": f"https://app.send.tg/invoices/{invoice_hash}",
        "allow_comments": True,
        "allow_anonymous": True,
        "paid_btn_name": "openBot",
        "paid_btn_url": "https://t.me/MyVpnBot",
    }


async def test_a_crypto_invoice_has_an_asset_and_no_accepted_assets(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice(
        asset="TON", amount="1.50", hidden_message="thanks", allow_comments=False
    )

    assert invoice["currency_type"] == "crypto"
    assert invoice["asset"] == "TON"
    assert invoice["amount"] == "1.5"
    assert invoice["hidden_message"] == "thanks"
    assert invoice["allow_comments"] is False
    for absent in ("fiat", "accepted_assets", "expiration_date", "paid_btn_name", "paid_at"):
        assert absent not in invoice


async def test_a_fiat_invoice_accepts_every_asset_by_default(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice(currency_type="fiat", fiat="USD", amount="3")

    assert invoice["accepted_assets"] == list(sandbox.emulator.config.assets)
    assert "asset" not in invoice


async def created_via(sandbox: Sandbox, how: str) -> httpx.Response:
    params: dict[str, Any] = {"asset": "USDT", "amount": "2.5", "allow_anonymous": "false"}
    if how == "query-get":
        return await sandbox.api.get("createInvoice", params=params, headers=token())
    if how == "query-post":
        return await sandbox.api.post("createInvoice", params=params, headers=token())
    if how == "json":
        return await sandbox.api.post(
            "createInvoice", json={**params, "allow_anonymous": False}, headers=token()
        )
    if how == "form":
        return await sandbox.api.post("createInvoice", data=params, headers=token())
    assert how == "multipart"
    return await sandbox.api.post(
        "createInvoice",
        data=params,
        files={"payload": (None, "ord:7", "text/plain")},
        headers=token(),
    )


@pytest.mark.parametrize("how", ["query-get", "query-post", "json", "form", "multipart"])
async def test_parameters_are_taken_from_anywhere_the_doc_allows(
    sandbox: Sandbox, how: str
) -> None:
    response = await created_via(sandbox, how)

    assert response.status_code == 200, response.text
    invoice = response.json()["result"]
    assert (invoice["asset"], invoice["amount"], invoice["allow_anonymous"]) == (
        "USDT",
        "2.5",
        False,
    )
    assert invoice.get("payload") == ("ord:7" if how == "multipart" else None)


async def test_body_parameters_override_the_query(sandbox: Sandbox) -> None:
    response = await sandbox.api.post(
        "createInvoice",
        params={"asset": "TON", "amount": "1"},
        json={"asset": "BTC", "amount": "0.001"},
        headers=token(),
    )

    assert (response.json()["result"]["asset"], response.json()["result"]["amount"]) == (
        "BTC",
        "0.001",
    )


async def test_json_numbers_and_lists_are_accepted(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice(
        currency_type="fiat", fiat="EUR", amount=12.5, accepted_assets=["TON", "USDT"]
    )

    assert (invoice["amount"], invoice["accepted_assets"]) == ("12.5", ["TON", "USDT"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Crypto-Pay-API-Token": ""}, {"Crypto-Pay-API-Token": "12345:wrong"}],
    ids=["missing", "empty", "wrong"],
)
async def test_a_bad_token_is_401_unauthorized(sandbox: Sandbox, headers: dict[str, str]) -> None:
    for method in ("getMe", "createInvoice", "getInvoices"):
        assert_error(
            await sandbox.api.post(method, params={"asset": "TON", "amount": "1"}, headers=headers),
            401,
            "UNAUTHORIZED",
        )
    assert (await sandbox.result("getInvoices"))["items"] == []


async def test_apps_do_not_see_each_others_invoices(sandbox: Sandbox) -> None:
    mine = await sandbox.create_invoice()

    theirs = await sandbox.result("getInvoices", token=PAYOUT_TOKEN)
    delete = await sandbox.call("deleteInvoice", token=PAYOUT_TOKEN, invoice_id=mine["invoice_id"])

    assert theirs == {"items": []}
    assert_error(delete, 400, "INVOICE_NOT_FOUND")


@pytest.mark.parametrize("method", ["createPayment", "getCurrencies", "createCheck"])
async def test_an_unknown_method_is_405_method_not_found(sandbox: Sandbox, method: str) -> None:
    assert_error(await sandbox.api.get(method, headers=token()), 405, "METHOD_NOT_FOUND")


async def test_other_http_methods_and_paths_are_method_not_found(sandbox: Sandbox) -> None:
    assert_error(await sandbox.api.put("getMe", headers=token()), 405, "METHOD_NOT_FOUND")
    assert_error(await sandbox.api.get("getMe/extra", headers=token()), 405, "METHOD_NOT_FOUND")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"amount": "1"}, "ASSET_REQUIRED"),
        ({"asset": "FFF", "amount": "1"}, "UNSUPPORTED_ASSET"),
        ({"asset": "TON"}, "AMOUNT_REQUIRED"),
        ({"asset": "TON", "amount": "abc"}, "AMOUNT_INVALID"),
        ({"asset": "TON", "amount": "-1"}, "AMOUNT_INVALID"),
        ({"asset": "TON", "amount": "0"}, "AMOUNT_INVALID"),
        ({"asset": "TON", "amount": "0.0001"}, "AMOUNT_TOO_SMALL"),
        ({"asset": "BTC", "amount": "1"}, "AMOUNT_TOO_BIG"),
        ({"currency_type": "cash", "asset": "TON", "amount": "1"}, "CURRENCY_TYPE_INVALID"),
        ({"currency_type": "fiat", "amount": "1"}, "FIAT_REQUIRED"),
        ({"currency_type": "fiat", "fiat": "XYZ", "amount": "1"}, "UNSUPPORTED_FIAT"),
        (
            {"currency_type": "fiat", "fiat": "RUB", "amount": "100", "accepted_assets": "X"},
            "UNSUPPORTED_ASSET",
        ),
        (
            {"currency_type": "fiat", "fiat": "RUB", "amount": "100", "accepted_assets": "TON,"},
            "ACCEPTED_ASSETS_INVALID",
        ),
        ({"asset": "TON", "amount": "1", "description": "d" * 1025}, "DESCRIPTION_TOO_LONG"),
        ({"asset": "TON", "amount": "1", "hidden_message": "h" * 2049}, "HIDDEN_MESSAGE_TOO_LONG"),
        ({"asset": "TON", "amount": "1", "payload": "я" * 2049}, "PAYLOAD_TOO_LONG"),
        ({"asset": "TON", "amount": "1", "paid_btn_name": "callback"}, "PAID_BTN_URL_REQUIRED"),
        ({"asset": "TON", "amount": "1", "paid_btn_name": "open"}, "PAID_BTN_NAME_INVALID"),
        (
            {"asset": "TON", "amount": "1", "paid_btn_name": "openBot", "paid_btn_url": "t.me"},
            "PAID_BTN_URL_INVALID",
        ),
        ({"asset": "TON", "amount": "1", "allow_comments": "yes"}, "ALLOW_COMMENTS_INVALID"),
        ({"asset": "TON", "amount": "1", "expires_in": "0"}, "EXPIRES_IN_INVALID"),
        ({"asset": "TON", "amount": "1", "expires_in": "2678401"}, "EXPIRES_IN_INVALID"),
        ({"asset": "TON", "amount": "1", "expires_in": "soon"}, "EXPIRES_IN_INVALID"),
        ({"asset": "TON", "amount": "1", "swap_to": "DOGE"}, "SWAP_TO_INVALID"),
    ],
)
async def test_create_invoice_validation(
    sandbox: Sandbox, params: dict[str, str], name: str
) -> None:
    response = await sandbox.api.get("createInvoice", params=params, headers=token())

    assert_error(response, 400, name)
    assert (await sandbox.result("getInvoices"))["items"] == []


async def test_limits_are_accepted_at_the_edges(sandbox: Sandbox) -> None:
    long_enough = {
        "description": "d" * 1024,
        "hidden_message": "h" * 2048,
        "payload": "p" * 4096,
        "expires_in": 2678400,
    }

    invoice = await sandbox.create_invoice(**long_enough)

    assert len(invoice["payload"]) == 4096


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"count": "0"}, "COUNT_INVALID"),
        ({"count": "1001"}, "COUNT_INVALID"),
        ({"offset": "-1"}, "OFFSET_INVALID"),
        ({"status": "expired"}, "STATUS_INVALID"),
        ({"invoice_ids": "1,x"}, "INVOICE_IDS_INVALID"),
    ],
)
async def test_get_invoices_validation(sandbox: Sandbox, params: dict[str, str], name: str) -> None:
    assert_error(await sandbox.api.get("getInvoices", params=params, headers=token()), 400, name)


@pytest.mark.parametrize(
    ("params", "name"),
    [({}, "INVOICE_ID_REQUIRED"), ({"invoice_id": "x"}, "INVOICE_ID_INVALID")],
)
async def test_delete_invoice_validation(
    sandbox: Sandbox, params: dict[str, str], name: str
) -> None:
    assert_error(await sandbox.api.get("deleteInvoice", params=params, headers=token()), 400, name)


async def test_an_undecodable_json_body_is_a_bad_request(sandbox: Sandbox) -> None:
    response = await sandbox.api.post(
        "createInvoice",
        content=b"{not json",
        headers={**token(), "Content-Type": "application/json"},
    )

    assert_error(response, 400, "BAD_REQUEST")


async def test_get_balance_lists_every_asset(sandbox: Sandbox) -> None:
    balances = await sandbox.result("getBalance")

    assert [b["currency_code"] for b in balances] == list(sandbox.emulator.config.assets)
    assert balances[0] == {"currency_code": "USDT", "available": "0", "onhold": "0"}


async def test_exchange_rates_are_fixed_and_settable(sandbox: Sandbox) -> None:
    rates = await sandbox.result("getExchangeRates")
    usdt_rub = {
        "is_valid": True,
        "is_crypto": True,
        "is_fiat": False,
        "source": "USDT",
        "target": "RUB",
        "rate": "97.40",
    }
    assert usdt_rub in rates

    await sandbox.control.set_exchange_rates({"USDT": {"RUB": "90.00"}, "USD": {"RUB": "90"}})
    changed = await sandbox.result("getExchangeRates")

    assert {**usdt_rub, "rate": "90.00"} in changed
    assert {**usdt_rub, "source": "USD", "is_crypto": False, "is_fiat": True, "rate": "90"} in (
        changed
    )
    assert len(changed) == len(rates) + 1
