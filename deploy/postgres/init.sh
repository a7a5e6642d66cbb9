#!/usr/bin/env bash
# deploy/postgres/init.sh: the roles and databases of docker-compose.yml's
# PostgreSQL. The postgres image runs it once, when it initialises an empty
# data volume (/docker-entrypoint-initdb.d), as the superuser.
#
#   temporal     LOGIN, owner of databases temporal and temporal_visibility
#   crier_owner  LOGIN, owner of database crier: migrations only (crier-migrate)
#   crier_app    NOLOGIN: what the Crier services may do, granted by
#                Crier's migrations (INSERT and SELECT only on audit_log)
#   crier        LOGIN, member of crier_app: the api, worker and relay
#
# CONNECT is taken from PUBLIC on all three databases, so each login reaches
# only its own. Passwords come from the container's environment (compose).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v temporal_password="$TEMPORAL_DB_PASSWORD" \
	-v owner_password="$CRIER_DB_OWNER_PASSWORD" \
	-v crier_password="$CRIER_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

CREATE ROLE crier_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE crier_app NOLOGIN;
CREATE ROLE crier LOGIN PASSWORD :'crier_password' IN ROLE crier_app;
CREATE DATABASE crier OWNER crier_owner;

REVOKE ALL ON DATABASE temporal, temporal_visibility, crier FROM PUBLIC;
-- TEMPORARY too: the users import stages its rows in a temporary table.
GRANT CONNECT, TEMPORARY ON DATABASE crier TO crier_app;
SQL
