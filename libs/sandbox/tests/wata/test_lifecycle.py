"""A link's life: paying, declines and retries, expiry, and refunds partial, full and too big."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from sandbox.wata import SandboxControlError

from .conftest import TERMINAL_ID, Sandbox, decoded, in_minutes, post_json, terminals
from .spec_samples import GUID, TRANSACTION, WEBHOOK


def assert_refused(refused: pytest.ExceptionInfo[SandboxControlError], code: str | None) -> None:
    assert refused.value.status_code == 400
    assert isinstance(refused.value.body, dict)
    assert refused.value.body["error"]["code"] == code


async def test_paying_a_one_time_link_closes_it_and_sends_the_webhook(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()

    paid = await sandbox.control.pay(link["id"])
    [delivery] = await sandbox.control.wait_delivered(paid["id"], "Paid")
    state = await sandbox.control.link(link["id"])

    assert list(paid) == list(TRANSACTION)
    assert GUID.fullmatch(paid["id"])
    assert paid["status"] == "Paid"
    assert (paid["kind"], paid["type"]) == ("Payment", "CardCrypto")
    assert (paid["amount"], paid["currency"]) == (Decimal("299.00"), "RUB")
    assert paid["totalCommission"] == Decimal("8.97")
    assert (paid["orderId"], paid["orderDescription"]) == ("1042", "VPN, 1 месяц")
    assert (paid["errorCode"], paid["errorDescription"]) == (None, None)
    assert paid["paymentLinkId"] == link["id"]
    assert paid["paymentTime"] >= paid["creationTime"]
    assert state["link"]["status"] == "Closed"
    assert state["transactions"] == [paid]
    [received] = sandbox.receiver.received
    webhook = received.json()
    assert list(webhook) == list(WEBHOOK)
    assert webhook["transactionId"] == paid["id"]
    assert webhook["transactionStatus"] == "Paid"
    assert webhook["commission"] == paid["totalCommission"]
    assert webhook["paymentTime"] == paid["paymentTime"]
    assert (webhook["terminalName"], webhook["terminalPublicId"]) == ("MyVpn", TERMINAL_ID)
    assert delivery.kind == "Payment"


async def test_a_declined_attempt_then_a_paid_one_on_the_same_link(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()

    declined = await sandbox.control.decline(link["id"], "Payment:TRA_2002")
    still_open = await sandbox.control.link(link["id"])
    paid = await sandbox.control.pay(link["id"], method="SBP")
    await sandbox.control.wait_delivered(paid["id"], "Paid")
    found = await sandbox.api.get("v2/transactions", params={"OrderId": "1042"})

    assert declined["status"] == "Declined"
    assert declined["errorCode"] == "Payment:TRA_2002"
    assert declined["errorDescription"] == "Недостаточно средств"
    assert declined["totalCommission"] == Decimal("0.00")
    assert still_open["link"]["status"] == "Opened"
    assert paid["type"] == "SBP"
    assert {t["id"] for t in decoded(found)["items"]} == {declined["id"], paid["id"]}
    statuses = [r.json()["transactionStatus"] for r in sandbox.receiver.received]
    assert statuses == ["Declined", "Paid"]
    first = sandbox.receiver.received[0].json()
    assert (first["errorCode"], first["errorDescription"]) == (
        "Payment:TRA_2002",
        "Недостаточно средств",
    )


async def test_a_closed_link_cannot_be_paid_again(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()
    await sandbox.control.pay(link["id"])

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(link["id"])

    assert_refused(refused, "Payment:PL_1003")


async def test_a_many_time_link_stays_open(sandbox: Sandbox) -> None:
    link = await sandbox.create_link(type="ManyTime")

    first = await sandbox.control.pay(link["id"])
    second = await sandbox.control.pay(link["id"], method="TPay")

    state = await sandbox.control.link(link["id"])
    assert state["link"]["status"] == "Opened"
    assert [t["id"] for t in state["transactions"]] == [first["id"], second["id"]]


async def test_a_link_closes_at_its_expiry(sandbox: Sandbox) -> None:
    link = await sandbox.create_link(expirationDateTime=in_minutes(11))

    await sandbox.control.advance_clock(10 * 60)
    before = await sandbox.api.get(f"links/{link['id']}")
    await sandbox.control.advance_clock(61)
    after = await sandbox.api.get(f"links/{link['id']}")
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(link["id"])

    assert before.json()["status"] == "Opened"
    assert after.json()["status"] == "Closed"
    assert_refused(refused, "Payment:PL_1003")
    assert sandbox.receiver.received == []


async def test_the_default_lifetime_is_three_days(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()

    await sandbox.control.advance_clock(3 * 24 * 3600 - 5)
    open_still = (await sandbox.control.link(link["id"]))["link"]["status"]
    await sandbox.control.advance_clock(5)
    closed = (await sandbox.control.link(link["id"]))["link"]["status"]

    assert (open_still, closed) == ("Opened", "Closed")


async def test_a_pending_payment_is_settled_later(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()

    pending = await sandbox.control.pay(link["id"], outcome="Pending")
    fetched = await sandbox.api.get(f"transactions/{pending['id']}")
    assert sandbox.receiver.received == []
    settled = await sandbox.control.settle(pending["id"])
    await sandbox.control.wait_delivered(pending["id"], "Paid")

    assert pending["status"] == "Pending"
    assert (pending["paymentTime"], pending["totalCommission"]) == (None, Decimal("0.00"))
    assert decoded(fetched) == pending
    assert settled["status"] == "Paid"
    assert (await sandbox.control.link(link["id"]))["link"]["status"] == "Closed"
    with pytest.raises(SandboxControlError):
        await sandbox.control.settle(pending["id"])


async def test_a_method_the_terminal_lacks_is_tra_1013(sandbox: Sandbox) -> None:
    await sandbox.control.configure_terminal(TERMINAL_ID, payment_methods=["CardCrypto"])
    link = await sandbox.create_link()

    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(link["id"], method="SBP")

    assert_refused(refused, "Payment:TRA_1013")


async def test_an_arbitrary_amount_link_takes_more_than_its_amount(sandbox: Sandbox) -> None:
    fixed = await sandbox.create_link()
    free = await sandbox.create_link(orderId="tip", isArbitraryAmountAllowed=True)

    paid = await sandbox.control.pay(free["id"], amount=Decimal("350.50"))
    with pytest.raises(SandboxControlError) as refused:
        await sandbox.control.pay(fixed["id"], amount=Decimal("350.50"))

    assert paid["amount"] == Decimal("350.50")
    assert_refused(refused, "Payment:TRA_1005")


async def test_a_partial_then_full_refund(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.wait_delivered(paid["id"], "Paid")

    partial = await sandbox.refund(paid["id"], Decimal("100.00"))
    answer = decoded(partial)
    [delivery] = await sandbox.control.wait_delivered(answer["transactionId"], "Paid")
    fetched = await sandbox.api.get(f"transactions/{answer['transactionId']}")
    rest = await sandbox.refund(paid["id"], Decimal("199.00"))
    nothing_left = await sandbox.refund(paid["id"], Decimal("0.01"))
    state = await sandbox.control.transaction(paid["id"])

    assert partial.status_code == 200, partial.text
    assert answer["transactionStatus"] == "Pending"
    assert answer["kind"] == "Refund"
    assert answer["originalTransactionId"] == paid["id"]
    assert answer["amount"] == Decimal("100.00")
    assert answer["currency"] == "RUB"
    refund = decoded(fetched)
    assert list(refund) == list(TRANSACTION)
    assert (refund["kind"], refund["status"], refund["type"]) == ("Refund", "Paid", "CardCrypto")
    assert (refund["orderId"], refund["paymentLinkId"]) == ("1042", paid["paymentLinkId"])
    assert refund["totalCommission"] == Decimal("0.00")
    webhook = sandbox.receiver.of(answer["transactionId"])[0].json()
    assert list(webhook) == list(WEBHOOK)
    assert (webhook["kind"], webhook["transactionStatus"]) == ("Refund", "Paid")
    assert webhook["amount"] == Decimal("100.00")
    assert delivery.kind == "Refund"
    assert rest.status_code == 200, rest.text
    assert nothing_left.status_code == 400
    assert nothing_left.json()["error"]["code"] == "Payment:TRA_1005"
    assert state["refundable"] == Decimal("0.00")
    assert [r["amount"] for r in state["refunds"]] == [Decimal("100.00"), Decimal("199.00")]
    assert state["transaction"]["status"] == "Paid"


@pytest.mark.parametrize("amount", ["299.01", "0", "-1", "10.001"])
async def test_a_refund_beyond_what_is_left_or_malformed_is_tra_1005(
    sandbox: Sandbox, amount: str
) -> None:
    paid = await sandbox.paid_transaction()

    response = await sandbox.refund(paid["id"], Decimal(amount))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Payment:TRA_1005"
    assert (await sandbox.control.transaction(paid["id"]))["refunds"] == []


async def test_refund_requests_are_validated(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    link = await sandbox.create_link(orderId="2")
    declined = await sandbox.control.decline(link["id"])

    missing = await post_json(
        sandbox.api, "transactions/refunds", {"originalTransactionId": paid["id"]}
    )
    not_guid = await sandbox.refund("1042", Decimal(1))
    unknown = await sandbox.refund("3a16a4f0-27b0-09d1-16da-ba8d5c63eae3", Decimal(1))
    foreign = await post_json(
        sandbox.other_api,
        "transactions/refunds",
        {"originalTransactionId": paid["id"], "amount": Decimal(1)},
    )
    of_declined = await sandbox.refund(declined["id"], Decimal(1))
    refund_id = decoded(await sandbox.refund(paid["id"], Decimal(1)))["transactionId"]
    of_refund = await sandbox.refund(refund_id, Decimal(1))

    assert missing.json()["error"]["validationErrors"] == [
        {"message": "'Amount' is required.", "members": ["amount"]}
    ]
    assert not_guid.json()["error"]["validationErrors"][0]["members"] == ["originalTransactionId"]
    assert unknown.status_code == foreign.status_code == 404
    assert of_declined.status_code == of_refund.status_code == 400


async def test_a_declined_refund_gives_the_amount_back(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.plan_refunds("Declined", error_code="Payment:TRA_2999")

    declined = decoded(await sandbox.refund(paid["id"], Decimal("299.00")))
    [delivery] = await sandbox.control.wait_delivered(declined["transactionId"], "Declined")
    state = await sandbox.control.transaction(paid["id"])
    again = await sandbox.refund(paid["id"], Decimal("299.00"))
    final = await sandbox.control.transaction(decoded(again)["transactionId"])

    assert declined["transactionStatus"] == "Pending"
    webhook = sandbox.receiver.of(declined["transactionId"])[0].json()
    assert webhook["errorCode"] == "Payment:TRA_2999"
    assert webhook["errorDescription"] == "Невозможно провести платеж"
    assert delivery.transaction_status == "Declined"
    assert state["refundable"] == Decimal("299.00")
    assert final["transaction"]["status"] == "Paid"


async def test_a_pending_refund_holds_its_amount_until_settled(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()
    await sandbox.control.plan_refunds("Pending")

    pending = decoded(await sandbox.refund(paid["id"], Decimal("200.00")))
    held = await sandbox.control.transaction(paid["id"])
    too_much = await sandbox.refund(paid["id"], Decimal("100.00"))
    await sandbox.control.settle(
        pending["transactionId"], "Declined", error_code="Payment:TRA_2999"
    )
    released = await sandbox.control.transaction(paid["id"])

    assert held["refundable"] == Decimal("99.00")
    assert too_much.status_code == 400
    assert released["refundable"] == Decimal("299.00")


async def test_refunds_are_unavailable_on_digital_goods_terminals(sandbox: Sandbox) -> None:
    await sandbox.control.configure_terminal(TERMINAL_ID, refunds_enabled=False)
    paid = await sandbox.paid_transaction()

    response = await sandbox.refund(paid["id"], Decimal(1))

    assert response.status_code == 400
    assert response.json()["error"]["message"]


async def test_terminals_are_added_and_listed_through_the_control_api(sandbox: Sandbox) -> None:
    added = await sandbox.control.add_terminal("Fresh", webhook_url=sandbox.receiver.url)
    [token] = added["tokens"]
    api = httpx.AsyncClient(
        base_url=f"{sandbox.url}/api/h2h/",
        headers={"Authorization": f"Bearer {token['value']}"},
        trust_env=False,
    )
    async with api:
        created = await post_json(api, "links", {"amount": Decimal(10), "currency": "RUB"})

    listed = await sandbox.control.terminals()
    assert [t["name"] for t in listed] == [t.name for t in terminals("")] + ["Fresh"]
    assert GUID.fullmatch(added["publicId"])
    assert token["value"].count(".") == 2
    assert decoded(created)["terminalPublicId"] == added["publicId"]
    with pytest.raises(SandboxControlError) as taken:
        await sandbox.control.add_terminal("Thief", tokens=[token["value"]])
    assert taken.value.status_code == 400
