import json
from datetime import datetime, timedelta

import pytz

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user

from .common import SmartDairyJobsCase

DHAKA = pytz.timezone("Asia/Dhaka")


def dhaka(utc_naive):
    return pytz.utc.localize(utc_naive).astimezone(DHAKA)


def run_cron(schedule):
    """What the cron runner does: the cron's server action, run as the cron's user (the schedule's
    owner). Not method_direct_trigger: Odoo 18 records its progress as that user, which only
    administrators may."""
    cron = schedule.cron_id.sudo()
    cron.ir_actions_server_id.with_user(cron.user_id).run()


class TestSchedules(SmartDairyJobsCase):
    def make_schedule(self, **vals):
        values = {"name": "Ping every hour", "task_type_id": self.env.ref("smart_dairy_jobs.task_health_ping").id,
                  "kwargs_json": "{}", "interval_number": 1, "interval_type": "hours",
                  "nextcall": fields.Datetime.now() + timedelta(hours=1)}
        values.update(vals)
        return self.env["smart_dairy.job.schedule"].with_user(self.jobs_manager).create(values)

    def test_b009_schedules_are_seeded_in_dhaka_time(self):
        """The jobs addon's own; smart_dairy_iot and smart_dairy_operations test theirs."""
        def seeded(xml_id):
            return self.env.ref("smart_dairy_jobs." + xml_id)
        expected_daily = {
            "schedule_cleanup_old_data": (2, "celery:low"),
            "schedule_backup_database": (3, "celery:low"),
            "schedule_check_subscription_renewals": (6, "celery"),
        }
        for xml_id, (hour, queue) in expected_daily.items():
            schedule = seeded(xml_id)
            local = dhaka(schedule.nextcall)
            self.assertEqual((local.hour, local.minute, schedule.interval_number, schedule.interval_type),
                             (hour, 0, 1, "days"), xml_id)
            self.assertEqual(schedule.queue_id.name, queue, xml_id)
        monthly = seeded("schedule_generate_monthly_invoices")
        self.assertEqual((dhaka(monthly.nextcall).day, dhaka(monthly.nextcall).hour, monthly.interval_type),
                         (1, 0, "months"))
        self.assertEqual((seeded("schedule_sync_inventory").interval_number,
                          seeded("schedule_sync_inventory").interval_type), (4, "hours"))
        self.assertEqual(json.loads(seeded("schedule_cleanup_old_data").kwargs_json), {"days_to_keep": 90})
        for schedule in self.env["smart_dairy.job.schedule"].search([("cron_id", "!=", False)]).filtered(
                lambda s: not s.task_type_id.active):
            self.assertFalse(schedule.cron_active, "tasks no worker has yet are seeded inactive")
            self.assertIn("no worker implements", schedule.note)

    def test_the_schedule_owns_a_cron_and_both_sides_edit_the_same_thing(self):
        schedule = self.make_schedule()
        cron = schedule.cron_id.sudo()  # as an administrator in Settings › Technical › Scheduled Actions
        self.assertEqual((cron.interval_number, cron.interval_type, cron.active), (1, "hours", True))
        cron.write({"interval_number": 3, "nextcall": datetime(2030, 1, 1, 5, 0)})
        schedule.invalidate_recordset()
        self.assertEqual((schedule.interval_number, schedule.nextcall), (3, datetime(2030, 1, 1, 5, 0)))
        schedule.with_user(self.jobs_manager).write({"interval_type": "days", "cron_active": False})
        self.assertEqual((cron.interval_type, cron.active), ("days", False))
        self.assertEqual(self.env["smart_dairy.job.schedule"].search([("cron_active", "=", False),
                                                                      ("id", "=", schedule.id)]), schedule)

    def test_a_cron_run_dispatches_the_task_with_its_arguments(self):
        cleanup = self.env.ref("smart_dairy_jobs.task_maintenance_cleanup_old_data")
        cleanup.active = True
        schedule = self.make_schedule(task_type_id=cleanup.id, kwargs_json='{"days_to_keep": 30}',
                                      queue_id=self.env.ref("smart_dairy_jobs.queue_celery_high").id)
        run_cron(schedule)
        job = schedule.last_job_id
        self.assertEqual((job.task_name, job.origin, job.schedule_id, job.queue_id.name),
                         (cleanup.name, "cron", schedule, "celery:high"))
        self.assertEqual(json.loads(job.sudo().kwargs_json), {"days_to_keep": 30})
        self.assertEqual(job.user_id, self.jobs_manager, "a schedule's jobs run as its owner")
        self.assertEqual(schedule.job_count, 1)

    def test_a_schedule_that_forbids_overlap_skips_while_its_job_runs(self):
        schedule = self.make_schedule(allow_overlap=False)
        Schedule = self.env["smart_dairy.job.schedule"]
        first = Schedule._fire(schedule.id)
        self.assertFalse(Schedule._fire(schedule.id), "the first job is still pending")
        self.assertEqual(schedule.skip_count, 1)
        first.sudo().write({"state": "success"})
        self.assertTrue(Schedule._fire(schedule.id))

    def test_deleting_a_schedule_removes_its_cron(self):
        schedule = self.make_schedule()
        cron = schedule.cron_id
        schedule.with_user(self.jobs_manager).unlink()
        self.assertFalse(cron.exists())

    def test_bad_arguments_and_rights(self):
        with self.assertRaisesRegex(ValidationError, "kwargs is not valid JSON"):
            self.make_schedule(kwargs_json="{oops")
        with self.assertRaises(AccessError):
            self.env["smart_dairy.job.schedule"].with_user(self.jobs_user).create({
                "name": "x", "task_type_id": self.env.ref("smart_dairy_jobs.task_health_ping").id})

    def test_schedules_too_close_on_a_queue_are_flagged_with_a_shift_that_clears_them(self):
        at = fields.Datetime.now().replace(second=0, microsecond=0) + timedelta(minutes=30)
        high = self.env.ref("smart_dairy_jobs.queue_celery_high").id  # no seeded schedule uses it
        first = self.make_schedule(name="Milk sync", nextcall=at, queue_id=high)
        second = self.make_schedule(name="Feed sync", nextcall=at + timedelta(seconds=20), queue_id=high)
        (first | second).invalidate_recordset(["collision_warning"])
        self.assertIn("Starts 0 min from Feed sync on celery:high, 15 min apart wanted", first.collision_warning)
        self.assertIn("move Feed sync 15 min later", second.collision_warning)
        report = self.env["smart_dairy.job.schedule"].with_user(self.jobs_user).validate_schedules(days=1)
        (conflict,) = [c for c in report["collisions"] if c["queue"] == "celery:high"]
        self.assertEqual((conflict["schedules"], conflict["closest_minutes"], conflict["wanted_minutes"],
                          conflict["move"], conflict["offset_minutes"]), (["Feed sync", "Milk sync"], 0, 15, "Feed sync", 15))
        action = first.action_validate_schedules()
        text = self.env[action["res_model"]].browse(action["res_id"]).report
        self.assertIn("celery:high: Feed sync, Milk sync, 0 min apart (15 wanted)", text)
        # The advice can be followed: with the suggested next run, nothing is left to flag.
        second.write({"nextcall": fields.Datetime.to_datetime(conflict["next_call"])})
        (first | second).invalidate_recordset(["collision_warning"])
        self.assertEqual((first.collision_warning, second.collision_warning), (False, False))
        self.assertFalse([c for c in self.env["smart_dairy.job.schedule"].validate_schedules(days=7)["collisions"]
                          if c["queue"] == "celery:high"])

    def test_frequent_schedules_only_keep_out_of_each_others_minute(self):
        at = fields.Datetime.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
        high = self.env.ref("smart_dairy_jobs.queue_celery_high").id
        minutely = self.make_schedule(name="Poll gates", interval_number=1, interval_type="minutes", nextcall=at,
                                      queue_id=high)
        five = self.make_schedule(name="Poll tanks", interval_number=5, interval_type="minutes", nextcall=at,
                                  queue_id=high)
        hourly = self.make_schedule(name="Hourly sync", nextcall=at, queue_id=high)
        (minutely | five | hourly).invalidate_recordset(["collision_warning"])
        self.assertFalse(minutely.collision_warning or five.collision_warning or hourly.collision_warning,
                         "every minute and every 5 min cannot be offset; frequent ones are not spaced from others")
        ten = self.make_schedule(name="Poll silos", interval_number=10, interval_type="minutes", nextcall=at,
                                 queue_id=high)
        ten.invalidate_recordset(["collision_warning"])
        self.assertIn("Starts in the same minute as Poll tanks on celery:high", ten.collision_warning)
        self.assertRegex(ten.collision_warning, r"move Poll (tanks|silos) 1 min (later|earlier)")
        report = self.env["smart_dairy.job.schedule"].validate_schedules(days=1)
        self.assertEqual({"Poll gates", "Poll tanks", "Poll silos"} - set(report["frequent"]), set())

    def test_the_spacing_is_a_setting_and_a_parameter(self):
        at = fields.Datetime.now().replace(second=0, microsecond=0) + timedelta(minutes=30)
        high = self.env.ref("smart_dairy_jobs.queue_celery_high").id
        self.make_schedule(name="Milk sync", nextcall=at, queue_id=high)
        self.make_schedule(name="Feed sync", nextcall=at + timedelta(minutes=10), queue_id=high)
        Schedule = self.env["smart_dairy.job.schedule"]

        def flagged(**kwargs):
            return [c for c in Schedule.validate_schedules(days=1, **kwargs)["collisions"] if c["queue"] == "celery:high"]
        self.assertTrue(flagged())
        self.env["ir.config_parameter"].set_param("smart_dairy_jobs.schedule_spacing_minutes", "10")
        self.assertEqual(Schedule.validate_schedules(days=1)["spacing_minutes"], 10)
        self.assertFalse(flagged())
        self.assertTrue(flagged(spacing_minutes=15))
        for bad in (0, 721, "15", True):
            with self.assertRaisesRegex(ValidationError, "spacing_minutes"):
                Schedule.validate_schedules(days=1, spacing_minutes=bad)
        with self.assertRaisesRegex(ValidationError, "spacing"):
            self.env["res.config.settings"].create({"smart_dairy_jobs_schedule_spacing_minutes": 0})

    def test_a_fresh_install_passes_the_schedule_check(self):
        """What the installed addons seed (the test database has no demo data): no schedule too close to
        another on its queue, no DST surprise; and none either once the seeded schedules that wait for
        a worker are switched on."""
        Schedule = self.env["smart_dairy.job.schedule"]
        report = Schedule.validate_schedules(days=31)
        self.assertEqual((report["collisions"], report["dst"]), ([], []))
        waiting = Schedule.search([("cron_active", "=", False)])
        waiting.write({"cron_active": True})
        self.assertEqual(Schedule.validate_schedules(days=31)["collisions"], [])
        self.assertFalse(Schedule.search([]).filtered("collision_warning"))

    def test_validation_reports_dst_surprises_in_the_company_timezone(self):
        self.env.company.partner_id.tz = "Europe/Berlin"
        self.make_schedule(name="Nightly backup", interval_type="days",
                           nextcall=datetime(fields.Datetime.now().year + 1, 3, 1, 1, 30))
        report = self.env["smart_dairy.job.schedule"].validate_schedules(days=7)
        problems = [d["problem"] for d in report["dst"] if d["schedule"] == "Nightly backup"]
        self.assertTrue(any("does not exist" in p for p in problems), problems)
        with self.assertRaises(ValidationError):
            self.env["smart_dairy.job.schedule"].validate_schedules(days=0)

    def test_writing_only_active_keeps_the_interval(self):
        # A form saves only the fields that changed: toggling Active must not blank the interval.
        schedule = self.make_schedule(interval_number=2, interval_type="hours")
        nextcall = schedule.nextcall
        schedule.write({"cron_active": False})
        self.assertEqual((schedule.cron_id.active, schedule.cron_id.interval_number, schedule.cron_id.interval_type,
                          schedule.cron_id.nextcall), (False, 2, "hours", nextcall))
        schedule.write({"interval_number": 3})
        self.assertEqual((schedule.interval_number, schedule.interval_type, schedule.cron_active), (3, "hours", False))


