from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from contracts.billing import PaymentSucceeded
from contracts.envelope import (
    Envelope,
    EnvelopeError,
    Event,
    format_rfc3339,
    parse_rfc3339,
)
from contracts.money import Money
from contracts.topics import BILLING_PAYMENTS, SERVICE_SOURCES

MOMENT = datetime(2025, 1, 15, 10, 1, 5, 123456, tzinfo=UTC)


def payment() -> PaymentSucceeded:
    return PaymentSucceeded(
        order_id=UUID("5d2c9a7e-1b3f-4c6d-8e9f-0a1b2c3d4e5f"),
        checkout_id=uuid4(),
        customer_id=uuid4(),
        plan_id="m1",
        provider="yookassa",
        provider_payment_id="2d9fa2e9-000f-5000-9000-1a3b4c5d6e7f",
        amount=Money(amount_minor=29900, currency="RUB"),
        paid_at=MOMENT,
    )


def full_envelope() -> Envelope:
    return Envelope(
        id="e-1",
        source="/vpn/billing",
        type="billing.payment.succeeded.v1",
        time=MOMENT,
        subject="5d2c9a7e-1b3f-4c6d-8e9f-0a1b2c3d4e5f",
        correlationid="c-1",
        causationid="e-0",
    )


class TestHeaders:
    def test_headers_carry_every_attribute_in_binary_mode(self) -> None:
        assert full_envelope().to_headers() == [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"e-1"),
            ("ce_source", b"/vpn/billing"),
            ("ce_type", b"billing.payment.succeeded.v1"),
            ("ce_time", b"2025-01-15T10:01:05.123456Z"),
            ("ce_subject", b"5d2c9a7e-1b3f-4c6d-8e9f-0a1b2c3d4e5f"),
            ("ce_correlationid", b"c-1"),
            ("ce_causationid", b"e-0"),
            ("content-type", b"application/json"),
        ]

    def test_absent_optional_attributes_are_skipped(self) -> None:
        envelope = full_envelope().model_copy(update={"causationid": None, "correlationid": None})
        names = [name for name, _ in envelope.to_headers()]
        assert "ce_causationid" not in names
        assert "ce_correlationid" not in names

    def test_round_trip_through_headers(self) -> None:
        envelope = full_envelope()
        assert Envelope.from_headers(envelope.to_headers()) == envelope

    def test_round_trip_through_a_text_mapping(self) -> None:
        envelope = full_envelope()
        assert envelope.to_header_map()["ce_time"] == "2025-01-15T10:01:05.123456Z"
        assert Envelope.from_headers(envelope.to_header_map()) == envelope

    def test_other_headers_are_ignored(self) -> None:
        headers = [
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("dlq_error", b"boom"),
            *full_envelope().to_headers(),
        ]
        assert Envelope.from_headers(headers) == full_envelope()

    def test_time_with_an_offset_is_normalised_to_utc(self) -> None:
        headers = dict(full_envelope().to_header_map(), ce_time="2025-01-15T13:01:05.123456+03:00")
        assert Envelope.from_headers(headers).time == MOMENT
        assert Envelope.from_headers(headers).time.tzinfo == UTC

    def test_missing_content_type_means_json(self) -> None:
        headers = full_envelope().to_header_map()
        del headers["content-type"]
        assert Envelope.from_headers(headers) == full_envelope()

    def test_content_type_parameters_are_accepted(self) -> None:
        headers = dict(
            full_envelope().to_header_map(), **{"content-type": "application/json; charset=utf-8"}
        )
        assert Envelope.from_headers(headers).datacontenttype == "application/json"


