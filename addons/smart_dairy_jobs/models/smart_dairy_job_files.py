# One file per concern of smart_dairy.job (chunks, files, cleanup), on purpose: not merged.
# pylint: disable=consider-merging-classes-inherited
from odoo import api, fields, models


class SmartDairyJob(models.Model):
    """Files a job produces (reports, exports). The worker that made one sends it as a file report
    (celery_bridge.core.worker_reports.file_report) through the ordered report spool, so it lands after the
    job's "started" report; engine.writeback.attach_reported_file attaches it (at most
    celery_bridge.core.worker_reports.MAX_FILE_BYTES)."""

    _inherit = "smart_dairy.job"

    attachment_ids = fields.One2many(
        "ir.attachment", "res_id", string="Files", domain=[("res_model", "=", "smart_dairy.job")], readonly=True)
    attachment_count = fields.Integer(string="Number of Files", compute="_compute_attachment_count")

    @api.depends("attachment_ids")
    def _compute_attachment_count(self):
        for job in self:
            job.attachment_count = len(job.attachment_ids)
