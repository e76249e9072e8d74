"""Reliable messaging: transactional outbox, relay to Kafka, idempotent inbox consumer."""
