"""Issue 12, inside Odoo: who may call each public method of smart_dairy_jobs, dispatch each task category,
write which fields, in which company; and every door refusing bad input with a clean ValidationError.

Each refusal asserts the fault AND that nothing was written (row counts before and after, and the aimed-at
record's fields). Two companies, users of each group in them: Jobs User, Jobs Manager, system
administrator, plain internal user, and the Celery bridge.
"""
import math
from contextlib import closing
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user

from celery_bridge.core import limits

PING = "smart_dairy.health.ping"
FAIL = "smart_dairy.health.fail"
COUNTED = ("smart_dairy.job", "smart_dairy.job.dead.letter", "smart_dairy.job.schedule", "smart_dairy.job.worker",
           "smart_dairy.job.alert", "smart_dairy.job.circuit", "smart_dairy.job.task", "smart_dairy.job.queue",
           "ir.cron", "queue.job", "res.users.apikeys")


class TrustCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Job = cls.env["smart_dairy.job"]
        cls.company_a = cls.env.ref("base.main_company")
        cls.company_b = cls.env["res.company"].create({"name": "Hill Dairy (B)"})

        def user(login, groups, company):
            return new_test_user(cls.env, login=login, name=login, groups=groups,
                                 company_id=company.id, company_ids=[company.id])

        cls.jobs_user_a = user("trust_user_a", "base.group_user,smart_dairy_jobs.group_user", cls.company_a)
        cls.jobs_user_b = user("trust_user_b", "base.group_user,smart_dairy_jobs.group_user", cls.company_b)
        cls.manager_a = user("trust_manager_a", "base.group_user,smart_dairy_jobs.group_manager", cls.company_a)
        cls.manager_b = user("trust_manager_b", "base.group_user,smart_dairy_jobs.group_manager", cls.company_b)
        # A system administrator with Jobs / User rights, not a Jobs manager: diagnostics are theirs.
        cls.sys_admin = user("trust_sysadmin", "base.group_user,base.group_system,smart_dairy_jobs.group_user",
                             cls.company_a)
        cls.plain_a = user("trust_plain_a", "base.group_user", cls.company_a)
        cls.bridge = cls.env.ref("smart_dairy_jobs.user_bridge")
        for xml_id in ("task_maintenance_cleanup_old_data", "task_maintenance_backup_database"):
            cls.env.ref("smart_dairy_jobs." + xml_id).active = True
        cls.ping_task = cls.env.ref("smart_dairy_jobs.task_health_ping")

    # ------------------------------------------------------------------ helpers

    def counts(self):
        self.env.flush_all()
        return {model: self.env[model].sudo().with_context(active_test=False).search_count([]) for model in COUNTED}

    def assertRefused(self, exception, call, *args, message=None, **kwargs):
        """``call(*args, **kwargs)`` raises ``exception`` (whose text holds ``message``) and has written no
        row by then. Counted before the savepoint is rolled back (an RPC call's transaction would be):
        the refusal must come before any write, not be undone after it."""
        name = getattr(call, "__name__", call)
        before = self.counts()
        self.env.cr.clear()  # a fresh cache, so that no cached value hides an access error
        with closing(self.env.cr.savepoint()):
            try:
                call(*args, **kwargs)
            except exception as exc:
                refused, after = exc, self.counts()
            else:
                self.fail(f"{name}{args} was not refused")
        if message:
            self.assertIn(message, str(refused))
        self.assertEqual(after, before, f"refused {name} wrote rows")
        return refused

    def dispatch(self, user, task_name=PING, **options):
        return self.Job.with_user(user).dispatch(task_name, **options)

    def job_of(self, user, task_name=PING, **options):
        return self.dispatch(user, task_name, **options).sudo()

    def dead_letter(self, user=None, task_name=PING):
        job = self.job_of(user or self.jobs_user_a, task_name)
        job.write({"state": "enqueued", "attempt": 1})
        self.Job.with_user(self.bridge).bridge_report(
            [{"uuid": job.uuid, "attempt": 1, "state": "failure", "error_type": "validation"}])
        self.assertEqual(job.state, "failure")
        return job.dead_letter_ids.sudo()

    def make_schedule(self, owner, task=None, **vals):
        """A schedule of company A made by an administrator (who alone may choose another owner)."""
        values = {"name": "Trust schedule", "task_type_id": (task or self.ping_task).id, "user_id": owner.id,
                  "company_id": self.company_a.id, "interval_number": 1, "interval_type": "hours",
                  "nextcall": fields.Datetime.now() + timedelta(hours=1)}
        values.update(vals)
        return self.env["smart_dairy.job.schedule"].create(values)

    def run_cron(self, schedule):
        """What the cron runner does: the cron's server action as the cron's user (the schedule's owner)."""
        cron = schedule.cron_id.sudo()
        cron.ir_actions_server_id.with_user(cron.user_id).run()


