#!/bin/sh
# Entrypoint of the Smart Dairy Odoo image: writes Odoo's configuration file ($ODOO_RC) from the
# environment at every start (the secrets never sit in the image or the compose file), then runs the
# command, e.g. `odoo --workers=4 ...` or `odoo sdj_bridge_key ...`. The addons are packages
# (site-packages/odoo/addons): Odoo finds them without an addons_path; ODOO_ADDONS_PATH adds folders.
set -eu
: "${DB_PASSWORD:?set DB_PASSWORD}" "${ODOO_ADMIN_PASSWORD:?set ODOO_ADMIN_PASSWORD}"
umask 077  # the file holds the database password and the master password: its owner's alone
rm -f "${ODOO_RC:?}"
cat > "$ODOO_RC" <<CONF
[options]
data_dir = ${ODOO_DATA_DIR:-/var/lib/odoo}
${ODOO_ADDONS_PATH:+addons_path = $ODOO_ADDONS_PATH}
db_host = ${DB_HOST:-db}
db_port = ${DB_PORT:-5432}
db_user = ${DB_USER:-odoo}
db_password = ${DB_PASSWORD}
db_name = ${ODOO_DB:-smart_dairy}
dbfilter = ^${ODOO_DB:-smart_dairy}\$
; the database manager: closed (list_db), and guarded by a master password anyway
list_db = False
admin_passwd = ${ODOO_ADMIN_PASSWORD}
without_demo = all

[queue_job]
channels = root:${QUEUE_JOB_CHANNEL_CAPACITY:-2}
CONF
exec "$@"
