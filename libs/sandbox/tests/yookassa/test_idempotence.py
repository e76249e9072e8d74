"""Idempotence-Key: replay, conflict, scope, expiry, and the official SDK's request style."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from .conftest import SECRET_KEY, SHOP_ID, Sandbox, receipt
from .conftest import payment_body as new_payment_body
from .spec_samples import ERROR_ID, IDEMPOTENCE_KEY_DUPLICATED


async def post(
    sandbox: Sandbox, path: str, body: dict[str, Any] | None, key: str | None
) -> httpx.Response:
    headers = {} if key is None else {"Idempotence-Key": key}
    return await sandbox.api.post(path, json=body, headers=headers)


async def payment_count(sandbox: Sandbox) -> int:
    return len((await sandbox.api.get("payments", params={"limit": "100"})).json()["items"])


async def test_same_key_and_body_replays_the_first_answer(sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())

    first = await post(sandbox, "payments", new_payment_body(), key)
    await sandbox.control.succeed(first.json()["id"])
    again = await post(sandbox, "payments", new_payment_body(), key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["status"] == "pending"  # the stored answer, not the current state
    assert await payment_count(sandbox) == 1


async def test_the_body_is_compared_by_content_not_formatting(sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())
    body = new_payment_body()
    compact = json.dumps(body, separators=(",", ":")).encode()
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    headers = {"Idempotence-Key": key, "Content-Type": "application/json"}

    first = await sandbox.api.post("payments", content=compact, headers=headers)
    again = await sandbox.api.post("payments", content=reordered, headers=headers)

    assert again.json()["id"] == first.json()["id"]


async def test_same_key_with_another_body_is_idempotence_key_duplicated(
    sandbox: Sandbox,
) -> None:
    key = str(uuid.uuid4())
    await post(sandbox, "payments", new_payment_body(), key)

    response = await post(sandbox, "payments", new_payment_body(description="другой"), key)

    assert response.status_code == 400
    body = response.json()
    assert ERROR_ID.fullmatch(body.pop("id"))
    assert body == {k: v for k, v in IDEMPOTENCE_KEY_DUPLICATED.items() if k != "id"}
    assert list(response.json()) == list(IDEMPOTENCE_KEY_DUPLICATED)
    assert await payment_count(sandbox) == 1


async def test_same_key_on_another_path_is_duplicated(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment(capture=False)
    await sandbox.control.succeed(payment["id"])
    key = str(uuid.uuid4())

    captured = await post(sandbox, f"payments/{payment['id']}/capture", {}, key)
    canceled = await post(sandbox, f"payments/{payment['id']}/cancel", {}, key)

    assert captured.status_code == 200
    assert canceled.status_code == 400
    assert canceled.json()["description"] == "Idempotence key duplicated"


async def test_a_different_key_is_a_new_operation(sandbox: Sandbox) -> None:
    first = await post(sandbox, "payments", new_payment_body(), str(uuid.uuid4()))
    second = await post(sandbox, "payments", new_payment_body(), str(uuid.uuid4()))

    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("key", [None, "", "k" * 65], ids=["missing", "empty", "65-chars"])
async def test_missing_or_long_key_is_400(sandbox: Sandbox, key: str | None) -> None:
    response = await post(sandbox, "payments", new_payment_body(), key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["parameter"] == "Idempotence-Key"
    assert await payment_count(sandbox) == 0


async def test_a_64_character_key_is_accepted(sandbox: Sandbox) -> None:
    response = await post(sandbox, "payments", new_payment_body(), "k" * 64)

    assert response.status_code == 200


async def test_every_post_needs_a_key(sandbox: Sandbox) -> None:
    payment = await sandbox.create_payment()

    for path, body in [
        (f"payments/{payment['id']}/capture", {}),
        (f"payments/{payment['id']}/cancel", {}),
        ("refunds", {"payment_id": payment["id"], "amount": payment["amount"]}),
    ]:
        response = await post(sandbox, path, body, None)
        assert response.json()["parameter"] == "Idempotence-Key", path


async def test_keys_belong_to_one_shop(sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())
    theirs = await sandbox.receipt_api.post(
        "payments", json=new_payment_body(receipt=receipt()), headers={"Idempotence-Key": key}
    )

    ours = await post(sandbox, "payments", new_payment_body(), key)

    assert theirs.status_code == ours.status_code == 200
    assert theirs.json()["id"] != ours.json()["id"]


async def test_a_key_is_kept_for_24_hours(sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())
    first = await post(sandbox, "payments", new_payment_body(), key)

    await sandbox.control.advance_clock(24 * 3600 - 1)
    within = await post(sandbox, "payments", new_payment_body(), key)
    await sandbox.control.advance_clock(1)
    after = await post(sandbox, "payments", new_payment_body(), key)

    assert within.json()["id"] == first.json()["id"]
    assert after.status_code == 200
    assert after.json()["id"] != first.json()["id"]


async def test_an_error_answer_is_replayed_too(sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())
    invalid = new_payment_body(description="x" * 129)

    first = await post(sandbox, "payments", invalid, key)
    again = await post(sandbox, "payments", invalid, key)

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()


class OfficialSdkStyleClient:
    """Sends requests the way yookassa's ``ApiClient`` does (headers, auth, a body per call)."""

    def __init__(self, base_url: str, shop_id: str, secret_key: str) -> None:
        credentials = base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode()
        self.http = httpx.AsyncClient(base_url=base_url, trust_env=False)
        self.headers = {
            "Content-type": "application/json",
            "Authorization": f"Basic {credentials}",
            "YM-User-Agent": "Python/3.11 yookassa-python/3.13.0",
        }

    async def create_payment(self, params: dict[str, Any], idempotency_key: str) -> Any:
        response = await self.http.post(
            "/v3/payments",
            json=params,
            headers={**self.headers, "Idempotence-Key": idempotency_key},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def cancel(self, payment_id: str, idempotency_key: str) -> Any:
        response = await self.http.post(
            f"/v3/payments/{payment_id}/cancel",
            json=None,
            headers={**self.headers, "Idempotence-Key": idempotency_key},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def find_one(self, payment_id: str) -> Any:
        return (await self.http.get(f"/v3/payments/{payment_id}", headers=self.headers)).json()


async def test_official_client_flow_creating_twice_with_one_key_gives_one_payment(
    sandbox: Sandbox,
) -> None:
    client = OfficialSdkStyleClient(sandbox.url, SHOP_ID, SECRET_KEY)
    idempotency_key = str(uuid.uuid4())
    params = {
        "amount": {"value": "299.00", "currency": "RUB"},
        "confirmation": {"type": "redirect", "return_url": "https://t.me/MyVpnBot?start=paid"},
        "capture": True,
        "description": "VPN, 1 месяц, заказ 1042",
        "metadata": {"order_id": "1042"},
    }
    try:
        payment = await client.create_payment(params, idempotency_key)
        repeated = await client.create_payment(params, idempotency_key)
        found = await client.find_one(payment["id"])
    finally:
        await client.http.aclose()

    assert repeated["id"] == payment["id"] == found["id"]
    assert found["confirmation"]["confirmation_url"].endswith(f"orderId={payment['id']}")
    assert await payment_count(sandbox) == 1


async def test_official_client_cancels_with_no_body(sandbox: Sandbox) -> None:
    held = await sandbox.create_payment(capture=False)
    await sandbox.control.succeed(held["id"])
    client = OfficialSdkStyleClient(sandbox.url, SHOP_ID, SECRET_KEY)
    try:
        canceled = await client.cancel(held["id"], str(uuid.uuid4()))
    finally:
        await client.http.aclose()

    assert canceled["status"] == "canceled"
