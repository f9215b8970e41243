from datetime import timedelta

from odoo import fields, models

from celery_bridge.broker import producer

from ..engine import live

PRIORITY_HELP = "0 runs first, 9 last (the order of Celery's Redis priority lists)."


class SmartDairyJobQueue(models.Model):
    _name = "smart_dairy.job.queue"
    _inherit = ["smart_dairy.job.lookup.mixin", "smart_dairy.protected.fields.mixin"]
    _description = "Background Job Queue"
    _order = "priority, name"
    _check_company_auto = True
    # Paused and resumed through action_pause / action_resume, which also tell the workers.
    _protected_fields = ("paused",)

    name = fields.Char(required=True, help="Celery queue name, e.g. celery:iot")
    description = fields.Char()
    priority = fields.Integer(default=5, required=True, help=PRIORITY_HELP)
    sla_seconds = fields.Integer(
        string="SLA (s)", default=60, required=True,
        help="Longest acceptable wait between a job being enqueued and a worker starting it.",
    )
    active = fields.Boolean(default=True)
    compression = fields.Selection(
        [("none", "None"), ("gzip", "gzip")], default="none", required=True,
        help="Compression of the messages of task types that follow their queue (B-009 §8.1).",
    )
    company_id = fields.Many2one("res.company", help="Leave empty to share the queue with every company.")
    task_ids = fields.One2many("smart_dairy.job.task", "queue_id", string="Task Types")
    task_count = fields.Integer(compute="_compute_task_count")
    paused = fields.Boolean(
        readonly=True, copy=False, help="Paused: new jobs wait as pending in Odoo and workers stop consuming the queue.",
    )
    depth = fields.Integer(string="Waiting Jobs", compute="_compute_health", help="Pending and enqueued jobs.")
    oldest_waiting_seconds = fields.Float(string="Oldest Wait (s)", compute="_compute_health")
    done_24h = fields.Integer(string="Done (24 h)", compute="_compute_health")
    failure_rate = fields.Float(string="Failure Rate (24 h, %)", compute="_compute_health")
    sla_compliance = fields.Float(string="SLA Met (24 h, %)", compute="_compute_health")
    health_colour = fields.Integer(compute="_compute_health", help="Kanban colour: green, orange or red.")

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A queue with this name already exists."),
        ("priority_range", "CHECK(priority BETWEEN 0 AND 9)", "Queue priority must be between 0 and 9."),
        ("sla_positive", "CHECK(sla_seconds > 0)", "The SLA must be a positive number of seconds."),
    ]

    def _compute_health(self):
        """One SQL aggregation for all queues shown, never a record load."""
        self.env["smart_dairy.job"].flush_model()
        self.env.cr.execute(
            """
            SELECT job.queue_id,
                   count(*) FILTER (WHERE job.state IN ('pending', 'enqueued', 'retry')),
                   COALESCE(EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC')
                            - min(job.create_date) FILTER (WHERE job.state IN ('pending', 'enqueued'))), 0),
                   count(*) FILTER (WHERE job.state IN ('success', 'failure') AND job.date_done >= %(since)s),
                   count(*) FILTER (WHERE job.state = 'failure' AND job.date_done >= %(since)s),
                   count(*) FILTER (WHERE job.date_started >= %(since)s),
                   count(*) FILTER (WHERE job.date_started >= %(since)s AND job.wait_time <= queue.sla_seconds)
              FROM smart_dairy_job job
              JOIN smart_dairy_job_queue queue ON queue.id = job.queue_id
             WHERE job.queue_id = ANY(%(ids)s)
               AND (job.state IN ('pending', 'enqueued', 'retry', 'started') OR job.date_done >= %(since)s
                    OR job.date_started >= %(since)s)
             GROUP BY job.queue_id
            """,
            {"ids": self.ids, "since": fields.Datetime.now() - timedelta(days=1)},
        )
        rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for queue in self:
            depth, oldest, done, failed, started, within_sla = rows.get(queue.id, (0, 0, 0, 0, 0, 0))
            queue.depth = depth
            queue.oldest_waiting_seconds = float(oldest or 0)
            queue.done_24h = done
            queue.failure_rate = 100.0 * failed / done if done else 0.0
            queue.sla_compliance = 100.0 * within_sla / started if started else 100.0
            queue.health_colour = 10 if queue.sla_compliance >= 95 and queue.failure_rate < 5 else (
                2 if queue.sla_compliance >= 80 and queue.failure_rate < 20 else 1)

    def action_pause(self):
        """Stop the queue now: new jobs wait in Odoo, workers stop consuming it (no restart)."""
        return self._set_paused(True)

    def action_resume(self):
        """Start the queue again; what waited in Odoo is sent in order."""
        self._set_paused(False)
        waiting = self.env["smart_dairy.job"].sudo().search(
            [("queue_id", "in", self.ids), ("state", "in", ("pending", "retry"))], order="priority, id")
        waiting._schedule_publish()
        return True

    def _set_paused(self, paused):
        """Jobs managers only (write access to queues), on the queues of their companies."""
        self.check_access("write")
        self._system_write({"paused": paused})
        live.queues_changed(self)
        names = self.mapped("name")
        settings = self.env["smart_dairy.job"]._settings()
        self.env.cr.postcommit.add(lambda: producer.set_consuming(settings, names, not paused))
        return True

    def _compute_task_count(self):
        counts = dict(
            self.env["smart_dairy.job.task"]._read_group(
                [("queue_id", "in", self.ids)], ["queue_id"], ["__count"]
            )
        )
        for queue in self:
            queue.task_count = counts.get(queue, 0)
