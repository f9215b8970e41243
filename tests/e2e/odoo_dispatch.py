"""Dispatch jobs from Odoo code in real transactions: one rolled back, one committed.

Run with Odoo importable: python odoo_dispatch.py ODOO_CONF DB
"""
import json
import sys

import odoo
from odoo.modules.registry import Registry
from odoo.tools import config

conf, db = sys.argv[1:3]
config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
registry = Registry(db)

with registry.cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    rolled_back = env["smart_dairy.job"].dispatch("smart_dairy.health.ping", kwargs={}).uuid
    cr.rollback()

with registry.cursor() as cr:  # leaving the block commits, which publishes
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    committed = env["smart_dairy.job"].dispatch("smart_dairy.health.ping").uuid

print(json.dumps({"rolled_back": rolled_back, "committed": committed}))
