#!/usr/bin/env bash
# Creates the platform's Kafka topics, the catalog in libs/contracts/src/contracts/topics.py
# (TOPICS), and keeps their cleanup policy and retention equal to it. Idempotent: it runs
# on every `docker compose up` and every Kubernetes deploy.
#
# The same file is deploy/compose/kafka/create-topics.sh and
# deploy/k8s/components/kafka-topics/create-topics.sh; tests/deploy checks that both are
# identical and list exactly the catalog. Change the catalog first, then both copies.
#
# Partitions are only set on creation: Kafka cannot shrink them, and adding some moves
# keys to other partitions and breaks per-key ordering (that takes a new topic version),
# so a count that differs from the catalog fails the run instead of being "fixed".
# The replication factor is left to the broker (default.replication.factor).
set -euo pipefail

bootstrap="${KAFKA_BOOTSTRAP:?KAFKA_BOOTSTRAP is not set}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
attempts="${KAFKA_WAIT_ATTEMPTS:-60}"

# Nothing orders a Kubernetes Job after the broker, so wait for it here.
for ((i = 1; ; i++)); do
  if "$bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" >/dev/null 2>&1; then
    break
  fi
  if ((i >= attempts)); then
    echo "Kafka at $bootstrap did not answer" >&2
    exit 1
  fi
  sleep 5
done

declare -A want_partitions=()

# topic NAME PARTITIONS CLEANUP_POLICY RETENTION_MS ("-" for none: a compacted topic keeps
# each key's latest value forever)
topic() {
  local name=$1 partitions=$2 cleanup=$3 retention=$4
  local create=(--config "cleanup.policy=$cleanup") settings="cleanup.policy=$cleanup"
  if [[ $retention != "-" ]]; then
    create+=(--config "retention.ms=$retention")
    settings+=",retention.ms=$retention"
  fi
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" "${create[@]}"
  # An existing topic keeps its old settings through --create --if-not-exists.
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter \
    --entity-type topics --entity-name "$name" --add-config "$settings" >/dev/null
  want_partitions[$name]=$partitions
  echo "topic $name: partitions=$partitions $settings"
}

# name                              partitions cleanup retention.ms
topic bot.customers.v1                   6 delete  604800000
topic bot.checkouts.v1                   6 delete  604800000
topic bot.payments.v1                    6 delete  604800000
topic bot.promos.v1                      6 delete  604800000
topic billing.catalog.v1                 1 compact -
topic billing.checkouts.v1               6 delete  604800000
topic billing.payments.v1                6 delete  604800000
topic billing.subscriptions.v1           6 delete  604800000
topic billing.wallets.v1                 6 delete  604800000
topic billing.autopay.v1                 6 delete  604800000
topic billing.promos.v1                  6 delete  604800000
topic billing.segments.v1                6 compact -
topic provisioning.catalog.v1            1 compact -
topic provisioning.panels.v1             3 delete  604800000
topic provisioning.access.v1             6 delete  604800000
topic provisioning.usage.v1              6 delete  604800000
topic notifier.requests.v1               6 delete  604800000
topic gateway.payment-notifications.v1   6 delete  604800000
topic gateway.telegram-updates.v1        6 delete  604800000
# dead letters: one partition, 30 days
topic bot.deadletter.v1                  1 delete  2592000000
topic billing.deadletter.v1              1 delete  2592000000
topic provisioning.deadletter.v1         1 delete  2592000000
topic notifier.deadletter.v1             1 delete  2592000000
topic gateway.deadletter.v1              1 delete  2592000000

# One describe call for all topics: "Topic: NAME<TAB>TopicId: ...<TAB>PartitionCount: N ..."
failed=0
while read -r name count; do
  want=${want_partitions[$name]:-}
  if [[ -n $want && $count != "$want" ]]; then
    echo "topic $name has $count partitions, the catalog says $want" >&2
    failed=1
  fi
done < <("$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe \
  --exclude-internal | sed -n 's/^Topic: *\([^[:space:]]*\).*PartitionCount: *\([0-9]*\).*/\1 \2/p')
exit "$failed"
