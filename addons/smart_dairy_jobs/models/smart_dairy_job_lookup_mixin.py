from odoo import api, models, tools


class SmartDairyJobLookupMixin(models.AbstractModel):
    """Name → id lookups cached per registry, because every dispatch resolves a task and a queue."""

    _name = "smart_dairy.job.lookup.mixin"
    _description = "Cached lookup by name"

    @api.model
    @tools.ormcache("self._name", "name")
    def _id_by_name(self, name):
        return self.sudo().with_context(active_test=True).search([("name", "=", name)], limit=1).id

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()
