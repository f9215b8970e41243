# Shared by run-system.sh and run-tests.sh: the virtualenv and what the machine must have.
# shellcheck shell=bash
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODOO_PATH="${ODOO_PATH:-/opt/odoo18}"
VENV="${SDJ_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
PG_ARGS=(-h "${PGHOST_ODOO:-127.0.0.1}" -U "${PGSUPERUSER:-postgres}")

say() { printf '\n==> %s\n' "$*"; }

odoo_present() { [ -x "$ODOO_PATH/odoo-bin" ] || [ -f "$ODOO_PATH/odoo-bin" ]; }

ADDONS=(smart_dairy_jobs smart_dairy_iot smart_dairy_operations)

pip_quiet() { "$PY" -m pip install -q "$@" 2>&1 | grep -v '^WARNING: Location'; return "${PIPESTATUS[0]}"; }

# Installs everything as pip packages, the way README › "Install into an existing Odoo 18" does, so
# that nothing needs a PYTHONPATH: with Odoo, its own needs (requirements-odoo.txt) and Odoo itself
# as an editable install of $ODOO_PATH (it keeps running in place; the addons' wheels require the
# `odoo` distribution), then the bridge and, with Odoo, the three addons (whool; they pull queue_job
# under constraints.txt). Editable, so code changes need no reinstall; reinstalled only when what
# decides the installed metadata changes (requirement files, pyproject.toml, manifests) or an
# addon's editable link is gone.
setup_venv() {
  local want_odoo=$1 stamp hash addon status=0
  local files=("$REPO/pyproject.toml" "$REPO/constraints.txt" "$REPO/requirements-test.txt")
  local packages=(-e "$REPO")
  [ -x "$PY" ] || python3 -m venv "$VENV"
  stamp="$VENV/.sdj-installed"
  if [ "$want_odoo" = yes ]; then
    files+=("$REPO/requirements-odoo.txt")
    for addon in "${ADDONS[@]}"; do
      files+=("$REPO/addons/$addon/__manifest__.py" "$REPO/addons/$addon/pyproject.toml")
      packages+=(-e "$REPO/addons/$addon")
      [ -e "$(editable_links "$addon")/__editable__/odoo/addons/$addon" ] || rm -f "$stamp"
    done
  fi
  hash="$({ cat "${files[@]}"; echo "$want_odoo $ODOO_PATH $REPO"; } | sha256sum | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    say "Installing the packages into $VENV"
    pip_quiet --upgrade pip || true
    if [ "$want_odoo" = yes ]; then
      pip_quiet -r "$REPO/requirements-odoo.txt" || status=$?
      # compat: a path entry for $ODOO_PATH, not an import hook, which site-packages/odoo/ (where
      # addon wheels land) would shadow by making `odoo` a namespace package.
      pip_quiet --no-deps --config-settings editable_mode=compat -e "$ODOO_PATH" || status=$?
      for addon in "${ADDONS[@]}"; do link_editable_build "$addon"; done
    fi
    if [ "$status" = 0 ]; then
      pip_quiet -c "$REPO/constraints.txt" -r "$REPO/requirements-test.txt" "${packages[@]}" || status=$?
    fi
    for addon in "${ADDONS[@]}"; do
      if [ -L "$REPO/addons/$addon/build" ]; then rm "$REPO/addons/$addon/build"; fi
    done
    [ "$status" = 0 ] || { echo "pip could not install the packages (see above)" >&2; exit 1; }
    if [ "$want_odoo" = yes ]; then
      "$PY" - "$VENV" "${ADDONS[@]}" <<'PY' || { echo "the addons did not install as packages" >&2; exit 1; }
import importlib.metadata, importlib.util, os, sys
import odoo.addons
assert odoo.__file__, "odoo imports as a namespace package, not from the Odoo tree"
for addon in ("queue_job", *sys.argv[2:]):
    importlib.metadata.version(f"odoo-addon-{addon}")
    spec = importlib.util.find_spec(f"odoo.addons.{addon}")
    assert spec and spec.origin.startswith(os.path.realpath(sys.argv[1])), (addon, spec)
PY
    fi
    "$PY" -c "import celery_bridge.celery" || { echo "the bridge did not install" >&2; exit 1; }
    echo "$hash" > "$stamp"
  fi
}

# whool's editable install of an addon links <addon>/build/__editable__/odoo/addons/<addon> back to
# the addon itself: a loop inside the addon, which Odoo's translation export (os.walk following
# links), whool's own copy of a tree without .git and other walkers would follow. Pointing
# <addon>/build into the venv while pip installs, then removing it, keeps the link (and the .pth
# that names it, resolved) in the venv and the addon folder free of it.
editable_links() { echo "$VENV/sdj-editable/$1"; }
link_editable_build() {
  local addon=$1
  mkdir -p "$(editable_links "$addon")"
  rm -rf "$REPO/addons/$addon/build"
  ln -s "$(editable_links "$addon")" "$REPO/addons/$addon/build"
}

# Odoo finds the addons installed as packages (queue_job, ours) under odoo.addons by itself.
addons_path() { echo "$ODOO_PATH/addons"; }

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