class TestHeaderErrors:
    @pytest.mark.parametrize(
        "header", ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"]
    )
    def test_missing_required_header_is_named(self, header: str) -> None:
        headers = [(name, value) for name, value in full_envelope().to_headers() if name != header]
        with pytest.raises(EnvelopeError, match=f"missing header {header}"):
            Envelope.from_headers(headers)

    def test_all_missing_headers_are_named(self) -> None:
        with pytest.raises(EnvelopeError, match="missing header ce_specversion, ce_id, ce_source"):
            Envelope.from_headers([("traceparent", b"x")])

    def test_envelope_error_is_a_value_error(self) -> None:
        assert issubclass(EnvelopeError, ValueError)

    @pytest.mark.parametrize(
        ("header", "value", "message"),
        [
            ("ce_specversion", "0.3", "invalid header ce_specversion: '0.3', expected 1.0"),
            ("ce_time", "yesterday", "invalid header ce_time: not an RFC 3339 timestamp"),
            ("ce_time", "2025-01-15T10:01:05", "invalid header ce_time: not an RFC 3339"),
            ("ce_time", "2025-13-45T10:01:05Z", "invalid header ce_time"),
            ("ce_type", "PaymentSucceeded", "invalid header ce_type"),
            ("ce_type", "billing.payment.succeeded", "invalid header ce_type"),
            ("ce_id", "", "invalid header ce_id"),
            ("ce_subject", "", "invalid header ce_subject"),
            ("ce_source", "not a uri", "invalid header ce_source"),
            ("ce_correlationid", "", "invalid header ce_correlationid"),
            ("content-type", "application/xml", "invalid header content-type: 'application/xml'"),
        ],
    )
    def test_invalid_header_is_named(self, header: str, value: str, message: str) -> None:
        headers = dict(full_envelope().to_header_map(), **{header: value})
        with pytest.raises(EnvelopeError, match=message):
            Envelope.from_headers(headers)

    def test_non_utf8_header(self) -> None:
        headers = [*full_envelope().to_headers()]
        headers[1] = ("ce_id", b"\xff\xfe")
        with pytest.raises(EnvelopeError, match="header ce_id is not valid UTF-8"):
            Envelope.from_headers(headers)

    def test_header_without_value(self) -> None:
        headers: list[tuple[str, bytes | None]] = [*full_envelope().to_headers()]
        headers.append(("ce_causationid", None))
        with pytest.raises(EnvelopeError, match="header ce_causationid has no value"):
            Envelope.from_headers(headers)

    def test_conflicting_duplicate_header(self) -> None:
        headers = [*full_envelope().to_headers(), ("ce_id", b"e-2")]
        with pytest.raises(EnvelopeError, match="header ce_id appears twice"):
            Envelope.from_headers(headers)

    def test_identical_duplicate_header_is_tolerated(self) -> None:
        headers = [*full_envelope().to_headers(), ("ce_id", b"e-1")]
        assert Envelope.from_headers(headers) == full_envelope()

    def test_long_values_are_shortened_in_messages(self) -> None:
        headers = dict(full_envelope().to_header_map(), ce_specversion="9" * 500)
        with pytest.raises(EnvelopeError) as error:
            Envelope.from_headers(headers)
        assert len(str(error.value)) < 200


class TestConstruction:
    def test_for_event_fills_type_subject_and_a_fresh_chain(self) -> None:
        event = payment()
        envelope = Envelope.for_event(event, source=SERVICE_SOURCES["billing"])
        assert envelope.type == "billing.payment.succeeded.v1"
        assert envelope.subject == event.key() == "5d2c9a7e-1b3f-4c6d-8e9f-0a1b2c3d4e5f"
        assert envelope.source == "/vpn/billing"
        assert UUID(envelope.id).version == 4
        assert envelope.correlationid == envelope.id
        assert envelope.causationid is None
        assert envelope.specversion == "1.0"
        assert envelope.datacontenttype == "application/json"
        assert envelope.time.tzinfo == UTC
        assert abs(datetime.now(UTC) - envelope.time) < timedelta(minutes=1)

    def test_for_event_ids_are_unique(self) -> None:
        event = payment()
        assert (
            Envelope.for_event(event, "/vpn/billing").id
            != Envelope.for_event(event, "/vpn/billing").id
        )

    def test_for_event_takes_given_ids_and_time(self) -> None:
        envelope = Envelope.for_event(
            payment(), "/vpn/billing", "corr", "cause", event_id="fixed", time=MOMENT
        )
        assert (envelope.id, envelope.correlationid, envelope.causationid, envelope.time) == (
            "fixed",
            "corr",
            "cause",
            MOMENT,
        )

    def test_caused_event_inherits_correlation_and_takes_cause_as_causation(self) -> None:
        first = Envelope.for_event(payment(), "/vpn/bot")
        second = Envelope.caused_by(first, payment(), "/vpn/billing")
        third = Envelope.caused_by(second, payment(), "/vpn/provisioning")
        assert second.correlationid == first.id
        assert second.causationid == first.id
        assert third.correlationid == first.id
        assert third.causationid == second.id
        assert len({first.id, second.id, third.id}) == 3

    def test_cause_without_correlation_id_starts_the_chain(self) -> None:
        cause = full_envelope().model_copy(update={"correlationid": None})
        assert Envelope.caused_by(cause, payment(), "/vpn/billing").correlationid == cause.id

    def test_naive_time_is_rejected(self) -> None:
        with pytest.raises(ValidationError):
            Envelope(
                source="/vpn/billing",
                type="billing.payment.succeeded.v1",
                time=datetime(2025, 1, 15, 10, 0),  # noqa: DTZ001
                subject="x",
            )

    def test_envelope_is_frozen(self) -> None:
        with pytest.raises(ValidationError):
            full_envelope().id = "other"  # type: ignore[misc]


