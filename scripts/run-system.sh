#!/usr/bin/env bash
# Sets up and runs the whole system on this machine: Odoo (from $ODOO_PATH) with the addons on a
# fresh database, Celery workers for every queue and the MQTT ingestion bridge, against the local
# PostgreSQL, Redis and Mosquitto.
#   scripts/run-system.sh            run until Ctrl-C
#   scripts/run-system.sh --check    start, prove a ping round trip, stop
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO"

check_only=no
[ "${1:-}" = "--check" ] && check_only=yes
DB="${SDJ_DB:-smart_dairy}"
PORT="${SDJ_HTTP_PORT:-8069}"
BROKER="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
RESULTS="${CELERY_RESULT_BACKEND:-redis://127.0.0.1:6379/1}"
STATE="$REPO/var"
mkdir -p "$STATE"

odoo_present || { echo "No Odoo 18 at $ODOO_PATH: put it there or set ODOO_PATH (see README)." >&2; exit 1; }
setup_venv yes
ensure_db_role
check_redis_policy "${BROKER%/*}"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

say "Installing the addons on a fresh database '$DB'"
dropdb "${PG_ARGS[@]}" --if-exists --force "$DB"
export CELERY_BROKER_URL="$BROKER" CELERY_RESULT_BACKEND="$RESULTS"
# Odoo signs every job message with it and the workers run only what it signed (README › Security).
JOB_SIGNING_SECRET="${JOB_SIGNING_SECRET:-$("$PY" -c 'import secrets; print(secrets.token_hex(32))')}"
export JOB_SIGNING_SECRET
odoo_cmd=("$VENV/bin/odoo" -c "$REPO/odoo.conf" --addons-path="$(addons_path)" -d "$DB"
          --db-filter="^$DB\$" --http-port="$PORT" --data-dir="$STATE/odoo-data")
"${odoo_cmd[@]}" -i smart_dairy_jobs,smart_dairy_iot,smart_dairy_operations --stop-after-init \
  --log-level=warn --logfile="$STATE/install.log"

say "Starting Odoo on http://127.0.0.1:$PORT (log: var/odoo.log)"
"${odoo_cmd[@]}" --logfile="$STATE/odoo.log" &
pids+=($!)
export ODOO_URL="http://127.0.0.1:$PORT" ODOO_DB="$DB"
for _ in $(seq 1 120); do
  "$PY" -c "import xmlrpc.client,sys; xmlrpc.client.ServerProxy(sys.argv[1] + '/xmlrpc/2/common').version()" \
    "$ODOO_URL" 2>/dev/null && break
  sleep 0.5
done

# A fresh database's administrator is admin/admin: change it before exposing this server.
export ODOO_CLIENT_PASSWORD="${SDJ_ADMIN_PASSWORD:-admin}"
say "Issuing the bridge user's API key"
ODOO_API_KEY="$("$VENV/bin/sdj-jobs" --login admin issue-bridge-key)"
export ODOO_API_KEY

# The IoT tasks write readings straight into Odoo's database: same server and role as Odoo.
export DATABASE_DSN="${DATABASE_DSN:-host=127.0.0.1 port=5432 user=odoo dbname=$DB}"
say "Starting Celery workers for every queue (log: var/worker.log)"
"$VENV/bin/celery" -A celery_bridge worker -Q celery,celery:high,celery:low,celery:iot,celery:email,celery:report,celery:payment \
  -c 2 -n "worker@%h" -l INFO --logfile="$STATE/worker.log" &
pids+=($!)

say "Starting the MQTT ingestion bridge on ${MQTT_URL:-mqtt://127.0.0.1:1883} (log: var/ingest.log)"
"$VENV/bin/sdj-iot-ingest" >> "$STATE/ingest.log" 2>&1 &
pids+=($!)

say "Smoke test: an XML-RPC dispatch of smart_dairy.health.ping"
for _ in $(seq 1 60); do grep -q "ready." "$STATE/worker.log" 2>/dev/null && break; sleep 0.5; done
"$VENV/bin/sdj-jobs" --login admin dispatch smart_dairy.health.ping --wait 20 | tee "$STATE/smoke.json"
grep -q '"state": "success"' "$STATE/smoke.json" || { echo "The ping did not succeed: see var/*.log" >&2; exit 1; }

cat <<INFO

Smart Dairy Jobs is running.
  Odoo:     $ODOO_URL/odoo/action-smart_dairy_jobs.smart_dairy_job_action   (login admin / admin)
  Database: $DB      Broker: $BROKER
  Farm IoT: $ODOO_URL/odoo/action-smart_dairy_iot.smart_dairy_iot_device_action
            devices publish JSON to smartdairy/<farm>/<device ID>/readings on ${MQTT_URL:-mqtt://127.0.0.1:1883}
  Logs:     var/odoo.log, var/worker.log, var/ingest.log
INFO
[ "$check_only" = yes ] && exit 0
echo "Ctrl-C stops everything."
wait