class TestDispatchRights(TrustCase):
    def test_ping_is_for_jobs_users_of_any_company(self):
        self.assertEqual(self.job_of(self.jobs_user_a).user_id, self.jobs_user_a)
        job_b = self.job_of(self.jobs_user_b)
        self.assertEqual((job_b.user_id, job_b.company_id), (self.jobs_user_b, self.company_b))
        for outsider in (self.plain_a, self.bridge):
            self.assertRefused(AccessError, self.dispatch, outsider)
            self.assertRefused(AccessError, self.Job.with_user(outsider).dispatch_many, [{"task_name": PING}])

    def test_diagnostics_are_for_system_administrators_only(self):
        diagnostics = {"smart_dairy.health.touch": {"path": "trust-touch"},
                       "smart_dairy.health.expect_file": {"path": "trust-expect"},
                       "smart_dairy.health.sleep": {"seconds": 1},
                       FAIL: {"error_type": "internal"}}
        for task_name, kwargs in diagnostics.items():
            for user in (self.jobs_user_a, self.manager_a, self.plain_a, self.bridge):
                self.assertRefused(AccessError, self.dispatch, user, task_name, kwargs=kwargs)
            self.assertRefused(AccessError, self.Job.with_user(self.manager_a).dispatch_many,
                               [{"task_name": PING}, {"task_name": task_name, "kwargs": kwargs}])
            job = self.job_of(self.sys_admin, task_name, kwargs=kwargs)
            self.assertEqual((job.task_name, job.user_id), (task_name, self.sys_admin))

    def test_maintenance_is_for_jobs_managers_only(self):
        maintenance = {"smart_dairy.maintenance.cleanup_old_data": {"days_to_keep": 1},
                       "smart_dairy.maintenance.backup_database": {"keep": 1}}
        for task_name, kwargs in maintenance.items():
            for user in (self.jobs_user_a, self.sys_admin, self.plain_a, self.bridge):
                self.assertRefused(AccessError, self.dispatch, user, task_name, kwargs=kwargs)
            self.assertEqual(self.job_of(self.manager_a, task_name, kwargs=kwargs).user_id, self.manager_a)

    def test_a_task_type_of_company_a_cannot_be_dispatched_in_company_b(self):
        task = self.env["smart_dairy.job.task"].create({
            "name": "trust.company_a_only", "category": "sync", "company_id": self.company_a.id,
            "queue_id": self.env.ref("smart_dairy_jobs.queue_celery").id})
        self.assertEqual(self.job_of(self.jobs_user_a, task.name).company_id, self.company_a)
        for user in (self.jobs_user_b, self.manager_b):
            self.assertRefused((AccessError, ValidationError), self.dispatch, user, task.name)
        # Nor by a user of both companies working in B.
        both = new_test_user(self.env, login="trust_both", groups="base.group_user,smart_dairy_jobs.group_user",
                             company_id=self.company_b.id, company_ids=[self.company_a.id, self.company_b.id])
        self.assertRefused(AccessError, self.Job.with_user(both).with_company(self.company_b).dispatch, task.name,
                           message="belongs to another company")

    def test_the_shipped_automation_needs_the_triggering_users_right(self):
        self.env.ref("smart_dairy_jobs.automation_dispatch_ping_for_contact").active = True
        clerk = new_test_user(self.env, login="trust_clerk", groups="base.group_user,base.group_partner_manager")
        Partner = self.env["res.partner"]
        self.assertRefused(AccessError, Partner.with_user(clerk).create, {"name": "No rights"},
                           message="may not start smart_dairy.health.ping")
        self.assertFalse(Partner.search([("name", "=", "No rights")]))


