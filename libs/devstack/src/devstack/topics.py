"""Idempotent topic creation for local brokers, tolerant of Tansu's partial admin support.

Findings that shape this module (Tansu v0.6.0-510f3e2 vs Apache Kafka 4.x, aiokafka 0.14):

* both answer CreateTopics with per-topic error codes (aiokafka does not raise them);
  an existing topic is ``TOPIC_ALREADY_EXISTS`` (36) on both;
* Apache Kafka validates configs (``INVALID_CONFIG``, 40) and names; Tansu accepts any
  config key/value, any name and any replication factor, and stores the configs verbatim
  (DescribeConfigs returns exactly what was set);
* Tansu ignores ``validate_only`` and creates the topic, so validation probes are only
  sent after a broker has rejected a config (which Tansu never does);
* Tansu answers DescribeConfigs only without a key filter (with one it fails to decode
  the request and closes the connection), so all configs are fetched and filtered here;
  it implements neither AlterConfigs nor CreatePartitions, so existing topics are never
  altered, only compared with the spec;
* Apache Kafka propagates new topics to its metadata cache asynchronously, so we wait
  until every topic has leaders before returning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

__all__ = ["TopicCreationError", "TopicResult", "TopicSpec", "create_topics"]

logger = logging.getLogger(__name__)

_OK = 0
_REQUEST_TIMED_OUT = 7
_TOPIC_ALREADY_EXISTS = 36
_INVALID_CONFIG = 40


@dataclass(frozen=True)
class TopicSpec:
    """A topic to ensure: name, partition count, per-topic config (e.g. ``cleanup.policy``)."""

    name: str
    partitions: int = 1
    config: Mapping[str, str] = field(default_factory=dict)
    replication_factor: int = 1

    def __post_init__(self) -> None:
        # Kafka configs are strings on the wire; accept ints/bools for convenience.
        object.__setattr__(
            self, "config", {str(k): _config_str(v) for k, v in dict(self.config).items()}
        )

    @classmethod
    def of(cls, spec: TopicSpec | Mapping[str, Any]) -> TopicSpec:
        """Accept a :class:`TopicSpec` or a mapping with ``name``/``partitions``/``config``."""
        if isinstance(spec, TopicSpec):
            return spec
        return cls(
            name=str(spec["name"]),
            partitions=int(spec.get("partitions", 1)),
            config=dict(spec.get("config") or {}),
            replication_factor=int(spec.get("replication_factor", 1)),
        )


@dataclass(frozen=True)
class TopicResult:
    """What :func:`create_topics` did for one topic."""

    name: str
    created: bool
    """False if the topic already existed (it is then left as it was)."""
    partitions: int
    """Partition count reported by the broker afterwards."""
    dropped_config: Mapping[str, str] = field(default_factory=dict)
    """Requested configs the broker rejected (topic created without them)."""


class TopicCreationError(RuntimeError):
    """The broker refused to create one or more topics."""


def _config_str(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _norm(value: str | None) -> str:
    return "".join((value or "").split()).lower()


def _error_name(code: int) -> str:
    return str(for_code(code).message)


async def create_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec | Mapping[str, Any]],
    *,
    strict: bool = False,
    time_limit: float = 30.0,
) -> list[TopicResult]:
    """Create the topics in ``specs`` unless they exist; wait until all have leaders.

    Existing topics are fine and are not altered; a partition count or config differing
    from the spec is logged as a warning. A config the broker rejects is dropped with a
    warning (the topic is created without it) unless ``strict``, which raises instead.
    Configs the broker accepts but does not report back are warned about as well. Other
    refusals (bad name, replication factor too high, ...) raise :class:`TopicCreationError`.
    ``time_limit`` (seconds) bounds each request and the wait for leaders.
    """
    wanted = [TopicSpec.of(spec) for spec in specs]
    names = [spec.name for spec in wanted]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate topic names in {names}")
    if not wanted:
        return []
    deadline = time.monotonic() + time_limit
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(time_limit * 1000),
        client_id="devstack-topics",
    )
    await admin.start()
    try:
        created, dropped = await _create(
            admin, wanted, strict=strict, timeout_ms=int(time_limit * 1000)
        )
        partitions = await _wait_for_leaders(admin, wanted, deadline)
        await _verify(admin, wanted, created, dropped, partitions)
    finally:
        await admin.close()
    return [
        TopicResult(
            name=spec.name,
            created=spec.name in created,
            partitions=partitions[spec.name],
            dropped_config=dropped.get(spec.name, {}),
        )
        for spec in wanted
    ]


def _new_topic(spec: TopicSpec, config: Mapping[str, str]) -> NewTopic:
    return NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=dict(config))


async def _send_create(
    admin: AIOKafkaAdminClient,
    topics: list[tuple[TopicSpec, Mapping[str, str]]],
    timeout_ms: int,
    *,
    validate_only: bool = False,
) -> dict[str, tuple[int, str]]:
    response = await admin.create_topics(
        [_new_topic(spec, config) for spec, config in topics],
        timeout_ms=timeout_ms,
        validate_only=validate_only,
    )
    return {
        entry["topic"]: (entry["error_code"], entry.get("error_message") or "")
        for entry in response.to_object()["topic_errors"]
    }


async def _create(
    admin: AIOKafkaAdminClient, wanted: list[TopicSpec], *, strict: bool, timeout_ms: int
) -> tuple[set[str], dict[str, dict[str, str]]]:
    results = await _send_create(admin, [(s, s.config) for s in wanted], timeout_ms)
    created: set[str] = set()
    dropped: dict[str, dict[str, str]] = {}
    failures: list[str] = []
    retry: list[tuple[TopicSpec, dict[str, str]]] = []
    for spec in wanted:
        code, message = results.get(spec.name, (_OK, ""))
        if code in (_OK, _REQUEST_TIMED_OUT):
            # Timed out means "still being created": the metadata wait settles it.
            created.add(spec.name)
        elif code == _TOPIC_ALREADY_EXISTS:
            logger.debug("topic %s already exists", spec.name)
        elif code == _INVALID_CONFIG and spec.config and not strict:
            accepted, rejected = await _split_config(admin, spec, timeout_ms)
            logger.warning(
                "broker rejected config %s for topic %s (%s); creating it without them",
                rejected,
                spec.name,
                message,
            )
            dropped[spec.name] = rejected
            retry.append((spec, accepted))
        else:
            failures.append(f"{spec.name}: {_error_name(code)} {message}".rstrip())
    if retry:
        for name, (code, message) in (await _send_create(admin, list(retry), timeout_ms)).items():
            if code in (_OK, _REQUEST_TIMED_OUT, _TOPIC_ALREADY_EXISTS):
                created.add(name)
            else:
                failures.append(f"{name}: {_error_name(code)} {message}".rstrip())
    if failures:
        raise TopicCreationError("could not create topics: " + "; ".join(failures))
    return created, dropped


async def _split_config(
    admin: AIOKafkaAdminClient, spec: TopicSpec, timeout_ms: int
) -> tuple[dict[str, str], dict[str, str]]:
    """Probe each config entry with a validate-only request to find the rejected ones."""
    accepted: dict[str, str] = {}
    rejected: dict[str, str] = {}
    for key, value in spec.config.items():
        probe = await _send_create(admin, [(spec, {key: value})], timeout_ms, validate_only=True)
        code, _ = probe.get(spec.name, (_OK, ""))
        (rejected if code == _INVALID_CONFIG else accepted)[key] = value
    return accepted, rejected


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, wanted: list[TopicSpec], deadline: float
) -> dict[str, int]:
    names = {spec.name for spec in wanted}
    while True:
        # All-topics metadata: naming topics would let brokers auto-create them.
        described = {t["topic"]: t for t in await admin.describe_topics()}
        ready: dict[str, int] = {}
        for name in names:
            topic = described.get(name)
            if topic is None or topic["error_code"] != _OK or not topic["partitions"]:
                continue
            if all(p["leader"] >= 0 for p in topic["partitions"]):
                ready[name] = len(topic["partitions"])
        if len(ready) == len(names):
            return ready
        if time.monotonic() > deadline:
            missing = sorted(names - ready.keys())
            raise TopicCreationError(f"topics {missing} have no leaders yet; broker not ready?")
        await asyncio.sleep(0.1)


async def _verify(
    admin: AIOKafkaAdminClient,
    wanted: list[TopicSpec],
    created: set[str],
    dropped: Mapping[str, Mapping[str, str]],
    partitions: Mapping[str, int],
) -> None:
    for spec in wanted:
        if partitions[spec.name] != spec.partitions:
            logger.warning(
                "topic %s has %d partitions, spec asks for %d (existing topics are not altered)",
                spec.name,
                partitions[spec.name],
                spec.partitions,
            )
    to_check = {
        spec.name: {k: v for k, v in spec.config.items() if k not in dropped.get(spec.name, {})}
        for spec in wanted
    }
    to_check = {name: config for name, config in to_check.items() if config}
    if not to_check:
        return
    try:
        responses = await admin.describe_configs(
            [
                # No key filter: Tansu drops the connection on filtered DescribeConfigs.
                ConfigResource(ConfigResourceType.TOPIC, name)
                for name in to_check
            ]
        )
    except Exception as exc:  # verification is best effort; the topics exist
        logger.warning("could not verify topic configs (DescribeConfigs failed: %r)", exc)
        return
    reported: dict[str, dict[str, str | None]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != _OK:
                logger.warning(
                    "could not verify configs of topic %s: %s",
                    resource["resource_name"],
                    _error_name(resource["error_code"]),
                )
                reported[resource["resource_name"]] = {}
                continue
            reported[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
            }
    for name, config in to_check.items():
        actual = reported.get(name)
        if actual is None:
            continue
        state = "new" if name in created else "existing"
        for key, value in config.items():
            if key not in actual:
                logger.warning("broker does not report config %s for %s topic %s", key, state, name)
            elif _norm(actual[key]) != _norm(value):
                logger.warning(
                    "%s topic %s has %s=%s, spec asks for %s",
                    state,
                    name,
                    key,
                    actual[key],
                    value,
                )
