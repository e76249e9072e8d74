import ipaddress

import pytest

from gateway.client_address import client_address
from gateway.webhooks import _chat_of, _yookassa_payment_id

PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("185.71.76.5", None, "185.71.76.5"),
        ("10.0.0.2", "185.71.76.5", "185.71.76.5"),
        ("10.0.0.2", "1.2.3.4, 185.71.76.5, 10.0.0.9", "185.71.76.5"),
        # a client cannot claim to be YooKassa by writing the header itself
        ("203.0.113.9", "185.71.76.5", "203.0.113.9"),
    ],
)
def test_the_client_address_is_taken_only_from_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


@pytest.mark.parametrize(
    ("body", "payment_id"),
    [
        ({"type": "notification", "event": "payment.succeeded", "object": {"id": "2d9f"}}, "2d9f"),
        (
            {"type": "notification", "event": "refund.succeeded", "object": {"payment_id": "p1"}},
            "p1",
        ),
        ({"type": "notification", "event": "payment.succeeded", "object": {"id": 7}}, None),
        ({"type": "notification", "event": "payment.succeeded"}, None),
        ({"type": "other", "event": "payment.succeeded", "object": {"id": "x"}}, None),
        ({"event": "payment.succeeded", "object": {"id": "x" * 129}}, None),
    ],
)
def test_only_yookassa_shaped_notifications_are_taken(
    body: dict[str, object], payment_id: str | None
) -> None:
    assert _yookassa_payment_id(body) == payment_id


@pytest.mark.parametrize(
    ("update", "chat"),
    [
        ({"update_id": 1, "message": {"chat": {"id": 42}}}, 42),
        (
            {
                "update_id": 1,
                "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 42}}},
            },
            42,
        ),
        ({"update_id": 1, "callback_query": {"from": {"id": 7}}}, 7),
        ({"update_id": 1, "pre_checkout_query": {"from": {"id": 9}}}, 9),
        ({"update_id": 1, "message": {"chat": "nonsense"}}, None),
        ({"update_id": 1}, None),
    ],
)
def test_updates_are_keyed_by_their_chat(update: dict[str, object], chat: int | None) -> None:
    assert _chat_of(update) == chat
