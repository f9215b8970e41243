"""The alerts on task failures, slow tasks, open circuits and queues nobody consumes: each raised once
while its condition holds (Jobs managers notified once), kept while it holds, cleared when it no longer
does; and the gauges the metrics endpoint exposes for Prometheus' rules of the same conditions."""
import uuid
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from odoo import fields

from celery_bridge.broker import circuit

from .common import SmartDairyJobsCase
from .test_monitoring import make_job

# A task type of the tests' own: no job of another test or of the database counts in its health.
TASK = "smart_dairy.test.alerting"


class AlertCase(SmartDairyJobsCase):
    def setUp(self):
        super().setUp()
        self.Monitor = self.env["smart_dairy.job.monitor"]
        self.Alert = self.env["smart_dairy.job.alert"]
        self.task = self.env["smart_dairy.job.task"].create({
            "name": TASK, "queue_id": self.env.ref("smart_dairy_jobs.queue_celery").id,
            "soft_time_limit": 25, "time_limit": 30})

    def set_threshold(self, name, value):
        self.env["ir.config_parameter"].sudo().set_param(f"smart_dairy_jobs.alert_{name}", str(value))

    def active(self, condition, subject):
        return self.Alert.search([("condition", "=", condition), ("subject", "=", subject), ("state", "=", "active")])

    def manager_notifications(self, alert):
        return alert.message_ids.notification_ids.filtered(
            lambda notification: notification.res_partner_id == self.jobs_manager.partner_id)

    def assert_raised_once(self, condition, subject):
        """Two checks while the condition holds: one alert, kept, and one notification to managers."""
        self.Monitor._cron_check_alerts()
        alert = self.active(condition, subject)
        self.assertEqual(len(alert), 1, f"{condition} {subject} should be raised")
        first_seen = alert.first_seen
        self.Monitor._cron_check_alerts()
        self.assertEqual(self.active(condition, subject), alert, "kept while true, not raised again")
        self.assertEqual(alert.first_seen, first_seen)
        self.assertEqual(len(self.manager_notifications(alert)), 1, "Jobs managers are told once")
        return alert

    def assert_cleared(self, alert):
        self.Monitor._cron_check_alerts()
        self.assertEqual(alert.state, "cleared")
        self.assertTrue(alert.cleared_at)
        self.assertFalse(self.active(alert.condition, alert.subject))

    def ended_jobs(self, task_name, count, state="success", ended=None, duration=0.1):
        ended = ended or fields.Datetime.now()
        for _ in range(count):
            make_job(self.env, task_name, state=state, date_started=ended - timedelta(seconds=duration),
                     date_done=ended, duration=duration)


class TestTaskFailureRateAlert(AlertCase):
    def test_a_task_failing_more_than_the_threshold_raises_one_alert_until_its_failures_age_out(self):
        self.ended_jobs(TASK, 7, "success")
        self.ended_jobs(TASK, 3, "failure")  # 30 % of 10 jobs: over the 20 % default
        alert = self.assert_raised_once("task_failure_rate", TASK)
        self.assertIn("3 of the 10 jobs", alert.message)
        failures = self.env["smart_dairy.job"].search([("task_name", "=", TASK), ("state", "=", "failure")])
        failures.date_done = fields.Datetime.now() - timedelta(minutes=20)  # out of the window
        self.assert_cleared(alert)

    def test_too_few_jobs_or_a_higher_threshold_raise_nothing(self):
        self.ended_jobs(TASK, 2, "failure")
        self.ended_jobs(TASK, 6, "success")  # 8 jobs ended: under the 10 needed to judge the task
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("task_failure_rate", TASK))
        self.ended_jobs(TASK, 2, "success")
        self.set_threshold("failure_rate_percent", 25)  # 2 of 10 failed: 20 %
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("task_failure_rate", TASK))
        self.set_threshold("failure_rate_percent", 15)
        self.Monitor._cron_check_alerts()
        self.assertTrue(self.active("task_failure_rate", TASK))

    def test_only_the_jobs_that_succeeded_or_failed_in_the_window_count(self):
        self.ended_jobs(TASK, 10, "failure", ended=fields.Datetime.now() - timedelta(hours=1))
        self.ended_jobs(TASK, 10, "cancelled")
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("task_failure_rate", TASK))
        self.ended_jobs(TASK, 8, "success")
        self.ended_jobs(TASK, 2, "failure")
        self.set_threshold("failure_rate_percent", 15)
        self.Monitor._cron_check_alerts()
        self.assertIn("2 of the 10 jobs", self.active("task_failure_rate", TASK).message)


