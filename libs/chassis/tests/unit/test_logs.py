import io
import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from chassis.logs import JsonFormatter, TextFormatter, redact


def capture(formatter: logging.Formatter, name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


@pytest.fixture
def captured() -> tuple[logging.Logger, io.StringIO]:
    return capture(JsonFormatter("billing"), "test.logs")


def test_lines_are_json_with_service_and_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("order paid", extra={"order_id": "o-1", "amount_minor": 19900})
    line = json.loads(stream.getvalue())
    assert line["service"] == "billing"
    assert line["msg"] == "order paid"
    assert line["order_id"] == "o-1"
    assert line["amount_minor"] == 19900
    assert line["level"] == "info"


def test_lines_carry_the_current_trace(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logger.info("inside")
    line = json.loads(stream.getvalue())
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_secrets_and_personal_data_never_reach_the_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning(
        "connect to postgresql+asyncpg://billing:hunter2@db:5432/billing failed",
        extra={
            "api_token": "abc",
            "phone": "+79990000000",
            "url": "https://bot123456:AAH-token-value-123456789/x",
        },
    )
    text = stream.getvalue()
    assert "hunter2" not in text
    assert "+79990000000" not in text
    assert '"api_token": "***"' in text


def test_redact_bot_tokens_in_urls() -> None:
    url = "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe"
    assert "AAHdq" not in redact(url)


def test_text_lines_keep_the_structured_fields_compactly() -> None:
    logger, stream = capture(TextFormatter("provisioning"), "test.logs.text")

    logger.warning(
        "panel call failed",
        extra={"error": "ConnectError('refused')", "attempt": 3, "delay_s": 2.5, "note": "a b"},
    )
    line = stream.getvalue().strip()
    assert "provisioning WARNING test.logs.text: panel call failed" in line
    assert "error=ConnectError('refused')" in line
    assert "attempt=3" in line
    assert "delay_s=2.5" in line
    assert 'note="a b"' in line

    stream.truncate(0)
    stream.seek(0)
    logger.info("login", extra={"password": "hunter2"})
    assert "password=***" in stream.getvalue()
    assert "hunter2" not in stream.getvalue()
