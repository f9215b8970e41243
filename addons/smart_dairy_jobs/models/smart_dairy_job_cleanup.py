# One file per concern of smart_dairy.job (chunks, files, cleanup), on purpose: not merged.
# pylint: disable=consider-merging-classes-inherited
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from celery_bridge.core import jobstate

CLEANUP_KINDS = ("jobs", "dead_letters")
CLEANUP_TASK = "smart_dairy.maintenance.cleanup_old_data"
MAX_CLEANUP_BATCH = 10000


class SmartDairyJob(models.Model):
    """The cleanup of old jobs and dead letters, a batch at a time, for the maintenance task."""

    _inherit = "smart_dairy.job"

    @api.model
    def _cleanup_batch(self, uuid, kind, days_to_keep, limit=1000):
        """Delete one batch of old records of the company of the cleanup job ``uuid`` (the maintenance
        task calls this until it returns less than ``limit``): ``jobs`` finished more than
        ``days_to_keep`` days ago, except those an open dead letter points to and chunks of an
        unfinished parent; ``dead_letters`` settled (requeued, resolved, discarded) that long ago.
        Short transactions, no long locks. Returns the count. Asked by the bridge (smart_dairy.job.bridge),
        for a running job."""
        if kind not in CLEANUP_KINDS:
            raise ValidationError(self.env._("kind must be one of %(kinds)s.", kinds=", ".join(CLEANUP_KINDS)))
        if not isinstance(days_to_keep, int) or isinstance(days_to_keep, bool) or days_to_keep < 1:
            raise ValidationError(self.env._("days_to_keep must be a positive whole number."))
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_CLEANUP_BATCH:
            raise ValidationError(self.env._("limit must be from 1 to %(max)s.", max=MAX_CLEANUP_BATCH))
        # sudo: the bridge reads no job by itself; the running cleanup job tells whose data may go.
        job = self.sudo().search([("uuid", "=", uuid), ("state", "in", [jobstate.ENQUEUED, jobstate.STARTED])],
                                 limit=1) if isinstance(uuid, str) else None
        if not job or job.task_name != CLEANUP_TASK:
            raise ValidationError(self.env._("No running cleanup job with uuid %(uuid)s.", uuid=uuid))
        company = job.company_id
        cutoff = fields.Datetime.now() - timedelta(days=days_to_keep)
        if kind == "dead_letters":
            old = self.env["smart_dairy.job.dead.letter"].sudo().search(
                [("company_id", "=", company.id), ("state", "!=", "new"), ("write_date", "<", cutoff)], limit=limit)
        else:
            old = self.sudo().with_context(active_test=False).search([
                ("company_id", "=", company.id),
                ("state", "in", list(jobstate.TERMINAL)), ("date_done", "<", cutoff),
                ("dead_letter_ids", "not any", [("state", "=", "new")]),
                ("dependent_ids", "not any", [("state", "=", jobstate.WAITING)]),  # still waited for
                "|", ("parent_id", "=", False), ("parent_id.state", "in", list(jobstate.TERMINAL)),
            ], limit=limit)
        count = len(old)
        old.unlink()
        return count
