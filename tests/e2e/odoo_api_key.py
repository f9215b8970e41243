"""Issue an RPC API key for a user, as the user would in Preferences › Account Security.

Run with Odoo importable: python odoo_api_key.py ODOO_CONF DB LOGIN
"""
import datetime
import sys

import odoo
from odoo.modules.registry import Registry
from odoo.tools import config

conf, db, login = sys.argv[1:4]
config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
with Registry(db).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    user = env["res.users"].search([("login", "=", login)])
    tomorrow = datetime.datetime.now() + datetime.timedelta(days=1)
    print(env["res.users.apikeys"].with_user(user)._generate("rpc", "e2e external service", tomorrow))
