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

    def test_collision_on_a_queue_is_flagged_with_an_offset(self):
        at = fields.Datetime.now().replace(second=0) + timedelta(minutes=30)
        first = self.make_schedule(name="Milk sync", nextcall=at)
        second = self.make_schedule(name="Feed sync", nextcall=at + timedelta(seconds=20))
        (first | second).invalidate_recordset(["collision_warning"])
        self.assertIn("Fires with Feed sync on celery", first.collision_warning)
        self.assertIn("move one by 1 min", second.collision_warning)
        report = self.env["smart_dairy.job.schedule"].validate_schedules(days=1)
        self.assertTrue(any(set(c["schedules"]) == {"Milk sync", "Feed sync"} for c in report["collisions"]))
        action = first.action_validate_schedules()
        text = self.env[action["res_model"]].browse(action["res_id"]).report
        self.assertIn("Feed sync, Milk sync", text)

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

