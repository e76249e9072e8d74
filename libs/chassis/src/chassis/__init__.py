"""Service chassis: what every service needs and nothing any one service owns.

Settings, the database, the transactional outbox and idempotent inbox, Kafka wiring,
telemetry, structured logs and the health/metrics surface live here once, so the five
services differ only in their domain code.
"""