class TestRunNowAndOwners(TrustCase):
    def test_run_now_of_company_a_by_a_company_b_jobs_user_is_refused(self):
        schedule = self.make_schedule(self.manager_a)
        for user in (self.jobs_user_b, self.manager_b, self.plain_a, self.bridge):
            self.assertRefused(AccessError, schedule.with_user(user).action_run_now)
        self.assertFalse(schedule.last_job_id)
        self.assertEqual(schedule.skip_count, 0)
        schedule.with_user(self.jobs_user_a).action_run_now()
        self.assertEqual(schedule.last_job_id.user_id, self.jobs_user_a, "Run Now dispatches as the caller")

    def test_run_now_of_the_backup_by_a_jobs_user_is_refused(self):
        backup = self.env.ref("smart_dairy_jobs.schedule_backup_database")
        last = backup.last_job_id
        self.assertRefused(AccessError, backup.with_user(self.jobs_user_a).action_run_now,
                           message="may not start smart_dairy.maintenance.backup_database")
        self.assertEqual(backup.last_job_id, last)
        backup.with_user(self.manager_a).action_run_now()
        self.assertEqual(backup.last_job_id.user_id, self.manager_a)
        # While that job waits, a refused Run Now does not even count as a skipped firing.
        backup.allow_overlap = False
        self.assertRefused(AccessError, backup.with_user(self.jobs_user_a).action_run_now)
        self.assertEqual(backup.skip_count, 0)
        backup.with_user(self.manager_a).action_run_now()
        self.assertEqual(backup.skip_count, 1)

    def test_a_schedule_fires_as_its_owner(self):
        for owner in (self.jobs_user_a, self.manager_a):
            schedule = self.make_schedule(owner, name=f"Ping as {owner.login}")
            self.assertEqual(schedule.cron_id.sudo().user_id, owner)
            self.run_cron(schedule)
            job = schedule.last_job_id
            self.assertEqual((job.user_id, job.origin, job.company_id), (owner, "cron", self.company_a))
            self.assertNotIn(job.user_id, self.env.ref("base.user_root") | self.env.ref("base.user_admin"))

    def test_a_schedule_whose_owner_lost_the_right_does_not_dispatch(self):
        cleanup = self.env.ref("smart_dairy_jobs.task_maintenance_cleanup_old_data")
        schedule = self.make_schedule(self.manager_a, cleanup, kwargs_json='{"days_to_keep": 30}')
        self.manager_a.write({"groups_id": [Command.unlink(self.env.ref("smart_dairy_jobs.group_manager").id)]})
        self.assertTrue(self.manager_a.has_group("smart_dairy_jobs.group_user"))
        before = self.counts()
        with self.assertLogs("odoo.addons.smart_dairy_jobs.models.smart_dairy_job_schedule", "WARNING") as logs:
            self.run_cron(schedule)
        self.assertIn("did not run", logs.output[0])
        self.assertEqual(self.counts(), before)
        self.assertFalse(schedule.last_job_id)

    def test_a_jobs_manager_cannot_make_a_schedule_run_as_someone_else(self):
        Schedule = self.env["smart_dairy.job.schedule"].with_user(self.manager_a)
        vals = {"name": "Borrowed", "task_type_id": self.ping_task.id, "interval_number": 1, "interval_type": "days"}
        self.assertRefused(AccessError, Schedule.create, dict(vals, user_id=self.jobs_user_a.id))
        own = Schedule.create(vals)
        self.assertEqual(own.user_id, self.manager_a)
        self.assertRefused(AccessError, own.write, {"user_id": self.env.ref("base.user_admin").id})
        self.assertEqual(own.user_id, self.manager_a)
        # Nor change what a schedule that runs as the administrator runs...
        admins = self.make_schedule(self.env.ref("base.user_admin"), name="Admin's")
        diagnostic = self.env.ref("smart_dairy_jobs.task_health_touch")
        for change in ({"task_type_id": diagnostic.id}, {"kwargs_json": '{"x": 1}'}):
            self.assertRefused(AccessError, admins.with_user(self.manager_a).write, change)
        self.assertEqual((admins.task_type_id, admins.kwargs_json), (self.ping_task, "{}"))
        # ...unless they take it over, which checks their own rights.
        admins.with_user(self.manager_a).write({"user_id": self.manager_a.id, "kwargs_json": "{}"})
        with self.assertRaises(ValidationError):
            admins.with_user(self.manager_a).write({"task_type_id": diagnostic.id})
        # When it runs stays theirs to edit.
        admins.with_user(self.manager_a).write({"interval_number": 3})
        self.assertEqual(admins.interval_number, 3)


