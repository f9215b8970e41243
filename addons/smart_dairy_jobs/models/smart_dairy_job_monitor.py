import logging
from datetime import datetime, timedelta

from redis.exceptions import RedisError

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.broker import circuit
from celery_bridge.odoo_db import job_statistics

from .smart_dairy_job_worker import OFFLINE_AFTER_BEATS

_logger = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = {
    "queue_depth": 1000,  # celery-task-system-notes: queue backups over 1000 tasks
    "sla_breach_percent": 10.0,
    "dead_letter_window_minutes": 15,
    # Per task type, over the jobs that ended in the last task_window_minutes; a task with fewer than
    # task_min_jobs ended jobs there is not judged (one failure of a rare task is not a storm).
    "task_window_minutes": 15,
    "task_min_jobs": 10,
    "failure_rate_percent": 20.0,
    # p95 run time as a share of the task type's soft time limit: past it, jobs are about to be cut off.
    "p95_time_limit_percent": 80.0,
    # A worker restart (a deploy) leaves a queue without consumer for less than this.
    "queue_without_consumer_minutes": 2,
}
# Jobs a worker should take: a queue holding any of them needs a consumer. Jobs waiting for other
# jobs (dependencies) are not a backlog of their queue.
BACKLOG_STATES = ("pending", "enqueued", "retry")


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
        families = [jobs, oldest, breaches, dead, workers, *self._queue_consumer_gauges(),
                    *self._task_health_gauges(), self._circuit_gauge()]

        class Snapshot:
            def collect(self):
                yield from families

        registry = CollectorRegistry()
        registry.register(Snapshot())
        return generate_latest(registry), CONTENT_TYPE_LATEST

    @api.model
    def _queue_consumer_gauges(self):
        from prometheus_client.core import GaugeMetricFamily

        consumers = GaugeMetricFamily("smart_dairy_jobs_queue_consumers",
                                      "Online workers consuming the queue (from their heartbeats)", labels=["queue"])
        paused = GaugeMetricFamily("smart_dairy_jobs_queue_paused", "1 while the queue is paused in Odoo",
                                   labels=["queue"])
        for row in self._queue_consumption():
            consumers.add_metric([row["queue"]], row["online_consumers"])
            paused.add_metric([row["queue"]], 1 if row["paused"] else 0)
        return consumers, paused

    @api.model
    def _task_health_gauges(self):
        from prometheus_client.core import GaugeMetricFamily

        window = self._task_window_minutes()
        ran = GaugeMetricFamily("smart_dairy_jobs_task_jobs_ran",
                                f"Jobs of the task that ran and ended in the last {window} minutes", labels=["task_name"])
        p95 = GaugeMetricFamily("smart_dairy_jobs_task_duration_p95_seconds",
                                f"p95 run time of the jobs of the task that ended in the last {window} minutes",
                                labels=["task_name"])
        limit = GaugeMetricFamily("smart_dairy_jobs_task_soft_time_limit_seconds", "The task type's soft time limit",
                                  labels=["task_name"])
        for row in self._recent_task_health(window):
            if row["ran"]:
                ran.add_metric([row["task_name"]], row["ran"])
                p95.add_metric([row["task_name"]], row["p95_duration"])
                limit.add_metric([row["task_name"]], row["soft_time_limit"])
        return ran, p95, limit

    @api.model
    def _circuit_gauge(self):
        from prometheus_client.core import GaugeMetricFamily

        gauge = GaugeMetricFamily("smart_dairy_jobs_circuit_open",
                                  "1 while the circuit breaker of the service is open or half-open (as last read "
                                  "from Redis)", labels=["service"])
        for service, state in self._circuit_states():
            gauge.add_metric([service], 0 if state == circuit.CLOSED else 1)
        return gauge

    # ------------------------------------------------------------------ health by SQL aggregation

    @api.model
    def _task_window_minutes(self):
        return max(1, self._threshold("task_window_minutes"))

    @api.model
    def _recent_task_health(self, window_minutes):
        """Per task type, the jobs that ended (success or failure) in the last ``window_minutes``: how
        many, how many failed, how many ran (were started) and the p95 of their run time. One
        aggregation over the job table, read through its date_done index."""
        self.env["smart_dairy.job"].flush_model()
        self.env.cr.execute("""
            SELECT task.name, task.soft_time_limit,
                   count(*),
                   count(*) FILTER (WHERE job.state = 'failure'),
                   count(*) FILTER (WHERE job.date_started IS NOT NULL),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY job.duration)
                       FILTER (WHERE job.date_started IS NOT NULL)
              FROM smart_dairy_job job
              JOIN smart_dairy_job_task task ON task.id = job.task_type_id
             WHERE job.date_done >= (now() AT TIME ZONE 'UTC') - make_interval(mins => %s)
               AND job.state IN ('success', 'failure')
               AND job.is_parent IS NOT TRUE
             GROUP BY task.id
             ORDER BY task.name""", [window_minutes])
        return [
            {"task_name": name, "soft_time_limit": soft_limit, "ended": ended, "failed": failed, "ran": ran,
             "p95_duration": float(p95 or 0.0)}
            for name, soft_limit, ended, failed, ran, p95 in self.env.cr.fetchall()
        ]

    @api.model
    def _queue_consumption(self):
        """Per active queue: jobs waiting for a worker, whether it is paused, how many online workers
        consume it (the queues their heartbeats list) and when one of its consumers last beat."""
        self.env.flush_all()
        self.env.cr.execute("""
            WITH consumer AS (
                SELECT btrim(listed.queue) AS queue,
                       count(*) FILTER (WHERE worker.last_heartbeat >= (now() AT TIME ZONE 'UTC')
                                        - make_interval(secs => %(beats)s * COALESCE(worker.heartbeat_interval, 10)))
                           AS online,
                       max(worker.last_heartbeat) AS last_seen
                  FROM smart_dairy_job_worker worker
                 CROSS JOIN LATERAL unnest(string_to_array(worker.queues, ',')) AS listed(queue)
                 GROUP BY 1
            ), backlog AS (
                SELECT job.queue_id, count(*) AS jobs
                  FROM smart_dairy_job job
                 WHERE job.state IN %(backlog)s
                 GROUP BY job.queue_id
            )
            SELECT queue.name, queue.paused IS TRUE, COALESCE(backlog.jobs, 0), COALESCE(consumer.online, 0),
                   consumer.last_seen
              FROM smart_dairy_job_queue queue
              LEFT JOIN backlog ON backlog.queue_id = queue.id
              LEFT JOIN consumer ON consumer.queue = queue.name
             WHERE queue.active
             ORDER BY queue.name""", {"beats": OFFLINE_AFTER_BEATS, "backlog": BACKLOG_STATES})
        return [
            {"queue": name, "paused": paused, "waiting": waiting, "online_consumers": online, "last_seen": last_seen}
            for name, paused, waiting, online, last_seen in self.env.cr.fetchall()
        ]

    @api.model
    def _circuit_states(self, from_redis=False):
        """(service, state) of every breaker: read from Redis now if ``from_redis`` and Redis answers
        (a read only: the mirror is the circuit cron's to write), else from Odoo's mirror of Redis."""
        Circuit = self.env["smart_dairy.job.circuit"]
        if from_redis:
            try:
                return [(status["service"], status["state"]) for status in circuit.all_statuses(Circuit._redis())]
            except RedisError:
                _logger.warning("Circuit breakers not read from Redis: alerting on their last known states",
                                exc_info=True)
        Circuit.flush_model(["service", "state"])
        self.env.cr.execute("SELECT service, state FROM smart_dairy_job_circuit ORDER BY service")
        return self.env.cr.fetchall()

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
        conditions.update(self._task_conditions())
        conditions.update(self._circuit_conditions())
        conditions.update(self._queue_consumer_conditions())
        return conditions

    @api.model
    def _task_conditions(self):
        """Task types failing or slow over the last minutes, judged on enough ended jobs."""
        conditions = {}
        window = self._task_window_minutes()
        min_jobs = max(1, self._threshold("task_min_jobs"))
        failure_limit = self._threshold("failure_rate_percent")
        slow_limit = self._threshold("p95_time_limit_percent")
        for row in self._recent_task_health(window):
            task = row["task_name"]
            if row["ended"] >= min_jobs:
                rate = 100.0 * row["failed"] / row["ended"]
                if rate > failure_limit:
                    conditions[("task_failure_rate", task)] = self.env._(
                        "%(failed)s of the %(ended)s jobs of %(task)s that ended in the last %(window)s minutes "
                        "failed (%(rate).0f%%, threshold %(limit)s%%).", failed=row["failed"], ended=row["ended"],
                        task=task, window=window, rate=rate, limit=failure_limit)
            if row["ran"] >= min_jobs and row["soft_time_limit"] > 0:
                share = 100.0 * row["p95_duration"] / row["soft_time_limit"]
                if share > slow_limit:
                    conditions[("task_slow", task)] = self.env._(
                        "%(task)s is slow: p95 run time %(p95).1f s over the last %(window)s minutes, %(share).0f%% "
                        "of its soft time limit of %(soft)s s (threshold %(limit)s%%).", task=task,
                        p95=row["p95_duration"], window=window, share=share, soft=row["soft_time_limit"],
                        limit=slow_limit)
        return conditions

    @api.model
    def _circuit_conditions(self):
        """Circuits open (or half-open: probing after an opening) as Redis says now. The threshold is
        each breaker's own (consecutive failures, on the circuit's form)."""
        return {
            ("circuit_open", service): self.env._(
                "The circuit of %(service)s is %(state)s: its jobs wait until the service answers again.",
                service=service, state=dict(circuit.STATES).get(state, state).lower())
            for service, state in self._circuit_states(from_redis=True) if state != circuit.CLOSED
        }

    @api.model
    def _queue_consumer_conditions(self):
        """Queues with jobs waiting that no online worker consumes (paused ones excepted), for longer
        than a worker restart takes."""
        grace = self._threshold("queue_without_consumer_minutes")
        seen_before = fields.Datetime.now() - timedelta(minutes=grace)
        conditions = {}
        for row in self._queue_consumption():
            if (row["waiting"] and not row["paused"] and not row["online_consumers"]
                    and (not row["last_seen"] or row["last_seen"] < seen_before)):
                conditions[("queue_no_consumer", row["queue"])] = self.env._(
                    "Queue %(queue)s has %(waiting)s jobs waiting and no online worker consumes it (its last "
                    "consumer was seen at %(seen)s UTC).", queue=row["queue"], waiting=row["waiting"],
                    seen=row["last_seen"]) if row["last_seen"] else self.env._(
                    "Queue %(queue)s has %(waiting)s jobs waiting and no worker has ever consumed it.",
                    queue=row["queue"], waiting=row["waiting"])
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
