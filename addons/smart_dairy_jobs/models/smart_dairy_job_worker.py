import math
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from celery_bridge.core import limits

from ..engine import live

OFFLINE_AFTER_BEATS = 3


class SmartDairyJobWorker(models.Model):
    """A Celery worker as its heartbeats describe it; silent for three beats means offline."""

    _name = "smart_dairy.job.worker"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    _description = "Celery Worker"
    _order = "last_heartbeat desc, hostname"
    _rec_name = "hostname"
    # Only the workers' heartbeats (bridge_heartbeat) describe a worker; managers may delete a stale one.
    _protected_fields = "__all__"

    hostname = fields.Char(required=True, readonly=True, index=True)
    queues = fields.Char(readonly=True)
    pool_type = fields.Char(string="Pool", readonly=True)
    concurrency = fields.Integer(readonly=True)
    active_tasks = fields.Integer(readonly=True)
    heartbeat_interval = fields.Float(string="Heartbeat Every (s)", readonly=True, default=10.0)
    last_heartbeat = fields.Datetime(readonly=True)
    first_seen = fields.Datetime(readonly=True)
    state = fields.Selection([("online", "Online"), ("offline", "Offline")], compute="_compute_state",
                             search="_search_state")

    _sql_constraints = [("hostname_unique", "UNIQUE(hostname)", "One record per worker hostname.")]

    @api.depends("last_heartbeat", "heartbeat_interval")
    def _compute_state(self):
        now = fields.Datetime.now()
        for worker in self:
            silent_for = (now - worker.last_heartbeat).total_seconds() if worker.last_heartbeat else None
            limit = OFFLINE_AFTER_BEATS * (worker.heartbeat_interval or 10.0)
            worker.state = "online" if silent_for is not None and silent_for <= limit else "offline"

    def _search_state(self, operator, value):
        self.flush_model(["last_heartbeat", "heartbeat_interval"])
        self.env.cr.execute(
            """SELECT id FROM smart_dairy_job_worker
                WHERE last_heartbeat >= (now() AT TIME ZONE 'UTC')
                      - make_interval(secs => %s * COALESCE(heartbeat_interval, 10))""",
            [OFFLINE_AFTER_BEATS],
        )
        online = [row[0] for row in self.env.cr.fetchall()]
        wanted_online = (value == "online") == (operator in ("=", "in"))
        return [("id", "in" if wanted_online else "not in", online)]

    @api.model
    def _bridge_heartbeat(self, info):
        """A worker's heartbeat, asked through smart_dairy.job.bridge (which checks it is the bridge):
        who it is, which jobs it holds (``jobs``: [uuid, attempt] pairs of its prefetched and running
        messages); answers which queues are paused."""
        vals = self._heartbeat_values(info)
        now = vals["last_heartbeat"]
        Worker = self.sudo()  # the bridge user has no rights on workers: this method is its only door
        worker = Worker.search([("hostname", "=", vals["hostname"])], limit=1)
        held = vals.pop("held_jobs")
        listed_changes = live.heartbeat_changes(worker, vals, OFFLINE_AFTER_BEATS)
        if worker:
            worker.write(vals)
        else:
            listed_changes |= Worker.create(dict(vals, first_seen=now))
        live.workers_changed(listed_changes)  # the Workers list, for Jobs users
        self._note_held_jobs(vals["hostname"], held)
        paused = self.env["smart_dairy.job.queue"].sudo().search([("paused", "=", True)]).mapped("name")
        limited = self.env["smart_dairy.job.task"].sudo().search([("rate_limit", "!=", False)])
        return {"paused_queues": paused, "rate_limits": {task.name: task.rate_limit.strip() for task in limited}}

    @api.model
    def _heartbeat_values(self, info):
        """The worker's values from a heartbeat, or a ValidationError saying what is wrong with it."""
        def refuse(what):
            raise ValidationError(self.env._("Heartbeat refused: %(what)s.", what=what))

        if not isinstance(info, dict):
            refuse(self.env._("a heartbeat is a dict with at least a hostname"))
        hostname = info.get("hostname")
        if not isinstance(hostname, str) or not hostname.strip() or len(hostname) > limits.MAX_NAME_LENGTH:
            refuse(self.env._("hostname must be a non-empty text of at most %(max)s characters",
                              max=limits.MAX_NAME_LENGTH))
        queues = info.get("queues") or []
        if (not isinstance(queues, list) or len(queues) > 100
                or not all(isinstance(q, str) and len(q) <= limits.MAX_NAME_LENGTH for q in queues)):
            refuse(self.env._("queues must be a list of at most 100 queue names"))
        pool = info.get("pool") or ""
        if not isinstance(pool, str) or len(pool) > limits.MAX_NAME_LENGTH:
            refuse(self.env._("pool must be a text"))
        counts = {}
        for key in ("concurrency", "active_tasks"):
            value = info.get(key) or 0
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100000:
                refuse(self.env._("%(key)s must be a whole number from 0 to 100000", key=key))
            counts[key] = value
        interval = info.get("interval") or 10.0
        if (not isinstance(interval, (int, float)) or isinstance(interval, bool) or not math.isfinite(interval)
                or not 0 < interval <= 3600):
            refuse(self.env._("interval must be a number of seconds from 0 to 3600"))
        held = info.get("jobs") or []
        if (not isinstance(held, list) or len(held) > limits.MAX_HELD_JOBS_PER_HEARTBEAT
                or not all(isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                           and 0 < len(pair[0]) <= 64 and isinstance(pair[1], int) and not isinstance(pair[1], bool)
                           and 0 < pair[1] < 2**31 for pair in held)):
            refuse(self.env._("jobs must be a list of at most %(max)s [uuid, attempt] pairs",
                              max=limits.MAX_HELD_JOBS_PER_HEARTBEAT))
        return dict(counts, hostname=hostname, queues=",".join(queues), pool_type=pool,
                    heartbeat_interval=float(interval), last_heartbeat=fields.Datetime.now(),
                    held_jobs=held)

    @api.model
    def _note_held_jobs(self, hostname, held):
        """Note the worker on the enqueued jobs whose messages it holds (see
        smart_dairy.job._resend_jobs_held_by_silent_workers)."""
        if not held:
            return
        Job = self.env["smart_dairy.job"]
        Job.flush_model(["state", "held_by_worker", "held_attempt"])
        # Only rows nobody holds: a job being reported on or published right now is about to leave
        # "enqueued" anyway, and the next beat notes it if not; locking in id order avoids deadlocks.
        self.env.cr.execute(
            """SELECT job.id, held.attempt
                 FROM smart_dairy_job job
                 JOIN unnest(%s::varchar[], %s::int[]) AS held(uuid, attempt) ON held.uuid = job.uuid
                WHERE job.state = 'enqueued'
                  AND (job.held_by_worker IS DISTINCT FROM %s OR job.held_attempt IS DISTINCT FROM held.attempt)
                ORDER BY job.id
                  FOR UPDATE OF job SKIP LOCKED""",
            [[pair[0] for pair in held], [pair[1] for pair in held], hostname],
        )
        rows = self.env.cr.fetchall()
        if rows:
            self.env.cr.execute(
                """UPDATE smart_dairy_job job SET held_by_worker = %s, held_attempt = held.attempt
                     FROM unnest(%s::int[], %s::int[]) AS held(id, attempt)
                    WHERE job.id = held.id""",
                [hostname, [row[0] for row in rows], [row[1] for row in rows]],
            )
            Job.invalidate_model(["held_by_worker", "held_attempt"])

    @api.model
    def _offline_since(self):
        """Workers that stopped beating, for alerts."""
        return self.search([("state", "=", "offline"), ("last_heartbeat", ">", fields.Datetime.now() - timedelta(days=1))])
