import json
import logging
import math
import threading
import time
import uuid as uuid_lib
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg2.errors
from psycopg2 import errorcodes

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request
from odoo.modules.registry import Registry
from odoo.tools import config

from celery_bridge.core import errors, idempotency, jobstate, limits, reports, schemas
from celery_bridge.broker import producer
from celery_bridge.core.config import load_settings
from celery_bridge.core.scrub import scrub

_logger = logging.getLogger(__name__)

ORIGINS = [
    ("ui", "User interface"),
    ("cron", "Scheduled action"),
    ("automation", "Automated action"),
    ("xmlrpc", "External service (XML-RPC)"),
]
# What a caller may ask of a dispatch. Not the origin: the server tells it (see _dispatch_origin).
DISPATCH_OPTIONS = (
    "queue", "priority", "countdown", "eta", "res_model", "res_id",
    "idempotency_key", "idempotent", "idempotency_scope",
)
PUBLISH_BATCH = 500
# Jobs named in one get_status or cancel call.
MAX_REFS_PER_CALL = limits.MAX_REFS_PER_CALL
MAX_REPORTS_PER_CALL = limits.MAX_REPORTS_PER_CALL
POSTCOMMIT_KEY = "smart_dairy_jobs.publish_ids"


class IdempotencyKeyRace(psycopg2.errors.SerializationFailure):
    """A concurrent transaction took the key and has not shown us its job yet.

    As a serialization failure, Odoo retries the whole call, which then finds that job.
    """

    pgcode = errorcodes.SERIALIZATION_FAILURE


