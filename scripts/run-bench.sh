#!/usr/bin/env bash
# Runs the benchmarks (bench/run.py) against a fresh Odoo database, a private redis-server and a real
# worker, and writes bench/RESULTS.md. Needs Odoo 18 at $ODOO_PATH. Extra arguments go to bench/run.py;
# `scripts/run-bench.sh iot [...]` runs the IoT benchmark (bench/iot.py) instead, `compression [...]` the
# message compression one (bench/compression.py).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO"
odoo_present || { echo "No Odoo 18 at $ODOO_PATH: put it there or set ODOO_PATH (see README)." >&2; exit 1; }
setup_venv yes
ensure_db_role
if [ "${1:-}" = iot ]; then
  shift
  exec "$PY" bench/iot.py "$@"   # MQTT → PostgreSQL → Odoo: readings/s and latency (bench/RESULTS-iot.md)
fi
if [ "${1:-}" = compression ]; then
  shift
  exec "$PY" bench/compression.py "$@"   # a 200 kB job with and without gzip (bench/RESULTS-compression.md)
fi
exec "$PY" bench/run.py "$@"
