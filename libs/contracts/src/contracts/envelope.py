"""The event base class, the CloudEvents 1.0 envelope (Kafka binary mode) and the codec.

A Kafka record carries the envelope in headers (``ce_*`` plus ``content-type``), the event as
compact UTF-8 JSON in the value, and ``event.key()`` as the record key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.fields import UtcDatetime
from contracts.topics import SERVICES, TopicSpec

EVENT_TYPE_PATTERN: Final = re.compile(
    r"^(?P<domain>[a-z][a-z0-9]*)(?:\.[a-z][a-z0-9_]*)+\.v(?P<version>[1-9][0-9]*)$"
)
"""``<domain>.<entity>.<happening>.v<N>``, e.g. ``billing.payment.succeeded.v1``."""

SPECVERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"

CE_SPECVERSION: Final = "ce_specversion"
CE_ID: Final = "ce_id"
CE_SOURCE: Final = "ce_source"
CE_TYPE: Final = "ce_type"
CE_TIME: Final = "ce_time"
CE_SUBJECT: Final = "ce_subject"
CE_CORRELATIONID: Final = "ce_correlationid"
CE_CAUSATIONID: Final = "ce_causationid"
CONTENT_TYPE_HEADER: Final = "content-type"
TRACEPARENT_HEADER: Final = "traceparent"
"""W3C trace context; set by the telemetry middleware beside the envelope, not by it."""

_MAX_ERRORS_SHOWN: Final = 5
_MAX_VALUE_SHOWN: Final = 80


class ContractError(ValueError):
    """Base of the errors raised when a record does not honour the contracts."""


class EnvelopeError(ContractError):
    """The record's CloudEvents headers are missing or invalid; the message names the header."""


class UnknownEventType(ContractError):
    """No event class is registered for the record's ``ce_type``."""


class InvalidEventPayload(ContractError):
    """The record's value is not valid JSON for its event type."""


class Event(BaseModel):
    """Base of every event and command crossing a service boundary.

    A concrete event sets ``event_type`` (ending in ``.vN``) and ``topic``, implements
    ``key()`` and has a docstring saying when it is emitted and who consumes it. Defining
    such a class registers it for ``decode``. Facts are named in the past tense
    (``PaymentSucceeded``), commands in the imperative (``RequestCheckout``).
    """

    # extra="ignore": a consumer built against v1 must accept records from a producer that
    # already sends newer, additive fields.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[TopicSpec]

    def key(self) -> str:
        """The id of the aggregate the event is about: the Kafka key and ``ce_subject``."""
        # Abstract: registering an event type without its own key() fails at class definition.
        raise NotImplementedError(f"{type(self).__name__} does not define key()")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            _register(cls)


_REGISTRY: dict[str, type[Event]] = {}


def _register(cls: type[Event]) -> None:
    where = f"{cls.__module__}.{cls.__qualname__}"
    match = EVENT_TYPE_PATTERN.fullmatch(cls.event_type)
    if match is None:
        raise TypeError(
            f"{where}: event_type {cls.event_type!r} must look like domain.entity.happened.vN"
        )
    if match["domain"] not in SERVICES:
        raise TypeError(f"{where}: event_type {cls.event_type!r} must start with a service name")
    if not isinstance(getattr(cls, "topic", None), TopicSpec):
        raise TypeError(f"{where}: set topic to a TopicSpec from contracts.topics")
    if cls.key is Event.key:
        raise TypeError(f"{where}: implement key()")
    if not (cls.__dict__.get("__doc__") or "").strip():
        raise TypeError(
            f"{where}: say in a docstring when the event is emitted and who consumes it"
        )
    existing = _REGISTRY.get(cls.event_type)
    same_class = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if existing is not None and not same_class:
        raise TypeError(
            f"{where}: event_type {cls.event_type!r} is already defined by "
            f"{existing.__module__}.{existing.__qualname__}"
        )
    _REGISTRY[cls.event_type] = cls


