import ipaddress

import pytest

from gateway.client_address import BadForwardedFor, client_address
from gateway.json_body import MAX_DEPTH, BadBody, parse_object
from gateway.payment_webhooks import PROVIDER_WEBHOOKS
from gateway.webhooks import _chat_of

PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("185.71.76.5", None, "185.71.76.5"),
        ("10.0.0.2", "185.71.76.5", "185.71.76.5"),
        ("10.0.0.2", "1.2.3.4, 185.71.76.5, 10.0.0.9", "185.71.76.5"),
        # a client cannot claim to be YooKassa by writing the header itself
        ("203.0.113.9", "185.71.76.5", "203.0.113.9"),
        # ... nor write garbage where nobody trusted reads it
        ("203.0.113.9", "unknown, <script>", "203.0.113.9"),
        # proxies that add the port, in either family
        ("10.0.0.2", "185.71.76.5:443", "185.71.76.5"),
        ("10.0.0.2", "[2a02:5180::1]:443", "2a02:5180::1"),
        ("10.0.0.2", "2a02:5180::1", "2a02:5180::1"),
        ("::ffff:10.0.0.2", "185.71.76.5", "185.71.76.5"),
        # every hop a proxy: the leftmost is the best there is
        ("10.0.0.2", "10.0.0.3", "10.0.0.3"),
    ],
)
def test_the_client_address_is_taken_only_from_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert str(client_address(peer, forwarded, PROXIES)) == expected


def test_no_proxy_is_believed_when_none_is_configured() -> None:
    assert str(client_address("127.0.0.1", "185.71.76.5", [])) == "127.0.0.1"


@pytest.mark.parametrize("forwarded", ["unknown", "185.71.76.5, unknown", "1.2.3", "_hidden"])
def test_a_hop_a_trusted_proxy_vouches_for_must_be_an_address(forwarded: str) -> None:
    with pytest.raises(BadForwardedFor):
        client_address("10.0.0.2", forwarded, PROXIES)


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": NaN}', "not JSON"),
        (b'{"a": Infinity}', "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"{not json", "not JSON"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not JSON"),
        (_nested(MAX_DEPTH + 1), "nested deeper"),
        (_nested(100_000), "nested deeper"),
        (b'{"a":' + b"[" * 50_000, "nested deeper"),
    ],
)
def test_bodies_that_are_not_a_plain_json_object_are_refused_with_a_reason(
    raw: bytes, reason: str
) -> None:
    with pytest.raises(BadBody, match=reason):
        parse_object(raw)


def test_real_notifications_parse() -> None:
    assert parse_object(_nested(MAX_DEPTH - 1))
    assert parse_object('{"text": "Привет 👋"}'.encode()) == {"text": "Привет 👋"}


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
    assert WEBHOOKS["yookassa"].reference(body) == payment_id


WEBHOOKS = {webhook.provider: webhook for webhook in PROVIDER_WEBHOOKS}


@pytest.mark.parametrize(
    ("provider", "body", "reference"),
    [
        ("wata", {"paymentLinkId": "3fa8", "orderId": "1042"}, "3fa8"),
        ("wata", {"orderId": "1042"}, "1042"),
        ("wata", {"paymentLinkId": ["x"]}, None),
        ("cryptopay", {"update_type": "invoice_paid", "payload": {"invoice_id": 528890}}, "528890"),
        ("cryptopay", {"payload": "ord:1"}, None),
    ],
)
def test_the_claimed_payment_keys_the_record(
    provider: str, body: dict[str, object], reference: str | None
) -> None:
    assert WEBHOOKS[provider].reference(body) == reference


@pytest.mark.parametrize(
    ("provider", "address", "allowed"),
    [
        ("yookassa", "185.71.76.5", True),
        ("yookassa", "2a02:5180::1", True),
        ("yookassa", "203.0.113.9", False),
        ("wata", "62.84.126.140", True),
        ("wata", "185.71.76.5", False),
        ("cryptopay", "203.0.113.9", True),  # publishes no networks: the signature decides
    ],
)
def test_published_source_networks(provider: str, address: str, allowed: bool) -> None:
    assert WEBHOOKS[provider].from_allowed_source(ipaddress.ip_address(address)) is allowed


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
