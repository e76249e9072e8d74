"""The /api/h2h API on the wire: tokens, object shapes, validation, searches, the GET limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import (
    EXPIRED_TOKEN,
    OTHER_TERMINAL_ID,
    SECOND_TOKEN,
    TERMINAL_ID,
    TOKEN,
    Sandbox,
    decoded,
    in_minutes,
    link_body,
    post_json,
)
from .spec_samples import GUID, LINK, MICROS, MILLIS, MISSING_AMOUNT, TRANSACTION


def assert_business_error(response: httpx.Response, code: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["validationErrors"] is None


def assert_invalid(response: httpx.Response, *members: str) -> list[dict[str, Any]]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] is None
    assert error["message"] == "Your request is invalid!"
    assert error["details"].startswith("The following validation errors were found – ")
    assert error["data"] == {}
    errors: list[dict[str, Any]] = error["validationErrors"]
    assert sorted(member for e in errors for member in e["members"]) == sorted(members)
    return errors


async def test_the_public_key_needs_no_token_and_is_an_rsa_spki_pem(sandbox: Sandbox) -> None:
    response = await sandbox.api.get("public-key", headers={"Authorization": ""})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    [value] = response.json().values()
    assert value == response.json()["value"]
    assert value.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert value.endswith("\n-----END PUBLIC KEY-----")
    key = serialization.load_pem_public_key(value.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        ("Bearer not-a-token-of-ours", 'Bearer error="invalid_token"'),
        (f"Basic {TOKEN}", "Bearer"),
        ("Bearer", "Bearer"),
        (
            f"Bearer {EXPIRED_TOKEN}",
            'Bearer error="invalid_token", '
            "error_description=\"The token expired at '01/15/2025 10:00:00'\"",
        ),
    ],
    ids=["missing", "unknown", "basic", "empty", "expired"],
)
async def test_a_bad_token_is_an_empty_401(
    sandbox: Sandbox, authorization: str | None, challenge: str
) -> None:
    link = await sandbox.create_link()
    headers = {"Authorization": authorization or ""}

    answers = [
        await sandbox.api.post(
            "links",
            content=b'{"amount":299.00,"currency":"RUB"}',
            headers={**headers, "Content-Type": "application/json"},
        ),
        await sandbox.api.get(f"links/{link['id']}", headers=headers),
        await sandbox.api.get("v2/transactions", headers=headers),
        await sandbox.api.get("links", params={"OrderId": "1042"}, headers=headers),
    ]

    for response in answers:
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["www-authenticate"] == challenge
    assert (await sandbox.control.link(link["id"]))["transactions"] == []


async def test_every_token_of_a_terminal_works(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()

    response = await sandbox.api.get(
        f"links/{link['id']}", headers={"Authorization": f"Bearer {SECOND_TOKEN}"}
    )

    assert response.status_code == 200
    assert response.json()["terminalPublicId"] == TERMINAL_ID


async def test_a_created_link_has_the_shape_of_the_reference(sandbox: Sandbox) -> None:
    expiry = in_minutes(60)
    response = await post_json(sandbox.api, "links", link_body(expirationDateTime=expiry))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    link = decoded(response)
    assert list(link) == list(LINK)
    assert GUID.fullmatch(link["id"])
    assert link["status"] == "Opened"
    assert link["url"] == f"https://payment.wata.pro/pay-form/{link['id']}"
    assert (link["terminalName"], link["terminalPublicId"]) == ("MyVpn", TERMINAL_ID)
    assert MILLIS.fullmatch(link["creationTime"])
    assert link["expirationDateTime"] == expiry
    for name in ("currency", "orderId", "description", "successRedirectUrl", "failRedirectUrl"):
        assert link[name] == LINK[name]
    # A JSON number with its two decimals, as .NET writes a decimal.
    assert b'"amount":299.00,' in response.content
    assert link["amount"] == Decimal("299.00")


async def test_ids_are_abp_sequential_guids_of_the_creation_time(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()

    millis = int(link["id"].replace("-", "")[:12], 16)
    created = datetime(1, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)

    assert abs(created - datetime.now(UTC)) < timedelta(seconds=5)


async def test_a_link_lives_three_days_unless_told_otherwise(sandbox: Sandbox) -> None:
    link = await sandbox.create_link(orderId=None, description=None, failRedirectUrl=None)

    created = datetime.fromisoformat(link["creationTime"])
    expires = datetime.fromisoformat(link["expirationDateTime"])
    assert timedelta(days=3) <= expires - created < timedelta(days=3, seconds=1)
    assert (link["orderId"], link["description"], link["failRedirectUrl"]) == (None, None, None)


async def test_optional_fields_outside_the_example_are_echoed_when_sent(sandbox: Sandbox) -> None:
    link = await sandbox.create_link(
        type="ManyTime",
        isArbitraryAmountAllowed=True,
        arbitraryAmountPrompts=[Decimal(300), Decimal(500)],
        email="user@example.com",
    )

    assert list(link)[: len(LINK)] == list(LINK)
    assert link["type"] == "ManyTime"
    assert link["isArbitraryAmountAllowed"] is True
    assert link["arbitraryAmountPrompts"] == [Decimal("300.00"), Decimal("500.00")]
    assert link["email"] == "user@example.com"


async def test_a_missing_amount_is_the_reference_400(sandbox: Sandbox) -> None:
    response = await post_json(sandbox.api, "links", {"currency": "RUB"})

    assert response.status_code == 400
    assert response.json() == MISSING_AMOUNT


async def test_validation_errors_are_reported_together(sandbox: Sandbox) -> None:
    response = await post_json(
        sandbox.api, "links", {"orderId": 1042, "type": "Weekly", "expirationDateTime": "soon"}
    )

    errors = assert_invalid(response, "amount", "currency", "orderId", "type", "expirationDateTime")
    messages = {e["members"][0]: e["message"] for e in errors}
    assert messages["currency"] == "'Currency' is required."
    assert "could not be converted to System.String" in messages["orderId"]


@pytest.mark.parametrize(
    "amount", ['"299.00"', "true", "[299]", '{"value":299}'], ids=["string", "bool", "list", "obj"]
)
async def test_an_amount_that_is_not_a_number_is_a_conversion_error(
    sandbox: Sandbox, amount: str
) -> None:
    response = await sandbox.api.post(
        "links",
        content=f'{{"amount":{amount},"currency":"RUB"}}'.encode(),
        headers={"Content-Type": "application/json"},
    )

    [error] = assert_invalid(response, "amount")
    assert (
        error["message"]
        == "The JSON value could not be converted to System.Decimal. Path: $.amount"
    )


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("9.99", "RUB"),
        ("0.99", "USD"),
        ("0.99", "EUR"),
        ("1000000", "RUB"),
        ("999999.991", "RUB"),
        ("10.001", "RUB"),
        ("-10", "RUB"),
    ],
)
async def test_an_amount_out_of_range_is_pl_1001(
    sandbox: Sandbox, amount: str, currency: str
) -> None:
    response = await post_json(
        sandbox.api, "links", link_body(amount=Decimal(amount), currency=currency)
    )

    assert_business_error(response, "Payment:PL_1001")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10", "RUB"), ("1", "USD"), ("1.00", "EUR"), ("999999.99", "RUB"), ("10.5", "RUB")],
)
async def test_amounts_at_the_limits_are_accepted(
    sandbox: Sandbox, amount: str, currency: str
) -> None:
    response = await post_json(
        sandbox.api, "links", link_body(amount=Decimal(amount), currency=currency)
    )

    assert response.status_code == 200, response.text
    assert decoded(response)["amount"] == Decimal(amount).quantize(Decimal("0.01"))


@pytest.mark.parametrize("currency", ["GBP", "JPY", "rub"])
async def test_a_currency_other_than_rub_usd_eur_is_pl_1002(
    sandbox: Sandbox, currency: str
) -> None:
    response = await post_json(sandbox.api, "links", link_body(currency=currency))

    assert_business_error(response, "Payment:PL_1002")


@pytest.mark.parametrize("minutes", [9, 30 * 24 * 60 + 5, -60])
async def test_an_expiry_outside_ten_minutes_to_thirty_days_is_refused(
    sandbox: Sandbox, minutes: int
) -> None:
    response = await post_json(
        sandbox.api, "links", link_body(expirationDateTime=in_minutes(minutes))
    )

    [error] = assert_invalid(response, "expirationDateTime")
    assert error["message"].startswith("'Expiration Date Time' must be between ")


async def test_bodies_bind_field_names_ignoring_case(sandbox: Sandbox) -> None:
    response = await sandbox.api.post(
        "links",
        content=b'{"Amount":500.00,"CURRENCY":"RUB","OrderId":"77"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert decoded(response)["orderId"] == "77"


async def test_a_body_must_be_json(sandbox: Sandbox) -> None:
    form = await sandbox.api.post("links", data={"amount": "299", "currency": "RUB"})
    broken = await sandbox.api.post(
        "links", content=b"{amount: 299", headers={"Content-Type": "application/json"}
    )
    empty = await sandbox.api.post(
        "links", content=b"", headers={"Content-Type": "application/json"}
    )

    assert form.status_code == 415
    assert form.json()["title"] == "Unsupported Media Type"
    assert_invalid(broken, "$")
    [error] = assert_invalid(empty, "$")
    assert error["message"] == "A non-empty request body is required."


async def test_a_trailing_slash_is_the_same_route(sandbox: Sandbox) -> None:
    created = await post_json(sandbox.api, "links/", link_body())
    link = decoded(created)

    fetched = await sandbox.api.get(f"links/{link['id']}/")

    assert created.status_code == 200
    assert decoded(fetched) == link


async def test_get_link_is_the_created_object_and_other_terminals_cannot_see_it(
    sandbox: Sandbox,
) -> None:
    link = await sandbox.create_link()

    fetched = await sandbox.api.get(f"links/{link['id']}")
    foreign = await sandbox.other_api.get(f"links/{link['id']}")
    unknown = await sandbox.api.get("links/3a16a4f0-27b0-09d1-16da-ba8d5c63eae3")
    not_a_guid = await sandbox.api.get("links/1042")

    assert decoded(fetched) == link
    for response in (foreign, unknown, not_a_guid):
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] is None
        assert error["message"].startswith("There is no such an entity. Entity type: PaymentLink")


async def test_get_transaction_has_the_shape_of_the_reference(sandbox: Sandbox) -> None:
    paid = await sandbox.paid_transaction()

    response = await sandbox.api.get(f"transactions/{paid['id']}")
    foreign = await sandbox.other_api.get(f"transactions/{paid['id']}")

    transaction = decoded(response)
    assert list(transaction) == list(TRANSACTION)
    assert transaction == paid
    assert MICROS.fullmatch(transaction["creationTime"])
    assert MICROS.fullmatch(transaction["paymentTime"])
    assert b'"totalCommission":8.97,' in response.content
    assert foreign.status_code == 404


async def test_a_second_read_of_an_object_within_30_s_is_an_empty_429(sandbox: Sandbox) -> None:
    link = await sandbox.create_link()
    other = await sandbox.create_link(orderId="1043")
    paid = await sandbox.control.pay(other["id"])

    first = await sandbox.api.get(f"links/{link['id']}")
    again = await sandbox.api.get(f"links/{link['id']}")
    another_object = await sandbox.api.get(f"links/{other['id']}")
    transaction = await sandbox.api.get(f"transactions/{paid['id']}")
    transaction_again = await sandbox.api.get(f"transactions/{paid['id']}")
    await sandbox.control.advance_clock(29)
    still = await sandbox.api.get(f"links/{link['id']}")
    await sandbox.control.advance_clock(1)
    later = await sandbox.api.get(f"links/{link['id']}")

    assert [r.status_code for r in (first, another_object, transaction, later)] == [200] * 4
    for limited in (again, transaction_again, still):
        assert limited.status_code == 429
        assert limited.content == b""


async def test_searches_by_order_are_limited_per_order(sandbox: Sandbox) -> None:
    await sandbox.create_link(orderId="1042")

    links = await sandbox.api.get("links", params={"OrderId": "1042"})
    links_again = await sandbox.api.get("links", params={"orderId": "1042"})
    other_order = await sandbox.api.get("links", params={"OrderId": "1043"})
    transactions = await sandbox.api.get("v2/transactions", params={"OrderId": "1042"})
    transactions_again = await sandbox.api.get("v2/transactions", params={"OrderId": "1042"})
    other_terminal = await sandbox.other_api.get("links", params={"OrderId": "1042"})

    assert [r.status_code for r in (links, other_order, transactions, other_terminal)] == [200] * 4
    assert links_again.status_code == 429
    assert transactions_again.status_code == 429
    assert other_terminal.json() == {"items": [], "totalCount": 0}


async def test_the_public_key_is_not_limited(sandbox: Sandbox) -> None:
    answers = [await sandbox.api.get("public-key") for _ in range(3)]

    assert [r.status_code for r in answers] == [200] * 3


async def test_search_links_pages_by_offset_and_filters(sandbox: Sandbox) -> None:
    created = [await sandbox.create_link(orderId="A", amount=Decimal(100 + i)) for i in range(5)]
    await sandbox.create_link(orderId="B")
    await sandbox.control.pay(created[0]["id"])

    page = await sandbox.api.get(
        "links", params={"OrderId": "A", "SkipCount": 1, "MaxResultCount": 2}
    )
    await sandbox.control.advance_clock(30)
    closed = await sandbox.api.get("links", params={"OrderId": "A", "Statuses": "Closed"})
    await sandbox.control.advance_clock(30)
    by_amount = await sandbox.api.get(
        "links",
        params=[
            ("OrderId", "A"),
            ("Sorting", "amount"),
            ("AmountFrom", "102"),
            ("Currencies", "RUB"),
            ("Currencies", "USD"),
        ],
    )

    body = decoded(page)
    assert body["totalCount"] == 5
    assert [link["id"] for link in body["items"]] == [created[3]["id"], created[2]["id"]]
    assert [link["id"] for link in decoded(closed)["items"]] == [created[0]["id"]]
    assert [link["amount"] for link in decoded(by_amount)["items"]] == [
        Decimal("102.00"),
        Decimal("103.00"),
        Decimal("104.00"),
    ]


@pytest.mark.parametrize(
    ("params", "member"),
    [
        ({"MaxResultCount": "1001"}, "maxResultCount"),
        ({"MaxResultCount": "0"}, "maxResultCount"),
        ({"SkipCount": "-1"}, "skipCount"),
        ({"SkipCount": "many"}, "skipCount"),
        ({"Statuses": "Paid"}, "statuses"),
        ({"Sorting": "url"}, "sorting"),
        ({"CreationTimeFrom": "yesterday"}, "creationTimeFrom"),
    ],
)
async def test_bad_link_search_parameters_are_400(
    sandbox: Sandbox, params: dict[str, str], member: str
) -> None:
    response = await sandbox.api.get("links", params=params)

    assert_invalid(response, member)


async def test_transactions_page_by_cursor(sandbox: Sandbox) -> None:
    link = await sandbox.create_link(type="ManyTime")
    made = [(await sandbox.control.pay(link["id"]))["id"] for _ in range(5)]
    await sandbox.create_link(orderId="other")

    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    params: dict[str, str] = {"OrderId": "1042", "MaxResultCount": "2"}
    while True:
        response = await sandbox.api.get("v2/transactions", params=params)
        assert response.status_code == 200, response.text
        page = decoded(response)
        pages.append(page)
        seen += [item["id"] for item in page["items"]]
        if not page["hasNextPage"]:
            break
        params = {**params, "CursorId": page["nextCursorId"], "CursorDate": page["nextCursorDate"]}
        await sandbox.control.advance_clock(30)  # the same order: one search per 30 s

    assert seen == list(reversed(made))
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert set(pages[0]) == {"items", "hasNextPage", "nextCursorId", "nextCursorDate"}
    assert pages[0]["nextCursorId"] == seen[1]
    assert MICROS.fullmatch(pages[0]["nextCursorDate"])
    assert (pages[-1]["nextCursorId"], pages[-1]["nextCursorDate"]) == (None, None)
    assert all(list(item) == list(TRANSACTION) for page in pages for item in page["items"])


async def test_transactions_filter_by_status_link_and_sort_by_amount(sandbox: Sandbox) -> None:
    cheap = await sandbox.create_link(amount=Decimal(100), orderId="X")
    dear = await sandbox.create_link(amount=Decimal(900), orderId="Y")
    declined = await sandbox.control.decline(cheap["id"])
    paid_cheap = await sandbox.control.pay(cheap["id"])
    paid_dear = await sandbox.control.pay(dear["id"])

    paid = await sandbox.api.get(
        "v2/transactions", params={"Statuses": "Paid", "Sorting": "amount desc"}
    )
    await sandbox.control.advance_clock(30)
    of_link = await sandbox.api.get("v2/transactions", params={"PaymentLinkIds": cheap["id"]})

    body = decoded(paid)
    assert [t["id"] for t in body["items"]] == [paid_dear["id"], paid_cheap["id"]]
    assert body["nextCursorAmount"] is None
    assert {t["id"] for t in decoded(of_link)["items"]} == {declined["id"], paid_cheap["id"]}


async def test_unknown_routes_are_empty_404(sandbox: Sandbox) -> None:
    response = await sandbox.api.get("finance/nothing")

    assert response.status_code == 404
    assert response.content == b""


async def test_another_terminal_sees_nothing_of_ours(sandbox: Sandbox) -> None:
    await sandbox.paid_transaction()

    response = await sandbox.other_api.get("v2/transactions")

    assert decoded(response)["items"] == []
    assert OTHER_TERMINAL_ID != TERMINAL_ID
