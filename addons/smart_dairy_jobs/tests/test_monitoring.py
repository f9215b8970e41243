from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import SmartDairyJobsCase


def make_job(env, task_name="smart_dairy.health.ping", **vals):
    task = env["smart_dairy.job.task"].with_context(active_test=False).search([("name", "=", task_name)])
    values = {"task_type_id": task.id, "task_name": task.name, "queue_id": task.queue_id.id, "state": "pending"}
    values.update(vals)
    return env["smart_dairy.job"].sudo().create(values)


class TestTaskStatistics(SmartDairyJobsCase):
    def test_aggregates_match_a_hand_built_set_of_jobs(self):
        start = fields.Datetime.now() - timedelta(minutes=5)
        durations = [0.1, 0.2, 0.3, 0.4, 1.0]
        for duration in durations:
            make_job(self.env, state="success", duration=duration, wait_time=2.0, date_started=start,
                     date_done=start)
        make_job(self.env, state="failure", duration=5.0, wait_time=40.0, date_started=start, date_done=start)
        rows = self.env["smart_dairy.job.monitor"].task_statistics(start - timedelta(minutes=1),
                                                                  fields.Datetime.now() + timedelta(minutes=1))
        [row] = [r for r in rows if r["task_name"] == "smart_dairy.health.ping"]
        self.assertEqual(row["count"], 6)
        self.assertAlmostEqual(row["success_rate"], 500 / 6)
        self.assertAlmostEqual(row["failure_rate"], 100 / 6)
        self.assertAlmostEqual(row["mean_duration"], sum(durations) / 5)
        self.assertAlmostEqual(row["p95_duration"], 0.88)  # percentile_cont over 0.1 … 1.0
        self.assertAlmostEqual(row["mean_wait"], (5 * 2.0 + 40.0) / 6)
        self.assertAlmostEqual(row["sla_compliance"], 500 / 6, msg="the default queue's SLA is 30 s")
        wizard = self.env["smart_dairy.job.metrics.wizard"].with_user(self.jobs_user).create({
            "date_from": start - timedelta(minutes=1), "date_to": fields.Datetime.now() + timedelta(minutes=1)})
        wizard.action_compute()
        self.assertEqual(wizard.line_ids.filtered(lambda line: line.task_name == "smart_dairy.health.ping").count, 6)

    def test_queue_health_on_the_kanban(self):
        queue = self.env.ref("smart_dairy_jobs.queue_celery_low")
        make_job(self.env, "smart_dairy.maintenance.cleanup_old_data", state="pending")
        make_job(self.env, "smart_dairy.maintenance.cleanup_old_data", state="failure", date_done=fields.Datetime.now())
        make_job(self.env, "smart_dairy.maintenance.cleanup_old_data", state="success", date_done=fields.Datetime.now())
        queue.invalidate_recordset()
        self.assertEqual((queue.depth, queue.done_24h, queue.failure_rate), (1, 2, 50.0))
        self.assertEqual(queue.health_colour, 1, "red: half the jobs failed")


