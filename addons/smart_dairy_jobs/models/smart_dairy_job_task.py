from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import errors, external_services, protocol, schemas, windows
from celery_bridge.broker import producer
from celery_bridge.core import idempotency as idempotency_keys
from celery_bridge.core import rates

from .smart_dairy_job_queue import PRIORITY_HELP

CATEGORIES = [
    ("diagnostic", "Diagnostic"),
    ("iot", "IoT Processing"),
    ("email", "Email Notifications"),
    ("sms", "SMS Notifications"),
    ("report", "Report Generation"),
    ("payment", "Payment Processing"),
    ("sync", "Data Sync"),
    ("image", "Image Processing"),
    ("aggregation", "Daily Aggregation"),
    ("maintenance", "Maintenance"),
]


class SmartDairyJobTask(models.Model):
    """A kind of background work a worker knows, with its queue and limits (B-009 §3.1)."""

    _name = "smart_dairy.job.task"
    _inherit = ["smart_dairy.job.lookup.mixin"]
    _description = "Background Job Task Type"
    _order = "category, name"
    _check_company_auto = True

    name = fields.Char(string="Task Name", required=True, help="Celery task name, e.g. smart_dairy.health.ping")
    description = fields.Char()
    category = fields.Selection(CATEGORIES, required=True, default="diagnostic")
    queue_id = fields.Many2one(
        "smart_dairy.job.queue", required=True, ondelete="restrict", check_company=True
    )
    priority = fields.Integer(default=5, required=True, help=PRIORITY_HELP)
    soft_time_limit = fields.Integer(
        string="Soft Time Limit (s)", required=True, default=55,
        help="The task is warned and may clean up when this runs out.",
    )
    time_limit = fields.Integer(
        string="Hard Time Limit (s)", required=True, default=60, help="The task is killed when this runs out."
    )
    # The retry policy as data, Celery's task options by their names (B-009 §2.2, §3.1, §3.2, §6.1).
    max_retries = fields.Integer(
        required=True, default=errors.DEFAULT_MAX_RETRIES,
        help="No error class is retried more often than this (B-009 §3.1).",
    )
    retry_backoff_base = fields.Float(
        string="Retry Delay (s)", default=errors.DEFAULT_RETRY_DELAY, required=True,
        help="Celery's default_retry_delay (B-009 §2.2: 60 s). With exponential backoff, retry n waits a "
             "random time up to this × 2^(n-1) (full jitter); without, exactly this.",
    )
    retry_backoff = fields.Boolean(
        string="Exponential Backoff", default=True,
        help="Celery's retry_backoff. Off: every retry waits the retry delay (SMTP: retry after 60 s).",
    )
    retry_backoff_max = fields.Float(
        string="Backoff Cap (s)", default=errors.BACKOFF_MAX, required=True,
        help="The longest any retry waits, a Retry-After asked for by the service included (B-009 §2.2: 600 s).",
    )
    retry_rule_ids = fields.One2many(
        "smart_dairy.job.task.retry.rule", "task_id", string="Retry Rules",
        help="Per error class overrides of the B-009 §6.1 retry policy.",
    )
    lease_seconds = fields.Integer(
        string="Lease (s)", default=protocol.DEFAULT_LEASE, required=True,
        help="A started job whose worker has not sent a heartbeat for this long is considered lost.",
    )
    enqueued_timeout = fields.Integer(
        string="Enqueued Timeout (s)", default=3600, required=True,
        help="A job enqueued for longer than this is sent again (its message may have been lost).",
    )
    idempotency = fields.Selection(
        [("none", "None")] + idempotency_keys.SCOPES, default="none", required=True,
        help="Dispatching the same task with the same arguments within the TTL returns the first job.",
    )
    idempotency_ttl = fields.Integer(string="Idempotency TTL (s)", default=idempotency_keys.DEFAULT_TTL, required=True)
    window_active = fields.Boolean(
        string="Time Window", help="Start jobs of this type only on these weekdays and hours (company timezone).",
    )
    window_weekdays = fields.Char(
        string="Weekdays", default="0,1,2,3,4,5,6", help="Weekday numbers, 0 = Monday … 6 = Sunday, e.g. 0,1,2,3,4.",
    )
    window_start = fields.Float(string="From", default=22.0, help="Hour the window opens, e.g. 22:00.")
    window_end = fields.Float(string="Until", default=5.0, help="Hour it closes; before the start means next day.")
    rate_limit = fields.Char(
        string="Rate Limit (all workers)",
        help="At most this many jobs of this type start per second, minute or hour (100/m, 10/s, 500/h), "
             "counted for the whole dairy: however many workers run them, all of them together. Jobs over "
             "the limit wait in Odoo (Waiting to retry, their Attempts saying 'global rate limit') without "
             "using up their retries. Each worker also keeps it as its own cap. Changed live.",
    )
    external_service = fields.Char(
        help="The external service this task calls; its circuit breaker guards the task. An argument's name "
             "in braces gives each value its own circuit, e.g. payment.{gateway} -> payment.bkash.",
    )
    active = fields.Boolean(
        default=True, help="Inactive task types cannot be dispatched (e.g. no worker implements them yet)."
    )
    parent_only = fields.Boolean(
        string="Groups Chunks Only",
        help="No worker runs it: it only names the parent job of dispatch_chunked, whose chunks are jobs of "
             "another task type (a bulk mailing and its batches). Dispatching it any other way is refused.",
    )
    compression = fields.Selection(
        [("queue", "As its queue"), ("none", "None"), ("gzip", "gzip")], default="queue", required=True,
        help="Compress its messages on the broker (B-009 §8.1): gzip pays for large arguments (reports, "
             "bulk readings), costs a little CPU on both sides for small ones. Workers decompress as they "
             "receive.",
    )
    company_id = fields.Many2one("res.company", help="Leave empty to share the task type with every company.")
    group_ids = fields.Many2many(
        "res.groups", "smart_dairy_job_task_dispatch_group_rel", "task_id", "group_id", string="May Dispatch",
        help="Who may start jobs of this type, from any origin (user interface, XML-RPC, automated action, "
             "schedule): members of any of these groups. Empty: Jobs users.",
    )

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A task type with this name already exists."),
        ("priority_range", "CHECK(priority BETWEEN 0 AND 9)", "Task priority must be between 0 and 9."),
        ("max_retries_positive", "CHECK(max_retries >= 0)", "Max retries cannot be negative."),
        ("backoff_positive", "CHECK(retry_backoff_base > 0 AND retry_backoff_max > 0)",
         "Backoff base and cap must be positive."),
        ("lease_positive", "CHECK(lease_seconds > 0 AND enqueued_timeout > 0)",
         "Lease and enqueued timeout must be positive."),
        ("idempotency_ttl_positive", "CHECK(idempotency_ttl > 0)", "The idempotency TTL must be positive."),
    ]

    @api.constrains("window_active", "window_weekdays", "window_start", "window_end")
    def _check_window(self):
        for task in self.filtered("window_active"):
            try:
                days = task._window_weekdays()
            except ValueError:
                days = None
            if not days:
                raise ValidationError(self.env._(
                    "Weekdays of %(task)s must be numbers from 0 (Monday) to 6 (Sunday), e.g. 0,1,2,3,4.",
                    task=task.name))
            if not (0 <= task.window_start < 24 and 0 <= task.window_end <= 24) or task.window_start == task.window_end:
                raise ValidationError(self.env._("The time window of %(task)s needs two different hours of the day.",
                                                 task=task.name))

    @api.constrains("external_service")
    def _check_external_service(self):
        for task in self.filtered("external_service"):
            try:
                names = external_services.placeholders(task.external_service)
            except ValueError as exc:
                raise ValidationError(self.env._("External service of %(task)s: %(error)s", task=task.name,
                                                 error=exc)) from None
            unknown = set(names) - set(((schemas.schema_of(task.name) or {}).get("properties", {})
                                        .get("kwargs", {}).get("properties", {})))
            if unknown:
                raise ValidationError(self.env._(
                    "External service of %(task)s names %(names)s, which is not an argument of the task.",
                    task=task.name, names=", ".join(sorted(unknown))))

    @api.constrains("rate_limit")
    def _check_rate_limit(self):
        for task in self.filtered("rate_limit"):
            try:
                rates.parse_rate(task.rate_limit)
            except ValueError as exc:
                raise ValidationError(self.env._(
                    "Rate limit of %(task)s must look like 100/m, 10/s or 500/h: %(problem)s",
                    task=task.name, problem=exc)) from None

    # Who may start a task: its May Dispatch groups, its company and the name the dispatch finds it by.
    # A Jobs manager who could change them (or create or delete task types) could grant themselves the
    # diagnostics, or rename a task and recreate it without groups: system administrators only.
    RIGHTS_FIELDS = ("name", "group_ids", "company_id")

    def _check_may_change_rights(self, what):
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(self.env._(
                "Only system administrators may %(what)s: it decides who may start which background jobs.",
                what=what))

    @api.model_create_multi
    def create(self, vals_list):
        self._check_may_change_rights(self.env._("create task types"))
        return super().create(vals_list)

    def unlink(self):
        self._check_may_change_rights(self.env._("delete task types (archive them instead)"))
        return super().unlink()

    def write(self, vals):
        touched = set(self.RIGHTS_FIELDS) & set(vals)
        if touched:
            self._check_may_change_rights(self.env._("change %(fields)s of a task type", fields=", ".join(
                self._fields[name].string for name in sorted(touched))))
        result = super().write(vals)
        if "rate_limit" in vals:
            settings = self.env["smart_dairy.job"]._settings()
            changes = [(task.name, (task.rate_limit or "").strip()) for task in self]
            self.env.cr.postcommit.add(
                lambda: [producer.set_rate_limit(settings, name, rate) for name, rate in changes])
        return result

    def _check_may_dispatch(self, user, company):
        """Refuse unless ``user`` may start jobs of this type for ``company`` (checked at every dispatch)."""
        self.ensure_one()
        if user._is_superuser():
            return
        task = self.sudo()  # reading the task's rule, not acting on it
        if task.company_id and task.company_id != company:
            raise AccessError(self.env._("Task %(task)s belongs to another company.", task=task.name))
        allowed = task.group_ids or self.env.ref("smart_dairy_jobs.group_user")
        if not set(allowed.ids) & set(user.sudo().groups_id.ids):
            raise AccessError(self.env._(
                "%(user)s may not start %(task)s jobs: they are for %(groups)s.",
                user=user.name, task=task.name, groups=", ".join(allowed.mapped("full_name"))))

    def _window_weekdays(self):
        days = {int(part) for part in (self.window_weekdays or "").split(",") if part.strip()}
        if any(day not in range(7) for day in days):
            raise ValueError("weekday out of range")
        return days

    def _window_opening(self, at, company):
        """The first time at or after ``at`` (naive UTC) this task type may start, for ``company``."""
        self.ensure_one()
        if not self.window_active:
            return at
        return windows.next_allowed(at, company.partner_id.tz or "UTC", self._window_weekdays(),
                                    self.window_start, self.window_end)

    def _retry_policy(self):
        self.ensure_one()
        return errors.RetryPolicy(
            max_retries=self.max_retries,
            backoff_base=self.retry_backoff_base,
            backoff_max=self.retry_backoff_max,
            exponential=self.retry_backoff,
            overrides={
                rule.error_type: errors.Policy(rule.strategy, rule.max_retries, rule.delay)
                for rule in self.retry_rule_ids
            },
        )

    @api.constrains("soft_time_limit", "time_limit")
    def _check_time_limits(self):
        for task in self:
            if task.soft_time_limit <= 0 or task.time_limit <= 0:
                raise ValidationError(self.env._("Time limits of %s must be positive.", task.name))
            if task.soft_time_limit > task.time_limit:
                raise ValidationError(
                    self.env._("The soft time limit of %s cannot exceed its hard time limit.", task.name)
                )
