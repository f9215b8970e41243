# Shared by run-system.sh and run-tests.sh: the virtualenv and what the machine must have.
# shellcheck shell=bash
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODOO_PATH="${ODOO_PATH:-/opt/odoo18}"
VENV="${SDJ_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
QUEUE_JOB_WHEEL="odoo-addon-queue_job==18.0.1.7.0"
PG_ARGS=(-h "${PGHOST_ODOO:-127.0.0.1}" -U "${PGSUPERUSER:-postgres}")

say() { printf '\n==> %s\n' "$*"; }

odoo_present() { [ -x "$ODOO_PATH/odoo-bin" ] || [ -f "$ODOO_PATH/odoo-bin" ]; }

# Installs (once per change of the requirement files) what the bridge, the tests and, when Odoo
# is there, Odoo itself and queue_job need. Odoo's own code is never installed: it runs in place.
setup_venv() {
  local want_odoo=$1 stamp files hash
  [ -x "$PY" ] || python3 -m venv "$VENV"
  files=("$REPO/requirements.txt" "$REPO/requirements-test.txt")
  [ "$want_odoo" = yes ] && files+=("$REPO/requirements-odoo.txt")
  hash="$(cat "${files[@]}" | sha256sum | cut -c1-16)-$want_odoo"
  stamp="$VENV/.sdj-installed"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    say "Installing Python requirements into $VENV"
    "$PY" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    "$PY" -m pip install -q "${files[@]/#/-r}" 2>&1 | grep -v '^WARNING: Location' || true
    if [ "$want_odoo" = yes ]; then
      # queue_job's later 18.0 releases need a newer Odoo point release than 18.0 itself.
      "$PY" -m pip install -q --no-deps "$QUEUE_JOB_WHEEL" 2>&1 | grep -v '^WARNING: Location' || true
    fi
    "$PY" -c "import celery, redis" || { echo "requirements did not install" >&2; exit 1; }
    echo "$hash" > "$stamp"
  fi
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
}

site_addons() { "$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"] + "/odoo/addons")'; }

addons_path() { echo "$ODOO_PATH/addons,$(site_addons),$REPO/addons"; }

# Odoo refuses to run as the PostgreSQL superuser: give it its own role.
ensure_db_role() {
  if ! psql "${PG_ARGS[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'odoo'" | grep -q 1; then
    psql "${PG_ARGS[@]}" -qc "CREATE ROLE odoo LOGIN CREATEDB"
  fi
}

check_redis_policy() {
  local policy
  policy=$(redis-cli -u "${1:-redis://127.0.0.1:6379}" config get maxmemory-policy 2>/dev/null | tail -1)
  if [ -n "$policy" ] && [ "$policy" != noeviction ]; then
    echo "WARNING: Redis maxmemory-policy is '$policy': set it to noeviction or queued jobs may be evicted." >&2
  fi
}

# Debian packages some tests use; installed when we may, otherwise those tests say they skipped.
apt_install_if_missing() {
  local command=$1 package=$2 purpose=$3
  command -v "$command" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "Installing Debian's $package for $purpose"
    { apt-get update -qq && apt-get install -y -qq "$package"; } >/dev/null 2>&1 \
      || echo "$package could not be installed: $purpose will be skipped" >&2
  fi
}