class TestRfc3339:
    def test_format_uses_utc_and_microseconds(self) -> None:
        moscow = timezone(timedelta(hours=3))
        assert format_rfc3339(datetime(2025, 1, 15, 13, 0, tzinfo=moscow)) == (
            "2025-01-15T10:00:00.000000Z"
        )

    def test_format_rejects_naive(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            format_rfc3339(datetime(2025, 1, 15))  # noqa: DTZ001

    @pytest.mark.parametrize(
        "text",
        [
            "2025-01-15T10:00:00Z",
            "2025-01-15t10:00:00z",
            "2025-01-15T10:00:00.000000001Z",
            "2025-01-15T13:00:00+03:00",
        ],
    )
    def test_parse_accepts_rfc3339(self, text: str) -> None:
        assert parse_rfc3339(text) == datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


class TestEventBase:
    def test_undefined_key_is_an_error(self) -> None:
        class Draft(Event):
            pass

        with pytest.raises(NotImplementedError):
            Draft().key()

    def test_defining_an_event_registers_it(
        self, isolated_registry: dict[str, type[Event]]
    ) -> None:
        class ThingHappened(Event):
            """Test event."""

            event_type = "billing.thing.happened.v1"
            topic = BILLING_PAYMENTS

            def key(self) -> str:
                return "k"

        assert isolated_registry["billing.thing.happened.v1"] is ThingHappened

    @pytest.mark.parametrize(
        "event_type",
        ["billing.thing.happened", "billing.Thing.happened.v1", "thing.v1", "shop.thing.done.v1"],
    )
    def test_malformed_event_type_is_refused(
        self, isolated_registry: dict[str, type[Event]], event_type: str
    ) -> None:
        namespace = {
            "__module__": __name__,
            "__doc__": "Test event.",
            "event_type": event_type,
            "topic": BILLING_PAYMENTS,
            "key": lambda self: "k",
        }
        with pytest.raises(TypeError, match="event_type"):
            type("Bad", (Event,), namespace)
        assert event_type not in isolated_registry

    def test_event_without_key_is_refused(self, isolated_registry: dict[str, type[Event]]) -> None:
        with pytest.raises(TypeError, match=r"implement key\(\)"):

            class Keyless(Event):
                """Test event."""

                event_type = "billing.keyless.happened.v1"
                topic = BILLING_PAYMENTS

    def test_event_without_topic_is_refused(
        self, isolated_registry: dict[str, type[Event]]
    ) -> None:
        with pytest.raises(TypeError, match="topic"):

            class Topicless(Event):
                """Test event."""

                event_type = "billing.topicless.happened.v1"

                def key(self) -> str:
                    return "k"

    def test_event_without_docstring_is_refused(
        self, isolated_registry: dict[str, type[Event]]
    ) -> None:
        with pytest.raises(TypeError, match="docstring"):

            class Undocumented(Event):
                event_type = "billing.undocumented.happened.v1"
                topic = BILLING_PAYMENTS

                def key(self) -> str:
                    return "k"

    def test_duplicate_event_type_is_refused(
        self, isolated_registry: dict[str, type[Event]]
    ) -> None:
        with pytest.raises(
            TypeError, match=r"already defined by contracts\.billing\.PaymentSucceeded"
        ):

            class Impostor(Event):
                """Test event."""

                event_type = "billing.payment.succeeded.v1"
                topic = BILLING_PAYMENTS

                def key(self) -> str:
                    return "k"

        assert isolated_registry["billing.payment.succeeded.v1"] is PaymentSucceeded