class TestAlerts(SmartDairyJobsCase):
    def setUp(self):
        super().setUp()
        self.Monitor = self.env["smart_dairy.job.monitor"]
        self.Alert = self.env["smart_dairy.job.alert"]
        self.env["ir.config_parameter"].sudo().set_param("smart_dairy_jobs.alert_queue_depth", "2")

    def active(self, condition):
        return self.Alert.search([("condition", "=", condition), ("state", "=", "active")])

    def test_queue_depth_over_threshold_raises_one_alert_and_clears(self):
        jobs = make_job(self.env) | make_job(self.env) | make_job(self.env)
        self.Monitor._cron_check_alerts()
        self.Monitor._cron_check_alerts()
        alert = self.active("queue_depth")
        self.assertEqual(len(alert), 1, "one alert per condition, not one per check")
        self.assertEqual(alert.subject, "celery")
        self.assertIn(self.jobs_manager.partner_id, alert.message_ids.notification_ids.res_partner_id)
        jobs.write({"state": "cancelled"})
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("queue_depth"))
        self.assertEqual(alert.state, "cleared")

    def test_a_silent_worker_goes_offline_raises_one_alert_and_recovers(self):
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        Worker = self.env["smart_dairy.job.worker"]
        answer = self.env["smart_dairy.job.bridge"].with_user(bridge).bridge_heartbeat(
            {"hostname": "w1@farm", "queues": ["celery"], "pool": "prefork", "concurrency": 2, "interval": 10})
        self.assertEqual(answer["paused_queues"], [])
        worker = Worker.search([("hostname", "=", "w1@farm")])
        self.assertEqual((worker.state, worker.pool_type, worker.concurrency), ("online", "prefork", 2))
        worker.last_heartbeat = fields.Datetime.now() - timedelta(seconds=31)
        self.assertEqual(worker.state, "offline")
        self.Monitor._cron_check_alerts()
        self.Monitor._cron_check_alerts()
        self.assertEqual(self.active("worker_offline").subject, "w1@farm")
        self.env["smart_dairy.job.bridge"].with_user(bridge).bridge_heartbeat({"hostname": "w1@farm", "interval": 10})
        self.Monitor._cron_check_alerts()
        self.assertFalse(self.active("worker_offline"))

    def test_dead_letters_growing_and_sla_breaches(self):
        self.env["ir.config_parameter"].sudo().set_param("smart_dairy_jobs.alert_sla_breach_percent", "50")
        job = make_job(self.env, state="failure")
        self.env["smart_dairy.job.dead.letter"]._create_for_jobs(job)
        make_job(self.env, state="started", date_started=fields.Datetime.now(), wait_time=100.0)
        self.Monitor._cron_check_alerts()
        self.assertEqual(len(self.active("dead_letters")), 1)
        self.assertEqual(self.active("sla_breach").subject, "celery")

    def test_only_the_bridge_sends_heartbeats(self):
        with self.assertRaises(AccessError):
            self.env["smart_dairy.job.bridge"].with_user(self.jobs_manager).bridge_heartbeat({"hostname": "x"})


class TestLiveControl(SmartDairyJobsCase):
    def test_pause_resume_and_rate_limits_reach_the_heartbeat_answer(self):
        queue = self.env.ref("smart_dairy_jobs.queue_celery_report")
        with self.assertRaises(AccessError):
            queue.with_user(self.jobs_user).action_pause()
        queue.with_user(self.jobs_manager).action_pause()
        self.env.ref("smart_dairy_jobs.task_health_ping").with_user(self.jobs_manager).rate_limit = "10/m"
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        answer = self.env["smart_dairy.job.bridge"].with_user(bridge).bridge_heartbeat({"hostname": "w2"})
        self.assertEqual(answer["paused_queues"], ["celery:report"])
        self.assertEqual(answer["rate_limits"]["smart_dairy.health.ping"], "10/m")
        queue.with_user(self.jobs_manager).action_resume()
        self.assertFalse(queue.paused)

    def test_rate_limits_are_checked(self):
        from odoo.exceptions import ValidationError

        with self.assertRaisesRegex(ValidationError, "must look like 100/m"):
            self.env.ref("smart_dairy_jobs.task_health_ping").rate_limit = "fast"


@tagged("post_install", "-at_install")
class TestMetricsEndpoint(HttpCase):
    def test_no_token_no_data_and_the_numbers_with_it(self):
        url = "/smart_dairy_jobs/metrics"
        self.assertEqual(self.url_open(url).status_code, 401, "no token configured: no data")
        self.env["ir.config_parameter"].sudo().set_param("smart_dairy_jobs.metrics_token", "s3cret-token")
        self.assertEqual(self.url_open(url).status_code, 401)
        self.assertEqual(self.url_open(url, headers={"Authorization": "Bearer wrong"}).status_code, 401)
        for _ in range(3):
            make_job(self.env, "smart_dairy.health.fail", state="pending")
        response = self.url_open(url, headers={"Authorization": "Bearer s3cret-token"})
        self.assertEqual(response.status_code, 200)
        body = response.text
        self.assertIn('smart_dairy_jobs_jobs{queue="celery",state="pending"} 3.0', body)
        self.assertIn("smart_dairy_jobs_dead_letters_open 0.0", body)
        self.assertIn('smart_dairy_jobs_oldest_pending_seconds{queue="celery"}', body)
        self.assertIn("smart_dairy_jobs_workers_alive", body)
        # What Prometheus' rules on queues without consumer, slow tasks and open circuits read.
        self.assertIn('smart_dairy_jobs_queue_consumers{queue="celery"} 0.0', body)
        self.assertIn('smart_dairy_jobs_queue_paused{queue="celery"} 0.0', body)
        for family in ("smart_dairy_jobs_task_duration_p95_seconds", "smart_dairy_jobs_task_soft_time_limit_seconds",
                       "smart_dairy_jobs_task_jobs_ran", "smart_dairy_jobs_circuit_open"):
            self.assertIn(f"# TYPE {family} gauge", body)
