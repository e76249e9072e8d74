"""Invoices from active to paid, expired or deleted; listing them; balances and transfers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.cryptopay import SandboxControlError

from .conftest import APP_ID, PAYOUT_APP_ID, PAYOUT_TOKEN, Sandbox
from .test_api import SAMPLE_REQUEST, TIMESTAMP, assert_error


async def test_paying_a_fiat_invoice_converts_at_the_fixed_rate(sandbox: Sandbox) -> None:
    invoice = await sandbox.result("createInvoice", **SAMPLE_REQUEST)

    paid = await sandbox.control.pay(invoice["invoice_id"])

    assert TIMESTAMP.fullmatch(paid.pop("paid_at"))
    assert paid == {
        **invoice,
        "status": "paid",
        "paid_asset": "USDT",
        "paid_amount": "3.07",
        "paid_fiat_rate": "97.40",
        "paid_usd_rate": "1.00",
        "fee_asset": "USDT",
        "fee_amount": "0.09",
        "paid_anonymously": False,
    }
    [listed] = (await sandbox.result("getInvoices", invoice_ids=str(invoice["invoice_id"])))[
        "items"
    ]
    assert listed["status"] == "paid"
    balances = {b["currency_code"]: b["available"] for b in await sandbox.result("getBalance")}
    assert balances["USDT"] == "2.98"


async def test_a_fiat_invoice_is_paid_in_the_asset_the_user_picks(sandbox: Sandbox) -> None:
    invoice = await sandbox.result("createInvoice", **SAMPLE_REQUEST)

    paid = await sandbox.control.pay(invoice["invoice_id"], asset="TON")

    assert (paid["paid_asset"], paid["paid_amount"], paid["paid_fiat_rate"]) == (
        "TON",
        "0.5904",  # 299 / 506.48, rounded up to the asset's 4 decimals
        "506.48",
    )
    assert (paid["paid_usd_rate"], paid["fee_asset"], paid["fee_amount"]) == (
        "5.20",
        "TON",
        "0.0177",
    )


async def test_rates_set_by_the_test_drive_the_paid_amount(sandbox: Sandbox) -> None:
    await sandbox.control.set_exchange_rates({"USDT": {"RUB": "100"}})
    invoice = await sandbox.result("createInvoice", **SAMPLE_REQUEST)

    paid = await sandbox.control.pay(invoice["invoice_id"])

    assert (paid["paid_amount"], paid["paid_fiat_rate"]) == ("2.99", "100")


async def test_paying_a_crypto_invoice_pays_its_amount(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice(asset="TON", amount="10")

    paid = await sandbox.control.pay(invoice["invoice_id"], comment="за VPN", anonymous=True)

    assert (paid["paid_asset"], paid["paid_amount"], paid["fee_amount"]) == ("TON", "10", "0.3")
    assert "paid_fiat_rate" not in paid
    assert (paid["comment"], paid["paid_anonymously"]) == ("за VPN", True)


@pytest.mark.parametrize(
    ("created", "paid", "status"),
    [
        ({"asset": "TON", "amount": "1"}, {"asset": "USDT"}, 400),
        (
            {"currency_type": "fiat", "fiat": "RUB", "amount": "100", "accepted_assets": "TON"},
            {"asset": "USDT"},
            400,
        ),
        ({"asset": "TON", "amount": "1", "allow_comments": False}, {"comment": "hi"}, 400),
        ({"asset": "TON", "amount": "1", "allow_anonymous": False}, {"anonymous": True}, 400),
    ],
)
async def test_the_user_cannot_pay_against_the_invoice(
    sandbox: Sandbox, created: dict[str, Any], paid: dict[str, Any], status: int
) -> None:
    invoice = await sandbox.result("createInvoice", **created)

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(invoice["invoice_id"], **paid)

    assert refused.value.status_code == status
    state = await sandbox.control.invoice(invoice["invoice_id"])
    assert state["invoice"]["status"] == "active"


async def test_an_invoice_expires_when_its_time_runs_out(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice(expires_in=60)

    await sandbox.control.advance_clock(59)
    still_active = await sandbox.result("getInvoices", status="active")
    await sandbox.control.advance_clock(1)
    listed = await sandbox.result("getInvoices", invoice_ids=str(invoice["invoice_id"]))

    assert [i["invoice_id"] for i in still_active["items"]] == [invoice["invoice_id"]]
    assert listed["items"][0]["status"] == "expired"
    assert (await sandbox.result("getInvoices", status="active"))["items"] == []
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(invoice["invoice_id"])
    assert refused.value.status_code == 409
    assert sandbox.receiver.received == []


async def test_an_invoice_without_expires_in_stays_active(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice()

    await sandbox.control.advance_clock(31 * 24 * 3600)

    assert (await sandbox.control.invoice(invoice["invoice_id"]))["invoice"]["status"] == "active"


async def test_the_control_api_can_expire_an_invoice_at_once(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice()

    expired = await sandbox.control.expire(invoice["invoice_id"])

    assert expired["status"] == "expired"
    with pytest.raises(SandboxControlError):
        await sandbox.control.expire(invoice["invoice_id"])


async def test_a_paid_invoice_does_not_expire(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice(expires_in=10)
    await sandbox.control.pay(invoice["invoice_id"])

    await sandbox.control.advance_clock(20)

    assert (await sandbox.control.invoice(invoice["invoice_id"]))["invoice"]["status"] == "paid"


async def test_a_deleted_invoice_is_gone_from_the_api(sandbox: Sandbox) -> None:
    invoice = await sandbox.create_invoice()

    deleted = await sandbox.result("deleteInvoice", invoice_id=invoice["invoice_id"])
    again = await sandbox.call("deleteInvoice", invoice_id=invoice["invoice_id"])

    assert deleted is True
    assert_error(again, 400, "INVOICE_NOT_FOUND")
    assert (await sandbox.result("getInvoices"))["items"] == []
    assert (await sandbox.control.invoice(invoice["invoice_id"]))["deleted"] is True
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(invoice["invoice_id"])
    assert refused.value.status_code == 409


async def test_an_unknown_invoice_is_404_on_the_control_api(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(999)

    assert refused.value.status_code == 404
    assert_error(await sandbox.call("deleteInvoice", invoice_id=999), 400, "INVOICE_NOT_FOUND")


async def test_get_invoices_filters_and_pages(sandbox: Sandbox) -> None:
    ton = await sandbox.create_invoice(asset="TON", amount="1")
    usdt = await sandbox.create_invoice(asset="USDT", amount="1")
    rub = await sandbox.create_invoice(currency_type="fiat", fiat="RUB", amount="100")
    eur = await sandbox.create_invoice(currency_type="fiat", fiat="EUR", amount="5")
    await sandbox.control.pay(usdt["invoice_id"])
    await sandbox.control.pay(eur["invoice_id"])

    async def ids(**params: Any) -> list[int]:
        items = (await sandbox.result("getInvoices", **params))["items"]
        return [item["invoice_id"] for item in items]

    everything = [eur["invoice_id"], rub["invoice_id"], usdt["invoice_id"], ton["invoice_id"]]
    assert await ids() == everything
    assert await ids(asset="TON") == [ton["invoice_id"]]
    assert await ids(asset="TON,USDT") == [usdt["invoice_id"], ton["invoice_id"]]
    assert await ids(fiat="RUB") == [rub["invoice_id"]]
    assert await ids(status="paid") == [eur["invoice_id"], usdt["invoice_id"]]
    assert await ids(status="active") == [rub["invoice_id"], ton["invoice_id"]]
    assert await ids(invoice_ids=f"{ton['invoice_id']},{rub['invoice_id']},999") == [
        rub["invoice_id"],
        ton["invoice_id"],
    ]
    assert await ids(invoice_ids=[ton["invoice_id"]]) == [ton["invoice_id"]]
    assert await ids(count=2) == everything[:2]
    assert await ids(offset=1, count=2) == everything[1:3]
    assert await ids(offset=10) == []
    assert await ids(asset="TON", status="paid") == []


async def test_transfer_is_disabled_by_default(sandbox: Sandbox) -> None:
    response = await sandbox.call(
        "transfer", user_id=123456789, asset="USDT", amount="1", spend_id="refund-1"
    )

    assert_error(response, 403, "METHOD_DISABLED")


async def test_a_transfer_spends_the_balance_once_per_spend_id(sandbox: Sandbox) -> None:
    await sandbox.control.configure_app(PAYOUT_APP_ID, balances={"USDT": "10"})
    params = {
        "user_id": 123456789,
        "asset": "USDT",
        "amount": "2.5",
        "spend_id": "refund:ord1042",
        "comment": "Возврат",
    }

    transfer = await sandbox.result("transfer", token=PAYOUT_TOKEN, **params)
    repeat = await sandbox.call("transfer", token=PAYOUT_TOKEN, **params)

    assert TIMESTAMP.fullmatch(transfer.pop("completed_at"))
    assert transfer == {
        "transfer_id": transfer["transfer_id"],
        "spend_id": "refund:ord1042",
        "user_id": 123456789,
        "asset": "USDT",
        "amount": "2.5",
        "status": "completed",
        "comment": "Возврат",
    }
    assert_error(repeat, 400, "SPEND_ID_ALREADY_USED")
    balances = await sandbox.result("getBalance", token=PAYOUT_TOKEN)
    assert balances[0] == {"currency_code": "USDT", "available": "7.5", "onhold": "0"}
    listed = await sandbox.result("getTransfers", token=PAYOUT_TOKEN, spend_id="refund:ord1042")
    assert [t["transfer_id"] for t in listed["items"]] == [transfer["transfer_id"]]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"asset": "USDT", "amount": "1", "spend_id": "s"}, "USER_ID_REQUIRED"),
        ({"user_id": "x", "asset": "USDT", "amount": "1", "spend_id": "s"}, "USER_ID_INVALID"),
        ({"user_id": 1, "amount": "1", "spend_id": "s"}, "ASSET_REQUIRED"),
        ({"user_id": 1, "asset": "USDT", "amount": "1"}, "SPEND_ID_REQUIRED"),
        ({"user_id": 1, "asset": "USDT", "amount": "1", "spend_id": "s" * 65}, "SPEND_ID_TOO_LONG"),
        (
            {"user_id": 1, "asset": "USDT", "amount": "1", "spend_id": "s", "comment": "c" * 1025},
            "COMMENT_TOO_LONG",
        ),
        ({"user_id": 1, "asset": "USDT", "amount": "0.5", "spend_id": "s"}, "AMOUNT_TOO_SMALL"),
        ({"user_id": 1, "asset": "USDT", "amount": "30000", "spend_id": "s"}, "AMOUNT_TOO_BIG"),
        ({"user_id": 1, "asset": "USDT", "amount": "20", "spend_id": "s"}, "INSUFFICIENT_FUNDS"),
    ],
)
async def test_transfer_validation(sandbox: Sandbox, params: dict[str, Any], name: str) -> None:
    await sandbox.control.configure_app(PAYOUT_APP_ID, balances={"USDT": "10"})

    assert_error(await sandbox.call("transfer", token=PAYOUT_TOKEN, **params), 400, name)
    assert (await sandbox.result("getTransfers", token=PAYOUT_TOKEN))["items"] == []


async def test_the_control_api_lists_and_changes_apps(sandbox: Sandbox) -> None:
    changed = await sandbox.control.configure_app(
        APP_ID, transfer_enabled=True, remove_webhook=True
    )
    added = await sandbox.control.add_app(1, "New app", "1:Tok_en-1")
    listed = await sandbox.control.apps()

    assert changed["transfer_enabled"] is True
    assert changed["webhook_url"] is None
    assert added == {
        "app_id": 1,
        "name": "New app",
        "webhook_url": None,
        "transfer_enabled": False,
        "balances": {},
    }
    assert [app["app_id"] for app in listed] == [APP_ID, PAYOUT_APP_ID, 1]
    assert all("token" not in app for app in listed)
    me = await sandbox.result("getMe", token="1:Tok_en-1")
    assert me["app_id"] == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"name": "x", "token": "not-a-token"},
        {"name": "", "token": "1:abc"},
        {"name": "x", "token": "1:abc", "webhook_url": "ftp://host"},
        {"name": "x", "token": "1:abc", "balances": {"USDT": "-1"}},
        {"name": "x", "token": "1:abc", "colour": "blue"},
    ],
)
async def test_bad_app_settings_are_refused(sandbox: Sandbox, settings: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url, trust_env=False) as http:
        refused = await http.put("/sandbox/apps/1", json=settings)

    assert refused.status_code == 400
    assert isinstance(refused.json()["error"], str)
    assert [app["app_id"] for app in await sandbox.control.apps()] == [APP_ID, PAYOUT_APP_ID]


async def test_two_apps_cannot_share_a_token(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.add_app(1, "Copy", PAYOUT_TOKEN)

    assert refused.value.status_code == 409


async def test_reset_forgets_invoices_and_can_keep_apps(sandbox: Sandbox) -> None:
    first = await sandbox.create_invoice()
    await sandbox.control.reset(keep_apps=True)
    again = await sandbox.create_invoice()

    assert again["invoice_id"] == first["invoice_id"]
    await sandbox.control.reset()
    assert await sandbox.control.apps() == []