class TestProtectedFields(TrustCase):
    def test_raw_writes_of_a_job_are_refused_even_to_managers(self):
        job = self.job_of(self.jobs_user_a)
        for user in (self.manager_a, self.sys_admin):
            for vals in ({"state": "success"}, {"result_json": '"paid"'}, {"attempt": 7}, {"progress": 100}):
                self.assertRefused(AccessError, job.with_user(user).write, vals)
        self.assertEqual((job.state, job.result_json, job.attempt), ("pending", False, 0))
        for user in (self.manager_a, self.sys_admin):
            self.assertRefused(AccessError, self.Job.with_user(user).create, {
                "task_type_id": self.ping_task.id, "task_name": PING, "queue_id": job.queue_id.id,
                "state": "success"})
            self.assertRefused(AccessError, self.Job.with_user(user).create, {
                "task_type_id": self.ping_task.id, "task_name": PING, "queue_id": job.queue_id.id})

    def test_dead_letters_change_only_through_their_actions(self):
        entry = self.dead_letter()
        for vals in ({"state": "resolved"}, {"error_message": "nothing"}, {"requeued_job_id": entry.job_id.id},
                     {"kwargs_display": "{}"}, {"job_id": self.job_of(self.jobs_user_a).id}):
            self.assertRefused(AccessError, entry.with_user(self.manager_a).write, vals)
        self.assertEqual(entry.state, "new")
        entry.with_user(self.manager_a).write({"note": "looking into it"})
        self.assertEqual(entry.note, "looking into it")

    def test_worker_alert_circuit_queue_schedule_and_task_system_fields(self):
        Worker = self.env["smart_dairy.job.worker"]
        self.env["smart_dairy.job.bridge"].with_user(self.bridge).bridge_heartbeat(
            {"hostname": "trust-worker", "queues": ["celery"]})
        worker = Worker.search([("hostname", "=", "trust-worker")])
        self.assertRefused(AccessError, worker.with_user(self.manager_a).write,
                           {"last_heartbeat": fields.Datetime.now() + timedelta(days=1)})
        self.assertRefused(AccessError, Worker.with_user(self.manager_a).create, {"hostname": "fake"})

        alert = self.env["smart_dairy.job.alert"].sudo().create({
            "condition": "queue_depth", "subject": "trust", "message": "deep", "first_seen": fields.Datetime.now()})
        for vals in ({"state": "cleared"}, {"last_seen": False}, {"message": "fine"}):
            self.assertRefused(AccessError, alert.with_user(self.manager_a).write, vals)
        self.assertEqual(alert.state, "active")

        circuit = self.env["smart_dairy.job.circuit"].sudo().with_context(circuit_read_from_redis=True).create(
            {"service": "trust-gateway"})
        for vals in ({"state": "open"}, {"failures": 99}):
            self.assertRefused(AccessError, circuit.with_user(self.manager_a).write, vals)

        queue = self.env.ref("smart_dairy_jobs.queue_celery")
        self.assertRefused(AccessError, queue.with_user(self.manager_a).write, {"paused": True})
        queue.with_user(self.manager_a).write({"sla_seconds": 30})
        self.assertEqual((queue.paused, queue.sla_seconds), (False, 30))

        schedule = self.make_schedule(self.manager_a)
        for vals in ({"skip_count": 5}, {"last_skip_at": fields.Datetime.now()},
                     {"last_job_id": self.job_of(self.manager_a).id}, {"cron_id": False}):
            self.assertRefused(AccessError, schedule.with_user(self.manager_a).write, vals)
        schedule.with_user(self.manager_a).write({"interval_number": 2, "kwargs_json": "{}"})
        self.assertEqual(schedule.interval_number, 2)
        copied = schedule.with_user(self.manager_a).copy()
        self.assertEqual((copied.user_id, copied.skip_count, copied.last_job_id), (self.manager_a, 0,
                                                                                    copied.last_job_id.browse()))
        self.assertRefused(AccessError, self.job_of(self.manager_a).with_user(self.manager_a).copy)

        # Who may start a task type is the administrators' to say; its operation is the managers'.
        touch = self.env.ref("smart_dairy_jobs.task_health_touch")
        for vals in ({"group_ids": [Command.set(self.env.ref("smart_dairy_jobs.group_user").ids)]},
                     {"name": "smart_dairy.health.touch_old"}, {"company_id": self.company_a.id}):
            self.assertRefused(AccessError, touch.with_user(self.manager_a).write, vals)
        self.assertEqual(touch.group_ids, self.env.ref("base.group_system"))
        self.assertRefused(AccessError, self.env["smart_dairy.job.task"].with_user(self.manager_a).create,
                           {"name": "trust.new", "queue_id": queue.id})
        self.assertRefused(AccessError, self.ping_task.with_user(self.manager_a).unlink)
        touch.with_user(self.manager_a).write({"max_retries": 1})
        self.assertEqual(touch.max_retries, 1)