def odoo_side_settings():
    """Broker settings for Odoo: environment first, then odoo.conf's [smart_dairy_jobs] section."""
    return load_settings(section=config.misc.get("smart_dairy_jobs", {}))


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
    date_started = fields.Datetime(string="Started On", readonly=True)
    date_done = fields.Datetime(string="Finished On", readonly=True)
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

    # ------------------------------------------------------------------ dispatch

    @api.model
    @api.returns("self", lambda job: job.id)
    def dispatch(self, task_name, args=None, kwargs=None, **options):
        """Record a job and send it to Celery once the current transaction commits.

        ``options``: queue, priority (0-9), countdown (seconds) or eta, res_model/res_id of the
        record the job is about, idempotency options.  The caller must be allowed to dispatch the
        task type (its *May Dispatch* groups); the job runs with the caller's rights, in the
        caller's current company.  Returns the job (its id over XML-RPC).
        """
        # Checked here too: an "origin" among the caller's options must be refused, not collide with ours.
        self._check_dispatch_options(options)
        return self._dispatch(task_name, args, kwargs, origin=self._request_origin(), **options)

    @api.model
    def _dispatch(self, task_name, args=None, kwargs=None, origin=None, **options):
        """:meth:`dispatch` for server code, which names the origin (cron, automation, iot...)."""
        vals = self._prepare_dispatch(task_name, args, kwargs, options, origin)
        key = vals.get("idempotency_key")
        # sudo: the caller's right to start this task was checked in _prepare_dispatch, and the values
        # are ours; the job table itself is not writable by Jobs users.
        if not key:
            job = self.sudo().create(vals)
        else:
            job = self._job_holding_key(key)
            if job:
                return job.with_env(self.env)
            try:
                with self.env.cr.savepoint():
                    job = self.sudo().create(vals)
            except psycopg2.errors.UniqueViolation:
                # The unique index, not a search, decides who wins a race for the key.
                job = self._job_holding_key(key)
                if not job:
                    raise IdempotencyKeyRace("idempotency key %s taken by a concurrent dispatch" % key) from None
                return job.with_env(self.env)
        job._schedule_publish()
        return job.with_env(self.env)

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
        if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
            raise ValidationError(self.env._("requests must be a list of dicts, each with a task_name."))
        if len(requests) > limits.MAX_DISPATCH_MANY:
            raise ValidationError(self.env._("At most %(max)s jobs per call, not %(count)s.",
                                             max=limits.MAX_DISPATCH_MANY, count=len(requests)))
        vals_list = []
        for request_ in requests:
            options = dict(request_)
            if {"idempotency_key", "idempotent", "idempotency_scope"} & set(options):
                raise ValidationError(self.env._("Idempotent jobs are dispatched one by one, with dispatch()."))
            vals_list.append(self._prepare_dispatch(
                options.pop("task_name", None), options.pop("args", None), options.pop("kwargs", None), options,
                origin))
        # sudo: every request was checked in _prepare_dispatch (see _dispatch).
        jobs = self.sudo().create(vals_list)
        jobs._schedule_publish()
        return jobs.with_env(self.env)

    @api.model
    def _job_holding_key(self, key):
        """The job holding an idempotency key, after freeing the key if its TTL has run out."""
        self.env["smart_dairy.job"].flush_model(["idempotency_key", "idempotency_expires_at"])
        self.env.cr.execute(
            """UPDATE smart_dairy_job SET idempotency_key = NULL
                WHERE idempotency_key = %s AND idempotency_expires_at < now() AT TIME ZONE 'UTC'""",
            [key],
        )
        if self.env.cr.rowcount:
            self.env["smart_dairy.job"].invalidate_model(["idempotency_key"])
        return self.sudo().with_context(active_test=False).search([("idempotency_key", "=", key)], limit=1)

    @api.model
    def _prepare_dispatch(self, task_name, args, kwargs, options, origin=None):
        """The values of a new job, after every check a dispatch goes through, whatever its origin:
        known options, the caller's right to start the task type, the task's argument schema and the
        limits of celery_bridge.core.limits. Raises before anything is written."""
        self._check_dispatch_options(options)
        if not isinstance(task_name, str) or not task_name or len(task_name) > limits.MAX_NAME_LENGTH:
            raise ValidationError(self.env._("The task name must be a non-empty string."))
        Task = self.env["smart_dairy.job.task"]
        task = Task.browse(Task._id_by_name(task_name)).sudo()
        if not task:
            raise ValidationError(
                self.env._("Unknown task %(name)r: no active task type has that name (Jobs › Configuration › Task Types).",
                  name=task_name)
            )
        task._check_may_dispatch(self.env.user, self.env.company)
        args = self._decode_json_argument(args, list, "args")
        kwargs = self._decode_json_argument(kwargs, dict, "kwargs")
        if any(not isinstance(key, str) for key in kwargs):
            raise ValidationError(self.env._("The keys of kwargs must be strings."))
        try:
            schemas.check_call(task.name, args, kwargs)
        except schemas.ArgumentError as exc:
            raise ValidationError(self.env._("Arguments of %(task)s refused: %(reason)s", task=task.name,
                                             reason=exc)) from None
        queue = task.queue_id
        if options.get("queue") not in (None, False, ""):
            if not isinstance(options["queue"], str) or len(options["queue"]) > limits.MAX_NAME_LENGTH:
                raise ValidationError(self.env._("queue must be the name of a queue, such as celery:high."))
            Queue = self.env["smart_dairy.job.queue"]
            queue = Queue.browse(Queue._id_by_name(options["queue"])).sudo()
            if not queue:
                known = ", ".join(Queue.sudo().search([], limit=50).mapped("name"))
                raise ValidationError(
                    self.env._("Queue %(queue)r does not exist. Known queues: %(known)s.", queue=options["queue"], known=known)
                )
        priority = options.get("priority", task.priority)
        if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 9:
            raise ValidationError(self.env._("Priority must be a whole number from 0 (first) to 9 (last)."))
        vals = {
            "task_type_id": task.id,
            "task_name": task.name,
            "queue_id": queue.id,
            "priority": priority,
            "args_json": json.dumps(args),
            "kwargs_json": json.dumps(kwargs),
            "max_retries": task.max_retries,
            "eta": self._dispatch_eta(options.get("countdown"), options.get("eta"), task),
            "origin": self._dispatch_origin(origin),
            "user_id": self.env.uid,
            "company_id": self.env.company.id,
        }
        vals.update(self._dispatch_related_record(options.get("res_model"), options.get("res_id")))
        vals.update(self._dispatch_idempotency(task, args, kwargs, options))
        return vals

    @api.model
    def _check_dispatch_options(self, options):
        unknown = sorted(set(options) - set(DISPATCH_OPTIONS))
        if unknown:
            raise ValidationError(
                self.env._("Unknown dispatch option(s): %(unknown)s. Known options: %(known)s.",
                           unknown=", ".join(map(str, unknown))[:200], known=", ".join(DISPATCH_OPTIONS))
            )

    @api.model
    def _dispatch_idempotency(self, task, args, kwargs, options):
        explicit_key = options.get("idempotency_key")
        wanted = options.get("idempotent")
        if wanted is None:
            wanted = bool(explicit_key) or task.idempotency != "none"
        if not wanted and not explicit_key:
            return {}
        if explicit_key is not None and (not isinstance(explicit_key, str) or not explicit_key.strip()):
            raise ValidationError(self.env._("idempotency_key must be a non-empty string."))
        if explicit_key and len(explicit_key) > limits.MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValidationError(self.env._("idempotency_key may have at most %(max)s characters.",
                                             max=limits.MAX_IDEMPOTENCY_KEY_LENGTH))
        # Every scope lives inside the job's company and task (idempotency.make_key): "global" means
        # every user of the company, never another company's jobs.
        scope = options.get("idempotency_scope") or (task.idempotency if task.idempotency != "none" else "global")
        if not isinstance(scope, str):
            raise ValidationError(self.env._("idempotency_scope must be one of global, user, company."))
        try:
            key = idempotency.make_key(task.name, args, kwargs, scope=scope, user_id=self.env.uid,
                                       company_id=self.env.company.id, key=explicit_key)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return {
            "idempotency_key": key,
            "idempotency_expires_at": fields.Datetime.now() + timedelta(seconds=task.idempotency_ttl),
        }

    @api.model
    def _decode_json_argument(self, value, expected_type, label):
        if value is None or value is False:
            return expected_type()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValidationError(self.env._("%(label)s is not valid JSON: %(error)s", label=label, error=exc)) from None
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, expected_type):
            kind = self.env._("a JSON array") if expected_type is list else self.env._("a JSON object")
            raise ValidationError(self.env._("%(label)s must be %(kind)s.", label=label, kind=kind))
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                self.env._("%(label)s must hold only JSON values (text, numbers, booleans, null, lists, objects): %(error)s",
                  label=label, error=exc)
            ) from None
        return value

    @api.model
    def _dispatch_eta(self, countdown, eta, task):
        planned = self._requested_eta(countdown, eta)
        now = fields.Datetime.now()
        opening = task._window_opening(max(planned or now, now), self.env.company)
        return opening if opening > now else planned

    @api.model
    def _requested_eta(self, countdown, eta):
        if countdown not in (None, False) and eta not in (None, False):
            raise ValidationError(self.env._("Give either countdown or eta, not both."))
        horizon = limits.MAX_PLANNING_SECONDS
        if countdown not in (None, False):
            # Bounds before isfinite: math.isfinite(10**400) overflows; nan fails every comparison.
            if (not isinstance(countdown, (int, float)) or isinstance(countdown, bool)
                    or not 0 <= countdown <= horizon or not math.isfinite(countdown)):
                raise ValidationError(self.env._(
                    "countdown must be a number of seconds from 0 to %(max)s.", max=horizon))
            return fields.Datetime.now() + timedelta(seconds=countdown) if countdown else False
        if eta not in (None, False):
            try:
                planned = fields.Datetime.to_datetime(eta)
            except (TypeError, ValueError, OverflowError):
                planned = None
            if not planned:
                raise ValidationError(
                    self.env._("eta must be a UTC date and time such as 2026-01-31 14:00:00, got %(eta)r.",
                               eta=str(eta)[:40])
                ) from None
            if planned > fields.Datetime.now() + timedelta(seconds=horizon):
                raise ValidationError(self.env._("eta may be at most %(days)s days ahead.", days=horizon // 86400))
            return planned
        return False

    @api.model
    def _dispatch_origin(self, origin):
        """The origin server code named (it is never taken from a caller), or the request's."""
        origin = origin or self._request_origin()
        known = self._fields["origin"].get_values(self.env)  # other addons add origins
        if origin not in known:
            raise ValidationError(
                self.env._("Unknown origin %(origin)r. Known: %(known)s.", origin=origin, known=", ".join(known)))
        return origin

    @api.model
    def _request_origin(self):
        if request:
            path = request.httprequest.path
        else:
            # XML-RPC calls run with the request taken off the stack; Odoo leaves its URL on the thread.
            path = urlsplit(getattr(threading.current_thread(), "url", "") or "").path
        return "xmlrpc" if path.startswith(("/xmlrpc", "/jsonrpc")) else "ui"

    @api.model
    def _dispatch_related_record(self, res_model, res_id):
        if not res_model and not res_id:
            return {}
        if not res_model or not res_id:
            raise ValidationError(self.env._("Give res_model and res_id together."))
        if not isinstance(res_model, str) or res_model not in self.env:
            raise ValidationError(self.env._("Model %(model)r does not exist.", model=str(res_model)[:100]))
        if self.env[res_model]._abstract or self.env[res_model]._transient:
            raise ValidationError(self.env._("%(model)s has no stored records to link a job to.", model=res_model))
        if not isinstance(res_id, int) or isinstance(res_id, bool) or not 0 < res_id < 2**31:
            raise ValidationError(self.env._("res_id must be a record id."))
        record = self.env[res_model].browse(res_id)
        if not record.exists():
            raise ValidationError(self.env._("%(model)s record %(id)s does not exist.", model=res_model, id=res_id))
        record.check_access("read")
        return {"res_model": res_model, "res_id": res_id}

    # ------------------------------------------------------------------ publishing

    def _schedule_publish(self):
        """Jobs due now go out right after commit; later ones get a queue_job sweep at their time."""
        # Due means due now: the publisher sends nothing whose time has not come, so anything
        # later, even by a second, needs its timed sweep.
        now = fields.Datetime.now()
        due = self.filtered(lambda job: not job.eta or job.eta <= now)
        if due:
            self._publish_after_commit(due.ids)
        for eta in sorted(set((self - due).mapped("eta"))):
            self.with_delay(
                eta=eta,
                description="Send background jobs planned for %s" % eta,
                identity_key="smart_dairy_jobs.sweep.%s" % eta.isoformat(),
            )._sweep_due()

    def _publish_after_commit(self, job_ids):
        cr = self.env.cr
        ids = cr.postcommit.data.get(POSTCOMMIT_KEY)
        if ids is None:
            ids = cr.postcommit.data[POSTCOMMIT_KEY] = set()
            dbname = cr.dbname

            # Still on the request, after its commit, but bounded by one deadline for the whole
            # publish (every batch, the retry on a fresh connection): with the broker up the caller
            # gets its job already `enqueued`, as today; with it away the request waits at most
            # PUBLISH_TIMEOUT, never the connect attempts stacked up. A background thread would
            # not wait at all, but it dies with a recycled worker process and sends out of sight of
            # the request; the sweeper already is the safety net for whatever the deadline leaves.
            @cr.postcommit.add
            def publish():
                try:
                    deadline = time.monotonic() + odoo_side_settings().publish_timeout
                    self._publish_ready(dbname, ids=sorted(ids), deadline=deadline)
                except Exception:
                    # The jobs are committed and stay pending: the sweeper sends them.
                    _logger.exception("Publishing %d job(s) after commit failed", len(ids))

        ids.update(job_ids)

    @api.model
    def _publish_ready(self, dbname, ids=None, deadline=None):
        """Send due jobs (all of them, or those of ``ids``) to the broker; return how many were sent.

        ``deadline`` (a ``time.monotonic()`` value) bounds the whole wait for the broker; without
        it, each batch waits up to PUBLISH_TIMEOUT.

        Runs in its own transaction.  Rows are locked while their messages go out, so the
        after-commit path and the sweeper never send the same attempt twice.
        """
        settings = odoo_side_settings()
        publishable = list(jobstate.PUBLISHABLE)
        total = 0
        with Registry(dbname).cursor() as cr:
            while True:
                cr.execute(
                    """
                    SELECT job.id, job.uuid, job.task_name, queue.name, job.priority, job.args_json,
                           job.kwargs_json, job.attempt, task.soft_time_limit, task.time_limit,
                           job.idempotency_key, task.idempotency_ttl, task.lease_seconds, task.external_service,
                           job.company_id, job.user_id
                      FROM smart_dairy_job job
                      JOIN smart_dairy_job_queue queue ON queue.id = job.queue_id
                      JOIN smart_dairy_job_task task ON task.id = job.task_type_id
                     WHERE job.state = ANY(%s)
                       AND NOT COALESCE(queue.paused, FALSE)
                       AND (job.eta IS NULL OR job.eta <= now() AT TIME ZONE 'UTC')
                       AND (%s::int[] IS NULL OR job.id = ANY(%s))
                     ORDER BY job.priority, job.id
                     LIMIT %s
                       FOR UPDATE OF job SKIP LOCKED
                    """,
                    [publishable, ids, ids, PUBLISH_BATCH],
                )
                rows = cr.fetchall()
                if not rows:
                    break
                messages = [
                    producer.Outgoing(
                        uuid=row[1], task_name=row[2], queue=row[3], priority=row[4],
                        args=json.loads(row[5] or "[]"), kwargs=json.loads(row[6] or "{}"),
                        attempt=row[7] + 1, soft_time_limit=row[8], time_limit=row[9],
                        key=row[10], key_ttl=row[11], lease=row[12], service=row[13] or None,
                        company_id=row[14], user_id=row[15],
                    )
                    for row in rows
                ]
                sent = producer.publish(settings, messages, deadline=deadline)
                if sent:
                    cr.execute(
                        """
                        UPDATE smart_dairy_job
                           SET state = %s, attempt = attempt + 1,
                               date_enqueued = now() AT TIME ZONE 'UTC', write_date = now() AT TIME ZONE 'UTC'
                         WHERE uuid = ANY(%s)
                        """,
                        [jobstate.ENQUEUED, sent],
                    )
                # Our own cursor: commit what reached the broker before the next batch goes out.
                cr.commit()  # pylint: disable=invalid-commit
                total += len(sent)
                if len(sent) < len(rows):
                    break
        return total

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

        outcomes = [None] * len(reports)
        valid = []
        for index, report in enumerate(reports):
            problem = self._report_problem(report)
            if problem:
                uuid = report.get("uuid") if isinstance(report, dict) else None
                outcomes[index] = {"uuid": uuid, "status": "invalid", "message": problem}
            else:
                valid.append((index, report))

        uuids = sorted({report["uuid"] for _index, report in valid})
        # Locking the rows first makes a report wait for a publisher still marking its job enqueued.
        self.env.cr.execute(
            "SELECT id, uuid FROM smart_dairy_job WHERE uuid = ANY(%s) ORDER BY id FOR UPDATE", [uuids]
        )
        jobs = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        job_by_uuid = {job.uuid: job for job in jobs}

        live = {}
        pending_vals = {}
        failures = []
        late_successes = []
        for index, report in valid:
            job = job_by_uuid.get(report["uuid"])
            if not job:
                outcomes[index] = {
                    "uuid": report["uuid"], "status": "unknown",
                    "message": self.env._("No job with uuid %(uuid)s.", uuid=report["uuid"]),
                }
                continue
            state, attempt = live.get(job, (job.state, job.attempt))
            verdict = jobstate.judge_report(state, attempt, report["state"], report["attempt"])
            if not verdict.apply and job.reaped_attempt == report["attempt"]:
                verdict = job._judge_late_report(state, attempt, report)
                if verdict.apply:
                    late_successes.append((job, report))
                    live[job] = (jobstate.SUCCESS, attempt)
                    outcomes[index] = {"uuid": job.uuid, "status": "applied", "message": ""}
                    continue
            if not verdict.apply:
                outcomes[index] = {"uuid": job.uuid, "status": "ignored", "message": verdict.reason}
                continue
            if report["state"] == jobstate.FAILURE:
                failures.append((job, report))
            else:
                pending_vals.setdefault(job, {}).update(job._vals_from_report(report))
            if report["state"] not in jobstate.NO_STATE_CHANGE:
                live[job] = (report["state"], attempt)
            outcomes[index] = {"uuid": job.uuid, "status": "applied", "message": ""}

        deferred = succeeded = self.sudo().browse()
        for job, vals in pending_vals.items():
            if vals.get("state") == jobstate.RETRY:
                deferred |= job
            elif vals.get("state") == jobstate.SUCCESS:
                succeeded |= job
            job.write(vals)
        deferred._schedule_publish()
        self._settle_failures([(job, report) for job, report in failures])
        succeeded |= self._settle_late_successes(late_successes)
        succeeded._on_finished()
        return outcomes

    def _judge_late_report(self, state, attempt, report):
        """A report of the attempt the reaper gave up on (see jobstate.judge_late_success): a late
        heartbeat that came within the lease renews it, a late success that ran within it settles."""
        at = reports.report_time(report)
        if report["state"] == jobstate.HEARTBEAT:
            if jobstate.late_heartbeat_renews(report["attempt"], self.reaped_attempt, at,
                                              self.reaped_lease_end or None):
                self.write({"reaped_lease_end": max(self.reaped_lease_end, self._lease_end(at))})
            return jobstate.Verdict(False, jobstate.STALE_ATTEMPT)
        if report["state"] != jobstate.SUCCESS:
            return jobstate.Verdict(False, jobstate.STALE_ATTEMPT)
        within_lease = at is not None and self.reaped_lease_end is not False and at <= self.reaped_lease_end
        return jobstate.judge_late_success(state, attempt, report["attempt"], self.reaped_attempt, within_lease)

    @api.model
    def _settle_late_successes(self, late_successes):
        """Settle jobs whose reaped attempt turns out to have succeeded; returns them.

        The job keeps the attempt number it reached (a later attempt may be on the broker: its message
        finds the claim done and does not run); its dead letter, if the reaper made one, is resolved
        with a note saying why rather than deleted, so what happened stays on record.
        """
        settled = self.sudo().browse()
        for job, report in late_successes:
            vals = job._vals_from_report(report)
            vals.update(held_by_worker=False, held_attempt=0, attempt_log=job._logged(
                outcome="late_success", reaped_attempt=report["attempt"],
                reason="the attempt the reaper took back had run to the end; its report came late"))
            job.write(vals)
            settled |= job
        open_letters = settled.dead_letter_ids.filtered(lambda entry: entry.state == "new")
        if open_letters:
            open_letters._system_write({
                "state": "resolved",
                "note": "Resolved by the system: the job's worker was thought lost, but the attempt had succeeded "
                        "and its report reached Odoo late.",
            })
        return settled

    @api.model
    def _report_problem(self, report):
        return reports.report_problem(report)

    @api.model
    def _report_time(self, report):
        return reports.report_time(report) or fields.Datetime.now()

    def _lease_end(self, start=None):
        # Odoo's clock, not the worker's: leases are judged here (a late heartbeat's own time is
        # the one exception, see _judge_late_report).
        return (start or fields.Datetime.now()) + timedelta(seconds=self.task_type_id.lease_seconds)

    def _vals_from_report(self, report):
        """Field values for a report that is not a failure (those go through the retry policy)."""
        state = report["state"]
        if state == jobstate.HEARTBEAT:
            return {"lease_expires_at": self._lease_end()}
        if state == jobstate.PROGRESS:
            return {"progress": report.get("progress") or 0, "progress_message": report.get("progress_message") or False}
        at = self._report_time(report)
        if state == jobstate.STARTED:
            wait = (at - self.date_enqueued).total_seconds() if self.date_enqueued else 0.0
            return {"state": state, "date_started": at, "worker_hostname": report.get("worker") or False,
                    "held_by_worker": False,
                    "progress": 0, "progress_message": False, "lease_expires_at": self._lease_end(),
                    "wait_time": max(0.0, wait)}
        if state == jobstate.RETRY:  # deferred by the worker without running
            return {"state": state, "eta": at + timedelta(seconds=float(report.get("retry_in") or 0)),
                    "lease_expires_at": False,
                    "attempt_log": self._logged(outcome="deferred", reason=report.get("deferred_reason") or "")}
        return {"state": state, "date_done": at, "duration": float(report.get("runtime") or 0.0),
                "result_json": report.get("result", "null"), "progress": 100, "error_type": False,
                "error_message": False, "error_traceback": False, "lease_expires_at": False}

    def _logged(self, **entry):
        """The attempt log with one more entry for the current attempt."""
        log = json.loads(self.attempt_log or "[]")
        log.append(dict(entry, attempt=self.attempt, at=fields.Datetime.to_string(fields.Datetime.now())))
        return json.dumps(log)

    @api.model
    def _settle_failures(self, failures):
        """Retry or give up on failed attempts, by each task type's policy; the given-up go to the DLQ."""
        retrying = dead = self.sudo().browse()
        for job, report in failures:
            error_type = report.get("error_type") or errors.INTERNAL
            at = self._report_time(report)
            decision = errors.retry_decision(error_type, job.retry_count, job.task_type_id._retry_policy(),
                                             report.get("retry_after"))
            vals = {
                "error_type": error_type,
                "error_message": report.get("error_message") or False,
                "error_traceback": report.get("traceback") or False,
                "duration": float(report.get("runtime") or 0.0),
                "lease_expires_at": False,
            }
            if decision.retry:
                planned = job.task_type_id._window_opening(at + timedelta(seconds=decision.delay), job.company_id)
                vals.update(state=jobstate.RETRY, eta=planned,
                            retry_count=job.retry_count + 1, date_done=False,
                            attempt_log=job._logged(outcome="retry", error_type=error_type,
                                                    delay=round(decision.delay, 3)))
                retrying |= job
            else:
                vals.update(state=jobstate.FAILURE, date_done=at,
                            attempt_log=job._logged(outcome="failure", error_type=error_type))
                dead |= job
            job.write(vals)
        retrying._schedule_publish()
        if dead:
            self.env["smart_dairy.job.dead.letter"].sudo()._create_for_jobs(dead.filtered(lambda job: not job.is_parent))
            dead._on_finished()

    def _on_finished(self):
        """Called (as superuser) on jobs that just ended for good: succeeded, or failed past their
        retries. Addons override it to act on their tasks' outcomes; keep it cheap and batched."""
        self._settle_parents()

    # ------------------------------------------------------------------ stuck jobs

    @api.model
    def _cron_reap_stuck_jobs(self):
        """Take back jobs whose worker vanished (lease expired) and resend jobs enqueued for too long."""
        now = fields.Datetime.now()
        Job = self.sudo()
        lost = Job.search([("state", "=", jobstate.STARTED), ("lease_expires_at", "<", now)], limit=1000)
        if lost:
            _logger.warning("%d started job(s) lost their worker (lease expired)", len(lost))
            # Remembered so that this attempt's success, if its report was only late, still counts.
            for job in lost:
                job.write({"reaped_attempt": job.attempt, "reaped_lease_end": job.lease_expires_at})
            Job._settle_failures([
                (job, {"error_type": errors.WORKER_LOST,
                       "error_message": "No heartbeat from %s since %s" % (job.worker_hostname or "the worker",
                                                                           job.lease_expires_at)})
                for job in lost
            ])
        self.env.cr.execute(
            """
            SELECT job.id FROM smart_dairy_job job
              JOIN smart_dairy_job_task task ON task.id = job.task_type_id
             WHERE job.state = %s
               AND job.date_enqueued < (now() AT TIME ZONE 'UTC') - task.enqueued_timeout * interval '1 second'
             LIMIT 1000
            """,
            [jobstate.ENQUEUED],
        )
        stale = Job.browse([row[0] for row in self.env.cr.fetchall()])
        for job in stale:
            job.write({"state": jobstate.RETRY, "eta": now,
                       "attempt_log": job._logged(outcome="republished", reason="enqueued for too long")})
        if stale:
            _logger.warning("%d job(s) enqueued for too long are sent again", len(stale))
            stale._schedule_publish()
        orphaned = self._resend_jobs_held_by_silent_workers(now)
        return len(lost) + len(stale) + len(orphaned)

    @api.model
    def _resend_jobs_held_by_silent_workers(self, now):
        """Send again the enqueued jobs a worker held (prefetched) when it went offline.

        Its messages stay unacknowledged on the broker until the visibility timeout (over an hour):
        sent again now, as a new attempt, they are back in play within the Workers view's offline
        threshold (3 heartbeats) plus the reaper's interval. This never runs a job twice: every
        attempt of a job carries the same claim key (the idempotency key, or job:<uuid>), so if the
        worker was only cut off from Odoo and runs its copy after all, the claim makes one copy
        return the other's result (done) or drop out (running), whichever comes second.
        """
        Job = self.sudo()
        held = Job.search([("state", "=", jobstate.ENQUEUED), ("held_by_worker", "!=", False)], limit=1000)
        held = held.filtered(lambda job: job.held_attempt == job.attempt)
        if not held:
            return held
        online = set(self.env["smart_dairy.job.worker"].sudo().search([("state", "=", "online")]).mapped("hostname"))
        orphaned = held.filtered(lambda job: job.held_by_worker not in online)
        for job in orphaned:
            job.write({"state": jobstate.RETRY, "eta": now, "held_by_worker": False, "held_attempt": 0,
                       "attempt_log": job._logged(outcome="republished",
                                                  reason="held by worker %s, which stopped heartbeating"
                                                         % job.held_by_worker)})
        if orphaned:
            _logger.warning("%d job(s) held by silent workers are sent again", len(orphaned))
            orphaned._schedule_publish()
        return orphaned