def registered_events() -> Mapping[str, type[Event]]:
    """Every registered event class by event type (read-only)."""
    return MappingProxyType(_REGISTRY)


def event_class(event_type: str) -> type[Event]:
    """The class registered for ``event_type``; raises ``UnknownEventType``."""
    try:
        return _REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {_shorten(event_type)}") from None


def encode(event: Event) -> bytes:
    """The Kafka record value for ``event``: compact UTF-8 JSON."""
    return event.__pydantic_serializer__.to_json(event)


def decode(envelope_type: str, value: bytes) -> Event:
    """Parse a record value as the event class registered for ``envelope_type``.

    Raises ``UnknownEventType`` or ``InvalidEventPayload``; messages never quote the payload.
    """
    cls = event_class(envelope_type)
    try:
        return cls.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidEventPayload(
            f"invalid payload for {envelope_type}: {_describe_errors(exc)}"
        ) from None


def decode_record(
    headers: Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]],
    value: bytes,
) -> tuple[Envelope, Event]:
    """Parse a whole record: its envelope from the headers, its event from the value."""
    envelope = Envelope.from_headers(headers)
    return envelope, decode(envelope.type, value)


def format_rfc3339(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC with microseconds: ``2025-01-15T10:00:00.000000Z``."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place on the wire")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_RFC3339: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp (offset required) as an aware UTC datetime; ``ValueError`` else."""
    if _RFC3339.fullmatch(text) is None:
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {_shorten(text)}")
    return datetime.fromisoformat(text.upper()).astimezone(UTC)


_FIELD_HEADERS: Final[dict[str, str]] = {
    "id": CE_ID,
    "source": CE_SOURCE,
    "type": CE_TYPE,
    "time": CE_TIME,
    "subject": CE_SUBJECT,
    "specversion": CE_SPECVERSION,
    "datacontenttype": CONTENT_TYPE_HEADER,
    "correlationid": CE_CORRELATIONID,
    "causationid": CE_CAUSATIONID,
}
_REQUIRED_HEADERS: Final = (CE_SPECVERSION, CE_ID, CE_SOURCE, CE_TYPE, CE_TIME, CE_SUBJECT)


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes of one record, with the correlation extensions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        default_factory=lambda: str(uuid4()),
        min_length=1,
        description="Unique per event; consumers' inbox key for deduplication.",
    )
    source: str = Field(
        pattern=r"^\S+$", description="URI-reference of the producer, e.g. `/vpn/billing`."
    )
    type: str = Field(
        pattern=EVENT_TYPE_PATTERN.pattern,
        description="Event type, e.g. `billing.payment.succeeded.v1`.",
    )
    time: UtcDatetime = Field(description="When the event happened.")
    subject: str = Field(
        min_length=1, description="Aggregate id the event is about; the Kafka key."
    )
    specversion: Literal["1.0"] = SPECVERSION
    datacontenttype: Literal["application/json"] = CONTENT_TYPE
    correlationid: str | None = Field(
        default=None, min_length=1, description="Id of the first envelope of the causal chain."
    )
    causationid: str | None = Field(
        default=None, min_length=1, description="Id of the envelope that directly caused this one."
    )

    @classmethod
    def for_event(
        cls,
        event: Event,
        source: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        *,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """An envelope for ``event`` produced by ``source``.

        Without a ``correlation_id`` the event starts a new chain and its own id becomes the
        correlation id, so that every envelope carries one.
        """
        envelope_id = event_id if event_id is not None else str(uuid4())
        return cls(
            id=envelope_id,
            source=source,
            type=event.event_type,
            time=time if time is not None else datetime.now(UTC),
            subject=event.key(),
            correlationid=correlation_id if correlation_id is not None else envelope_id,
            causationid=causation_id,
        )

    @classmethod
    def caused_by(
        cls,
        cause: Envelope,
        event: Event,
        source: str,
        *,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """An envelope for ``event`` produced in reaction to the record enveloped by ``cause``."""
        return cls.for_event(
            event,
            source,
            correlation_id=cause.correlationid if cause.correlationid is not None else cause.id,
            causation_id=cause.id,
            event_id=event_id,
            time=time,
        )

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers in CloudEvents binary mode; absent optional attributes are skipped."""
        pairs = [
            (CE_SPECVERSION, self.specversion),
            (CE_ID, self.id),
            (CE_SOURCE, self.source),
            (CE_TYPE, self.type),
            (CE_TIME, format_rfc3339(self.time)),
            (CE_SUBJECT, self.subject),
            (CE_CORRELATIONID, self.correlationid),
            (CE_CAUSATIONID, self.causationid),
            (CONTENT_TYPE_HEADER, self.datacontenttype),
        ]
        return [(name, value.encode()) for name, value in pairs if value is not None]

    def to_header_map(self) -> dict[str, str]:
        """The same headers as text, for clients that take a ``dict[str, str]`` (FastStream)."""
        return {name: value.decode() for name, value in self.to_headers()}

    @classmethod
    def from_headers(
        cls,
        headers: Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]],
    ) -> Envelope:
        """Parse the envelope from Kafka headers (pairs or a mapping; bytes or text values).

        Headers other than ``ce_*`` and ``content-type`` (``traceparent``, ``dlq_*``) are
        ignored. Raises ``EnvelopeError`` naming the missing or invalid header.
        """
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        values: dict[str, str] = {}
        for name, raw in pairs:
            if not (name.startswith("ce_") or name == CONTENT_TYPE_HEADER):
                continue
            if raw is None:
                raise EnvelopeError(f"header {name} has no value")
            try:
                text = raw.decode() if isinstance(raw, bytes) else raw
            except UnicodeDecodeError:
                raise EnvelopeError(f"header {name} is not valid UTF-8") from None
            if values.get(name, text) != text:
                raise EnvelopeError(f"header {name} appears twice with different values")
            values[name] = text

        missing = [name for name in _REQUIRED_HEADERS if name not in values]
        if missing:
            raise EnvelopeError(f"missing header {', '.join(missing)}")
        if values[CE_SPECVERSION] != SPECVERSION:
            raise EnvelopeError(
                f"invalid header {CE_SPECVERSION}: {_shorten(values[CE_SPECVERSION])}, "
                f"expected {SPECVERSION}"
            )
        content_type = values.get(CONTENT_TYPE_HEADER, CONTENT_TYPE)
        if content_type.split(";", 1)[0].strip().lower() != CONTENT_TYPE:
            raise EnvelopeError(
                f"invalid header {CONTENT_TYPE_HEADER}: {_shorten(content_type)}, "
                f"expected {CONTENT_TYPE}"
            )
        try:
            time = parse_rfc3339(values[CE_TIME])
        except ValueError as exc:
            raise EnvelopeError(f"invalid header {CE_TIME}: {exc}") from None
        try:
            return cls(
                id=values[CE_ID],
                source=values[CE_SOURCE],
                type=values[CE_TYPE],
                time=time,
                subject=values[CE_SUBJECT],
                correlationid=values.get(CE_CORRELATIONID),
                causationid=values.get(CE_CAUSATIONID),
            )
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            header = _FIELD_HEADERS.get(field, field)
            value = _shorten(values.get(header, ""))
            raise EnvelopeError(
                f"invalid header {header}: {error['msg']} (value {value})"
            ) from None


def _describe_errors(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    shown = [
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in errors[:_MAX_ERRORS_SHOWN]
    ]
    more = len(errors) - len(shown)
    if more:
        shown.append(f"and {more} more")
    return "; ".join(shown)


def _shorten(text: str) -> str:
    if len(text) > _MAX_VALUE_SHOWN:
        text = text[: _MAX_VALUE_SHOWN - 1] + "…"
    return repr(text)
