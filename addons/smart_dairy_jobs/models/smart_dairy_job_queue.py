from odoo import fields, models

PRIORITY_HELP = "0 runs first, 9 last (the order of Celery's Redis priority lists)."


class SmartDairyJobQueue(models.Model):
    _name = "smart_dairy.job.queue"
    _inherit = ["smart_dairy.job.lookup.mixin"]
    _description = "Background Job Queue"
    _order = "priority, name"
    _check_company_auto = True

    name = fields.Char(required=True, help="Celery queue name, e.g. celery:iot")
    description = fields.Char()
    priority = fields.Integer(default=5, required=True, help=PRIORITY_HELP)
    sla_seconds = fields.Integer(
        string="SLA (s)", default=60, required=True,
        help="Longest acceptable wait between a job being enqueued and a worker starting it.",
    )
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", help="Leave empty to share the queue with every company.")
    task_ids = fields.One2many("smart_dairy.job.task", "queue_id", string="Task Types")
    task_count = fields.Integer(compute="_compute_task_count")

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A queue with this name already exists."),
        ("priority_range", "CHECK(priority BETWEEN 0 AND 9)", "Queue priority must be between 0 and 9."),
        ("sla_positive", "CHECK(sla_seconds > 0)", "The SLA must be a positive number of seconds."),
    ]

    def _compute_task_count(self):
        counts = dict(
            self.env["smart_dairy.job.task"]._read_group(
                [("queue_id", "in", self.ids)], ["queue_id"], ["__count"]
            )
        )
        for queue in self:
            queue.task_count = counts.get(queue, 0)
