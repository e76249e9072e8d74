from provisioning.domain.health import Answered, Failed, Failure, Thresholds, assess
from provisioning.domain.placement import Health

T = Thresholds(down_after=3, slow_ms=2000)
TIMEOUT = Failed(Failure.UNAVAILABLE, "GET /api/system: ReadTimeout")


def test_consecutive_failures_degrade_then_take_a_panel_down() -> None:
    failures, seen = 0, []
    for _ in range(4):
        assessment = assess(failures, TIMEOUT, T)
        failures = assessment.failures
        seen.append(assessment.health)
    assert seen == [Health.DEGRADED, Health.DEGRADED, Health.DOWN, Health.DOWN]
    back = assess(failures, Answered(latency_ms=40), T)
    assert (back.health, back.failures, back.reason) == (Health.HEALTHY, 0, None)


def test_slow_answers_and_nodes_down_degrade() -> None:
    slow = assess(0, Answered(latency_ms=2500), T)
    assert (slow.health, slow.reason) == (Health.DEGRADED, "slow: answered in 2500 ms")
    nodes = assess(0, Answered(latency_ms=40, nodes_down=("de-2",)), T)
    assert (nodes.health, nodes.reason) == (Health.DEGRADED, "nodes down: de-2")


def test_what_no_retry_changes_is_said_at_once() -> None:
    missing = assess(0, Answered(latency_ms=40, missing_protocols=("trojan",)), T)
    assert (missing.health, missing.reason) == (Health.MISCONFIGURED, "no inbound for trojan")
    other = assess(0, Failed(Failure.INCOMPATIBLE, "reports Marzban 1.0.0"), T)
    assert other.health is Health.INCOMPATIBLE


def test_refused_credentials_go_down_like_an_outage_with_the_reason() -> None:
    refused = Failed(Failure.CREDENTIALS, "login: HTTP 401")
    assessment = assess(2, refused, T)
    assert assessment.health is Health.DOWN
    assert assessment.reason == "credentials refused: login: HTTP 401"