class TestSlowTaskAlert(AlertCase):
    def test_p95_near_the_soft_time_limit_raises_one_alert_cleared_when_the_limit_is_raised(self):
        self.ended_jobs(TASK, 9, duration=1.0)
        self.ended_jobs(TASK, 3, duration=22.0)  # p95 22 s: 88 % of the 25 s soft limit, over 80 %
        alert = self.assert_raised_once("task_slow", TASK)
        self.assertIn("p95 run time 22.0 s", alert.message)
        self.task.write({"soft_time_limit": 60, "time_limit": 70})  # now 37 %
        self.assert_cleared(alert)

    def test_fast_tasks_and_too_few_jobs_raise_nothing(self):
        self.ended_jobs(TASK, 5, duration=24.0)  # slow, but 5 jobs are not enough to judge
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("task_slow", TASK))
        self.set_threshold("task_min_jobs", 5)
        self.Monitor._cron_check_alerts()
        self.assertTrue(self.active("task_slow", TASK))
        self.set_threshold("p95_time_limit_percent", 99)
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("task_slow", TASK))


class TestCircuitOpenAlert(AlertCase):
    """The workers' breakers in the real Redis the publisher uses; the check reads them afresh."""

    def setUp(self):
        super().setUp()
        self.redis = self.env["smart_dairy.job.circuit"]._redis()
        self.service = f"test-alert-gateway-{uuid.uuid4().hex[:8]}"
        self.addCleanup(self._forget_service)
        self.breaker = circuit.CircuitBreaker(self.redis, self.service)
        self.breaker.configure(threshold=2, recovery_timeout=60)

    def _forget_service(self):
        self.redis.delete(circuit.PREFIX + self.service, circuit.PREFIX + self.service + ":probe")
        self.redis.srem(circuit.INDEX, self.service)

    def test_an_open_circuit_raises_one_alert_until_it_closes(self):
        self.breaker.record_failure()
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("circuit_open", self.service), "one failure under the breaker's threshold")
        self.breaker.record_failure()
        alert = self.assert_raised_once("circuit_open", self.service)
        self.assertIn("is open", alert.message)
        self.redis.hset(circuit.PREFIX + self.service, "state", circuit.HALF_OPEN)  # probing: still in trouble
        self.Monitor._cron_check_alerts()
        self.assertEqual(self.active("circuit_open", self.service), alert)
        self.breaker.reset()  # what a probe's success does
        self.assert_cleared(alert)


