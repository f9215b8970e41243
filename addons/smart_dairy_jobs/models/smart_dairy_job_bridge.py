from odoo import api, models
from odoo.exceptions import AccessError


class SmartDairyJobBridge(models.AbstractModel):
    """The questions a worker asks Odoo, in one place (celery_bridge.core.bridge_api.QUESTIONS lists
    their names; ``OdooClient.ask`` calls nothing else). Each method checks that the caller is the
    bridge user, then answers through the model that owns the data. Business addons ``_inherit``
    this model to add theirs. What a worker tells Odoo is not here: it is a report (bridge_report)."""

    _name = "smart_dairy.job.bridge"
    _description = "Celery Bridge API"

    @api.model
    def _check_bridge_user(self):
        if not self.env.user.has_group("smart_dairy_jobs.group_bridge"):
            raise AccessError(self.env._("Only the Celery bridge user may ask this."))

    @api.model
    def bridge_heartbeat(self, info):
        """A worker's heartbeat; answers which queues are paused (see smart_dairy.job.worker)."""
        self._check_bridge_user()
        return self.env["smart_dairy.job.worker"]._bridge_heartbeat(info)

    @api.model
    def cleanup_batch(self, uuid, kind, days_to_keep, limit=1000):
        """Delete one batch of old jobs or dead letters of the running cleanup job's company."""
        self._check_bridge_user()
        return self.env["smart_dairy.job"]._cleanup_batch(uuid, kind, days_to_keep, limit)