class TestIdempotencyAcrossCompanies(TrustCase):
    def test_another_companys_key_is_neither_returned_nor_blocking(self):
        job_a = self.job_of(self.jobs_user_a, idempotency_key="PAY/2026/0001")
        snapshot = job_a.read(["state", "idempotency_key", "user_id", "company_id"])
        job_b = self.job_of(self.jobs_user_b, idempotency_key="PAY/2026/0001")
        self.assertNotEqual(job_b, job_a)
        self.assertEqual(job_b.company_id, self.company_b)
        self.assertEqual(job_a.read(["state", "idempotency_key", "user_id", "company_id"]), snapshot)
        self.assertEqual(self.job_of(self.jobs_user_b, idempotency_key="PAY/2026/0001"), job_b)
        self.assertEqual(self.job_of(self.jobs_user_a, idempotency_key="PAY/2026/0001"), job_a)


class TestDispatchLimits(TrustCase):
    def refused(self, message, task_name=PING, user=None, **options):
        return self.assertRefused(ValidationError, self.dispatch, user or self.jobs_user_a, task_name,
                                  message=message, **options)

    def test_the_origin_is_not_the_callers(self):
        self.refused("Unknown dispatch option(s): origin", origin="cron")
        self.assertRefused(ValidationError, self.Job.with_user(self.jobs_user_a).dispatch_many,
                           [{"task_name": PING, "origin": "cron"}], message="Unknown dispatch option(s): origin")

    def test_countdowns_and_etas_are_bounded(self):
        for countdown in (1e20, math.inf, -math.inf, math.nan, -1, 10 ** 400, "60", True):
            self.refused("countdown must be a number of seconds", countdown=countdown)
        beyond = fields.Datetime.now() + timedelta(seconds=limits.MAX_PLANNING_SECONDS + 3600)
        self.refused("eta may be at most", eta=fields.Datetime.to_string(beyond))
        self.refused("eta must be a UTC date and time", eta="9999-99-99 00:00:00")
        self.refused("eta must be a UTC date and time", eta={"at": "noon"})

    def test_related_records_must_be_stored_records(self):
        self.refused("has no stored records", res_model="smart_dairy.job.monitor", res_id=1)
        self.refused("has no stored records", res_model="smart_dairy.job.schedule.validation", res_id=1)
        self.refused("does not exist", res_model=["res.partner"], res_id=1)
        self.refused("res_id must be a record id", res_model="res.partner", res_id=2 ** 40)

    def test_sizes_are_bounded(self):
        self.refused("bytes as JSON", user=self.sys_admin, task_name=FAIL, kwargs={"blob": "x" * (10 * 1024 * 1024)})
        self.refused("idempotency_key may have at most", idempotency_key="k" * 100_000)
        self.assertRefused(ValidationError, self.Job.with_user(self.jobs_user_a).dispatch_many,
                           [{"task_name": PING}] * 5000, message="At most")
        self.refused("The task name must be a non-empty string", task_name="t" * 100_000)

    def test_arguments_must_fit_the_tasks_schema(self):
        self.refused("too many positional arguments", args=[1])
        self.refused("unknown keyword argument", kwargs={"herd": "north"})
        self.refused("'path'", user=self.sys_admin, task_name="smart_dairy.health.touch",
                     kwargs={"path": "../../etc/passwd"})
        self.refused("missing required argument", user=self.sys_admin, task_name="smart_dairy.health.touch")
        self.refused("seconds", user=self.sys_admin, task_name="smart_dairy.health.sleep", kwargs={"seconds": 1e9})
        self.refused("'days_to_keep'", user=self.manager_a, task_name="smart_dairy.maintenance.cleanup_old_data",
                     kwargs={"days_to_keep": 0})

    def test_options_of_the_wrong_type_are_refused_cleanly(self):
        self.refused("queue must be the name of a queue", queue=["celery"])
        self.refused("idempotency_scope must be one of", idempotency_key="k", idempotency_scope=["user"])
        self.refused("Priority must be a whole number", priority="1")
        self.refused("args must be a JSON array", args={"a": 1})


