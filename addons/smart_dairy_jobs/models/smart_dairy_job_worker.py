from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

OFFLINE_AFTER_BEATS = 3


class SmartDairyJobWorker(models.Model):
    """A Celery worker as its heartbeats describe it; silent for three beats means offline."""

    _name = "smart_dairy.job.worker"
    _description = "Celery Worker"
    _order = "last_heartbeat desc, hostname"
    _rec_name = "hostname"

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
    def bridge_heartbeat(self, info):
        """A worker's heartbeat (the bridge only); answers which queues are paused."""
        if not self.env.user.has_group("smart_dairy_jobs.group_bridge"):
            raise AccessError(self.env._("Only the Celery bridge user may send worker heartbeats."))
        if not isinstance(info, dict) or not isinstance(info.get("hostname"), str) or not info["hostname"]:
            raise ValidationError(self.env._("A heartbeat is a dict with at least a hostname."))
        now = fields.Datetime.now()
        vals = {
            "queues": ",".join(info.get("queues") or []),
            "pool_type": str(info.get("pool") or ""),
            "concurrency": int(info.get("concurrency") or 0),
            "active_tasks": int(info.get("active_tasks") or 0),
            "heartbeat_interval": float(info.get("interval") or 10.0),
            "last_heartbeat": now,
        }
        Worker = self.sudo()
        worker = Worker.search([("hostname", "=", info["hostname"])], limit=1)
        if worker:
            worker.write(vals)
        else:
            Worker.create(dict(vals, hostname=info["hostname"], first_seen=now))
        paused = self.env["smart_dairy.job.queue"].sudo().search([("paused", "=", True)]).mapped("name")
        limited = self.env["smart_dairy.job.task"].sudo().search([("rate_limit", "!=", False)])
        return {"paused_queues": paused, "rate_limits": {task.name: task.rate_limit.strip() for task in limited}}

    @api.model
    def _offline_since(self):
        """Workers that stopped beating, for alerts."""
        return self.search([("state", "=", "offline"), ("last_heartbeat", ">", fields.Datetime.now() - timedelta(days=1))])
