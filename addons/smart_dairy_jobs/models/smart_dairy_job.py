import json
import logging
import uuid as uuid_lib

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from celery_bridge.broker import producer
from celery_bridge.core import errors, jobstate, limits
from celery_bridge.core import dispatch_rules
from celery_bridge.core.scrub import scrub

from ..engine import dispatch as dispatch_engine
from ..engine import odoo_side_settings
from ..engine import live, outbox, reaper, writeback

_logger = logging.getLogger(__name__)

ORIGINS = [
    ("ui", "User interface"),
    ("cron", "Scheduled action"),
    ("automation", "Automated action"),
    ("xmlrpc", "External service (XML-RPC)"),
]
# Jobs named in one get_status or cancel call.
MAX_REFS_PER_CALL = limits.MAX_REFS_PER_CALL
MAX_REPORTS_PER_CALL = limits.MAX_REPORTS_PER_CALL


class SmartDairyJob(models.Model):
    """One piece of background work sent to Celery, from dispatch to its result.

    The engine lives outside the ORM: the state machine in ``celery_bridge.core.jobstate``, publishing
    in ``celery_bridge.broker.producer``; this model records jobs and applies workers' reports.
    """

    _name = "smart_dairy.job"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    _description = "Background Job"
    _order = "id desc"
    _check_company_auto = True
    # Every field of a job is the system's: dispatch, the publisher and the workers' reports set them.
    # Jobs managers act on jobs through methods (cancel, terminate, requeue), never by writing them.
    _protected_fields = "__all__"

    uuid = fields.Char(
        string="Task UUID", required=True, readonly=True, index=True, copy=False,
        default=lambda self: str(uuid_lib.uuid4()), help="Chosen by Odoo before sending; the Celery task id.",
    )
    task_type_id = fields.Many2one(
        "smart_dairy.job.task", string="Type of Task", required=True, readonly=True, ondelete="restrict",
        index=True, check_company=True,
    )
    task_name = fields.Char(required=True, readonly=True, index=True)
    queue_id = fields.Many2one(
        "smart_dairy.job.queue", required=True, readonly=True, ondelete="restrict",
        index=True, check_company=True,
    )
    priority = fields.Integer(required=True, default=5, readonly=True)
    state = fields.Selection(
        jobstate.STATES, required=True, default=jobstate.PENDING, readonly=True, index=True, copy=False
    )
    # Raw arguments may hold secrets a task needs: only system administrators read them.
    args_json = fields.Text(string="Arguments (raw)", readonly=True, default="[]", groups="base.group_system")
    kwargs_json = fields.Text(
        string="Keyword Arguments (raw)", readonly=True, default="{}", groups="base.group_system"
    )
    args_display = fields.Text(string="Arguments", compute="_compute_arguments_display")
    kwargs_display = fields.Text(string="Keyword Arguments", compute="_compute_arguments_display")
    attempt = fields.Integer(readonly=True, default=0, help="How many times the job has been sent to a worker.")
    max_retries = fields.Integer(readonly=True, default=0)
    eta = fields.Datetime(string="Planned For", readonly=True, help="Not sent to a worker before this time.")
    date_enqueued = fields.Datetime(string="Enqueued On", readonly=True)
    # Indexed: the alert checks and metrics read the jobs that started or ended in the last minutes.
    date_started = fields.Datetime(string="Started On", readonly=True, index=True)
    date_done = fields.Datetime(string="Finished On", readonly=True, index=True)
    wait_time = fields.Float(string="Wait (s)", readonly=True, digits=(16, 3),
                             help="From enqueued to started, for the attempt that last started.")
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(16, 6), help="Run time of the last attempt.")
    worker_hostname = fields.Char(string="Worker", readonly=True)
    result_json = fields.Text(string="Result", readonly=True)
    error_type = fields.Selection(errors.ERROR_TYPES, readonly=True)
    error_message = fields.Text(readonly=True)
    error_traceback = fields.Text(string="Traceback", readonly=True)
    progress = fields.Integer(readonly=True, default=0)
    progress_message = fields.Char(readonly=True)
    origin = fields.Selection(ORIGINS, required=True, default="ui", readonly=True)
    user_id = fields.Many2one(
        "res.users", string="Requested By", required=True, readonly=True, default=lambda self: self.env.user,
        index=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company, index=True
    )
    retry_count = fields.Integer(readonly=True, default=0, help="Failed attempts that were retried.")
    lease_expires_at = fields.Datetime(
        string="Lease Expires", readonly=True, index=True,
        help="A started job whose worker stops sending heartbeats is taken back after this.",
    )
    attempt_log = fields.Text(readonly=True, default="[]", help="What happened to each attempt (JSON).")
    reaped_attempt = fields.Integer(
        readonly=True, copy=False,
        help="The attempt the reaper last took back because its worker fell silent; a success of that attempt "
             "that ran within its lease still settles the job (jobstate.judge_late_success).")
    reaped_lease_end = fields.Datetime(readonly=True, copy=False,
                                       help="When the lease of the reaped attempt ran out, as far as Odoo knows.")
    held_by_worker = fields.Char(
        readonly=True, copy=False, index="btree_not_null",
        help="The worker whose heartbeats say it holds this enqueued job's message (prefetched): if it stops "
             "beating, the reaper sends the job again.")
    held_attempt = fields.Integer(readonly=True, copy=False, help="The attempt whose message that worker holds.")
    idempotency_key = fields.Char(readonly=True, index=True, copy=False)
    idempotency_expires_at = fields.Datetime(readonly=True)
    original_job_id = fields.Many2one("smart_dairy.job", string="Re-runs Job", readonly=True, index=True)
    schedule_id = fields.Many2one("smart_dairy.job.schedule", readonly=True, index=True, ondelete="set null")
    requeued_from_id = fields.Many2one("smart_dairy.job.dead.letter", readonly=True)
    dead_letter_ids = fields.One2many("smart_dairy.job.dead.letter", "job_id")
    res_model = fields.Char(string="Related Model", readonly=True, index=True)
    res_id = fields.Many2oneReference(string="Related Record ID", model_field="res_model", readonly=True)

    _sql_constraints = [
        ("uuid_unique", "UNIQUE(uuid)", "Two jobs cannot share a task UUID."),
        ("progress_range", "CHECK(progress BETWEEN 0 AND 100)", "Progress must be between 0 and 100."),
        ("priority_range", "CHECK(priority BETWEEN 0 AND 9)", "Job priority must be between 0 and 9."),
        ("idempotency_key_unique", "UNIQUE(idempotency_key)", "Another job holds this idempotency key."),
    ]

    @api.depends("task_name")
    def _compute_display_name(self):
        for job in self:
            job.display_name = f"{job.task_name} #{job.id}" if job.id else job.task_name

    def _compute_arguments_display(self):
        for job, raw in zip(self, self.sudo().read(["args_json", "kwargs_json"])):
            job.args_display = json.dumps(scrub(json.loads(raw["args_json"] or "[]")), indent=1)
            job.kwargs_display = json.dumps(scrub(json.loads(raw["kwargs_json"] or "{}")), indent=1)

    @api.model
    def _settings(self):
        return odoo_side_settings()

    @api.model
    @api.returns("self", lambda job: job.id)
    def dispatch(self, task_name, args=None, kwargs=None, **options):
        """Record a job and send it to Celery once the current transaction commits.

        ``options``: queue, priority (0-9), countdown (seconds) or eta, res_model/res_id of the
        record the job is about, idempotency options, ``depends_on`` (ids of jobs it waits for: it is
        sent once they all succeeded, with their results) and ``on_dependency_failure`` ("cancel" or
        "wait", see dispatch_chain).  The caller must be allowed to dispatch the
        task type (its *May Dispatch* groups); the job runs with the caller's rights, in the
        caller's current company.  Returns the job (its id over XML-RPC).
        """
        # Checked here too: an "origin" among the caller's options must be refused, not collide with ours.
        dispatch_engine.refused(dispatch_rules.check_options, options)
        return self._dispatch(task_name, args, kwargs, origin=self._request_origin(), **options)

    @api.model
    def _dispatch(self, task_name, args=None, kwargs=None, origin=None, **options):
        """:meth:`dispatch` for server code, which names the origin (cron, automation, iot...)."""
        vals = self._prepare_dispatch(task_name, args, kwargs, options, origin)
        return dispatch_engine.create_jobs(self, [vals])

    @api.model
    @api.returns("self", lambda jobs: jobs.ids)
    def dispatch_many(self, requests):
        """Dispatch many jobs at once: ``requests`` is a list (at most ``limits.MAX_DISPATCH_MANY``)
        of dicts with ``task_name`` and optionally ``args``, ``kwargs`` and the options of
        :meth:`dispatch` (idempotency options excepted). One INSERT for all of them, published
        together after commit. Returns the jobs (ids over RPC)."""
        return self._dispatch_many(requests, origin=self._request_origin())

    @api.model
    def _dispatch_many(self, requests, origin=None):
        dispatch_engine.check_many(self, requests)
        vals_list = []
        for request_ in requests:
            options = dict(request_)
            dispatch_engine.check_not_idempotent(self, options)
            vals_list.append(self._prepare_dispatch(
                options.pop("task_name", None), options.pop("args", None), options.pop("kwargs", None), options,
                origin))
        return dispatch_engine.create_jobs(self, vals_list) if vals_list else self.browse()

    @api.model
    def _prepare_dispatch(self, task_name, args, kwargs, options, origin=None, as_parent=False):
        """The checked values of a new job (see engine.dispatch.prepare); addons may extend them.
        ``as_parent``: the parent of dispatch_chunked, the one use of a task type that only groups chunks."""
        return dispatch_engine.prepare(self, task_name, args, kwargs, options, origin, as_parent=as_parent)

    @api.model
    def _decode_json_argument(self, value, expected_type, label):
        """``value`` as JSON arguments of ``expected_type``, or the caller's ValidationError."""
        return dispatch_engine.refused(dispatch_rules.decode_json_argument, value, expected_type, label)

    @api.model
    def _request_origin(self):
        return dispatch_engine.request_origin()

    # ------------------------------------------------------------------ publishing

    def _schedule_publish(self):
        """Jobs due now go out right after commit; later ones get a queue_job sweep at their time."""
        outbox.schedule_publish(self)

    @api.model
    def _publish_ready(self, dbname, ids=None, deadline=None):
        """Send due jobs to the broker in their own transaction (see engine.outbox.publish_ready)."""
        return outbox.publish_ready(dbname, ids=ids, deadline=deadline)

    @api.model
    def _cron_sweep(self):
        """Scheduled action: have queue_job send whatever the after-commit path could not."""
        self.with_delay(
            description="Send pending background jobs", identity_key="smart_dairy_jobs.sweep"
        )._sweep_due()

    def _sweep_due(self):
        sent = self._publish_ready(self.env.cr.dbname)
        if sent:
            _logger.info("Sweeper sent %d pending background job(s)", sent)
        return sent

    # ------------------------------------------------------------------ API for external services

    STATUS_FIELDS = ("uuid", "task_name", "state", "progress", "progress_message", "attempt", "retry_count",
                     "result_json", "error_type", "error_message", "eta", "date_enqueued", "date_started",
                     "date_done", "duration")

    @api.model
    def _jobs_from_refs(self, refs):
        """Jobs named by ids or uuids, as external callers give them; refuses anything else clearly."""
        if isinstance(refs, (int, str)) and not isinstance(refs, bool):
            refs = [refs]
        if not isinstance(refs, (list, tuple)) or not refs or len(refs) > MAX_REFS_PER_CALL:
            raise ValidationError(self.env._("Give a job id or uuid, or a non-empty list of at most %(max)s of them.",
                                             max=MAX_REFS_PER_CALL))
        ids = [ref for ref in refs if isinstance(ref, int) and not isinstance(ref, bool) and 0 < ref < 2**31]
        uuids = [ref for ref in refs if isinstance(ref, str)]
        if len(ids) + len(uuids) != len(refs):
            raise ValidationError(self.env._("Job references must be ids (integers) or uuids (text)."))
        jobs = self.browse(ids)
        if uuids:
            found = self.search([("uuid", "in", uuids)])
            missing = set(uuids) - set(found.mapped("uuid"))
            if missing:
                raise ValidationError(self.env._("No job with uuid %(uuids)s that you may see.",
                                                 uuids=", ".join(sorted(missing))))
            jobs |= found
        existing = jobs.exists()
        if existing != jobs:
            raise ValidationError(self.env._("No job with id %(ids)s.",
                                             ids=", ".join(str(i) for i in sorted(set(jobs.ids) - set(existing.ids)))))
        jobs.check_access("read")
        return jobs

    @api.model
    def get_status(self, job_refs):
        """State, progress, result or error of one or many jobs (ids or uuids)."""
        jobs = self._jobs_from_refs(job_refs)
        return [
            dict({name: job[name] for name in self.STATUS_FIELDS}, id=job.id,
                 **{name: fields.Datetime.to_string(job[name]) for name in
                    ("eta", "date_enqueued", "date_started", "date_done")})
            for job in jobs
        ]

    @api.model
    def cancel(self, job_refs, terminate=False):
        """Cancel jobs not yet running (``terminate``: Jobs managers also stop running ones)."""
        jobs = self._jobs_from_refs(job_refs)
        jobs.action_cancel(terminate=bool(terminate))
        return jobs.ids

    # ------------------------------------------------------------------ user actions

    def action_cancel(self, terminate=False):
        """Cancel jobs not yet running; with ``terminate`` (Jobs managers) also stop running ones."""
        self.check_access("read")  # Jobs users, on jobs of their companies; the rest is checked below
        is_manager = self.env.user.has_group("smart_dairy_jobs.group_manager")
        if terminate and not is_manager:
            raise AccessError(self.env._("Only Jobs managers may terminate running jobs."))
        allowed = jobstate.CANCELLABLE | (jobstate.TERMINABLE if terminate else frozenset())
        for job in self:
            if job.state not in allowed:
                raise UserError(
                    self.env._("Job %(job)s is %(state)s and can no longer be cancelled%(hint)s.",
                               job=job.display_name, state=dict(jobstate.STATES)[job.state],
                               hint="" if terminate or job.state != jobstate.STARTED
                               else self.env._(" (a manager may terminate it)"))
                )
            if not is_manager and job.user_id != self.env.user:
                raise AccessError(self.env._("Only Jobs managers may cancel jobs dispatched by someone else."))
        on_broker = self.filtered(lambda job: job.state == jobstate.ENQUEUED).mapped("uuid")
        running = self.filtered(lambda job: job.state == jobstate.STARTED).mapped("uuid")
        self.sudo().write({"state": jobstate.CANCELLED, "date_done": fields.Datetime.now(), "lease_expires_at": False})
        live.jobs_changed(self)
        self.sudo()._on_finished()
        settings = odoo_side_settings()
        if on_broker:
            self.env.cr.postcommit.add(lambda: producer.revoke(settings, on_broker))
        if running:
            self.env.cr.postcommit.add(lambda: producer.revoke(settings, running, terminate=True))
        return True

    def action_terminate(self):
        return self.action_cancel(terminate=True)

    def action_open_related_record(self):
        """The form of the record the job is about, if the caller may read both."""
        self.ensure_one()
        self.check_access("read")
        if not self.res_model or self.res_model not in self.env or not self.res_id:
            raise UserError(self.env._("Job %(job)s is not about a record.", job=self.display_name))
        self.env[self.res_model].browse(self.res_id).check_access("read")
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------ worker reports

    @api.model
    def bridge_report(self, reports):
        """Apply a batch of worker reports; the bridge's only way to change anything in Odoo.

        Each report names a job by uuid and attempt.  Returns one outcome per report, in order:
        ``{"uuid", "status": applied|ignored|unknown|invalid, "message"}``.  A late or repeated
        report is ignored, never applied backwards.  A failure goes through the task type's retry
        policy: the job is retried when due, or lands in the dead-letter queue.
        """
        if not self.env.user.has_group("smart_dairy_jobs.group_bridge"):
            raise AccessError(self.env._("Only the Celery bridge user may report on jobs."))
        if not isinstance(reports, list):
            raise ValidationError(self.env._("reports must be a list of reports."))
        if len(reports) > MAX_REPORTS_PER_CALL:
            raise ValidationError(self.env._("At most %(count)s reports per call.", count=MAX_REPORTS_PER_CALL))
        return writeback.apply_reports(self, reports)

    def _on_finished(self):
        """Called (as superuser) on jobs that just ended for good: succeeded, failed past their retries,
        or cancelled. Addons override it to act on their tasks' outcomes; keep it cheap and batched.
        The jobs waiting for them (chains, chords, chunked jobs' parents) are judged again here."""
        self._release_dependents()

    # ------------------------------------------------------------------ stuck jobs

    @api.model
    def _cron_reap_stuck_jobs(self):
        """Take back jobs whose worker vanished (lease expired) and resend jobs enqueued for too long."""
        return reaper.reap_stuck_jobs(self)
