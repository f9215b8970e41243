from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user

from .common import SmartDairyJobsCase


class TestSecurity(SmartDairyJobsCase):
    def test_user_without_jobs_rights_cannot_dispatch_or_read(self):
        clerk = new_test_user(self.env, login="sdj_clerk", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.dispatch_as(clerk)
        with self.assertRaises(AccessError):
            self.Job.with_user(clerk).search([])

    def test_jobs_user_reads_but_cannot_write_jobs(self):
        job = self.dispatch_as(self.jobs_user)
        self.assertEqual(job.with_user(self.jobs_user).read(["state"])[0]["state"], "pending")
        with self.assertRaises(AccessError):
            job.with_user(self.jobs_user).write({"state": "success"})
        with self.assertRaises(AccessError):
            self.Job.with_user(self.jobs_user).create({"task_name": "x"})

    def test_jobs_user_cannot_read_raw_arguments(self):
        job = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", kwargs={"token": "t"})
        with self.assertRaises(AccessError):
            job.with_user(self.jobs_user).read(["kwargs_json"])

    def test_jobs_of_another_company_are_invisible(self):
        other_company = self.env["res.company"].create({"name": "Other Dairy"})
        outsider = new_test_user(
            self.env, login="sdj_other", groups="base.group_user,smart_dairy_jobs.group_user",
            company_id=other_company.id, company_ids=[other_company.id],
        )
        theirs = self.dispatch_as(outsider)
        ours = self.dispatch_as(self.jobs_user)
        self.assertEqual(theirs.company_id, other_company)
        visible = self.Job.with_user(self.jobs_user).search([("id", "in", (theirs | ours).ids)])
        self.assertEqual(visible, ours)
        with self.assertRaises(AccessError):
            theirs.with_user(self.jobs_user).read(["state"])

    def test_bridge_user_may_only_report(self):
        job = self.dispatch_as(self.jobs_user)
        with self.assertRaises(AccessError):
            self.Job.with_user(self.bridge).search([])
        with self.assertRaises(AccessError):
            self.dispatch_as(self.bridge)
        with self.assertRaises(AccessError):
            job.with_user(self.bridge).write({"state": "success"})

    def test_users_cancel_their_own_jobs_managers_any(self):
        mine = self.dispatch_as(self.jobs_user)
        colleague = new_test_user(self.env, login="sdj_colleague", groups="base.group_user,smart_dairy_jobs.group_user")
        theirs = self.dispatch_as(colleague)
        mine.with_user(self.jobs_user).action_cancel()
        self.assertEqual(mine.state, "cancelled")
        with self.assertRaises(AccessError):
            theirs.with_user(self.jobs_user).action_cancel()
        theirs.with_user(self.jobs_manager).action_cancel()
        self.assertEqual(theirs.state, "cancelled")

    def test_finished_or_running_jobs_cannot_be_cancelled(self):
        job = self.dispatch_as(self.jobs_user)
        job.sudo().write({"state": "started", "attempt": 1})
        with self.assertRaises(UserError):
            job.with_user(self.jobs_manager).action_cancel()

    def test_configuration_is_for_managers(self):
        queue = self.env.ref("smart_dairy_jobs.queue_celery")
        with self.assertRaises(AccessError):
            queue.with_user(self.jobs_user).write({"sla_seconds": 1})
        queue.with_user(self.jobs_manager).write({"sla_seconds": 20})
        self.assertEqual(queue.sla_seconds, 20)

    def test_only_system_administrators_issue_the_bridge_key(self):
        with self.assertRaises(AccessError):
            self.env["smart_dairy.job.bridge.key"].with_user(self.jobs_user).create({})
        # The key reports on every company's jobs: more than a Jobs manager of one company may hold.
        with self.assertRaisesRegex(AccessError, "Only system administrators"):
            self.env["smart_dairy.job.bridge.key"].with_user(self.jobs_manager).create({}).action_issue_key()
        wizard = self.env["smart_dairy.job.bridge.key"].with_user(self.sys_admin).create({})
        wizard.action_issue_key()
        self.assertEqual(len(wizard.key), 40)
        uid = self.env["res.users.apikeys"]._check_credentials(scope="rpc", key=wizard.key)
        self.assertEqual(uid, self.bridge.id)