class TestPublicMethods(TrustCase):
    def test_task_statistics_are_for_jobs_users_of_their_companies(self):
        self.job_of(self.jobs_user_a)
        Monitor = self.env["smart_dairy.job.monitor"]
        since = fields.Datetime.to_string(fields.Datetime.now() - timedelta(hours=1))
        until = fields.Datetime.to_string(fields.Datetime.now() + timedelta(hours=1))
        for user in (self.bridge, self.plain_a):
            self.assertRefused(AccessError, Monitor.with_user(user).task_statistics, since, until)
        self.assertIn(PING, [row["task_name"] for row in Monitor.with_user(self.jobs_user_a).task_statistics(
            since, until)])
        self.assertEqual(Monitor.with_user(self.jobs_user_b).task_statistics(since, until), [],
                         "company B sees nothing of company A's jobs")
        with self.assertRaises(AccessError):
            Monitor.with_user(self.jobs_user_b).with_context(
                allowed_company_ids=[self.company_a.id]).task_statistics(since, until)
        for bad in (("yesterday", until), (since, 5), (until, since), (None, until), ([since], until)):
            self.assertRefused(ValidationError, Monitor.with_user(self.jobs_user_a).task_statistics, *bad)

    def test_dead_letters_are_handled_by_managers_of_their_company(self):
        entry = self.dead_letter()
        DeadLetter = self.env["smart_dairy.job.dead.letter"]
        for user in (self.jobs_user_a, self.manager_b, self.plain_a, self.bridge):
            self.assertRefused(AccessError, DeadLetter.with_user(user).requeue, [entry.id])
            self.assertRefused(AccessError, entry.with_user(user).action_requeue)
            self.assertRefused(AccessError, entry.with_user(user).action_discard)
            self.assertRefused(AccessError, entry.with_user(user).action_open_resolve_wizard)
        self.assertRefused(AccessError, entry.with_user(self.jobs_user_a)._resolve, "hidden")
        self.assertRefused(AccessError, self.env["smart_dairy.job.dead.letter.resolve"].with_user(
            self.jobs_user_a).create, {"note": "x", "dead_letter_ids": [Command.set(entry.ids)]})
        wizard = self.env["smart_dairy.job.dead.letter.resolve"].with_user(self.manager_b).create(
            {"note": "not yours", "dead_letter_ids": [Command.set(entry.ids)]})
        self.assertRefused(UserError, wizard.action_resolve, message="No dead letter you may handle was chosen")
        self.assertEqual((entry.state, entry.note), ("new", False))
        for bad in ("abc", [], [0], [True], [2 ** 40], [999_999_999], list(range(1, 2000))):
            self.assertRefused(ValidationError, DeadLetter.with_user(self.manager_a).requeue, bad)
        for state, limit in (([1], 80), ("lost", 80), ("new", -1), ("new", 2 ** 70), ("new", "ten")):
            self.assertRefused(ValidationError, DeadLetter.with_user(self.jobs_user_a).list_dead_letters, state, limit)
        [new_id] = DeadLetter.with_user(self.manager_a).requeue(entry.id)
        self.assertEqual(self.Job.sudo().browse(new_id).user_id, self.manager_a)

    def test_worker_heartbeats_are_the_bridges(self):
        Bridge = self.env["smart_dairy.job.bridge"]
        for user in (self.manager_a, self.sys_admin, self.jobs_user_a, self.plain_a):
            self.assertRefused(AccessError, Bridge.with_user(user).bridge_heartbeat, {"hostname": "w"})
        for bad in ("abc", {}, {"hostname": "h" * 100_000}, {"hostname": "w", "concurrency": "abc"},
                    {"hostname": "w", "queues": "celery"}, {"hostname": "w", "queues": [{"a": 1}]},
                    {"hostname": "w", "interval": math.nan}, {"hostname": "w", "active_tasks": -1}):
            self.assertRefused(ValidationError, Bridge.with_user(self.bridge).bridge_heartbeat, bad,
                               message="Heartbeat refused")

    def test_queues_are_paused_and_resumed_by_managers(self):
        queue = self.env.ref("smart_dairy_jobs.queue_celery_low")
        for user in (self.jobs_user_a, self.plain_a, self.bridge):
            self.assertRefused(AccessError, queue.with_user(user).action_pause)
            self.assertRefused(AccessError, queue.with_user(user).action_resume)
        self.assertFalse(queue.paused)
        queue.with_user(self.manager_a).action_pause()
        self.assertTrue(queue.paused)
        self.assertRefused(AccessError, queue.with_user(self.jobs_user_a).action_resume)
        self.assertTrue(queue.paused)
        queue.with_user(self.manager_a).action_resume()
        self.assertFalse(queue.paused)

    def test_actions_that_open_records_check_rights(self):
        partner = self.env["res.partner"].create({"name": "Trust Farm"})
        job = self.job_of(self.jobs_user_a, res_model="res.partner", res_id=partner.id)
        for user in (self.jobs_user_b, self.manager_b, self.plain_a, self.bridge):
            self.assertRefused(AccessError, job.with_user(user).action_open_related_record)
            self.assertRefused(AccessError, job.with_user(user).action_cancel)
            self.assertRefused(AccessError, self.Job.with_user(user).get_status, [job.id])
            self.assertRefused(AccessError, self.Job.with_user(user).cancel, [job.id])
        self.assertEqual(job.state, "pending")
        too_many = [job.id] * (limits.MAX_REFS_PER_CALL + 1)
        self.assertRefused(ValidationError, self.Job.with_user(self.jobs_user_a).get_status, too_many)
        self.assertRefused(ValidationError, self.Job.with_user(self.jobs_user_a).cancel, too_many)
        self.assertEqual(job.with_user(self.jobs_user_a).action_open_related_record()["res_id"], partner.id)
        self.assertRefused(AccessError, partner.with_user(self.plain_a).action_view_smart_dairy_jobs)
        schedule = self.make_schedule(self.manager_a)
        for user in (self.jobs_user_b, self.plain_a, self.bridge):
            self.assertRefused(AccessError, schedule.with_user(user).action_view_jobs)
        self.assertIn(("schedule_id", "=", schedule.id), schedule.with_user(self.jobs_user_a).action_view_jobs()["domain"])

    def test_schedule_checks_are_for_jobs_users(self):
        Schedule = self.env["smart_dairy.job.schedule"]
        for user in (self.plain_a, self.bridge):
            self.assertRefused(AccessError, Schedule.with_user(user).validate_schedules)
        for days in (0, 367, True, "7", 7.5):
            self.assertRefused(ValidationError, Schedule.with_user(self.jobs_user_a).validate_schedules, days)
        self.make_schedule(self.manager_a, name="Only in A", cron_active=True)
        names_b = [run["schedule"] for run in Schedule.with_user(self.jobs_user_b).validate_schedules()["next_runs"]]
        self.assertNotIn("Only in A", names_b)

    def test_only_system_administrators_issue_the_bridge_key(self):
        Wizard = self.env["smart_dairy.job.bridge.key"]
        for user in (self.jobs_user_a, self.plain_a, self.bridge):
            self.assertRefused(AccessError, Wizard.with_user(user).create, {})
        wizard = Wizard.with_user(self.manager_a).create({})
        self.assertRefused(AccessError, wizard.action_issue_key)
        self.assertFalse(wizard.key)
        wizard = Wizard.with_user(self.sys_admin).create({})
        wizard.action_issue_key()
        self.assertEqual(len(wizard.key), 40)

    def test_bridge_methods_are_the_bridges(self):
        job = self.job_of(self.jobs_user_a)
        file_report = {"kind": "file", "uuid": job.uuid, "attempt": 1, "filename": "f.txt", "mimetype": "text/plain",
                       "data": "eA=="}
        for user in (self.manager_a, self.sys_admin, self.jobs_user_a):
            Job = self.Job.with_user(user)
            Bridge = self.env["smart_dairy.job.bridge"].with_user(user)
            self.assertRefused(AccessError, Job.bridge_report, [{"uuid": job.uuid, "attempt": 1, "state": "started"}])
            self.assertRefused(AccessError, Job.bridge_report, [file_report])
            self.assertRefused(AccessError, Bridge.cleanup_batch, job.uuid, "jobs", 1)
            self.assertRefused(AccessError, Bridge.bridge_heartbeat, {"hostname": "w"})
        Job = self.Job.with_user(self.bridge)
        for bad in ({"uuid": 1}, {"attempt": "1"}, {"mimetype": ["text/plain"]}, {"kind": "files"}):
            [outcome] = Job.bridge_report([dict(file_report, **bad)])
            self.assertEqual(outcome["status"], "invalid", bad)
        Bridge = self.env["smart_dairy.job.bridge"].with_user(self.bridge)
        self.assertRefused(ValidationError, Bridge.cleanup_batch, job.uuid, "jobs", 1, True)
        self.assertEqual(job.state, "pending")
        self.assertFalse(job.sudo().attachment_ids)

    def test_circuits_are_read_by_jobs_users_and_reset_by_managers(self):
        Circuit = self.env["smart_dairy.job.circuit"]
        for user in (self.plain_a, self.bridge):
            self.assertRefused(AccessError, Circuit.with_user(user).action_refresh)
        circuit = Circuit.sudo().with_context(circuit_read_from_redis=True).create({"service": "trust-reset"})
        self.assertRefused(AccessError, circuit.with_user(self.jobs_user_a).action_reset)

    def test_config_settings_are_for_administrators(self):
        Settings = self.env["res.config.settings"]
        for user in (self.manager_a, self.jobs_user_a, self.bridge):
            self.assertRefused(AccessError, Settings.with_user(user).create,
                               {"smart_dairy_jobs_metrics_token": "stolen"})
        self.assertNotEqual(self.env["ir.config_parameter"].sudo().get_param("smart_dairy_jobs.metrics_token"),
                            "stolen")
