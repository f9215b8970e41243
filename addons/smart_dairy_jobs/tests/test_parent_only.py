"""Issue 19: a task type that only groups chunks (a bulk mailing, whose batches do the work) is no task a
worker runs. Every door refuses it with a fault that says how it is used, and writes nothing; only
dispatch_chunked takes it, as the parent of chunks of another type."""
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user

from celery_bridge.core import jobstate

from .test_trust import PING, TrustCase

MAILING, BATCH = "trust.mailing", "trust.mailing_batch"
REFUSAL = "only groups chunks, no worker runs it"


class TestParentOnlyTaskTypes(TrustCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Task = cls.env["smart_dairy.job.task"]
        queue = cls.env.ref("smart_dairy_jobs.queue_celery_email").id
        cls.mailing = Task.create({"name": MAILING, "category": "email", "queue_id": queue, "parent_only": True,
                                   "max_retries": 0})
        cls.batch = Task.create({"name": BATCH, "category": "email", "queue_id": queue})

    def test_dispatch_and_dispatch_many_refuse_it(self):
        for user in (self.jobs_user_a, self.manager_a, self.sys_admin):
            Job = self.Job.with_user(user)
            refused = self.assertRefused(ValidationError, Job.dispatch, MAILING, message=REFUSAL)
            self.assertIn("dispatch_chunked('trust.mailing', items, chunk_task_name=...)", str(refused))
            self.assertRefused(ValidationError, Job.dispatch_many, [{"task_name": PING}, {"task_name": MAILING}],
                               message=REFUSAL)
        # Server code too (what automations, schedules and addons call), even as superuser.
        self.assertRefused(ValidationError, self.Job.sudo()._dispatch, MAILING, origin="cron", message=REFUSAL)

    def test_dispatch_chunked_takes_it_as_the_parent_of_other_chunks_only(self):
        Job = self.Job.with_user(self.jobs_user_a)
        parent = Job.dispatch_chunked(MAILING, ["a@x.example", "b@x.example", "c@x.example"], chunk_size=2,
                                      chunk_task_name=BATCH).sudo()
        self.assertTrue(parent.is_parent)
        self.assertEqual((parent.task_name, parent.child_ids.mapped("task_name")), (MAILING, [BATCH, BATCH]))
        self.assertNotIn(parent.state, jobstate.PUBLISHABLE, "a parent is never sent to a worker")
        # Its chunks would be jobs of itself: refused before the parent is written.
        for chunk_task_name in (None, MAILING):
            self.assertRefused(ValidationError, Job.dispatch_chunked, MAILING, ["a@x.example"],
                               chunk_task_name=chunk_task_name, message=REFUSAL)
        # Nor may it be the chunk type under another parent (refused once the chunks are prepared, after
        # the parent: the call's transaction is rolled back).
        with self.assertRaisesRegex(ValidationError, REFUSAL):
            Job.dispatch_chunked(BATCH, ["a@x.example"], chunk_task_name=MAILING)

    def test_schedules_refuse_it(self):
        Schedule = self.env["smart_dairy.job.schedule"].with_user(self.manager_a)
        self.assertRefused(ValidationError, Schedule.create, {"name": "Mailing", "task_type_id": self.mailing.id},
                           message=REFUSAL)
        schedule = self.make_schedule(self.manager_a, task=self.batch)
        self.assertRefused(ValidationError, schedule.with_user(self.manager_a).write, {"task_type_id": self.mailing.id},
                           message=REFUSAL)
        # A schedule made before its task type was marked: its firing dispatches nothing.
        self.batch.parent_only = True
        self.assertRefused(ValidationError, self.run_cron, schedule, message=REFUSAL)
        self.assertRefused(ValidationError, schedule.with_user(self.manager_a).action_run_now, message=REFUSAL)

    def test_automated_actions_refuse_it(self):
        Action = self.env["ir.actions.server"].with_user(self.sys_admin)
        partner_model = self.env.ref("base.model_res_partner").id
        self.assertRefused(ValidationError, Action.create, {
            "name": "Mail the contact", "model_id": partner_model, "state": "smart_dairy_job",
            "smart_dairy_task_type_id": self.mailing.id}, message=REFUSAL)
        action = Action.create({"name": "Batch for the contact", "model_id": partner_model,
                                "state": "smart_dairy_job", "smart_dairy_task_type_id": self.batch.id})
        partner = self.env["res.partner"].create({"name": "Green Pasture Farm"})
        self.batch.parent_only = True
        clerk = new_test_user(self.env, login="trust_clerk", company_id=self.company_a.id,
                              groups="base.group_user,base.group_partner_manager,smart_dairy_jobs.group_user")
        self.assertRefused(ValidationError, action.with_user(clerk).with_context(
            active_model="res.partner", active_id=partner.id, active_ids=partner.ids).run, message=REFUSAL)
