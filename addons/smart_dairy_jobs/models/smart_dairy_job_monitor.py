import logging
from datetime import datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.odoo_db import job_statistics

_logger = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = {
    "queue_depth": 1000,  # celery-task-system-notes: queue backups over 1000 tasks
    "sla_breach_percent": 10.0,
    "dead_letter_window_minutes": 15,
}


class SmartDairyJobMonitor(models.AbstractModel):
    """Health of background work from the job tables, by SQL aggregation: metrics, task statistics,
    alert conditions."""

    _name = "smart_dairy.job.monitor"
    _description = "Background Jobs Monitoring"

    @api.model
    def _threshold(self, name):
        value = self.env["ir.config_parameter"].sudo().get_param(f"smart_dairy_jobs.alert_{name}")
        default = DEFAULT_THRESHOLDS[name]
        try:
            return type(default)(value) if value not in (None, False, "") else default
        except ValueError:
            return default

    # ------------------------------------------------------------------ Prometheus

    @api.model
    def _prometheus_exposition(self):
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.core import GaugeMetricFamily

        self.env.flush_all()
        cr = self.env.cr
        jobs = GaugeMetricFamily("smart_dairy_jobs_jobs", "Jobs by state and queue", labels=["state", "queue"])
        cr.execute("""SELECT job.state, queue.name, count(*) FROM smart_dairy_job job
                      JOIN smart_dairy_job_queue queue ON queue.id = job.queue_id GROUP BY 1, 2 ORDER BY 1, 2""")
        for state, queue, count in cr.fetchall():
            jobs.add_metric([state, queue], count)
        oldest = GaugeMetricFamily("smart_dairy_jobs_oldest_pending_seconds",
                                   "Age of the oldest job waiting to be sent or run", labels=["queue"])
        breaches = GaugeMetricFamily("smart_dairy_jobs_sla_breaches_1h",
                                     "Jobs started in the last hour after waiting longer than the queue's SLA",
                                     labels=["queue"])
        cr.execute("""
            SELECT queue.name,
                   COALESCE(EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC') - min(job.create_date)
                            FILTER (WHERE job.state IN ('pending', 'enqueued'))), 0),
                   count(*) FILTER (WHERE job.date_started >= (now() AT TIME ZONE 'UTC') - interval '1 hour'
                                    AND job.wait_time > queue.sla_seconds)
              FROM smart_dairy_job_queue queue
              LEFT JOIN smart_dairy_job job ON job.queue_id = queue.id
                   AND (job.state IN ('pending', 'enqueued')
                        OR job.date_started >= (now() AT TIME ZONE 'UTC') - interval '1 hour')
             GROUP BY queue.name ORDER BY queue.name""")
        for queue, age, breached in cr.fetchall():
            oldest.add_metric([queue], float(age))
            breaches.add_metric([queue], breached)
        cr.execute("SELECT count(*) FROM smart_dairy_job_dead_letter WHERE state = 'new'")
        dead = GaugeMetricFamily("smart_dairy_jobs_dead_letters_open", "Dead letters not yet handled")
        dead.add_metric([], cr.fetchone()[0])
        workers = GaugeMetricFamily("smart_dairy_jobs_workers_alive", "Workers whose heartbeat is recent")
        workers.add_metric([], self.env["smart_dairy.job.worker"].search_count([("state", "=", "online")]))

        class Snapshot:
            def collect(self):
                yield from (jobs, oldest, breaches, dead, workers)

        registry = CollectorRegistry()
        registry.register(Snapshot())
        return generate_latest(registry), CONTENT_TYPE_LATEST

    # ------------------------------------------------------------------ task statistics

    @api.model
    def task_statistics(self, date_from, date_to):
        """Per task and queue over [date_from, date_to): count, success and failure rates, mean and p95
        duration, mean wait (enqueued → started), SLA compliance (celery_bridge.odoo_db.job_statistics).

        Jobs users only, over the jobs of the companies they work in (``env.companies``: the caller's
        allowed companies, which Odoo checks against the user's). Dates are naive UTC, as text
        (``2026-01-31 00:00:00``) or datetimes."""
        if not self.env.su and not self.env.user.has_group("smart_dairy_jobs.group_user"):
            raise AccessError(self.env._("Only Jobs users may read task statistics."))
        start, end = self._statistics_date(date_from, "date_from"), self._statistics_date(date_to, "date_to")
        if start >= end:
            raise ValidationError(self.env._("date_to must come after date_from."))
        self.env["smart_dairy.job"].flush_model()
        return job_statistics.task_statistics(self.env.cr, start, end, self.env.companies.ids)

    @api.model
    def _statistics_date(self, value, label):
        try:
            moment = fields.Datetime.to_datetime(value) if isinstance(value, (str, datetime)) else None
        except (TypeError, ValueError, OverflowError):
            moment = None
        if not moment:
            raise ValidationError(self.env._(
                "%(label)s must be a UTC date and time such as 2026-01-31 00:00:00, got %(value)s.",
                label=label, value=repr(value)[:40]))
        return moment

    # ------------------------------------------------------------------ alerts

    @api.model
    def _current_conditions(self):
        """Every alert condition true right now: {(condition, subject): message}."""
        conditions = {}
        self.env.flush_all()
        depth_limit = self._threshold("queue_depth")
        queues = self.env["smart_dairy.job.queue"].search([], limit=1000)
        queues.invalidate_recordset(["depth"])  # computed by SQL: read it afresh at every check
        for queue in queues:
            if queue.depth > depth_limit:
                conditions[("queue_depth", queue.name)] = self.env._(
                    "Queue %(queue)s has %(depth)s jobs waiting (threshold %(limit)s).",
                    queue=queue.name, depth=queue.depth, limit=depth_limit)
        window = self._threshold("dead_letter_window_minutes")
        new_letters = self.env["smart_dairy.job.dead.letter"].search_count(
            [("state", "=", "new"), ("create_date", ">=", fields.Datetime.now() - timedelta(minutes=window))])
        if new_letters:
            conditions[("dead_letters", "all")] = self.env._(
                "%(count)s new dead letter(s) in the last %(window)s minutes.", count=new_letters, window=window)
        for worker in self.env["smart_dairy.job.worker"]._offline_since():
            conditions[("worker_offline", worker.hostname)] = self.env._(
                "Worker %(host)s is silent since %(when)s UTC.", host=worker.hostname, when=worker.last_heartbeat)
        breach_limit = self._threshold("sla_breach_percent")
        self.env.cr.execute("""
            SELECT queue.name, count(*), count(*) FILTER (WHERE job.wait_time > queue.sla_seconds)
              FROM smart_dairy_job job JOIN smart_dairy_job_queue queue ON queue.id = job.queue_id
             WHERE job.date_started >= (now() AT TIME ZONE 'UTC') - interval '1 hour'
             GROUP BY queue.name""")
        for queue, started, breached in self.env.cr.fetchall():
            rate = 100.0 * breached / started
            if rate > breach_limit:
                conditions[("sla_breach", queue)] = self.env._(
                    "%(rate).0f%% of the jobs started on %(queue)s in the last hour waited past its SLA "
                    "(threshold %(limit)s%%).", rate=rate, queue=queue, limit=breach_limit)
        return conditions

    @api.model
    def _cron_check_alerts(self):
        """Raise one alert per condition until it clears; clear those no longer true."""
        Alert = self.env["smart_dairy.job.alert"].sudo()
        conditions = self._current_conditions()
        active = {(alert.condition, alert.subject): alert for alert in Alert.search([("state", "=", "active")])}
        now = fields.Datetime.now()
        for key, alert in active.items():
            if key in conditions:
                alert.write({"last_seen": now, "message": conditions[key]})
            else:
                alert.write({"state": "cleared", "cleared_at": now})
        raised = Alert.create([
            {"condition": condition, "subject": subject, "message": message, "first_seen": now, "last_seen": now}
            for (condition, subject), message in conditions.items() if (condition, subject) not in active
        ])
        raised._notify_managers()
        return raised
