from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from contracts.billing import (
    CheckoutFailed,
    PaymentSucceeded,
    PlanCatalogPublished,
    SubscriptionExtended,
)
from contracts.envelope import (
    Envelope,
    Event,
    InvalidEventPayload,
    UnknownEventType,
    decode,
    decode_record,
    encode,
    event_class,
)
from contracts.notifier import SendNotification
from contracts.schemas import contract_events, event_schema

EVENT_TYPES = [cls.event_type for cls in contract_events()]


def as_json(event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(encode(event))
    return payload


def test_every_contract_event_has_a_sample(samples: dict[str, Event]) -> None:
    assert sorted(samples) == sorted(EVENT_TYPES), "add a realistic sample to conftest.py"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_encode_decode_round_trip(samples: dict[str, Event], event_type: str) -> None:
    event = samples[event_type]
    decoded = decode(event_type, encode(event))
    assert type(decoded) is type(event)
    assert decoded == event
    assert encode(decoded) == encode(event)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_encoded_value_matches_the_exported_schema(
    samples: dict[str, Event], event_type: str
) -> None:
    schema = event_schema(event_class(event_type))
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(as_json(samples[event_type]))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_whole_record_round_trip(samples: dict[str, Event], event_type: str) -> None:
    event = samples[event_type]
    envelope = Envelope.for_event(event, source="/vpn/test")
    got_envelope, got_event = decode_record(envelope.to_headers(), encode(event))
    assert got_envelope == envelope
    assert got_event == event
    assert got_envelope.subject == got_event.key()


def test_encoding_is_compact_utf8(samples: dict[str, Event]) -> None:
    value = encode(samples["notifier.notification.requested.v1"])
    assert b": " not in value
    assert b", " not in value
    assert "VPN на 1 месяц".encode() in value


def test_timestamps_travel_in_utc(samples: dict[str, Event]) -> None:
    payload = as_json(samples["billing.payment.succeeded.v1"])
    assert payload["paid_at"] == "2025-01-15T10:01:05Z"


def test_money_travels_as_minor_units(samples: dict[str, Event]) -> None:
    payload = as_json(samples["billing.payment.succeeded.v1"])
    assert payload["amount"] == {"amount_minor": 29900, "currency": "RUB"}


class TestDecodeErrors:
    def test_unknown_type(self) -> None:
        with pytest.raises(
            UnknownEventType, match=r"unknown event type 'billing\.refund\.done\.v1'"
        ):
            decode("billing.refund.done.v1", b"{}")

    def test_errors_are_value_errors(self) -> None:
        assert issubclass(UnknownEventType, ValueError)
        assert issubclass(InvalidEventPayload, ValueError)

    def test_invalid_json(self) -> None:
        with pytest.raises(
            InvalidEventPayload, match=r"billing\.payment\.succeeded\.v1: .*Invalid JSON"
        ):
            decode("billing.payment.succeeded.v1", b"{not json")

    def test_missing_and_wrong_fields_are_named_without_the_payload(
        self, samples: dict[str, Event]
    ) -> None:
        payload = as_json(samples["billing.payment.succeeded.v1"])
        del payload["order_id"]
        payload["amount"]["currency"] = "rubles-secret"
        with pytest.raises(InvalidEventPayload) as error:
            decode("billing.payment.succeeded.v1", json.dumps(payload).encode())
        message = str(error.value)
        assert message.startswith("invalid payload for billing.payment.succeeded.v1: ")
        assert "order_id: Field required" in message
        assert "amount.currency: String should match pattern" in message
        assert "rubles-secret" not in message
        assert "2d9fa2e9" not in message

    def test_many_errors_are_summarised(self) -> None:
        with pytest.raises(InvalidEventPayload, match=r"and \d+ more$"):
            decode("billing.payment.succeeded.v1", b"{}")

    def test_float_amount_is_refused(self, samples: dict[str, Event]) -> None:
        payload = as_json(samples["billing.payment.succeeded.v1"])
        payload["amount"]["amount_minor"] = 299.0
        with pytest.raises(InvalidEventPayload, match=r"amount\.amount_minor"):
            decode("billing.payment.succeeded.v1", json.dumps(payload).encode())

    def test_naive_timestamp_is_refused(self, samples: dict[str, Event]) -> None:
        payload = as_json(samples["billing.payment.succeeded.v1"])
        payload["paid_at"] = "2025-01-15T10:01:05"
        with pytest.raises(InvalidEventPayload, match="paid_at"):
            decode("billing.payment.succeeded.v1", json.dumps(payload).encode())

    def test_record_with_bad_headers(self) -> None:
        from contracts.envelope import EnvelopeError

        with pytest.raises(EnvelopeError, match="missing header"):
            decode_record([], b"{}")


class TestEvolution:
    def test_newer_additive_fields_are_ignored(self, samples: dict[str, Event]) -> None:
        event = samples["billing.payment.succeeded.v1"]
        payload = as_json(event)
        payload["promo_code"] = "SPRING"
        payload["amount"]["vat_minor"] = 4983
        assert decode("billing.payment.succeeded.v1", json.dumps(payload).encode()) == event

    def test_optional_fields_may_be_absent(self, samples: dict[str, Event]) -> None:
        payload = as_json(samples["billing.checkout.ready.v1"])
        del payload["expires_at"]
        decoded = decode("billing.checkout.ready.v1", json.dumps(payload).encode())
        assert decoded.expires_at is None  # type: ignore[attr-defined]


class TestEventRules:
    def test_events_are_frozen(self, samples: dict[str, Event]) -> None:
        event = samples["billing.payment.succeeded.v1"]
        with pytest.raises(ValidationError):
            event.plan_id = "y1"  # type: ignore[attr-defined]

    def test_aware_timestamps_are_normalised_to_utc(self, samples: dict[str, Event]) -> None:
        moscow = timezone(timedelta(hours=3))
        event = samples["billing.payment.succeeded.v1"].model_copy()
        again = PaymentSucceeded.model_validate(
            {**event.model_dump(), "paid_at": datetime(2025, 1, 15, 13, 1, 5, tzinfo=moscow)}
        )
        assert again.paid_at == datetime(2025, 1, 15, 10, 1, 5, tzinfo=UTC)
        assert again.paid_at.utcoffset() == timedelta(0)

    def test_catalog_plan_ids_are_unique(self, samples: dict[str, Event]) -> None:
        catalog = samples["billing.catalog.published.v1"]
        assert isinstance(catalog, PlanCatalogPublished)
        with pytest.raises(ValidationError, match="plan ids must be unique"):
            PlanCatalogPublished(
                catalog_version=4,
                plans=(catalog.plans[0], catalog.plans[0]),
                published_at=catalog.published_at,
            )

    def test_catalog_key_is_constant_for_compaction(self, samples: dict[str, Event]) -> None:
        assert samples["billing.catalog.published.v1"].key() == "catalog"

    def test_subscription_period_must_not_be_empty(self, samples: dict[str, Event]) -> None:
        event = samples["billing.subscription.activated.v1"]
        payload = event.model_dump()
        payload["period_end"] = payload["period_start"]
        with pytest.raises(ValidationError, match="period_end must be after period_start"):
            type(event).model_validate(payload)

    def test_extension_starts_no_earlier_than_previous_end(self, samples: dict[str, Event]) -> None:
        payload = samples["billing.subscription.extended.v1"].model_dump()
        payload["previous_period_end"] = payload["period_start"] + timedelta(days=1)
        with pytest.raises(ValidationError, match="no earlier than the previous period end"):
            SubscriptionExtended.model_validate(payload)

    def test_checkout_failure_reason_is_an_open_code(self, samples: dict[str, Event]) -> None:
        payload = samples["billing.checkout.failed.v1"].model_dump()
        assert CheckoutFailed.model_validate({**payload, "reason_code": "fraud_suspected"})
        with pytest.raises(ValidationError):
            CheckoutFailed.model_validate({**payload, "reason_code": "Plan Inactive"})

    def test_notification_params_are_text_or_integers(self, samples: dict[str, Event]) -> None:
        payload = samples["notifier.notification.requested.v1"].model_dump()
        for bad in (1.5, True, None, ["x"]):
            with pytest.raises(ValidationError):
                SendNotification.model_validate({**payload, "params": {"x": bad}})

    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_key_is_the_aggregate_id(self, samples: dict[str, Event], event_type: str) -> None:
        event = samples[event_type]
        key = event.key()
        assert isinstance(key, str)
        assert key
        assert key in ("catalog", "catalog.v2") or key.split(":")[-1] in json.dumps(as_json(event))