class TestQueueWithoutConsumerAlert(AlertCase):
    def setUp(self):
        super().setUp()
        self.queue = self.env["smart_dairy.job.queue"].create({"name": "celery:test-alerting"})
        self.Worker = self.env["smart_dairy.job.worker"]

    def heartbeat(self, hostname, queues):
        self.env["smart_dairy.job.bridge"].with_user(self.bridge).bridge_heartbeat(
            {"hostname": hostname, "queues": queues, "interval": 10})
        return self.Worker.search([("hostname", "=", hostname)])

    def report_job(self, state="pending"):
        return make_job(self.env, TASK, state=state, queue_id=self.queue.id)

    def test_waiting_jobs_nobody_consumes_raise_one_alert_until_a_worker_takes_the_queue(self):
        self.heartbeat("general@farm", ["celery", "celery:high"])  # online, but not for this queue
        self.report_job("enqueued")
        alert = self.assert_raised_once("queue_no_consumer", self.queue.name)
        self.assertIn("no worker has ever consumed it", alert.message)
        self.heartbeat("report@farm", ["celery:test-alerting"])
        self.assert_cleared(alert)

    def test_an_idle_queue_a_paused_one_and_a_restarting_worker_raise_nothing(self):
        self.report_job("success")
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("queue_no_consumer", self.queue.name), "no job waits")
        job = self.report_job("pending")
        self.queue.with_user(self.jobs_manager).action_pause()
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("queue_no_consumer", self.queue.name), "paused on purpose")
        self.queue.with_user(self.jobs_manager).action_resume()
        worker = self.heartbeat("report@farm", ["celery:test-alerting"])
        worker.last_heartbeat = fields.Datetime.now() - timedelta(seconds=60)
        self.assertEqual(worker.state, "offline")
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("queue_no_consumer", self.queue.name), "silent for less than a restart takes")
        worker.last_heartbeat = fields.Datetime.now() - timedelta(minutes=3)
        self.Monitor._cron_check_alerts()
        alert = self.active("queue_no_consumer", self.queue.name)
        self.assertIn("its last consumer was seen at", alert.message, "its only consumer is gone")
        job.state = "cancelled"
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("queue_no_consumer", self.queue.name), "nothing waits any more")


class TestHealthGauges(AlertCase):
    """What /smart_dairy_jobs/metrics adds for Prometheus' rules of the same conditions."""

    def samples(self):
        body, _content_type = self.Monitor._prometheus_exposition()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(body.decode()) for sample in family.samples}

    def test_gauges_for_consumers_paused_queues_task_health_and_circuits(self):
        self.env["smart_dairy.job.bridge"].with_user(self.bridge).bridge_heartbeat(
            {"hostname": "w@farm", "queues": ["celery", "celery:iot"], "interval": 10})
        self.env.ref("smart_dairy_jobs.queue_celery_low").paused = True
        self.ended_jobs(TASK, 19, duration=1.0)
        self.ended_jobs(TASK, 1, duration=21.0)
        service = f"test-gauge-{uuid.uuid4().hex[:8]}"
        redis = self.env["smart_dairy.job.circuit"]._redis()
        self.addCleanup(lambda: (redis.delete(circuit.PREFIX + service), redis.srem(circuit.INDEX, service)))
        breaker = circuit.CircuitBreaker(redis, service)
        breaker.configure(threshold=1, recovery_timeout=60)
        breaker.record_failure()
        self.env["smart_dairy.job.circuit"].action_refresh()
        samples = self.samples()
        self.assertEqual(samples[("smart_dairy_jobs_queue_consumers", (("queue", "celery:iot"),))], 1)
        self.assertEqual(samples[("smart_dairy_jobs_queue_consumers", (("queue", "celery:report"),))], 0)
        self.assertEqual(samples[("smart_dairy_jobs_queue_paused", (("queue", "celery:low"),))], 1)
        self.assertEqual(samples[("smart_dairy_jobs_queue_paused", (("queue", "celery"),))], 0)
        task = (("task_name", TASK),)
        self.assertEqual(samples[("smart_dairy_jobs_task_jobs_ran", task)], 20)
        self.assertAlmostEqual(samples[("smart_dairy_jobs_task_duration_p95_seconds", task)], 2.0)  # 1 + .05 × 20
        self.assertEqual(samples[("smart_dairy_jobs_task_soft_time_limit_seconds", task)], 25)
        self.assertEqual(samples[("smart_dairy_jobs_circuit_open", (("service", service),))], 1)
        breaker.reset()
        self.env["smart_dairy.job.circuit"].action_refresh()
        self.assertEqual(self.samples()[("smart_dairy_jobs_circuit_open", (("service", service),))], 0)
