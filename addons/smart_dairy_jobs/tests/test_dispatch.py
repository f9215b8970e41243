from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError

from odoo.addons.smart_dairy_jobs.engine.outbox import POSTCOMMIT_KEY

from .common import SmartDairyJobsCase


class TestDispatch(SmartDairyJobsCase):
    def test_dispatch_records_a_pending_job_sent_after_commit(self):
        job = self.dispatch_as(self.jobs_user)
        self.assertEqual(job.state, "pending")
        self.assertEqual(job.task_name, "smart_dairy.health.ping")
        self.assertEqual(job.queue_id, self.env.ref("smart_dairy_jobs.queue_celery"))
        self.assertEqual(job.max_retries, 0)
        self.assertEqual(job.attempt, 0)
        self.assertEqual(len(job.uuid), 36)
        self.assertEqual(job.user_id, self.jobs_user)
        self.assertEqual(job.company_id, self.jobs_user.company_id)
        self.assertEqual(job.origin, "ui")
        self.assertEqual(job.sudo().args_json, "[]")
        self.assertEqual(job.sudo().kwargs_json, "{}")
        failing = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", args=["validation"],
                                   kwargs={"note": "x"})
        self.assertEqual(failing.sudo().args_json, '["validation"]')
        self.assertEqual(failing.sudo().kwargs_json, '{"note": "x"}')
        # Nothing is on the broker yet: it is published by the after-commit hook.
        self.assertIn(job.id, self.env.cr.postcommit.data[POSTCOMMIT_KEY])

    def test_every_job_gets_its_own_uuid(self):
        first = self.dispatch_as(self.jobs_user)
        second = self.dispatch_as(self.jobs_user)
        self.assertNotEqual(first.uuid, second.uuid)

    def test_options_queue_priority_and_origin(self):
        job = self.dispatch_as(self.jobs_user, queue="celery:high", priority=1)
        self.assertEqual(job.queue_id.name, "celery:high")
        self.assertEqual(job.priority, 1)
        self.assertEqual(job.origin, "ui")
        # The origin is the server's to tell: server code names it, callers cannot.
        automated = self.Job.with_user(self.jobs_user)._dispatch("smart_dairy.health.ping", origin="automation")
        self.assertEqual(automated.origin, "automation")

    def test_json_text_arguments_are_accepted(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", args='["validation"]',
                               kwargs='{"k": "v"}')
        self.assertEqual(job.sudo().args_json, '["validation"]')
        self.assertEqual(job.sudo().kwargs_json, '{"k": "v"}')

    def test_countdown_waits_in_odoo_with_a_timed_sweep(self):
        before = fields.Datetime.now()
        job = self.dispatch_as(self.jobs_user, countdown=120)
        self.assertEqual(job.state, "pending")
        self.assertGreaterEqual(job.eta, before + timedelta(seconds=119))
        self.assertNotIn(job.id, self.env.cr.postcommit.data.get(POSTCOMMIT_KEY, set()))
        sweep = self.env["queue.job"].search([("method_name", "=", "_sweep_due"), ("eta", "=", job.eta)])
        self.assertEqual(len(sweep), 1)
        # A second job due at the same time shares that sweep.
        self.dispatch_as(self.jobs_user, eta=job.eta)
        self.assertEqual(
            self.env["queue.job"].search_count([("method_name", "=", "_sweep_due"), ("eta", "=", job.eta)]), 1
        )

    def test_related_record_is_linked(self):
        partner = self.env["res.partner"].create({"name": "Milk Buyer"})
        job = self.dispatch_as(self.jobs_user, res_model="res.partner", res_id=partner.id)
        self.assertEqual((job.res_model, job.res_id), ("res.partner", partner.id))
        action = job.action_open_related_record()
        self.assertEqual((action["res_model"], action["res_id"]), ("res.partner", partner.id))

    def test_secrets_in_arguments_are_hidden_in_the_view_fields(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", kwargs={"api_key": "k-123", "amount": "5"})
        self.assertNotIn("k-123", job.kwargs_display)
        self.assertIn('"amount": "5"', job.kwargs_display)


class TestDispatchRefusesBadInput(SmartDairyJobsCase):
    def assertRefused(self, message_part, task_name="smart_dairy.health.ping", **options):
        count = self.Job.sudo().search_count([])
        with self.assertRaises(ValidationError) as caught:
            self.dispatch_as(self.jobs_user, task_name, **options)
        self.assertIn(message_part, str(caught.exception))
        self.assertEqual(self.Job.sudo().search_count([]), count, "a refused dispatch must write nothing")

    def test_unknown_task_name(self):
        self.assertRefused("Unknown task 'no.such.task'", task_name="no.such.task")

    def test_inactive_task_type_cannot_be_dispatched(self):
        self.assertRefused("Unknown task", task_name="smart_dairy.sync.sync_inventory")  # seeded inactive

    def test_args_that_are_not_json(self):
        self.assertRefused("args is not valid JSON", args="{not json")

    def test_args_must_be_a_list_and_kwargs_an_object(self):
        self.assertRefused("args must be a JSON array", args={"a": 1})
        self.assertRefused("kwargs must be a JSON object", kwargs=[1])

    def test_values_that_json_cannot_carry(self):
        self.assertRefused("args must hold only JSON values", args=[object()])
        self.assertRefused("kwargs must hold only JSON values", kwargs={"x": float("nan")})

    def test_queue_that_does_not_exist(self):
        self.assertRefused("Queue 'celery:nope' does not exist. Known queues:", queue="celery:nope")

    def test_unknown_option(self):
        self.assertRefused("Unknown dispatch option(s): colour", colour="blue")

    def test_priority_out_of_range(self):
        self.assertRefused("Priority must be a whole number", priority=12)

    def test_countdown_and_eta_together(self):
        self.assertRefused("either countdown or eta", countdown=5, eta="2030-01-01 00:00:00")

    def test_negative_countdown_and_bad_eta(self):
        self.assertRefused("countdown must be a number of seconds", countdown=-1)
        self.assertRefused("eta must be a UTC date and time", eta="tomorrow-ish")

    def test_related_record_must_exist(self):
        self.assertRefused("Model 'no.model' does not exist", res_model="no.model", res_id=1)
        self.assertRefused("res.partner record 999999999 does not exist", res_model="res.partner", res_id=999999999)
        self.assertRefused("Give res_model and res_id together", res_model="res.partner")

    def test_origin_is_not_the_callers_to_give(self):
        self.assertRefused("Unknown dispatch option(s): origin", origin="cron")
        count = self.Job.sudo().search_count([])
        with self.assertRaisesRegex(ValidationError, "Unknown origin 'carrier pigeon'"):
            self.Job.with_user(self.jobs_user)._dispatch("smart_dairy.health.ping", origin="carrier pigeon")
        self.assertEqual(self.Job.sudo().search_count([]), count)


class TestDispatchMany(SmartDairyJobsCase):
    def test_many_jobs_in_one_insert_published_together(self):
        jobs = self.Job.with_user(self.sys_admin).dispatch_many([
            {"task_name": "smart_dairy.health.ping"},
            {"task_name": "smart_dairy.health.fail", "kwargs": {"error_type": "validation"}, "queue": "celery:high"},
        ])
        self.assertEqual(jobs.mapped("task_name"), ["smart_dairy.health.ping", "smart_dairy.health.fail"])
        self.assertEqual(jobs[1].queue_id.name, "celery:high")
        self.assertTrue(set(jobs.ids) <= self.env.cr.postcommit.data[POSTCOMMIT_KEY])

    def test_one_bad_request_refuses_the_whole_batch(self):
        count = self.Job.sudo().search_count([])
        with self.assertRaisesRegex(ValidationError, "Unknown task 'nope'"):
            self.Job.with_user(self.jobs_user).dispatch_many([{"task_name": "smart_dairy.health.ping"},
                                                              {"task_name": "nope"}])
        with self.assertRaisesRegex(ValidationError, "one by one"):
            self.Job.with_user(self.jobs_user).dispatch_many([{"task_name": "smart_dairy.health.ping",
                                                               "idempotency_key": "k"}])
        self.assertEqual(self.Job.sudo().search_count([]), count)
