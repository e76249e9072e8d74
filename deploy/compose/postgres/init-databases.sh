#!/usr/bin/env bash
# Runs once, when the postgres container starts on an empty data directory
# (/docker-entrypoint-initdb.d): one login role and one database per service, each
# database owned by its service and closed to every other role. Passwords come from
# <SERVICE>_DB_PASSWORD in the container's environment (deploy/compose/.env).
set -euo pipefail

for service in gateway bot billing provisioning notifier; do
  password_var="${service^^}_DB_PASSWORD"
  # psql reads the password from its environment (\getenv) and quotes it (:'password'),
  # so it is neither spliced into SQL text nor visible in the process list.
  DB_PASSWORD="${!password_var:?$password_var is not set}" \
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$service" <<'SQL'
\getenv password DB_PASSWORD
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
  echo "database $service: ready"
done
