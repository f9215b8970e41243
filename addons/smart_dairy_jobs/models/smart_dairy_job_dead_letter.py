import json

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from celery_bridge.core import errors, limits
from celery_bridge.core.scrub import scrub

STATES = [("new", "New"), ("requeued", "Requeued"), ("resolved", "Resolved"), ("discarded", "Discarded")]


class SmartDairyJobDeadLetter(models.Model):
    """A job that failed for good: kept for an admin to inspect, fix and requeue, resolve or discard."""

    _name = "smart_dairy.job.dead.letter"
    _inherit = ["mail.thread", "mail.activity.mixin", "smart_dairy.protected.fields.mixin"]
    _description = "Dead-Letter Entry"
    _order = "failed_at desc, id desc"
    _check_company_auto = True
    # What failed, and what became of it, is the system's record: managers act through requeue, resolve
    # and discard, and may only write the note.
    _protected_fields = ("job_id", "task_type_id", "task_name", "queue_id", "args_display", "kwargs_display",
                         "error_type", "error_message", "error_traceback", "attempts", "failed_at", "state",
                         "requeued_job_id", "company_id")

    job_id = fields.Many2one("smart_dairy.job", required=True, readonly=True, ondelete="cascade", index=True,
                             check_company=True)
    task_type_id = fields.Many2one(related="job_id.task_type_id", store=True, string="Type of Task")
    task_name = fields.Char(required=True, readonly=True, index=True)
    queue_id = fields.Many2one(related="job_id.queue_id", store=True)
    args_display = fields.Text(string="Arguments", readonly=True, help="Secrets are masked.")
    kwargs_display = fields.Text(string="Keyword Arguments", readonly=True, help="Secrets are masked.")
    error_type = fields.Selection(errors.ERROR_TYPES, readonly=True)
    error_message = fields.Text(readonly=True)
    error_traceback = fields.Text(string="Traceback", readonly=True)
    attempts = fields.Integer(readonly=True)
    failed_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    state = fields.Selection(STATES, required=True, default="new", tracking=True, index=True)
    note = fields.Text(tracking=True)
    requeued_job_id = fields.Many2one("smart_dairy.job", string="Requeued As", readonly=True, copy=False)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)

    @api.depends("task_name", "failed_at")
    def _compute_display_name(self):
        for entry in self:
            entry.display_name = f"{entry.task_name} ({entry.job_id.uuid or ''})"

    @api.model
    def _create_for_jobs(self, jobs):
        """One entry per job that failed for good; then ``_alert_failed_for_good`` tells whoever must know at once."""
        raw = {row["id"]: row for row in jobs.sudo().read(["args_json", "kwargs_json"])}
        entries = self.sudo().create([
            {
                "job_id": job.id,
                "task_name": job.task_name,
                "args_display": json.dumps(scrub(json.loads(raw[job.id]["args_json"] or "[]")), indent=1),
                "kwargs_display": json.dumps(scrub(json.loads(raw[job.id]["kwargs_json"] or "{}")), indent=1),
                "error_type": job.error_type,
                "error_message": job.error_message,
                "error_traceback": job.error_traceback,
                "attempts": job.attempt,
                "failed_at": job.date_done or fields.Datetime.now(),
                "company_id": job.company_id.id,
            }
            for job in jobs
        ])
        entries._alert_failed_for_good()
        return entries

    def _alert_failed_for_good(self):
        """Hook for the addon that owns a task type: alert whoever must hear at once that its jobs failed
        for good (smart_dairy_operations: Jobs managers, of failed payments). Nobody by default."""

    # ------------------------------------------------------------------ API for external services

    @api.model
    def list_dead_letters(self, state="new", limit=80, offset=0):
        """Dead letters the caller may see, newest first (``state`` False: all of them)."""
        if state and (not isinstance(state, str) or state not in dict(STATES)):
            raise ValidationError(self.env._("state must be one of %(states)s.", states=", ".join(dict(STATES))))
        for name, value in (("limit", limit), ("offset", offset)):
            if (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31
                    or (name == "limit" and not value)):
                raise ValidationError(self.env._("%(name)s must be a positive whole number.", name=name))
        domain = [("state", "=", state)] if state else []
        return self.search_read(domain, ["job_id", "task_name", "error_type", "error_message", "attempts",
                                         "failed_at", "state", "args_display", "kwargs_display"],
                                limit=min(limit, 1000), offset=offset)

    @api.model
    def requeue(self, entry_ids):
        """Requeue dead letters (Jobs managers); returns the new jobs' ids in the same order."""
        self._check_may_handle()
        if isinstance(entry_ids, int) and not isinstance(entry_ids, bool):
            entry_ids = [entry_ids]
        if not isinstance(entry_ids, list) or not entry_ids or len(entry_ids) > limits.MAX_DISPATCH_MANY or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in entry_ids):
            raise ValidationError(self.env._("Give a dead-letter id or a non-empty list of at most %(max)s of them.",
                                             max=limits.MAX_DISPATCH_MANY))
        entries = self.browse(entry_ids)
        missing = set(entries.ids) - set(entries.exists().ids)
        if missing:
            raise ValidationError(self.env._("No dead letter with id %(ids)s.",
                                             ids=", ".join(map(str, sorted(missing)))))
        entries.check_access("write")
        entries.action_requeue()
        return [entry.requeued_job_id.id for entry in entries]

    def _check_may_handle(self):
        """Requeue, resolve and discard are for Jobs managers, on dead letters of their companies."""
        if not self.env.su and not self.env.user.has_group("smart_dairy_jobs.group_manager"):
            raise AccessError(self.env._("Only Jobs managers may handle dead letters."))
        self.check_access("write")

    def _check_open(self):
        closed = self.filtered(lambda entry: entry.state != "new")
        if closed:
            raise UserError(self.env._("Only new dead letters can be handled; %(names)s already were.",
                                       names=", ".join(closed.mapped("display_name"))))

    def action_requeue(self):
        """Dispatch each entry's job again, as a new job linked to the entry and the original, which the jobs
        still waiting for the original then wait for. It is a dispatch by the caller: their right to start
        the task is checked, in the entry's company."""
        self._check_may_handle()
        self._check_open()
        for entry in self:
            # sudo: the raw arguments (hidden from Jobs users) go from the failed job to its new one unchanged.
            original = entry.job_id.sudo()
            new_job = self.env["smart_dairy.job"].with_company(original.company_id)._dispatch(
                original.task_name,
                args=json.loads(original.args_json or "[]"),
                kwargs=json.loads(original.kwargs_json or "{}"),
                queue=original.queue_id.name,
                priority=original.priority,
                origin=original.origin,
                **({"res_model": original.res_model, "res_id": original.res_id} if original.res_model else {}),
            )
            new_job.sudo().write({"original_job_id": original.id, "requeued_from_id": entry.id})
            original._hand_dependents_to(new_job)  # jobs waiting for the failed one (rule "wait") go on with it
            entry._system_write({"state": "requeued", "requeued_job_id": new_job.id})
        return True

    def action_discard(self):
        self._check_may_handle()
        self._check_open()
        self._system_write({"state": "discarded"})
        return True

    def action_open_resolve_wizard(self):
        self._check_may_handle()
        self._check_open()
        return {
            "type": "ir.actions.act_window",
            "res_model": "smart_dairy.job.dead.letter.resolve",
            "view_mode": "form",
            "target": "new",
            "context": {"active_ids": self.ids, "active_model": self._name},
            "name": self.env._("Resolve Dead Letters"),
        }

    def _resolve(self, note):
        self._check_may_handle()
        self._check_open()
        if not isinstance(note, str) or not note.strip():
            raise ValidationError(self.env._("Say what was done about it: a note is required."))
        self._system_write({"state": "resolved", "note": note})
        return True
