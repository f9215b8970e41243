"""Bringing seeded records of an existing database to what a newer version ships, for the addons'
migration scripts (``migrations/<version>/``).

The addons seed their task types in ``noupdate`` data files, so ``-u`` never overwrites what a
dairy changed. A new version's values reach an existing database through its migration scripts:
field by field, only where the record still holds the value first shipped (a value someone chose
stays as it is).
"""
import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def update_unchanged(cr, module, changes):
    """``changes``: xml id name (in ``module``) -> {field: (value shipped before, value shipped now)}."""
    env = api.Environment(cr, SUPERUSER_ID, {"active_test": False})
    for name, fields_ in changes.items():
        record = env.ref(f"{module}.{name}", raise_if_not_found=False)
        if not record:
            continue
        vals = {field: new for field, (old, new) in fields_.items() if (record[field] or False) == (old or False)}
        if vals:
            _logger.info("%s.%s: %s as shipped now", module, name, ", ".join(f"{k} = {v!r}" for k, v in vals.items()))
            record.write(vals)


def adopt(cr, module, name, model, res_id):
    """Give the existing record ``res_id`` the xml id a data file is about to create (the file then leaves
    it alone, ``noupdate``), instead of the file creating a second one that a unique constraint refuses."""
    cr.execute(
        """INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_date, write_date)
           VALUES (%s, %s, %s, %s, TRUE, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
           ON CONFLICT (module, name) DO NOTHING""",
        [module, name, model, res_id],
    )
