from odoo import api, fields, models
from odoo.exceptions import AccessError

BRIDGE_KEY_NAME = "Celery bridge"


class SmartDairyJobBridgeKey(models.TransientModel):
    """Issue the API key the Celery workers log in with, shown once, like Odoo's own key wizard."""

    _name = "smart_dairy.job.bridge.key"
    _description = "Issue the Celery Bridge API Key"

    user_id = fields.Many2one(
        "res.users", string="Bridge User", readonly=True,
        default=lambda self: self.env.ref("smart_dairy_jobs.user_bridge", raise_if_not_found=False),
    )
    revoke_existing = fields.Boolean(
        string="Revoke Previous Keys", default=True,
        help="Workers still using an older key stop being able to report until they get the new one.",
    )
    key = fields.Char(string="API Key", readonly=True, copy=False)

    @api.model
    def _bridge_user(self):
        return self.env.ref("smart_dairy_jobs.user_bridge")

    def action_issue_key(self):
        self.ensure_one()
        # The key lets its holder report on the jobs of every company (and revokes the workers' key):
        # system administrators only, whoever may open the wizard.
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(self.env._("Only system administrators may issue the Celery bridge's API key."))
        bridge = self._bridge_user()
        ApiKeys = self.env["res.users.apikeys"].sudo()
        if self.revoke_existing:
            ApiKeys.search([("user_id", "=", bridge.id)])._remove()
        # Generated as the bridge user so the key is the bridge's; sudo allows a key that never expires.
        self.key = ApiKeys.with_user(bridge).sudo()._generate("rpc", BRIDGE_KEY_NAME, None)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Celery Bridge API Key"),
        }