class TestTimeWindows(SmartDairyJobsCase):
    def test_a_job_outside_its_window_waits_for_the_opening(self):
        self.env.company.partner_id.tz = "Asia/Dhaka"
        ping = self.env.ref("smart_dairy_jobs.task_health_ping")
        now_local = pytz.utc.localize(fields.Datetime.now()).astimezone(DHAKA)
        start = (now_local.hour + 2) % 24
        ping.write({"window_active": True, "window_weekdays": "0,1,2,3,4,5,6",
                    "window_start": start, "window_end": (start + 1) % 24})
        job = self.dispatch_as(self.jobs_user)
        self.assertEqual(job.state, "pending")
        local_eta = dhaka(job.eta)
        self.assertEqual((local_eta.hour, local_eta.minute), (start, 0))
        self.assertGreater(job.eta, fields.Datetime.now())

    def test_a_window_needs_valid_weekdays(self):
        with self.assertRaisesRegex(ValidationError, "Weekdays of"):
            self.env.ref("smart_dairy_jobs.task_health_ping").write({"window_active": True, "window_weekdays": "9"})


class TestAutomation(SmartDairyJobsCase):
    def test_the_shipped_automation_dispatches_a_job_linked_to_the_new_contact(self):
        self.env.ref("smart_dairy_jobs.automation_dispatch_ping_for_contact").active = True
        # The rule dispatches for the user who triggered it, with that user's rights (checked for every
        # origin): the clerk may start pings as a Jobs user.
        clerk = new_test_user(self.env, login="sdj_clerk2",
                              groups="base.group_user,base.group_partner_manager,smart_dairy_jobs.group_user")
        partner = self.env["res.partner"].with_user(clerk).create({"name": "Green Pasture Farm"})
        job = self.Job.sudo().search([("res_model", "=", "res.partner"), ("res_id", "=", partner.id)])
        self.assertEqual(len(job), 1)
        self.assertEqual((job.task_name, job.origin, job.user_id), ("smart_dairy.health.ping", "automation", clerk))
        # ping takes no arguments: model and ids are added only for tasks whose schema takes them.
        self.assertEqual(json.loads(job.kwargs_json), {})
        self.assertEqual(partner.with_user(self.jobs_user).smart_dairy_job_count, 1)
        action = partner.with_user(self.jobs_user).action_view_smart_dairy_jobs()
        self.assertEqual(self.Job.with_user(self.jobs_user).search(action["domain"]), job)

    def test_a_dispatch_action_needs_a_task_and_json_kwargs(self):
        Action = self.env["ir.actions.server"]
        with self.assertRaisesRegex(ValidationError, "Choose the task"):
            Action.create({"name": "x", "model_id": self.env.ref("base.model_res_partner").id,
                           "state": "smart_dairy_job"})
        with self.assertRaisesRegex(ValidationError, "kwargs is not valid JSON"):
            Action.create({"name": "x", "model_id": self.env.ref("base.model_res_partner").id,
                           "state": "smart_dairy_job", "smart_dairy_job_kwargs": "nope",
                           "smart_dairy_task_type_id": self.env.ref("smart_dairy_jobs.task_health_ping").id})

