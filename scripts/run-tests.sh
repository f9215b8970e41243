#!/usr/bin/env bash
# Sets up and runs every test. Without Odoo at $ODOO_PATH it runs what needs no Odoo and says what
# it skipped; with Odoo it also runs the Odoo tests (pytest-odoo, tours in headless Chromium) and the
# end-to-end tests (real Odoo HTTP server, Celery worker, Redis).
set -uo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO"
results="$(mktemp -d)"
status=0

if odoo_present; then with_odoo=yes; else with_odoo=no; fi
setup_venv "$with_odoo"

apt_install_if_missing docker-compose docker-compose "checking docker-compose.yml"
apt_install_if_missing nginx nginx "the proxy of docker-compose (tests/test_compose_services.py)"
apt_install_if_missing promtool prometheus "the Prometheus alert rule tests (tests/test_deploy_monitoring.py)"

say "Static checks (pylint-odoo on the addons, ruff everywhere)"
"$VENV/bin/pylint" --rcfile=.pylintrc-odoo --score=n addons/smart_dairy_jobs addons/smart_dairy_iot addons/smart_dairy_operations || status=1
"$VENV/bin/ruff" check --quiet . || status=1

# The suites mostly wait (for processes, brokers, deadlines), not compute: the bridge unit tests run
# beside the Odoo tests, and the packaging and deployment tests beside the end-to-end ones.
say "Bridge unit tests (no Odoo needed), in the background"
"$PY" -m pytest -p no:odoo -q --junitxml="$results/unit.xml" celery_bridge/tests > "$results/unit.log" 2>&1 &
unit_pid=$!

if [ "$with_odoo" = yes ]; then
  ensure_db_role
  apt_install_if_missing chromium chromium "the Odoo tours"
  db="sdj_test_$$"
  conf="$results/odoo-test.conf"
  cat > "$conf" <<CONF
[options]
addons_path = $(addons_path)
data_dir = $results/data
db_host = 127.0.0.1
db_user = odoo
db_name = $db
without_demo = all
CONF
  trap 'dropdb "${PG_ARGS[@]}" --if-exists --force "$db" >/dev/null 2>&1' EXIT
  say "Installing the addons (jobs, IoT, operations) on a fresh database ($db)"
  if "$VENV/bin/odoo" -c "$conf" -i smart_dairy_jobs,smart_dairy_iot,smart_dairy_operations \
      --stop-after-init --log-level=warn > "$results/install.log" 2>&1; then
    say "Odoo tests (pytest-odoo against PostgreSQL, tours in headless Chromium)"
    "$PY" -m pytest -q --odoo-config="$conf" --odoo-database="$db" --odoo-http \
      --junitxml="$results/odoo.xml" addons/smart_dairy_jobs/tests addons/smart_dairy_iot/tests addons/smart_dairy_operations/tests || status=1
  else
    cat "$results/install.log"; echo "Installing the addons failed" >&2; status=1
  fi
  say "Cross-component tests: packaging and deployment files (in the background), end-to-end (Odoo HTTP server, Celery workers, Redis, all real processes)"
  "$PY" -m pytest -p no:odoo -q --junitxml="$results/deploy.xml" --ignore=tests/e2e tests > "$results/deploy.log" 2>&1 &
  deploy_pid=$!
  "$PY" -m pytest -p no:odoo -q --junitxml="$results/e2e.xml" tests/e2e || status=1
  wait "$deploy_pid" || status=1
  say "Packaging and deployment tests"
  cat "$results/deploy.log"
else
  odoo_tests=$("$PY" - <<'PY'
import ast, pathlib
count = 0
for path in pathlib.Path("addons").glob("*/tests/test_*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            count += 1
print(count)
PY
)
  say "SKIPPED: $odoo_tests Odoo tests (addons/*/tests) — no Odoo 18 at $ODOO_PATH; set ODOO_PATH to run them"
  say "Cross-component tests (the end-to-end ones are reported skipped: they need Odoo)"
  "$PY" -m pytest -p no:odoo -q -rs --junitxml="$results/e2e.xml" tests || status=1
fi

wait "$unit_pid" || status=1
say "Bridge unit tests"
cat "$results/unit.log"

"$PY" - "$results" "${odoo_tests:-0}" <<'PY'
import pathlib, sys
import xml.etree.ElementTree as ET
passed = failed = skipped = 0
for report in pathlib.Path(sys.argv[1]).glob("*.xml"):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        tests, fail = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += tests - fail - skip; failed += fail; skipped += skip
skipped += int(sys.argv[2])
print(f"\nsummary: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
